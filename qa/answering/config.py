"""How an answer is composed (`AnswerConfig`) and what composing reads (`AnswerSource`).

The lowest module of the answering stage: the candidates, the reader's windows, the second hop
and the composition above it all take these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from qa.index.retrieval import Passage
from qa.index.search import SearchResult
from qa.text.chunking import Sentence
Turn = tuple[str, str]  # (question, answer text) of an earlier exchange
LEARNED = "learned"  # AnswerConfig.scorer: rank and abstain with qa.answering.sentence_scoring's model
HAND_TUNED = "hand-tuned"  # the composer before it, kept to measure against
ABSTAIN_ON_CONFIDENCE = "confidence"  # AnswerConfig.abstain_on: the calibrated probability
ABSTAIN_ON_RELEVANCE = "relevance"  # the best sentence's cosine + overlap (the rule before)
HAND_TUNED_ABSTAIN = 0.45  # the relevance rule's threshold (benchmarks/README.md, "Abstention")


@dataclass(frozen=True)
class AnswerConfig:
    """Knobs of the composer; defaults follow scripts/train_scorer.py and benchmarks/answers.py.

    With `scorer="learned"` (opt-in for now) ranking and abstention come from the packaged
    scorer; `keep_probability` and `abstain_below` left at None take the operating points
    shipped with it. `lexical_weight`, `passage_weight`, `keep_ratio` and `idf_weighted` only
    shape the relevance (and, for "hand-tuned", the ranking) of the earlier composer.
    """

    passages: int = 5  # passages retrieved (and shown as context)
    candidate_passages: int = 3  # passages whose sentences may be quoted
    max_sentences: int = 3
    max_chars: int = 500
    lexical_weight: float = 1.0
    passage_weight: float = 0.2
    keep_ratio: float = 0.7  # a further sentence must score at least this share of the best
    duplicate_cosine: float = 0.9  # sentences this similar to a chosen one are near-duplicates
    # Maximal marginal relevance for the 2nd and 3rd sentence: pick by
    # mmr_lambda * score - (1 - mmr_lambda) * (highest cosine to a chosen sentence).
    # 1.0 ranks by score alone (the default: benchmarks/README.md, "MMR").
    mmr_lambda: float = 1.0
    # "The documents don't say" when the answer's confidence (abstain_on="confidence") or its
    # best sentence's relevance ("relevance") is under abstain_below; None takes the operating
    # point shipped with the scorer (confidence) or HAND_TUNED_ABSTAIN (relevance). Why the
    # default composer keeps relevance: benchmarks/README.md, "Abstention".
    abstain_below: float | None = None
    abstain_on: str | None = None  # None: "relevance" for the hand-tuned composer, "confidence" for the learned
    keep_probability: float | None = None  # a 2nd/3rd sentence needs this P(contains the answer)
    scorer: str = HAND_TUNED  # or LEARNED (opt-in: benchmarks/README.md, "Sentence scorer")
    history_turns: int = 1  # earlier questions used to resolve a follow-up
    # 2: when the quoted sentences introduce a name (or leave one of the question's names
    # uncovered), search again with it and quote the best sentence of another document about
    # it (multi-hop questions; qa.answering.bridging). 1: one search only.
    hops: int = 2
    idf_weighted: bool = True  # lexical overlap weighs question words by IDF
    # The reader (qa.models.reading): it reads the best `read_sentences` candidate sentences, each
    # with `window_neighbours` sentences either side in its paragraph, quotes the sentence that
    # holds its best span and marks the span as `Answer.short_answer`. When no window answers
    # it reads the next `widen_sentences` candidates once. "The documents don't say" when the
    # best span's margin over no-answer is under `abstain_margin` (None: the operating point
    # shipped with the reader, chosen on SQuAD train). reader=False: the composer without it.
    reader: bool = True
    read_sentences: int = 3
    window_neighbours: int = 1
    widen_sentences: int = 3
    abstain_margin: float | None = None
    # A second window's span is quoted too when its margin is within this of the best one's
    # (and above abstain_margin): the reader's runner-up is often the gold sentence.
    # None: the value shipped with the reader, chosen on SQuAD train.
    second_quote_margin: float | None = None
    # A runner-up window whose own margin reaches this is quoted too, however far the best one
    # is ahead: a question of two parts ("in the morning and at night?") has two sure spans.
    # None: the value shipped with the reader, chosen on SQuAD train.
    sure_quote_margin: float | None = None

    def __post_init__(self) -> None:
        if self.scorer not in (HAND_TUNED, LEARNED):
            raise ValueError(f"scorer must be {HAND_TUNED!r} or {LEARNED!r}, not {self.scorer!r}")
        if self.abstain_on not in (None, ABSTAIN_ON_CONFIDENCE, ABSTAIN_ON_RELEVANCE):
            raise ValueError(
                f"abstain_on must be {ABSTAIN_ON_CONFIDENCE!r} or {ABSTAIN_ON_RELEVANCE!r}, not {self.abstain_on!r}"
            )
        if self.hops not in (1, 2):
            raise ValueError(f"hops must be 1 or 2, not {self.hops!r}")


class AnswerSource(Protocol):
    """What composing an answer reads: `qa.index.search.Searcher` (one fixed index view) is one."""

    def search(self, question: str, k: int = 5, *, extra_queries: Sequence[str] = ()) -> SearchResult:
        """The top `k` passages, best first, for `question` ranked with `extra_queries`, and the
        query vectors: the composer reuses them for its cosines instead of encoding again."""
        ...

    def query_terms(self, text: str) -> list[str]:
        """The BM25 terms of `text` as the index tokenises them: overlap features compare these."""
        ...

    def many_query_terms(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """`query_terms` of each text, in order, repeats kept (BM25 counts them)."""
        ...

    def term_weights(self, terms: list[str]) -> dict[str, float]:
        """Index-wide IDF of every term given, unseen ones included (they weigh the most)."""
        ...

    def chunk_sentences(self, chunk_id: str) -> tuple[list[Sentence], np.ndarray]:
        """The chunk's sentences in document order and their unit vectors, one float32 row each."""
        ...

    def search_encoded(self, query: str, vector: np.ndarray, k: int = 5) -> list[Passage]:
        """Like `search` with `query`'s words and an already encoded `vector`: no model call
        (a second hop searches a name with the question's meaning)."""
        ...

    def titles_mention(self, name: str) -> bool:
        """Whether some document title contains `name`, case-insensitively; False spares a hop's search."""
        ...

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """One unit float32 row per text, in order, from the index's question encoder, in one call."""
        ...
