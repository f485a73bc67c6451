"""qa/answering/sentence_scoring.py: features of known sentences, the packaged weights, calibration helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.eval.answer_evaluation import (
    HELD_OUT,
    TRAIN,
    expected_calibration_error,
    reliability_table,
    squad2_split,
    squad_split,
)
from qa.eval.evaluation import EvalQuestion
from qa.answering.sentence_scoring import (
    ANSWER_FEATURE_NAMES,
    FEATURE_NAMES,
    CandidateSentence,
    SentenceScorer,
    answer_type,
    load_scorer,
    question_cues,
    sentence_features,
)


def _candidate(text: str, terms: tuple[str, ...], cosine: float, position: int) -> CandidateSentence:
    return CandidateSentence(
        text=text,
        terms=terms,
        question_cosine=cosine,
        followup_cosine=cosine,
        passage_score=0.8,
        passage_rank=0,
        position=position,
        passage_sentences=2,
        paragraph=3,
    )


@pytest.fixture()
def rows() -> np.ndarray:
    cues = question_cues("When did the war end in Europe?", {"war": 2.0, "end": 1.0, "europ": 1.0}, False)
    candidates = [
        _candidate("The war ended in Europe in May 1945, when Germany surrendered.", ("war", "end", "europ", "may", "germani", "surrend"), 0.7, 0),
        _candidate("Many soldiers returned home.", ("mani", "soldier", "return", "home"), 0.2, 1),
    ]
    return sentence_features(cues, candidates)


def test_features_of_a_known_sentence(rows: np.ndarray):
    first, second = (dict(zip(FEATURE_NAMES, r)) for r in rows)
    assert rows.shape == (2, len(FEATURE_NAMES))
    assert first["question_cosine"] == pytest.approx(0.7) and first["cosine_gap"] == 0.0
    assert first["overlap_idf"] == pytest.approx(1.0) and second["overlap_idf"] == 0.0
    assert second["overlap_gap"] == pytest.approx(-1.0)
    assert first["relevance_top"] == 1.0 and second["relevance_top"] == 0.0
    # "When" asks for a date: the first sentence has a year and a month, the second neither.
    assert first["wh_date"] == 1.0 and first["has_year"] == 1.0 and first["has_month"] == 1.0
    assert first["type_match"] == 1.0 and second["type_missing"] == 1.0
    assert first["new_names"] == pytest.approx(np.log1p(2))  # "May", "Germany"; not "The", not "Europe"
    assert first["novel_share"] == pytest.approx(0.5)  # 3 of its 6 terms are not the question's
    assert first["first_in_passage"] == 1.0 and second["position_in_passage"] == 1.0
    assert first["paragraph_position"] == pytest.approx(np.log(3))
    # Neighbours: each sees the other's relevance (cosine + IDF overlap).
    assert second["neighbour_before"] == pytest.approx(0.7 + 1.0) and first["neighbour_after"] == pytest.approx(0.2)
    assert first["bm25"] > 0 and second["bm25"] == 0.0
    assert first["best_relevance"] == pytest.approx(1.7)


@pytest.mark.parametrize(
    "question, kind",
    [
        ("When did the war end?", "date"),
        ("In what year was it built?", "date"),
        ("How many moons does Jupiter have?", "quantity"),
        ("Who persuaded Zelensky?", "person"),
        ("Where was the agreement reached?", "place"),
        ("Why does Kursk matter?", "reason"),
        ("What is the US backstop position?", "other"),
    ],
)
def test_answer_type_from_the_wh_word(question: str, kind: str):
    assert answer_type(question) == kind


def test_packaged_weights_load_and_give_probabilities(rows: np.ndarray):
    scorer = load_scorer()
    assert scorer.sentence.names == FEATURE_NAMES and scorer.answer.names == ANSWER_FEATURE_NAMES
    assert 0.0 < scorer.keep_probability <= 1.0 and 0.0 < scorer.abstain_below < 1.0
    p = scorer.sentence_probabilities(rows)
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))
    assert p[0] > p[1]  # the sentence with the date and every question word is the likelier one
    extreme = np.random.default_rng(0).normal(0, 50, size=(100, len(FEATURE_NAMES)))
    assert np.all((scorer.sentence_probabilities(extreme) >= 0) & (scorer.sentence_probabilities(extreme) <= 1))
    confidence = scorer.confidence(p[:1], p, 1.7)
    assert 0.0 <= confidence <= 1.0
    assert scorer.confidence([], p, 1.7) == 0.0


def test_weights_round_trip_through_json_and_refuse_other_features():
    scorer = load_scorer()
    again = SentenceScorer.from_json(json.loads(json.dumps(scorer.to_json())))
    assert np.array_equal(again.sentence.coef, scorer.sentence.coef) and again.abstain_below == scorer.abstain_below
    data = scorer.to_json()
    data["sentence"]["features"] = data["sentence"]["features"][:-1]
    with pytest.raises(ValueError, match="retrain"):
        SentenceScorer.from_json(data)


def test_reliability_table_and_ece():
    table = reliability_table([0.05, 0.15, 0.95, 1.0], [False, True, True, True], bins=10)
    assert [(b.low, b.answers) for b in table] == [(0.0, 1), (0.1, 1), (0.9, 2)]
    assert table[2].mean_confidence == pytest.approx(0.975) and table[2].share_correct == 1.0
    # |0.05-0| + |0.15-1| + 2 x |0.975-1|, over 4 answers
    assert expected_calibration_error(table) == pytest.approx((0.05 + 0.85 + 0.05) / 4)


def test_the_split_is_by_article_parity_and_squad2_half():
    even = EvalQuestion("q", "squad-4-1", ("a",), (0,))
    odd = EvalQuestion("q", "squad-7-0", ("a",), (0,))
    assert squad_split(even) == TRAIN and squad_split(odd) == HELD_OUT
    assert squad2_split(10, 500, even) == TRAIN
    assert squad2_split(10, 500, odd) is None  # a held-out v1.1 question: used for neither
    assert squad2_split(250, 500, even) == HELD_OUT and squad2_split(499, 500, odd) == HELD_OUT


def test_question_words_are_left_out_of_the_overlap_terms():
    from qa.answering.sentence_scoring import without_question_words

    assert without_question_words("When will the Bumble drone ship?").split() == ["will", "the", "Bumble", "drone", "ship?"]
    assert without_question_words("How did Whoopi do it?").split() == ["Whoopi", "it?"]
