"""qa/answering/bridging.py: which names a second retrieval hop follows."""

from __future__ import annotations

import re

import pytest

from qa.answering.bridging import MAX_COMPARED, MAX_HOP_NAMES, compared_names, hop_names, names_in, unanswered_words


@pytest.mark.parametrize(
    "text, names",
    [
        ("He played for the Philadelphia Eagles (1941, 1945–1949).", ["Philadelphia Eagles"]),
        ("In February 2008 the duo separated after the Edison Chen photo scandal.", ["Edison Chen"]),
        ("It was shot near Leland, as in \"Maximum Overdrive\" (1986).", ["Leland", "Maximum Overdrive"]),
        ("Who was Recovery of Aristotle about?", ["Recovery of Aristotle"]),
        ("She was born on 2 June 1961 in Young, and walked for Australia.", ["Young", "Australia"]),
        ("What did the Prime Minister say?", ["Prime Minister"]),
        ("the match ended 3-1 on May 30.", []),
        ("Are Christopher Nolan and Sathish Kalathil both directors?", ["Christopher Nolan", "Sathish Kalathil"]),
        ("Did Trump meet Putin?", ["Trump", "Putin"]),
    ],
)
def test_names_are_capitalised_runs_without_function_words_or_dates(text: str, names: list[str]):
    assert names_in(text) == names


@pytest.mark.parametrize(
    "question, compared",
    [
        ("Who is older, Sid Haig or Vic Darchinyan?", ["Sid Haig", "Vic Darchinyan"]),
        ("Which band formed first, The Exies or Circus Diablo?", ["Exies", "Circus Diablo"]),
        ("Who won, France or the Netherlands?", ["France", "Netherlands"]),
        ("Are Christopher Nolan and Sathish Kalathil both film directors?", ["Christopher Nolan", "Sathish Kalathil"]),
        ("Were Scott Derrickson and Ed Wood of the same nationality?", ["Scott Derrickson", "Ed Wood"]),
        # Not comparisons: one name, names apart, "and" in a question not about both.
        ("What did the Normans or their descendants build?", []),
        ("When was Apollo 6, or AS-502, tested?", []),  # a second name for one thing
        ("Did Trump meet Putin?", []),
        ("When did Starmer and Macron meet in Paris?", []),
        ("What is the US backstop position?", []),
    ],
)
def test_compared_names_are_neighbours_joined_by_or_or_by_and_about_both(question: str, compared: list[str]):
    assert compared_names(question) == compared


def test_at_most_max_compared_names_in_the_question_order():
    compared = compared_names("Who is oldest, Alba or Brest or Cadiz or Dover?")
    assert compared == ["Alba", "Brest", "Cadiz", "Dover"][:MAX_COMPARED]


def _terms(text: str) -> list[str]:
    """Lower-cased words without a few stop words: a stand-in for BM25's analyser."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in {"the", "of", "what", "in", "for", "an", "from", "was"}]


RARITY = {"american": 0.2, "philadelphia": 3.0, "eagles": 2.5, "nfl": 1.0, "humbert": 4.0, "hexum": 4.0, "king": 1.5, "mark": 1.2}


def _weights(terms: list[str]) -> dict[str, float]:
    return {t: RARITY.get(t, 1.0) for t in terms}


def test_introduced_names_come_rarest_first_and_skip_what_the_question_or_titles_name():
    names = hop_names(
        "Dick Humbert played for an NFL team based in what state?",
        ["Dick Humbert was an American football end.", "He played in the NFL for the Philadelphia Eagles."],
        ["Dick Humbert"],
        _terms,
        _weights,
    )
    assert names == ["Philadelphia Eagles", "American"]  # not "Dick Humbert", "NFL": asked


def test_a_question_name_the_answer_leaves_uncovered_comes_first():
    names = hop_names(
        "Which singer is American, Mark King or Nick Hexum?",
        ["Nick Hexum is an American singer and the vocalist of 311."],
        ["Nick Hexum"],
        _terms,
        _weights,
    )
    assert names[0] == "Mark King"
    assert "Nick Hexum" not in names


def test_at_most_max_hop_names_are_tried():
    quoted = [" and ".join(f"Name{chr(65 + i)} Person" for i in range(MAX_HOP_NAMES + 4)) + "."]
    assert len(hop_names("Who?", quoted, [], _terms, _weights)) == MAX_HOP_NAMES


def test_unanswered_words_are_the_question_words_no_quote_matched():
    def many_terms(texts: list[str]) -> list[list[str]]:
        return [_terms(text) for text in texts]

    left = unanswered_words(
        "From 1945-1949 Dick Humbert played for an NFL team based in what state?",
        ["He played for the Philadelphia Eagles (1945, 1949).", "Dick Humbert was an end."],
        many_terms,
    )
    assert left == "NFL team based state"
