"""qa/answering/pointing.py: a quote and the neighbour that points back at it are quoted together.

On the real seed index, with its real candidates: paragraph 8 ends with the reason ("…Putin is
eager to eliminate this leverage ahead of negotiations."), and paragraph 9 is one sentence that
points back at it ("This urgency may account for his equivocal response…"). Whichever of the two
the reader's span is in, the answer to the Putin question quotes both.
"""

from __future__ import annotations

import pytest

from qa.answering.candidates import Candidate, rank_candidates
from qa.answering.config import AnswerConfig
from qa.answering.pointing import points_back, with_pointing_neighbour
from qa.answering.sentence_scoring import load_scorer
from qa.index.coordinator import Index

from test_compose import _check_citations

PUTIN = "Why might Putin have given an equivocal response to the ceasefire?"
REASON = "Putin is eager to eliminate this leverage"
POINTER = "This urgency may account for his equivocal response"
LIMIT = AnswerConfig().max_chars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This urgency may account for his equivocal response.", True),
        ("These commitments were not specified.", True),
        ("“This is the moment,” he said.", True),
        ("Such talks take months.", True),
        ("Thistle grows here.", False),
        ("This-and-that shops closed.", False),
        ("The urgency is palpable.", False),
        ("He said this urgency was new.", False),
    ],
)
def test_a_sentence_points_back_when_it_opens_with_a_demonstrative(text: str, expected: bool):
    assert points_back(text) is expected


@pytest.fixture(scope="module")
def putin(seed_index: Index):
    """The seed's searcher and its candidates for the Putin question."""
    searcher = seed_index.pinned()
    config = AnswerConfig()
    result = searcher.search(PUTIN, config.passages)
    return searcher, rank_candidates(searcher, result, [], config, load_scorer())


def _holding(candidates: list[Candidate], words: str) -> Candidate:
    return next(c for c in candidates if words in c.sentence.text)


def test_the_sentence_after_the_quote_that_points_back_with_question_words_joins_it(putin):
    searcher, candidates = putin
    reason = _holding(candidates, REASON)
    chosen = with_pointing_neighbour(searcher, PUTIN, [reason], [reason], candidates, LIMIT, 3)
    assert [c.sentence.text for c in chosen] == [reason.sentence.text, _holding(candidates, POINTER).sentence.text]
    assert chosen[1].sentence.paragraph == reason.sentence.paragraph + 1
    assert chosen[1].score == reason.score  # never outranks the reader's own quote


def test_a_quote_that_points_back_brings_the_sentence_before_it(putin):
    searcher, candidates = putin
    pointer = _holding(candidates, POINTER)
    chosen = with_pointing_neighbour(searcher, PUTIN, [pointer], [pointer], candidates, LIMIT, 3)
    assert [c.sentence.text for c in chosen] == [_holding(candidates, REASON).sentence.text, pointer.sentence.text]


@pytest.mark.parametrize(
    "why",
    ["the quote already holds every question term", "no room", "no more sentences allowed", "no demonstrative"],
)
def test_the_quote_stays_alone_when_the_neighbour_adds_nothing_or_does_not_fit(putin, why: str):
    searcher, candidates = putin
    reason, pointer = _holding(candidates, REASON), _holding(candidates, POINTER)
    question, quote, limit, most = PUTIN, [reason], LIMIT, 3
    if why == "the quote already holds every question term":
        question = "Why is Putin eager to eliminate this leverage?"
    elif why == "no room":
        limit = len(reason.sentence.text) + len(pointer.sentence.text)  # one short of both with a space
    elif why == "no more sentences allowed":
        most = 1
    else:  # the sentence before the reason opens with "During", not a demonstrative
        quote = [_holding(candidates, "During a visit to Kyiv")]
    assert with_pointing_neighbour(searcher, question, quote, quote, candidates, limit, most) == quote


def test_the_seed_answer_to_the_putin_question_quotes_reason_and_pointer_exactly(seed_index: Index):
    answer = seed_index.answer(PUTIN)
    assert not answer.abstained
    _check_citations(seed_index, answer)
    quoted = " ".join(c.quote for c in answer.citations)
    assert REASON in quoted and POINTER in quoted
    assert {8, 9} <= {p for c in answer.citations for p in c.paragraphs}
