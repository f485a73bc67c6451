"""Retrieval's vocabulary: `Passage`, `FusionConfig`, input checks and score fusion.

Three signals rank a chunk: its cosine with the question, the cosine of its best sentence, and
BM25. Fusion is min-max score fusion by default: each signal's scores over the candidate chunks
are scaled to [0, 1] and mixed with the `FusionConfig` weights. On SQuAD v1.1 dev it beats reciprocal rank
fusion (RRF), which scored below BM25 alone on R@1 (benchmarks/README.md); RRF stays available
for comparison.

`qa.index.search` finds the candidates and computes their signals; the functions here hold no state
and load nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MAX_QUESTION_CHARS = 2000
MAX_K = 100


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk. `document.text[start:end] == text` for the document `doc_id`."""

    text: str
    score: float  # fused score in [0, 1]; higher is better
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    paragraph: int  # 1-based paragraph the passage starts in
    chunk_id: str
    dense_score: float  # cosine of question and passage
    sentence_score: float  # cosine of question and the passage's best sentence
    lexical_score: float  # raw BM25 score
    rescore_score: float | None = None  # mpnet cosine, when the optional second stage ran (qa.answering.rescoring)
    # Where a reader finds the passage's start in the original: its PDF page and the section
    # heading it falls under (Markdown, HTML, DOCX); None where the file has none.
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class FusionConfig:
    """How the three signals are combined into one score per chunk.

    Signals: `dense` (cosine of question and chunk), `sentence` (cosine of the question and
    the chunk's best-matching sentence, from the sentence vectors stored at index time) and
    `lexical` (BM25). Weights: dense_weight, sentence_weight, and the rest for BM25.
    method: "minmax" (weighted sum of min-max-scaled scores) or "rrf" (reciprocal rank fusion).
    candidates: each of the dense and BM25 signals nominates this many chunks per query; the
    three signals are computed and scaled over their union only (benchmarks/README.md, "Candidate
    depth").

    Defaults from benchmarks/retrieval.py on SQuAD v1.1 dev: the sentence signal alone beats
    the chunk one (R@1 0.72 vs 0.61-0.64), and the three together beat any two. Weighting the
    sentence signal 0.45 and the chunk one 0.15 (instead of 0.3 and 0.3) keeps R@1 at .843 when
    chunk vectors are pooled from the sentence pass, and is as good for the other ways
    (benchmarks/README.md, "One model pass").
    """

    method: str = "minmax"
    dense_weight: float = 0.15
    sentence_weight: float = 0.45
    rrf_k: int = 60
    candidates: int = 100
    # A passage's fused score moves this share of the way to the best fused score among the
    # candidates of its document (issue 12: a long article's best passage lends the others
    # weight). 0 keeps passages independent. See benchmarks/README.md, "Document signal".
    document_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in ("minmax", "rrf"):
            raise ValueError(f"fusion method must be 'minmax' or 'rrf', not {self.method!r}")
        weights = (self.dense_weight, self.sentence_weight)
        if min(weights) < 0 or sum(weights) > 1.0 + 1e-9:
            raise ValueError("dense_weight and sentence_weight must be >= 0 and sum to at most 1")
        if self.candidates < 1:
            raise ValueError("candidates must be at least 1")
        if not 0.0 <= self.document_weight <= 1.0:
            raise ValueError("document_weight must be between 0 and 1")

    @property
    def lexical_weight(self) -> float:
        """BM25's weight: what `dense_weight` and `sentence_weight` leave of 1."""
        return max(0.0, 1.0 - self.dense_weight - self.sentence_weight)


# Lone surrogates (pasted from broken UTF-16) cannot reach the tokenizer; control characters
# and NUL carry no meaning in a question.
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def normalise_question(text: str) -> str:
    """`text` with lone surrogates as U+FFFD and control characters as spaces.

    >>> normalise_question("Kursk\x00?\ud800")
    'Kursk ?\ufffd'
    """
    return _CONTROLS.sub(" ", _SURROGATES.sub("\ufffd", text))


