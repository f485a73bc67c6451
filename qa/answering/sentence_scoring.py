"""Which retrieved sentences carry the answer: features, a shipped logistic model, confidence.

The answer composer (`qa.answering.compose`) hands over every candidate sentence of the best passages;
this module turns each into a row of `FEATURE_NAMES` (question and follow-up cosines,
IDF-weighted overlap, a BM25 of the sentence, the passage's fused score and rank, position,
length, answer-type cues, the neighbours' scores) and a logistic regression turns each row into
P(the sentence contains the answer). A second, smaller logistic regression over the chosen
sentences' probabilities (`ANSWER_FEATURE_NAMES`) gives `Answer.confidence`: P(the answer
contains the answer), calibrated on SQuAD v1.1 train (docs/sentence_scorer.md).

Why a learned model: the hand-tuned sum it replaces (cosine + overlap + 0.2 x passage score,
threshold 0.6) was tuned and measured on the same questions, and its score was not a
probability, so abstention could not be set as an operating point. The weights are data
(`sentence_scorer.json`, written by scripts/train_scorer.py from a seeded sample of SQuAD v1.1
train articles; nothing of SQuAD dev, SQuAD 2.0 or HotpotQA, which are evaluation only; model
card docs/sentence_scorer.md), loaded with importlib.resources; inference is numpy only.

    >>> scorer = load_scorer()
    >>> rows = sentence_features(cues, candidates)       # one row per candidate sentence
    >>> scorer.sentence_probabilities(rows)               # P(sentence contains the answer)
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Sequence

import numpy as np

WEIGHTS_FILE = "sentence_scorer.json"
WEIGHTS_FORMAT = 1
# BM25's usual constants (Lucene, bm25s), applied to one sentence against the other candidates.
BM25_K1 = 1.5
BM25_B = 0.75
# Probabilities are clipped this far from 0 and 1 before taking logits (no infinities).
PROBABILITY_EPSILON = 1e-4

FEATURE_NAMES: tuple[str, ...] = (
    "question_cosine",  # cosine(question, sentence)
    "followup_cosine",  # cosine(follow-up query, sentence); the question cosine without history
    "cosine_gap",  # question cosine minus the best candidate's
    "overlap_idf",  # share of the question's IDF weight found in the sentence
    "overlap_gap",  # minus the best candidate's
    "overlap_plain",  # share of the question's terms found, unweighted
    "bm25",  # BM25 of the sentence among the candidates, divided by the question's IDF mass
    "bm25_gap",  # minus the best candidate's
    "relevance_rank",  # log(1 + rank) by relevance (mean cosine + IDF overlap) among the candidates
    "relevance_top",  # 1 for the candidate with the highest relevance
    "passage_score",  # the passage's fused retrieval score
    "passage_rank",  # 0 for the best passage
    "passage_gap",  # the passage's fused score minus the best passage's
    "position_in_passage",  # 0 first sentence .. 1 last sentence of its passage
    "first_in_passage",
    "paragraph_position",  # log of the paragraph number in its document
    "log_chars",
    "novel_share",  # share of the sentence's terms that the question does not use
    "has_number",
    "has_year",
    "has_month",
    "new_names",  # log(1 + capitalised words the question does not name)
    "type_match",  # the question's wh-word expects what the sentence has (a date for "when")
    "type_missing",  # it expects a type the sentence lacks
    "wh_date",
    "wh_quantity",
    "wh_person",
    "wh_place",
    "wh_reason",
    "neighbour_before",  # relevance of the previous sentence of the passage (0 if none)
    "neighbour_after",  # of the next sentence
    "best_relevance",  # the best candidate's relevance (question-level evidence)
    "has_followup",
)
ANSWER_FEATURE_NAMES: tuple[str, ...] = (
    "logit_best",  # logit of the highest probability among the chosen sentences
    "logit_any",  # logit of 1 - prod(1 - p) over the chosen sentences
    "logit_mass",  # logit of the probabilities summed over every candidate (clipped)
    "best_relevance",
    "sentences",  # how many sentences the answer quotes
)

# Expected answer types, from the question's wording. Order matters: "how many" before "how",
# "what year" before "what".
_WH_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("quantity", re.compile(r"\b(how (many|much|long|far|old|large|big|tall|high|often)|what (percentage|percent|number|amount))\b")),
    ("date", re.compile(r"\b(when|what (year|century|decade|date|month|day|time|period)|which (year|century|decade))\b")),
    ("person", re.compile(r"\b(who|whom|whose)\b")),
    ("place", re.compile(r"\b(where|what (country|city|state|region|place|continent)|which (country|city|state|region|place))\b")),
    ("reason", re.compile(r"\b(why|what (caused|causes|reason))\b")),
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|dozen|percent|half)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTH = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December|"
    r"century|centuries)\b"
)
# Words that frame a question, and pronouns, which stand for what an earlier turn named: neither
# says what the question is about (BM25's stop words keep both).
_QUESTION_WORDS = re.compile(
    r"\b(what|when|where|which|who|whom|whose|why|how|did|does|do|can|could|would|should|"
    r"he|she|him|her|his|hers|them|we|us|our|you|your|i|me|my)\b",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z\-]+")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class QuestionCues:
    """What the features need of the question: its terms' IDF weights, its words, its wh-type."""

    term_weights: dict[str, float]  # BM25 term -> index-wide IDF (question and follow-up terms)
    words: frozenset[str]  # lower-cased words of the question (for "names it does not name")
    answer_type: str  # one of quantity, date, person, place, reason, other
    has_followup: bool


