"""scripts/train_reader.py's unanswerable examples: what the reader learns "no answer" from."""

from __future__ import annotations

import random

from scripts.train_reader import _swapped_question, names_of

WINDOW = "Beyoncé released Lemonade in 2016 through Parkwood Entertainment."


def test_a_swapped_question_names_something_its_window_lacks():
    for seed in range(20):
        question = _swapped_question(random.Random(seed), "When did Beyoncé release Lemonade?", WINDOW, ("Jay-Z", "Solange", "1998"))
        assert question is not None and question != "When did Beyoncé release Lemonade?"
        swapped_in = [name for name in ("Jay-Z", "Solange") if name in question]
        assert len(swapped_in) == 1 and swapped_in[0] not in WINDOW
        assert "1998" not in question  # a name is swapped for a name, a year for a year


def test_no_swap_without_a_name_the_window_holds():
    assert _swapped_question(random.Random(0), "When did Solange sing?", WINDOW, ("Jay-Z",)) is None
    assert _swapped_question(random.Random(0), "When was Lemonade released?", WINDOW, ("Lemonade",)) is None


def test_names_opening_a_sentence_are_not_names():
    article = {"paragraphs": [{"context": "Compared with 1998, sales rose. The label signed Solange in 2004."}]}
    names = names_of(article)
    assert "Solange" in names and "2004" in names
    assert "Compared" not in names and "The" not in names
