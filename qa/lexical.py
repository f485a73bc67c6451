"""BM25 over chunk texts with bm25s: English stop words and Snowball stemming (PyStemmer).

Stemming plus stop words lifted SQuAD R@1 from 0.765 to 0.786 over plain BM25 (FINDINGS.md),
so they are the default. The model is saved with the index and loaded, never rebuilt per query.

    >>> bm25 = LexicalIndex.build(["the cat sat", "dogs bark loudly"])
    >>> bm25.scores("barking dog").argmax()
    1
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from dataclasses import dataclass
from pathlib import Path

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


def _stemmer(config: BM25Config):
    if not config.stemming:
        return None
    import Stemmer

    return Stemmer.Stemmer("english").stemWords


class LexicalIndex:
    """A bm25s index plus the tokenizer settings it was built with."""

    def __init__(self, retriever, config: BM25Config, size: int) -> None:
        self._retriever = retriever
        self.config = config
        self.size = size
        self._stem = _stemmer(config)
        # The answer composer tokenizes the same sentences again and again; cache them.
        self.tokens = lru_cache(maxsize=100_000)(self._tokenize)

    @classmethod
    def build(cls, texts: list[str], config: BM25Config = BM25Config()) -> "LexicalIndex":
        import bm25s

        tokens = bm25s.tokenize(
            texts, stopwords=config.stopwords, stemmer=_stemmer(config), show_progress=False
        )
        retriever = bm25s.BM25(k1=config.k1, b=config.b)
        retriever.index(tokens, show_progress=False)
        return cls(retriever, config, len(texts))

    def _tokenize(self, query: str) -> tuple[str, ...]:
        """BM25 terms of `query` (use `tokens`, the cached version)."""
        import bm25s

        terms = bm25s.tokenize(
            query,
            stopwords=self.config.stopwords,
            stemmer=self._stem,
            return_ids=False,
            show_progress=False,
        )[0]
        return tuple(terms)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed text for `query` (zeros when no term is known)."""
        tokens = [t for t in self.tokens(query) if t in self._retriever.vocab_dict]
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def idf(self, terms: list[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each term (unknown terms get the maximum).

        Lets the answer composer weigh a rare word of the question ("Kursk") above a
        common one ("said") when it compares sentences.
        """
        vocab = self._retriever.vocab_dict
        indptr = self._retriever.scores["indptr"]
        n = self.size
        weights = {}
        for term in terms:
            row = vocab.get(term)
            df = int(indptr[row + 1] - indptr[row]) if row is not None else 0
            weights[term] = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return weights

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, config: BM25Config, size: int) -> "LexicalIndex":
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        retriever = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
        return cls(retriever, config, size)
