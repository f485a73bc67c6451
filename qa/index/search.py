"""A question -> the top-k `Passage`s of an `IndexView`: candidates first, fusion over them only.

Each signal nominates its best `FusionConfig.candidates` live chunks across all segments: the
chunk vectors' nearest neighbours (`qa.index.ann`) and BM25 with index-wide IDF (`qa.index.lexical`). For
the union of those, the three signals are computed exactly (chunk cosine, the cosine of the
chunk's best sentence, BM25), min-max-scaled over the union and fused (`qa.index.retrieval.fuse`).
The work per question grows with the number of candidates and of segments, not with the corpus,
apart from BM25's posting lists and the exact scan of small segments.

    >>> searcher = Searcher(view, embedder, FusionConfig())
    >>> searcher.search("what is the US backstop position?", k=3).passages[0].paragraph
    6

Everything here reads a view and holds no state of its own; `qa.index.coordinator.Index` decides which
view is live.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from qa.text.chunking import Sentence
from qa.index.lexical import many_query_terms, query_terms
from qa.index.retrieval import FusionConfig, Passage, check_k, check_question, fuse, top_k, with_document_signal
from qa.index.segments import DOC, END, FIRST_SENTENCE, LAST_SENTENCE, PARAGRAPH, START
from qa.index.view import IndexView


@dataclass(frozen=True)
class SearchResult:
    """Passages plus the query vectors, which the answer composer reuses."""

    question: str
    passages: list[Passage]
    query_vector: np.ndarray
    extra_vectors: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class Signals:
    """The three raw signals of each candidate chunk, in candidate order."""

    dense: np.ndarray
    sentence: np.ndarray
    lexical: np.ndarray


def dense_candidates(view: IndexView, vector: np.ndarray, depth: int) -> set[tuple[int, int]]:
    """The `depth` live chunks nearest to `vector`, over all segments. A segment with more
    deleted chunks than live ones (merges pending, or a search within some documents:
    `IndexView.within`) is scanned exactly over its live rows, so the cost follows what is
    live rather than what is hidden."""
    found: list[tuple[float, int, int]] = []
    for position, segment in enumerate(view.segments):
        if view.deleted_chunks[position] > len(segment.chunks) - view.deleted_chunks[position]:
            rows = np.flatnonzero(view.live_chunks[position])
            scores = np.asarray(segment.chunk_vectors[rows], dtype=np.float32) @ vector
            best = np.argsort(-scores, kind="stable")[:depth]
            found.extend((float(scores[i]), position, int(rows[i])) for i in best)
            continue
        scores, rows = segment.vectors.top(vector, depth + view.deleted_chunks[position])
        live = view.live_chunks[position][rows]
        found.extend((float(s), position, int(r)) for s, r in zip(scores[live][:depth], rows[live][:depth]))
    return _best(found, depth)


def lexical_scores(view: IndexView, terms: tuple[str, ...]) -> list[np.ndarray]:
    """BM25 of every chunk of every segment (deleted rows zeroed), index-wide IDF."""
    idf = view.idf(terms)
    arrays = []
    for position, segment in enumerate(view.segments):
        if segment.lexical is None or not terms:
            arrays.append(np.zeros(len(segment.chunks), dtype=np.float32))
            continue
        scores = segment.lexical.scores(terms, idf)
        if view.deleted_chunks[position]:
            scores[~view.live_chunks[position]] = 0.0
        arrays.append(scores)
    return arrays


def lexical_candidates(arrays: list[np.ndarray], depth: int) -> set[tuple[int, int]]:
    """The `depth` chunks with the highest positive BM25, over all segments."""
    found: list[tuple[float, int, int]] = []
    for position, scores in enumerate(arrays):
        rows = np.flatnonzero(scores > 0)
        if len(rows) > depth:
            rows = rows[np.argpartition(-scores[rows], depth - 1)[:depth]]
        found.extend((float(scores[row]), position, int(row)) for row in rows)
    return _best(found, depth)


def _best(found: list[tuple[float, int, int]], depth: int) -> set[tuple[int, int]]:
    """The (segment, row) of the `depth` highest-scoring entries; ties by segment, then row."""
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    return {(position, row) for _, position, row in found[:depth]}


def signals_of(
    view: IndexView, candidates: list[tuple[int, int]], vector: np.ndarray, lexical: list[np.ndarray]
) -> Signals:
    """Exact chunk cosine, best-sentence cosine and BM25 of each candidate."""
    dense = np.empty(len(candidates), dtype=np.float32)
    sentence = np.empty(len(candidates), dtype=np.float32)
    bm25 = np.empty(len(candidates), dtype=np.float32)
    by_segment: dict[int, list[int]] = {}
    for i, (position, _) in enumerate(candidates):
        by_segment.setdefault(position, []).append(i)
    for position, indices in by_segment.items():
        segment = view.segments[position]
        rows = np.asarray([candidates[i][1] for i in indices], dtype=np.int64)
        dense[indices] = np.asarray(segment.chunk_vectors[rows], dtype=np.float32) @ vector
        bm25[indices] = lexical[position][rows]
        spans = np.asarray(segment.chunks[rows][:, [FIRST_SENTENCE, LAST_SENTENCE]])
        members, starts = _runs(spans[:, 0], spans[:, 1] - spans[:, 0] + 1)
        cosines = np.asarray(segment.sentence_vectors[members], dtype=np.float32) @ vector
        sentence[indices] = np.maximum.reduceat(cosines, starts)
    return Signals(dense, sentence, bm25)


def _runs(firsts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows first..first+length-1 of every run, concatenated, and where each run starts.

    >>> _runs(np.array([4, 10]), np.array([2, 3]))
    (array([ 4,  5, 10, 11, 12]), array([0, 2]))
    """
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    members = np.arange(int(lengths.sum())) - np.repeat(starts - firsts, lengths)
    return members, starts


