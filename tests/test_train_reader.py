"""scripts/train_reader.py's unanswerable examples (what the reader learns "no answer" from), and
its --span-fit measure."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch

from scripts.reader_training import encode, loss_of, make_model, tokenizer
from scripts.train_reader import (
    SentenceSearch,
    _window_loss,
    _antonym_question,
    _mentions_answer,
    _negated_question,
    _swapped_question,
    article_examples,
    logits_torch,
    names_absent,
    names_of,
    span_fit,
)

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


def test_names_absent_are_the_question_names_its_window_lacks():
    assert names_absent("When did Beyoncé release Lemonade?", WINDOW) == []
    assert names_absent("When did Beyoncé release it with Jay-Z?", WINDOW) == ["Jay-Z"]
    assert names_absent("Where did she live in 1998?", "She lived in Houston.") == ["1998"]
    assert names_absent("Which label released Lemonade?", WINDOW) == []  # the opening word is no name


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


def test_a_negated_question_negates_its_first_auxiliary_after_the_question_word():
    assert _negated_question("When was the castle built?", WINDOW) == "When wasn't the castle built?"
    assert _negated_question("Who did Beyoncé marry?", WINDOW) == "Who didn't Beyoncé marry?"
    assert _negated_question("Does it rain?", WINDOW) is None  # the opening word is no auxiliary to negate
    assert _negated_question("Which label released Lemonade?", WINDOW) is None  # no auxiliary


def test_no_negated_question_where_a_negation_is_already_there():
    assert _negated_question("What was not released?", WINDOW) is None
    assert _negated_question("What was released?", "Lemonade was never released.") is None
    assert _negated_question("What was released?", "It wasn't released.") is None


def test_an_antonym_question_turns_one_word_into_its_opposite():
    edited = {_antonym_question(random.Random(seed), "What was the first and largest album?", WINDOW) for seed in range(20)}
    assert edited == {"What was the last and largest album?", "What was the first and smallest album?"}
    assert _antonym_question(random.Random(0), "Before what did it open?", WINDOW) == "After what did it open?"


def test_no_antonym_question_when_the_window_holds_the_opposite_or_none_applies():
    assert _antonym_question(random.Random(0), "What was the first album?", "Her last album was Lemonade.") is None
    assert _antonym_question(random.Random(0), "Who released Lemonade?", WINDOW) is None


def test_negated_and_antonym_examples_are_unanswerable_copies_of_the_answer_window():
    context = "Beyoncé released Lemonade in 2016. It was her first visual album. She toured later."
    article = {"paragraphs": [{"context": context, "qas": [
        {"question": "What was her first visual album?", "answers": [{"text": "Lemonade", "answer_start": 17}]}
    ]}]}
    examples = article_examples(article, random.Random(0), 0.0, negations=1.0, antonyms=1.0)
    by_kind = {e.kind: e for e in examples}
    assert set(by_kind) == {"positive", "negated", "antonym"}
    assert by_kind["negated"].question == "What wasn't her first visual album?"
    assert by_kind["antonym"].question == "What was her last visual album?"
    for kind in ("negated", "antonym"):
        assert by_kind[kind].context == by_kind["positive"].context
        assert (by_kind[kind].answer_start, by_kind[kind].answer_end) == (-1, -1)
    # Not asked for: the draws are not made, so earlier runs' example streams stay as they were.
    assert [e.kind for e in article_examples(article, random.Random(0), 0.0)] == ["positive"]


def test_a_bridge_positive_is_the_answers_sentence_alone_lacking_a_name_the_question_holds():
    context = "Beyoncé joined Destiny's Child in 1997. In 2001 she left the group. She toured later."
    question = "When did Beyoncé leave Destiny's Child?"
    article = {"paragraphs": [{"context": context, "qas": [
        {"question": question, "answers": [{"text": "2001", "answer_start": context.index("2001")}]}
    ]}]}
    bridges = set()
    for seed in range(20):
        for e in article_examples(article, random.Random(seed), 0.0, bridges=1.0):
            if e.kind == "bridge":
                assert e.context == "In 2001 she left the group."
                assert e.context[e.answer_start : e.answer_end] == "2001"
                assert names_absent(question, e.context)
                bridges.add(e.context)
    assert bridges  # drawn whenever the positive window was wider than the sentence
    named = {"paragraphs": [{"context": "Beyoncé left Destiny's Child in 2001. She toured later.", "qas": [
        {"question": question, "answers": [{"text": "2001", "answer_start": 32}]}
    ]}]}
    assert all(e.kind != "bridge" for s in range(20) for e in article_examples(named, random.Random(s), 0.0, bridges=1.0))


# ---------------------------------------------------------------- --span-fit (docs/reader.md, "The reading ceiling")

FIT_WINDOWS = [
    ("Who invented crucible steel?", "Benjamin Huntsman invented crucible steel in 1740.", 0, 17),
    ("What powered the mills?", "The city grew rich on cutlery. Rivers powered its mills in Sheffield, a town of forges.", 31, 37),
    ("Where does Sheffield lie?", "Sheffield lies in Yorkshire.", 18, 27),
]


@pytest.fixture(scope="module")
def seeded_reader():
    """The base model with a seeded (untrained) head: logits that differ window to window."""
    torch.manual_seed(7)
    return make_model().eval()


def test_the_span_fit_loss_is_the_training_loss(seeded_reader):
    answerable = encode(tokenizer(), FIT_WINDOWS)
    windows = [*answerable[:2], replace(answerable[2], start=0, end=0)]  # one labelled "no answer"
    starts, ends = logits_torch(seeded_reader, windows)
    with torch.no_grad():
        trained = float(loss_of(seeded_reader, windows, autocast=False))
    assert _window_loss(starts, ends, windows) == pytest.approx(trained, rel=1e-5)


def test_span_fit_reads_training_and_held_out_windows_of_each_checkpoint(seeded_reader, tmp_path, capsys):
    torch.save(seeded_reader.state_dict(), tmp_path / "reader.pt")
    article = {"paragraphs": [{"context": context, "qas": [
        {"question": question, "answers": [{"text": context[start:end], "answer_start": start}]}
    ]} for question, context, start, end in FIT_WINDOWS]}

    span_fit([tmp_path / "reader.pt"], [article], [article], tmp_path)

    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" on ")[1].split(":")[0] for line in lines] == [
        "3 windows of training articles", "3 windows of held-out articles",
    ]
    assert all("loss" in line and "best span" in line for line in lines)
