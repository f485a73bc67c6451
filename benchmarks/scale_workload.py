"""The synthetic workload of benchmarks/scale.py: a stand-in for the model and a corpus of any size.

Why apart from scale.py: scale.py measures (builds, a query process, the report); this makes
what it measures on, and is long enough on its own (the vectorised generator, the corpus rules)
that the two together would pass 500 lines. Nothing else imports it; what several scripts share
lives in common.py.

`RandomEmbedder` replaces the model through qa's embedder seam (`Index.from_documents(...,
embedder=)`): a text's vector is a pseudo-random unit vector seeded by a stable hash of the text,
so a question equal to a corpus sentence gets exactly that sentence's vector. The corpus is real
English: SQuAD v1.1 dev's sentences (read where they lie, never copied) recombined with a fixed
seed into documents of 3-8 paragraphs of 700-900 characters, each paragraph exactly one chunk.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.eval.evaluation import squad_documents
from qa.loading.documents import Document
from qa.text.chunking import split_paragraph

DIMENSION = 384
EMBEDDER_NAME = "random-unit-384"
SEED = 0
QUESTIONS = 200
# Paragraphs: SQuAD sentences of 40-200 characters joined until at least 700 characters, so a
# paragraph has 700-900 characters (one chunk: qa's chunks hold up to 1,000).
SENTENCE_MIN_CHARS = 40
SENTENCE_MAX_CHARS = 200
PARAGRAPH_MIN_CHARS = 700
PARAGRAPHS_PER_DOCUMENT = (3, 8)
SOURCE = "SQuAD v1.1 dev sentences, recombined"

# splitmix64 constants; each vector is DIMENSION 16-bit draws, four per 64-bit hash output.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_WORDS = DIMENSION // 4
_COLUMN_OFFSETS = (np.arange(1, _WORDS + 1, dtype=np.uint64) * _GOLDEN)[None, :]
_ROWS_PER_BLOCK = 8192


def _gaussian_table() -> np.ndarray:
    """Standard normal quantiles of the 65,536 midpoints (i + 0.5) / 65536: a 16-bit draw
    indexes it, which gives a normal sample without a log or cosine per coordinate."""
    from statistics import NormalDist

    normal = NormalDist()
    return np.array([normal.inv_cdf((i + 0.5) / 65536) for i in range(65536)], dtype=np.float32)


class RandomEmbedder:
    """A deterministic pseudo-random unit vector per text, for measuring qa without a model.

    How, vectorised: one 64-bit blake2b hash per text (the only per-text Python step, ~2 us);
    then for a block of rows, the counter-based generator splitmix64(hash + j * golden ratio),
    j = 1..96, gives 96 x 64 bits = 384 16-bit draws per row, each mapped to a normal quantile
    by table lookup, and each row is L2-normalised: isotropic unit vectors at ~8 us per text
    (~7M texts at 1M chunks take about a minute). Equal texts get equal vectors in any
    process, since nothing depends on the batch or on Python's randomised `hash`.
    """

    name = EMBEDDER_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        self._table = _gaussian_table()

    @staticmethod
    def seeds(texts: Sequence[str]) -> np.ndarray:
        """One stable 64-bit hash per text: the seed of its vector."""
        digests = b"".join(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest() for t in texts)
        return np.frombuffer(digests, dtype="<u8").astype(np.uint64)

    def vectors(self, seeds: np.ndarray) -> np.ndarray:
        """The unit vectors of these seeds, a block of rows at a time."""
        out = np.empty((len(seeds), DIMENSION), dtype=np.float32)
        for first in range(0, len(seeds), _ROWS_PER_BLOCK):
            z = seeds[first : first + _ROWS_PER_BLOCK, None] + _COLUMN_OFFSETS
            z ^= z >> np.uint64(30)
            z *= _MIX1
            z ^= z >> np.uint64(27)
            z *= _MIX2
            z ^= z >> np.uint64(31)
            block = self._table[z.view("<u2")]
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            out[first : first + len(block)] = block
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.vectors(self.seeds(texts))


# --- the corpus ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSentence:
    """A SQuAD sentence and the title of its article (a document's title)."""

    text: str
    title: str


def sentence_pool(data: Path | None) -> list[PoolSentence]:
    """SQuAD v1.1 dev sentences (qa's splitter) that stay one sentence whatever sentence comes
    before or after them, 40-200 characters long, in file order, without duplicates."""
    documents, _ = squad_documents(data)
    seen: set[str] = set()
    pool = []
    for document in documents:
        for start, end in document.paragraphs:
            for s, e in split_paragraph(document.text, start, end):
                text = document.text[s:e]
                if text in seen or not SENTENCE_MIN_CHARS <= len(text) <= SENTENCE_MAX_CHARS or "\n" in text:
                    continue
                seen.add(text)
                if _splits_cleanly(text):
                    pool.append(PoolSentence(text, document.title))
    return pool


def _splits_cleanly(text: str) -> bool:
    """True when qa's splitter finds `text` twice, whole, in "text text"."""
    doubled = f"{text} {text}"
    return split_paragraph(doubled, 0, len(doubled)) == [(0, len(text)), (len(text) + 1, len(doubled))]


def paragraph(pool: list[PoolSentence], rng: random.Random) -> tuple[str, str]:
    """(text, the article title of its first sentence): random sentences, joined by spaces,
    until the paragraph has at least `PARAGRAPH_MIN_CHARS` characters."""
    sentences = [pool[rng.randrange(len(pool))]]
    length = len(sentences[0].text)
    while length < PARAGRAPH_MIN_CHARS:
        sentences.append(pool[rng.randrange(len(pool))])
        length += len(sentences[-1].text) + 1
    return " ".join(s.text for s in sentences), sentences[0].title


def synthetic_documents(pool: list[PoolSentence], chunks: int, seed: int = SEED) -> list[Document]:
    """Documents of 3-8 paragraphs (one chunk each) until there are `chunks` paragraphs."""
    rng = random.Random(seed)
    documents = []
    made = 0
    while made < chunks:
        count = min(rng.randint(*PARAGRAPHS_PER_DOCUMENT), chunks - made)
        paragraphs = [paragraph(pool, rng) for _ in range(count)]
        text = "\n\n".join(p for p, _ in paragraphs)
        spans, offset = [], 0
        for p, _ in paragraphs:
            spans.append((offset, offset + len(p)))
            offset += len(p) + 2
        number = len(documents)
        documents.append(
            Document(
                doc_id=f"scale-{number:07d}",
                title=paragraphs[0][1],
                source=SOURCE,
                path=f"synthetic:{number}",
                text=text,
                paragraphs=tuple(spans),
                content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
        )
        made += count
    return documents


def pick_questions(documents: list[Document], n: int = QUESTIONS, seed: int = SEED) -> list[str]:
    """`n` sentences of the corpus (as qa splits them), drawn with a fixed seed."""
    rng = random.Random(seed + 1)
    questions = []
    while len(questions) < n:
        document = documents[rng.randrange(len(documents))]
        start, end = document.paragraphs[rng.randrange(len(document.paragraphs))]
        s, e = rng.choice(split_paragraph(document.text, start, end))
        questions.append(document.text[s:e])
    return questions
