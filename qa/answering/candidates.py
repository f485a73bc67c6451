"""The candidate sentences of a search, ranked: what the reader reads first and what the composer
quotes without it.

Each sentence of the best passages gets its features (`qa.answering.sentence_scoring`) and a
relevance (cosine + IDF-weighted overlap with the question); ranking adds the passage's fused
score (hand-tuned) or uses the learned probability.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from qa.answering.config import (
    ABSTAIN_ON_CONFIDENCE,
    ABSTAIN_ON_RELEVANCE,
    HAND_TUNED,
    HAND_TUNED_ABSTAIN,
    AnswerConfig,
    AnswerSource,
)
from qa.answering.sentence_scoring import (
    FEATURE_NAMES,
    CandidateSentence,
    SentenceScorer,
    question_cues,
    sentence_features,
    without_question_words,
)
from qa.index.retrieval import Passage
from qa.index.search import SearchResult
from qa.text.chunking import Sentence

ELLIPSIS = "…"  # ends a quote cut short to fit `AnswerConfig.max_chars` (`fit_to`)
_COSINE = FEATURE_NAMES.index("question_cosine")
_FOLLOWUP_COSINE = FEATURE_NAMES.index("followup_cosine")
_OVERLAP_IDF = FEATURE_NAMES.index("overlap_idf")
_OVERLAP_PLAIN = FEATURE_NAMES.index("overlap_plain")


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved passage, with what ranking and quoting need about it."""

    sentence: Sentence
    vector: np.ndarray
    passage: Passage
    passage_rank: int
    relevance: float  # absolute: cosine + lexical overlap
    score: float  # what ranking uses: the probability (learned) or relevance + passage score
    probability: float  # P(the sentence contains the answer), from the learned scorer
    cut: bool = False  # the sentence is an exact prefix of a longer one (`fit_to`)


def composer_abstains(config: AnswerConfig, scorer: SentenceScorer, relevance: float, confidence: float) -> bool:
    """The composer's abstention (and a second hop's): the best sentence's relevance under the
    hand-tuned threshold, or, with `abstain_on="confidence"`, the calibrated confidence under
    the scorer's operating point."""
    on = config.abstain_on or (ABSTAIN_ON_RELEVANCE if config.scorer == HAND_TUNED else ABSTAIN_ON_CONFIDENCE)
    if on == ABSTAIN_ON_RELEVANCE:
        threshold = HAND_TUNED_ABSTAIN if config.abstain_below is None else config.abstain_below
        return relevance < threshold
    threshold = scorer.abstain_below if config.abstain_below is None else config.abstain_below
    return confidence < threshold


@dataclass(frozen=True)
class CandidateRows:
    """Every candidate sentence of a search and its row of `qa.answering.sentence_scoring.FEATURE_NAMES`
    (what scripts/train_scorer.py learns from)."""

    sentences: list[Sentence]
    vectors: list[np.ndarray]
    passages: list[Passage]
    ranks: list[int]
    features: np.ndarray


def candidate_rows(
    index: AnswerSource, result: SearchResult, extra_queries: Sequence[str], config: AnswerConfig
) -> CandidateRows:
    """The sentences of the best `config.candidate_passages` passages, each once, in passage
    order, with their features."""
    passages = result.passages[: config.candidate_passages]
    query_vector = np.asarray(result.query_vector, dtype=np.float32)
    followup = np.mean(result.extra_vectors, axis=0) if result.extra_vectors else query_vector
    terms = set(index.query_terms(without_question_words(" ".join([result.question, *extra_queries]))))
    cues = question_cues(result.question, index.term_weights(sorted(terms)), bool(result.extra_vectors))
    seen: set[tuple[str, int]] = set()
    sentences: list[Sentence] = []
    vectors: list[np.ndarray] = []
    owners: list[Passage] = []
    ranks: list[int] = []
    places: list[tuple[int, int]] = []  # (position in its passage, sentences in the passage)
    for rank, passage in enumerate(passages):
        chunk_sentences, chunk_vectors = index.chunk_sentences(passage.chunk_id)
        for position, (sentence, vector) in enumerate(zip(chunk_sentences, chunk_vectors)):
            key = (sentence.doc_id, sentence.start)
            if key in seen:  # overlapping chunks share sentences
                continue
            seen.add(key)
            sentences.append(sentence)
            vectors.append(vector)
            owners.append(passage)
            ranks.append(rank)
            places.append((position, len(chunk_sentences)))
    sentence_terms = index.many_query_terms([s.text for s in sentences])
    inputs = [
        CandidateSentence(
            text=sentence.text,
            terms=terms,
            question_cosine=float(vector @ query_vector),
            followup_cosine=float(vector @ followup),
            passage_score=passage.score,
            passage_rank=rank,
            position=position,
            passage_sentences=count,
            paragraph=sentence.paragraph,
        )
        for sentence, terms, vector, passage, rank, (position, count) in zip(
            sentences, sentence_terms, vectors, owners, ranks, places
        )
    ]
    return CandidateRows(sentences, vectors, owners, ranks, sentence_features(cues, inputs))


def rank_candidates(
    index: AnswerSource,
    result: SearchResult,
    extra_queries: Sequence[str],
    config: AnswerConfig,
    scorer: SentenceScorer,
) -> list[Candidate]:
    """Every candidate sentence of `result`'s best passages, best first: relevance plus the
    passage's share (hand-tuned) or the learned probability (`config.scorer`)."""
    rows = candidate_rows(index, result, extra_queries, config)
    features = rows.features
    cosine = (features[:, _COSINE] + features[:, _FOLLOWUP_COSINE]) / 2 if len(features) else np.zeros(0)
    overlap = features[:, _OVERLAP_IDF if config.idf_weighted else _OVERLAP_PLAIN] if len(features) else cosine
    relevance = cosine + config.lexical_weight * overlap
    probability = scorer.sentence_probabilities(features)
    found = []
    for i, sentence in enumerate(rows.sentences):
        passage = rows.passages[i]
        if config.scorer == HAND_TUNED:
            score = float(relevance[i]) + config.passage_weight * passage.score
        else:
            score = float(probability[i])
        found.append(
            Candidate(sentence, rows.vectors[i], passage, rows.ranks[i], float(relevance[i]), score, float(probability[i]))
        )
    found.sort(key=lambda c: (-c.score, c.passage_rank, c.sentence.start))
    return found


def fit_to(candidate: Candidate, max_chars: int) -> Candidate:
    """`candidate` with its sentence cut to an exact prefix of at most `max_chars` characters,
    ending at a word boundary, when the sentence is longer (a run-on sentence or a table row
    flattened into one line). The citation then covers the quoted prefix only.

        >>> fit_to(c, 20).sentence.text   # c quotes "The backstop stays until a deal is done."
        'The backstop stays'
    """
    sentence = candidate.sentence
    if len(sentence.text) <= max_chars:
        return candidate
    cut = sentence.text[: max(max_chars - len(ELLIPSIS), 1)]
    boundary = cut.rstrip().rfind(" ")
    prefix = (cut[:boundary] if boundary > 0 else cut).rstrip()
    shortened = replace(sentence, end=sentence.start + len(prefix), text=prefix)
    return replace(candidate, sentence=shortened, cut=True)