class QuestionTooLong(ValueError):
    """A question over the limit; `length` and `limit` let a page say by how much."""

    def __init__(self, length: int, limit: int = MAX_QUESTION_CHARS) -> None:
        super().__init__(f"question is {length:,} characters long; the limit is {limit:,}")
        self.length = length
        self.limit = limit


def check_question(question: object) -> str:
    """The question normalised and stripped, or a `ValueError` (`QuestionTooLong` for one over
    the limit) or `TypeError` that says what is wrong.

    The one check of a question: the library's entry points call it, and the front ends map
    its error to their medium (a 400, a line under the chat's box, the CLI's exit 2)."""
    if not isinstance(question, str):
        raise TypeError(f"question must be a string, not {type(question).__name__}")
    stripped = normalise_question(question).strip()
    if not stripped:
        raise ValueError("question is empty: type a question")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise QuestionTooLong(len(stripped))
    return stripped


def check_k(k: object) -> int:
    """`k` as an int when it is a whole number in 1..`MAX_K`, or a `ValueError`/`TypeError` that
    says what is wrong."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, not {type(k).__name__}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, not {k}")
    return int(k)


def minmax(scores: np.ndarray) -> np.ndarray:
    """`scores` scaled to 0..1 over their own range.

    With no range (one candidate, or all tied) there is nothing to compare with, so each score
    stands for itself, clipped to 0..1: a lone passage of a 3-paragraph upload keeps its cosine,
    and any BM25 match counts in full, where scaling would have made it 0, the worst.

        >>> minmax(np.array([0.2, 0.6, 1.0]))
        array([0. , 0.5, 1. ])
        >>> minmax(np.array([0.4]))
        array([0.4])
    """
    low, high = float(scores.min()), float(scores.max())
    if high <= low:
        return np.clip(scores, 0.0, 1.0)
    return (scores - low) / (high - low)


def rank_scores(scores: np.ndarray, rrf_k: int) -> np.ndarray:
    """Reciprocal-rank score 1 / (rrf_k + rank) of every entry (rank 1 = highest score)."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[order] = np.arange(1, len(scores) + 1, dtype=np.float32)
    return 1.0 / (rrf_k + ranks)


def fuse(dense: np.ndarray, sentence: np.ndarray, lexical: np.ndarray, config: FusionConfig) -> np.ndarray:
    """One fused score per chunk from its dense, best-sentence and lexical scores."""
    signals = (
        (dense, config.dense_weight),
        (sentence, config.sentence_weight),
        (lexical, config.lexical_weight),
    )
    if config.method == "rrf":
        fused = sum(w * rank_scores(x, config.rrf_k) for x, w in signals if w)
        return fused / (1.0 / (config.rrf_k + 1))  # scaled so that rank 1 everywhere is 1.0
    return sum(w * minmax(x) for x, w in signals if w) + np.zeros_like(dense)


def with_document_signal(fused: np.ndarray, documents: np.ndarray, weight: float) -> np.ndarray:
    """Each score moved `weight` of the way to the best score of its document (`documents`:
    one integer key per score).

        >>> with_document_signal(np.array([1.0, 0.2, 0.5]), np.array([7, 7, 9]), 0.5)
        array([1. , 0.6, 0.5])
    """
    if not weight or not len(fused):
        return fused
    keys, inverse = np.unique(documents, return_inverse=True)
    best = np.full(len(keys), -np.inf)
    np.maximum.at(best, inverse, fused)
    return (1.0 - weight) * fused + weight * best[inverse]


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first; ties broken by lower index (deterministic)."""
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    # Include every entry tied with the k-th score so the tie-break is by index, not by chance.
    threshold = scores[candidates].min()
    candidates = np.flatnonzero(scores >= threshold)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:k]