@dataclass(frozen=True)
class CandidateSentence:
    """One candidate sentence as the features see it; candidates come in passage order."""

    text: str
    terms: tuple[str, ...]  # its BM25 terms, repeats kept (term frequency)
    question_cosine: float
    followup_cosine: float
    passage_score: float
    passage_rank: int
    position: int  # index of the sentence within its passage
    passage_sentences: int  # sentences in its passage
    paragraph: int  # 1-based paragraph number in the document


def answer_type(question: str) -> str:
    """The kind of answer the wh-word asks for ("When did..." -> "date"), else "other"."""
    lowered = question.lower()
    for name, pattern in _WH_TYPES:
        if pattern.search(lowered):
            return name
    return "other"


def without_question_words(question: str) -> str:
    """`question` without the words that frame a question ("what", "did", "how" …) and without
    pronouns: the first say what kind of answer is wanted (`answer_type`), the second stand for
    a name said earlier; neither says what the question is about. BM25's stop words keep them,
    and in a small collection that lacks them their IDF is the highest there is, so they would
    outweigh the question's content in the overlap features ("Who is he?" would match any
    sentence with "he").

        >>> without_question_words("When will the Bumble drone ship?")
        ' will the Bumble drone ship?'
    """
    return _QUESTION_WORDS.sub("", question)


def question_cues(question: str, term_weights: dict[str, float], has_followup: bool) -> QuestionCues:
    """What `sentence_features` needs of `question`, worked out once for all its candidates."""
    return QuestionCues(
        term_weights=dict(term_weights),
        words=frozenset(w.lower() for w in _WORD.findall(question)),
        answer_type=answer_type(question),
        has_followup=has_followup,
    )


def _type_present(kind: str, has_number: bool, has_year: bool, has_month: bool, new_names: int) -> float | None:
    """Whether the sentence holds what `kind` asks for; None when the question names no type."""
    if kind == "quantity":
        return float(has_number)
    if kind == "date":
        return float(has_year or has_month or has_number)
    if kind in ("person", "place"):
        return float(new_names > 0)
    return None