def rank(
    view: IndexView, queries: Sequence[str], vectors: np.ndarray, k: int, fusion: FusionConfig
) -> list[tuple[tuple[int, int], float, Signals, int]]:
    """The top `k` live chunks for the queries: ((segment, row), fused score, the first query's
    signals, index into them). A chunk's score is its mean fused score over all queries, so a
    passage that fits both a follow-up and its context wins."""
    per_query = []
    candidates: set[tuple[int, int]] = set()
    for text, vector in zip(queries, vectors):
        terms = query_terms(text, view.settings.bm25)
        lexical = lexical_scores(view, terms)
        per_query.append(lexical)
        candidates |= dense_candidates(view, vector, fusion.candidates)
        candidates |= lexical_candidates(lexical, fusion.candidates)
    ordered = sorted(candidates)
    if not ordered:
        return []
    fused = np.zeros(len(ordered), dtype=np.float64)
    first: Signals | None = None
    for vector, lexical in zip(vectors, per_query):
        signals = signals_of(view, ordered, vector, lexical)
        if first is None:
            first = signals
        fused += fuse(signals.dense, signals.sentence, signals.lexical, fusion)
    fused /= len(queries)
    if fusion.document_weight:
        fused = with_document_signal(fused, _document_keys(view, ordered), fusion.document_weight)
    return [(ordered[i], float(fused[i]), first, int(i)) for i in top_k(fused, k)]


def _document_keys(view: IndexView, candidates: list[tuple[int, int]]) -> np.ndarray:
    """One integer per candidate chunk naming its document (segment and document row)."""
    rows_per_segment = 1 << 32
    return np.asarray(
        [position * rows_per_segment + int(view.segments[position].chunk_docs[row]) for position, row in candidates],
        dtype=np.int64,
    )


