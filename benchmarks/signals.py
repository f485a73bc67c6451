"""Which retrieval signals to fuse: every candidate signal on SQuAD v1.1 dev, alone and mixed.

    python benchmarks/signals.py        # needs the cached pooled index of benchmarks/retrieval.py

Computes, for the 2,000 questions of the FINDINGS.md protocol and every chunk of the cached
pooled index (default chunking): chunk cosine, best-sentence cosine, BM25 with several k1/b,
BM25 with the title in the text, and best-sentence BM25; then min-max fusions of them; then
two variants of the default mix: the title prepended to each chunk before embedding it, and
questions normalised (lower-cased, punctuation dropped) before embedding. Ranks
count distinct paragraphs. This is how qa's default (chunk 0.3 + sentence 0.3 + title BM25 0.4)
was chosen; benchmarks/retrieval.py measures the shipped pipeline end to end.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np

import qa
from qa.text.chunking import Chunk, ChunkingConfig, Sentence
from qa.eval.evaluation import sample_questions, squad_documents
from qa.index.lexical import BM25Config, LexicalIndex, query_terms
from retrieval import cache_name  # benchmarks/retrieval.py: the same cached pooled index

CACHE = Path(__file__).resolve().parent / ".cache"


class Pooled:
    """Every live chunk and sentence of an index, with their vectors, as whole arrays.

    Offline analysis scores every chunk for every question; the index itself never does.
    `members`/`starts` list each chunk's sentence rows one chunk after another, so one
    `maximum.reduceat` gives every chunk's best sentence.
    """

    def __init__(self, index: qa.Index) -> None:
        view = index.view()
        self.chunks: list[Chunk] = []
        self.sentences: list[Sentence] = []
        chunk_vectors, sentence_vectors, members, starts = [], [], [], []
        self.titles = {}
        for position, segment in enumerate(view.segments):
            base = len(self.sentences)
            for row, record in enumerate(segment.documents):
                self.titles[record.doc_id] = record.title
                text = segment.text(row)
                for _, p, start, end in np.asarray(segment.sentences[record.first_sentence : record.first_sentence + record.sentences]).tolist():
                    self.sentences.append(Sentence(record.doc_id, p, start, end, text[start:end]))
            for row in np.flatnonzero(view.live_chunks[position]):
                doc_row, p, start, end, first, last = (int(v) for v in segment.chunks[row])
                record = segment.documents[doc_row]
                text = segment.text(doc_row)[start:end]
                self.chunks.append(Chunk(view.chunk_id(position, int(row)), record.doc_id, p, start, end, text, first, last))
                starts.append(len(members))
                members.extend(range(base + first, base + last + 1))
                chunk_vectors.append(segment.chunk_vectors[row])
            sentence_vectors.append(np.asarray(segment.sentence_vectors, dtype=np.float32))
        self.chunk_vectors = np.stack(chunk_vectors)
        self.sentence_vectors = np.concatenate(sentence_vectors)
        self.members = np.asarray(members)
        self.starts = np.asarray(starts)


def bm25_scores(bm25: LexicalIndex, text: str, config: BM25Config) -> np.ndarray:
    terms = query_terms(text, config)
    return bm25.scores(terms, bm25.idf(terms))


def minmax_rows(x: np.ndarray) -> np.ndarray:
    low, high = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
    return (x - low) / np.maximum(high - low, 1e-9)


def metrics(scores: np.ndarray, gold: list[str], chunk_doc: np.ndarray) -> tuple[float, float, float]:
    """R@1, R@5, MRR@10 over distinct documents."""
    ranks = []
    for row, target in zip(np.argsort(-scores, axis=1)[:, :60], gold):
        seen: list[str] = []
        rank = 999
        for doc in chunk_doc[row]:
            if doc not in seen:
                seen.append(doc)
            if doc == target:
                rank = len(seen)
                break
        ranks.append(rank)
    r = np.array(ranks)
    return float((r == 1).mean()), float((r <= 5).mean()), float(np.where(r <= 10, 1.0 / r, 0).mean())


def main() -> None:
    folder = CACHE / cache_name(ChunkingConfig())
    index = qa.Index.open(folder)
    snapshot = Pooled(index)
    _, questions = squad_documents()
    sample = sample_questions(questions, 2000)
    texts = [q.question for q in sample]
    query = index.embedder().encode(texts, batch_size=64)
    chunks = snapshot.chunks
    chunk_vectors = snapshot.chunk_vectors

    def best_per_chunk(per_sentence: np.ndarray) -> np.ndarray:
        """(questions, sentences) scores -> (questions, chunks): each chunk's best sentence."""
        return np.maximum.reduceat(per_sentence[:, snapshot.members], snapshot.starts, axis=1)

    titles = snapshot.titles
    sentence_cos = query @ snapshot.sentence_vectors.T
    signals = {
        "chunk cosine": query @ chunk_vectors.T,
        "best-sentence cosine": best_per_chunk(sentence_cos),
    }
    for k1, b in [(1.2, 0.75), (0.9, 0.4), (1.5, 0.75), (2.0, 0.75)]:
        config = BM25Config(k1=k1, b=b, titles=False)
        bm25 = LexicalIndex.build([c.text for c in chunks], config)
        signals[f"BM25 k1={k1} b={b}"] = np.stack([bm25_scores(bm25, t, config) for t in texts])
    bm25 = LexicalIndex.build([f"{titles[c.doc_id]}\n{c.text}" for c in chunks], BM25Config())
    signals["BM25 title+text"] = np.stack([bm25_scores(bm25, t, BM25Config()) for t in texts])
    sentence_config = BM25Config(titles=False)
    sentence_bm25 = LexicalIndex.build([s.text for s in snapshot.sentences], sentence_config)
    per_sentence = np.stack([bm25_scores(sentence_bm25, t, sentence_config) for t in texts])
    signals["best-sentence BM25"] = best_per_chunk(per_sentence)
    scaled = {name: minmax_rows(x) for name, x in signals.items()}
    gold = [q.doc_id for q in sample]
    chunk_doc = np.array([c.doc_id for c in chunks])
    print("\n| signal or mix (min-max) | R@1 | R@5 | MRR@10 |\n|---|---|---|---|")
    for name, x in scaled.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in metrics(x, gold, chunk_doc)) + " |")
    mixes = []
    for chunk_w, sentence_w, sbm25_w in itertools.product((0.2, 0.3, 0.4), (0.0, 0.2, 0.3, 0.4), (0.0, 0.1)):
        lexical_w = 1 - chunk_w - sentence_w - sbm25_w
        mix = (
            chunk_w * scaled["chunk cosine"] + sentence_w * scaled["best-sentence cosine"]
            + sbm25_w * scaled["best-sentence BM25"] + lexical_w * scaled["BM25 title+text"]
        )
        name = f"chunk {chunk_w} + sentence {sentence_w} + sentence-BM25 {sbm25_w} + title BM25 {lexical_w:.1f}"
        mixes.append((metrics(mix, gold, chunk_doc), name))
    for values, name in sorted(mixes, key=lambda m: -(m[0][0] + m[0][2]))[:12]:
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")

    # Variants of the default mix (chunk 0.3 + sentence 0.3 + title BM25 0.4).
    def default_mix(chunk: np.ndarray, sentence: np.ndarray) -> np.ndarray:
        return 0.3 * minmax_rows(chunk) + 0.3 * minmax_rows(sentence) + 0.4 * scaled["BM25 title+text"]

    embedder = index.embedder()
    titled = embedder.encode([f"{titles[c.doc_id]}\n{c.text}" for c in chunks], batch_size=32)
    normalised = embedder.encode([normalise(t) for t in texts], batch_size=64)
    variants = {
        "default mix": default_mix(signals["chunk cosine"], signals["best-sentence cosine"]),
        "title prepended to chunks for embedding": default_mix(query @ titled.T, signals["best-sentence cosine"]),
        "questions normalised before embedding": default_mix(
            normalised @ chunk_vectors.T,
            best_per_chunk(normalised @ snapshot.sentence_vectors.T),
        ),
    }
    print("\n| default mix variant | R@1 | R@5 | MRR@10 |\n|---|---|---|---|")
    for name, x in variants.items():
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in metrics(x, gold, chunk_doc)) + " |")
    for name, x in (("chunk cosine alone, title prepended", query @ titled.T),):
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in metrics(x, gold, chunk_doc)) + " |")


def normalise(question: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s]", " ", question.lower()).split())


if __name__ == "__main__":
    main()