def _bm25(terms: Sequence[Sequence[str]], weights: dict[str, float]) -> np.ndarray:
    """BM25 of each sentence for the question terms, lengths relative to the candidates' mean."""
    lengths = np.array([len(t) for t in terms], dtype=np.float64)
    average = float(lengths.mean()) if len(lengths) and lengths.mean() > 0 else 1.0
    scores = np.zeros(len(terms))
    for i, sentence_terms in enumerate(terms):
        counts = Counter(sentence_terms)
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[i] / average)
        scores[i] = sum(w * counts[t] * (BM25_K1 + 1.0) / (counts[t] + norm) for t, w in weights.items() if counts[t])
    return scores


def _new_names(text: str, known: frozenset[str]) -> list[str]:
    """Capitalised words of `text` that the question does not use, the sentence's first word
    excepted (capitalised for grammar, not because it names something)."""
    return [m.group(0) for m in _CAPITALISED.finditer(text) if m.start() > 0 and m.group(0).lower() not in known]


def sentence_features(cues: QuestionCues, candidates: Sequence[CandidateSentence]) -> np.ndarray:
    """One row of `FEATURE_NAMES` per candidate (float64, shape (len(candidates), features))."""
    n = len(candidates)
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    weights = cues.term_weights
    mass = sum(weights.values()) or 1.0
    term_sets = [set(c.terms) for c in candidates]
    overlap = np.array([sum(w for t, w in weights.items() if t in s) / mass for s in term_sets])
    plain = np.array([len(s & weights.keys()) / max(len(weights), 1) for s in term_sets])
    cosine = np.array([c.question_cosine for c in candidates])
    # The composer's relevance: cosine averaged over the question and its follow-up query.
    relevance = (cosine + np.array([c.followup_cosine for c in candidates])) / 2 + overlap
    bm25 = _bm25([c.terms for c in candidates], weights) / mass
    order = np.argsort(-relevance, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n)
    best_passage = max(c.passage_score for c in candidates)
    neighbour = {(c.passage_rank, c.position): float(r) for c, r in zip(candidates, relevance)}
    rows = []
    for i, c in enumerate(candidates):
        has_number = bool(_NUMBER.search(c.text))
        has_year = bool(_YEAR.search(c.text))
        has_month = bool(_MONTH.search(c.text))
        names = _new_names(c.text, cues.words)
        present = _type_present(cues.answer_type, has_number, has_year, has_month, len(names))
        novel = len(term_sets[i] - weights.keys()) / max(len(term_sets[i]), 1)
        last = max(c.passage_sentences - 1, 1)
        rows.append(
            (
                c.question_cosine,
                c.followup_cosine,
                c.question_cosine - cosine.max(),
                overlap[i],
                overlap[i] - overlap.max(),
                plain[i],
                bm25[i],
                bm25[i] - bm25.max(),
                math.log1p(ranks[i]),
                float(ranks[i] == 0),
                c.passage_score,
                float(c.passage_rank),
                c.passage_score - best_passage,
                c.position / last,
                float(c.position == 0),
                math.log(max(c.paragraph, 1)),
                math.log1p(len(c.text)),
                novel,
                float(has_number),
                float(has_year),
                float(has_month),
                math.log1p(len(names)),
                float(present == 1.0),
                float(present == 0.0),
                float(cues.answer_type == "date"),
                float(cues.answer_type == "quantity"),
                float(cues.answer_type == "person"),
                float(cues.answer_type == "place"),
                float(cues.answer_type == "reason"),
                neighbour.get((c.passage_rank, c.position - 1), 0.0),
                neighbour.get((c.passage_rank, c.position + 1), 0.0),
                float(relevance.max()),
                float(cues.has_followup),
            )
        )
    return np.asarray(rows, dtype=np.float64)


def logit(p: np.ndarray | float) -> np.ndarray:
    """log(p / (1 - p)), `p` clipped by `PROBABILITY_EPSILON` first so that 0 and 1 stay finite."""
    clipped = np.clip(np.asarray(p, dtype=np.float64), PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON)
    return np.log(clipped / (1.0 - clipped))


