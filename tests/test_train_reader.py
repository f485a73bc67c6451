"""scripts/train_reader.py's unanswerable examples: what the reader learns "no answer" from."""

from __future__ import annotations

import random

from scripts.train_reader import SentenceSearch, _mentions_answer, _swapped_question, names_of

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


ARTICLE = [
    {"context": "The Huntsman process made tool steel. Benjamin Huntsman invented it in 1740. Sheffield grew rich."},
    {"context": "Tool steel is hard. Steel mills in Sheffield made tool steel for export. Rivers powered them."},
]


def _search():
    from qa.text.chunking import split_paragraph

    spans_of = [split_paragraph(p["context"], 0, len(p["context"])) for p in ARTICLE]
    return SentenceSearch(ARTICLE, spans_of), spans_of


def test_a_retrieved_negative_shares_the_questions_words_and_lacks_its_answer():
    search, spans_of = _search()
    answer_sentence = ARTICLE[0]["context"][slice(*spans_of[0][1])]
    seen = set()
    for seed in range(30):
        window = search.negative_window(random.Random(seed), "Who invented tool steel making in Sheffield?", 0, 1, 1, "Benjamin Huntsman")
        assert window is not None
        assert answer_sentence not in window and "huntsman" not in window.lower()
        assert "steel" in window.lower() or "sheffield" in window.lower()
        seen.add(window)
    assert len(seen) > 1  # one of the best few, not always the same one


def test_no_retrieved_negative_when_every_matching_sentence_names_the_answer():
    search, _ = _search()
    assert search.negative_window(random.Random(0), "Who invented the Huntsman process?", 0, 1, 1, "Huntsman") is None


def test_an_answer_word_in_a_window_makes_it_no_negative():
    assert _mentions_answer("Huntsman's process was used until 1900.", "Benjamin Huntsman")
    assert _mentions_answer("It opened in 1740.", "1740")
    assert not _mentions_answer("Sheffield grew rich.", "Benjamin Huntsman")
    assert not _mentions_answer("The mills were loud.", "the owners")  # a shared "the" is no answer word
