"""BM25 over chunk texts, one bm25s index per segment, scored with index-wide IDF.

Stemming plus stop words lifted SQuAD R@1 from 0.765 to 0.786 over plain BM25 (FINDINGS.md),
so they are the default. Each segment's bm25s index is built once, saved with the segment and
memory-mapped when opened, never rebuilt per query.

Why rescale: bm25s stores, per term, the finished score `idf(term) * tf_part(term, chunk)` of
every chunk containing it, with the IDF of that segment alone. A small new segment would give a
word its own, very different IDF, so scores of two segments could not be compared. `scores()`
multiplies each term's stored column by `idf_global / idf_segment` (Lucene likewise uses
collection-wide statistics), so a chunk scores the same whichever segment holds it. Document
length normalisation keeps each segment's own average length, a small difference that merges
remove.

    >>> bm25 = LexicalIndex.build(["the cat sat", "dogs bark loudly"])
    >>> terms = query_terms("barking dog")
    >>> bm25.scores(terms, bm25.idf(terms)).argmax()
    1
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class BM25Config:
    """BM25 settings. `titles`: each chunk is indexed with its document's title in front
    (a question often names the subject the title states; +0.4 to +1 point R@1 on SQuAD)."""

    k1: float = 1.2
    b: float = 0.75
    stemming: bool = True
    stopwords: str | None = "en"
    titles: bool = True


@lru_cache(maxsize=4)
def _stemmer(stemming: bool):
    if not stemming:
        return None
    import Stemmer

    return Stemmer.Stemmer("english").stemWords


# Texts whose terms are remembered: the answer composer tokenizes the same sentences again and
# again (the passages of popular topics), as does a chat asking the same question twice.
TERMS_CACHE_SIZE = 100_000


class TermsCache:
    """The BM25 terms of recently tokenized (text, settings) pairs, least recently used first
    out; safe to share between threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, BM25Config], tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, BM25Config]) -> tuple[str, ...] | None:
        """The remembered terms of `key` (now the most recently used), or None."""
        with self._lock:
            terms = self._items.get(key)
            if terms is not None:
                self._items.move_to_end(key)
            return terms

    def put(self, key: tuple[str, BM25Config], terms: tuple[str, ...]) -> None:
        """Remember `terms` for `key`, dropping the least recently used beyond the size."""
        with self._lock:
            self._items[key] = terms
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_TERMS = TermsCache(TERMS_CACHE_SIZE)


def query_terms(text: str, config: BM25Config = BM25Config()) -> tuple[str, ...]:
    """BM25 terms of `text`: lower-cased, stop words removed, stemmed."""
    return many_query_terms([text], config)[0]


def many_query_terms(texts: Sequence[str], config: BM25Config = BM25Config()) -> list[tuple[str, ...]]:
    """`query_terms` of each text: remembered ones from the cache, the others tokenized in one
    bm25s call (each call has a fixed cost, and composing an answer tokenizes ~10 sentences)."""
    found = [_TERMS.get((text, config)) for text in texts]
    missing = list(dict.fromkeys(text for text, terms in zip(texts, found) if terms is None))
    if missing:
        import bm25s

        tokenized = bm25s.tokenize(
            missing,
            stopwords=config.stopwords,
            stemmer=_stemmer(config.stemming),
            return_ids=False,
            show_progress=False,
        )
        fresh = {text: tuple(terms) for text, terms in zip(missing, tokenized)}
        for text, terms in fresh.items():
            _TERMS.put((text, config), terms)
        found = [terms if terms is not None else fresh[text] for text, terms in zip(texts, found)]
    return found  # type: ignore[return-value]


def lucene_idf(document_frequency: int, documents: int) -> float:
    """BM25's inverse document frequency (bm25s's and Lucene's formula)."""
    return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


class LexicalIndex:
    """One segment's bm25s index plus the tokenizer settings it was built with."""

    def __init__(self, retriever, config: BM25Config, size: int) -> None:
        self._retriever = retriever
        self.config = config
        self.size = size
        self._vocab: dict[str, int] = retriever.vocab_dict
        self._indptr = retriever.scores["indptr"]

    @classmethod
    def build(cls, texts: list[str], config: BM25Config = BM25Config()) -> "LexicalIndex":
        """Index `texts` (at least one)."""
        import bm25s

        tokens = bm25s.tokenize(
            texts, stopwords=config.stopwords, stemmer=_stemmer(config.stemming), show_progress=False
        )
        retriever = bm25s.BM25(k1=config.k1, b=config.b)
        retriever.index(tokens, show_progress=False)
        return cls(retriever, config, len(texts))

    def document_frequencies(self, terms: tuple[str, ...]) -> dict[str, int]:
        """How many of this segment's chunks contain each term."""
        frequencies = {}
        for term in terms:
            row = self._vocab.get(term)
            frequencies[term] = int(self._indptr[row + 1] - self._indptr[row]) if row is not None else 0
        return frequencies

    def idf(self, terms: tuple[str, ...]) -> dict[str, float]:
        """IDF of each term within this segment alone."""
        return {t: lucene_idf(df, self.size) for t, df in self.document_frequencies(terms).items()}

    def scores(self, terms: tuple[str, ...], idf: dict[str, float]) -> np.ndarray:
        """BM25 score of every chunk of the segment for `terms`, with the IDF weights `idf`
        (index-wide ones from `qa.index.view`); zeros when no term occurs here."""
        scores = np.zeros(self.size, dtype=np.float32)
        stored = self._retriever.scores
        for term in terms:  # a repeated query word counts again, as in bm25s
            row = self._vocab.get(term)
            if row is None:
                continue
            begin, end = int(self._indptr[row]), int(self._indptr[row + 1])
            if begin == end:
                continue
            local = lucene_idf(end - begin, self.size)
            factor = idf.get(term, local) / local
            scores[stored["indices"][begin:end]] += stored["data"][begin:end] * factor
        return scores

    def save(self, folder: Path) -> None:
        """Write the bm25s index into `folder`, for `load` to memory-map."""
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, config: BM25Config, size: int) -> "LexicalIndex":
        """Open a saved index, its arrays memory-mapped."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        retriever = bm25s.BM25.load(str(folder), mmap=True, show_progress=False, verbosity=0)
        return cls(retriever, config, size)