def answer_features(chosen: Sequence[float], every: Sequence[float], best_relevance: float) -> np.ndarray:
    """The row of `ANSWER_FEATURE_NAMES` for an answer quoting sentences of probabilities `chosen`
    out of candidates of probabilities `every`."""
    picked = np.asarray(chosen, dtype=np.float64)
    any_p = 1.0 - float(np.prod(1.0 - picked)) if len(picked) else 0.0
    return np.array(
        [
            float(logit(picked.max() if len(picked) else 0.0)),
            float(logit(any_p)),
            float(logit(min(float(np.sum(every)), 1.0))),
            best_relevance,
            float(len(picked)),
        ]
    )


@dataclass(frozen=True)
class LogisticModel:
    """A logistic regression over standardised features: sigmoid(((x - mean) / scale) . coef + b)."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(positive) of each row, as a 1-D array (a single row is read as a batch of one)."""
        z = ((np.atleast_2d(rows) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))

    def to_json(self) -> dict:
        """The model as the JSON object `from_json` reads back (part of `sentence_scorer.json`)."""
        return {
            "features": list(self.names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_json(cls, data: dict, expected: tuple[str, ...]) -> "LogisticModel":
        """The model `to_json` wrote; `ValueError` when its features are not `expected` (weights
        for other features would score silently wrong)."""
        names = tuple(data["features"])
        if names != expected:
            raise ValueError(f"{WEIGHTS_FILE}: features {names} differ from this qa's {expected}; retrain")
        arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (len(names),) for a in arrays):
            raise ValueError(f"{WEIGHTS_FILE}: weights do not match {len(names)} features")
        return cls(names, arrays[0], arrays[1], arrays[2], float(data["intercept"]))


@dataclass(frozen=True)
class SentenceScorer:
    """The sentence model, the answer-confidence model and the composer settings picked with them.

    keep_probability: a 2nd or 3rd sentence is quoted only when its probability of containing
    the answer is at least this. abstain_below: the confidence under which the answer is "The
    documents don't say." Both were picked on SQuAD v1.1 train (scripts/train_scorer.py).
    """

    sentence: LogisticModel
    answer: LogisticModel
    keep_probability: float
    abstain_below: float
    trained_on: str = ""

    def sentence_probabilities(self, rows: np.ndarray) -> np.ndarray:
        """P(the sentence contains the answer) of each `sentence_features` row; empty for none."""
        if len(rows) == 0:
            return np.zeros(0)
        return self.sentence.probabilities(rows)

    def confidence(self, chosen: Sequence[float], every: Sequence[float], best_relevance: float) -> float:
        """P(an answer quoting the `chosen` sentences contains the answer)."""
        if not len(chosen):
            return 0.0
        return float(self.answer.probabilities(answer_features(chosen, every, best_relevance))[0])

    def to_json(self) -> dict:
        """The scorer as `sentence_scorer.json` holds it (written by scripts/train_scorer.py)."""
        return {
            "format": WEIGHTS_FORMAT,
            "trained_on": self.trained_on,
            "keep_probability": self.keep_probability,
            "abstain_below": self.abstain_below,
            "sentence": self.sentence.to_json(),
            "answer": self.answer.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict) -> "SentenceScorer":
        """The scorer `to_json` wrote; `ValueError` when its format or features are not this qa's."""
        if data.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"{WEIGHTS_FILE}: format {data.get('format')!r}, this qa reads {WEIGHTS_FORMAT}")
        return cls(
            sentence=LogisticModel.from_json(data["sentence"], FEATURE_NAMES),
            answer=LogisticModel.from_json(data["answer"], ANSWER_FEATURE_NAMES),
            keep_probability=float(data["keep_probability"]),
            abstain_below=float(data["abstain_below"]),
            trained_on=str(data.get("trained_on", "")),
        )


@functools.cache
def load_scorer() -> SentenceScorer:
    """The packaged scorer (`qa/answering/sentence_scorer.json`), read once per process."""
    text = resources.files("qa.answering").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return SentenceScorer.from_json(json.loads(text))