def passage_of(view: IndexView, location: tuple[int, int], score: float, signals: Signals, i: int) -> Passage:
    """The `Passage` of one chunk `rank` returned: its text and document offsets, the fused
    `score`, and its raw signals (entry `i` of `signals`)."""
    position, row = location
    segment = view.segments[position]
    doc_row, paragraph, start, end = (int(segment.chunks[row, c]) for c in (DOC, PARAGRAPH, START, END))
    record = segment.documents[doc_row]
    ((page, section),) = segment.places(doc_row, [paragraph])
    return Passage(
        text=segment.text(doc_row)[start:end],
        score=score,
        doc_id=record.doc_id,
        title=record.title,
        source=record.source,
        start=start,
        end=end,
        paragraph=paragraph,
        chunk_id=view.chunk_id(position, row),
        dense_score=float(signals.dense[i]),
        sentence_score=float(signals.sentence[i]),
        lexical_score=float(signals.lexical[i]),
        page=page,
        section=section,
    )


@functools.cache
def limit_blas_threads() -> None:
    """Let numpy's BLAS use one thread in this process, once.

    Why: a question's matrix products are small, and with two BLAS threads on two busy cores
    the threads spin against each other and everything else: a 2,500 x 384 product took 24 ms
    with two threads and 0.8 ms with one on the loaded test machine (100k rows: the same 66 ms
    either way). Only numpy's and FAISS's OpenBLAS are limited; torch keeps its own threads for
    embedding documents.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class Searcher:
    """Questions in, passages out, over one fixed `IndexView`: what answering needs.

    `embedder` encodes questions (`encode_queries` when it has one, else `encode`).
    """

    def __init__(self, view: IndexView, embedder, fusion: FusionConfig) -> None:
        limit_blas_threads()
        self.view = view
        self._embedder = embedder
        self.fusion = fusion

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One float32 row per text from the embedder's question path, in one call."""
        encode = getattr(self._embedder, "encode_queries", None) or self._embedder.encode
        return np.asarray(encode(texts), dtype=np.float32)

    def search(self, question: str, k: int = 5, *, extra_queries: Sequence[str] = ()) -> SearchResult:
        """`extra_queries` (e.g. the question with the previous turn) are ranked too."""
        question = check_question(question)
        k = check_k(k)
        queries = [question, *(check_question(q) for q in extra_queries)]
        vectors = self.encode_queries(queries)
        ranked = rank(self.view, queries, vectors, k, self.fusion)
        passages = [passage_of(self.view, loc, score, sig, i) for loc, score, sig, i in ranked]
        return SearchResult(question, passages, vectors[0], list(vectors[1:]))

    def search_encoded(self, query: str, vector: np.ndarray, k: int = 5) -> list[Passage]:
        """The top `k` passages for `query`'s words (BM25) and an already encoded `vector` (the
        dense signals), without a model call: a second hop searches a name's words with the
        question's meaning (`qa.answering.bridging`)."""
        query = check_question(query)
        vectors = np.asarray(vector, dtype=np.float32)[None, :]
        ranked = rank(self.view, [query], vectors, check_k(k), self.fusion)
        return [passage_of(self.view, loc, score, sig, i) for loc, score, sig, i in ranked]

    def titles_mention(self, name: str) -> bool:
        """Whether a document title contains `name` (see `IndexView.titles_mention`)."""
        return self.view.titles_mention(name)

    def query_terms(self, text: str) -> list[str]:
        """The BM25 terms of `text` (lower-cased, stemmed, stop words removed)."""
        return list(query_terms(text, self.view.settings.bm25))

    def many_query_terms(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """`query_terms` of each text, in one tokenizer call (cheaper than one call per text)."""
        return many_query_terms(texts, self.view.settings.bm25)

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """Index-wide IDF of each BM25 term."""
        return self.view.idf(tuple(terms))

    def chunk_sentences(self, chunk_id: str) -> tuple[list[Sentence], np.ndarray]:
        """A chunk's sentences and their stored vectors (see `IndexView.chunk_sentences`)."""
        return self.view.chunk_sentences(chunk_id)
