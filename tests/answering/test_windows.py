"""qa/answering/windows.py and the runner-up quote: what the reader reads around each candidate.

On the real seed index with its real candidates (the reader's own behaviour is in
tests/models/test_reading.py): one window per candidate, never merged with a neighbour's (a
window yields one span), exact document text, and a window whose first sentence points back
read with the sentence it refers to.
"""

from __future__ import annotations

import pytest

from qa.answering.candidates import Candidate, rank_candidates
from qa.answering.compose import _quoted_sentences
from qa.answering.config import AnswerConfig
from qa.answering.sentence_scoring import load_scorer
from qa.answering.windows import Pick, windows_around
from qa.index.coordinator import Index

QUESTION = "Why did Ukrainian soldiers keep territory in Kursk?"
VISIT = "During a visit to Kyiv"  # paragraph 8, first sentence
REASON = "Putin is eager to eliminate this leverage"  # paragraph 8, second (last) sentence
POINTER = "This urgency may account"  # paragraph 9, its only sentence
ASKED = "When asked about crucial US military support"  # paragraph 6, first of three sentences
SUCCESS = "The success of Sir Keir’s coalition"  # paragraph 6, third


@pytest.fixture(scope="module")
def seed(seed_index: Index):
    searcher = seed_index.pinned()
    candidates = []
    for question in (QUESTION, "What is the US backstop position?"):
        result = searcher.search(question, AnswerConfig().passages)
        candidates += rank_candidates(searcher, result, [], AnswerConfig(), load_scorer())
    return searcher, candidates


def _holding(candidates: list[Candidate], words: str) -> Candidate:
    return next(c for c in candidates if words in c.sentence.text)


def test_overlapping_windows_of_neighbouring_candidates_are_read_apart_with_exact_text(seed, seed_index: Index):
    searcher, candidates = seed
    asked, success = _holding(candidates, ASKED), _holding(candidates, SUCCESS)
    windows = windows_around(searcher, [asked, success], 1)
    # [1st, 2nd] and [2nd, 3rd] sentences of paragraph 6: one window each, so each gives its own span
    assert [len(sentences) for _, sentences in windows] == [2, 2]
    for (window, sentences), target in zip(windows, [asked, success]):
        assert target.sentence in sentences and {s.paragraph for s in sentences} == {6}
        assert seed_index.document(window.doc_id).text[window.start : window.start + len(window.text)] == window.text
    assert windows[0][1][1] == windows[1][1][0]  # the middle sentence is read in both


def test_the_same_window_twice_is_read_once(seed):
    searcher, candidates = seed
    visit, reason = _holding(candidates, VISIT), _holding(candidates, REASON)  # paragraph 8's two sentences
    assert len(windows_around(searcher, [visit, reason], 1)) == 1


def test_a_window_that_points_back_starts_in_the_paragraph_before(seed):
    searcher, candidates = seed
    [(window, sentences)] = windows_around(searcher, [_holding(candidates, POINTER)], 1)
    assert [s.paragraph for s in sentences] == [8, 9]
    assert REASON in window.text and window.text.rstrip().endswith("ceasefire.")


def _pick(candidate: Candidate, margin: float) -> Pick:
    s = candidate.sentence
    return Pick(margin, s.doc_id, s.start, s.start + 5, s.text[:5], (candidate,))


def test_the_runner_up_quote_is_the_best_other_window_with_a_sentence_not_quoted_yet(seed):
    _, candidates = seed
    visit, reason = _holding(candidates, VISIT), _holding(candidates, REASON)
    best = _pick(visit, 9.0)
    same_again, other = _pick(visit, 8.5), _pick(reason, 8.0)
    chosen = _quoted_sentences(best, [same_again, other], floor=1.0, config=AnswerConfig())
    assert [c.sentence.text for c in chosen] == [visit.sentence.text, reason.sentence.text]
    assert _quoted_sentences(best, [same_again, other], floor=8.1, config=AnswerConfig()) == [
        c for c in _quoted_sentences(best, [], floor=0.0, config=AnswerConfig())
    ]
