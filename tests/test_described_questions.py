"""scripts/described_questions.py: answerable questions shaped like a bridge question, a name
replaced by a description of it from another question of the same article."""

from __future__ import annotations

import random

from scripts.described_questions import described_question, description, descriptions_of
from scripts.train_reader import article_examples

PIXAR = "In 2006 Disney bought Pixar, the studio of Toy Story, for $7.4 billion."
DISNEY = "The Walt Disney Company was founded in 1923. Disney is based in Burbank."
ARTICLE = {"paragraphs": [
    {"context": PIXAR, "qas": [
        {"question": "What company bought Pixar?", "answers": [{"text": "Disney", "answer_start": PIXAR.index("Disney")}]},
    ]},
    {"context": DISNEY, "qas": [
        {"question": "When was Disney founded?", "answers": [{"text": "1923", "answer_start": DISNEY.index("1923")}]},
    ]},
]}


def test_only_questions_without_inversion_become_descriptions():
    assert description("What company bought Pixar?") == "the company that bought Pixar"
    assert description("Who founded Pixar?") == "the person who founded Pixar"
    assert description("Who was the first head of Pixar?") == "the person who was the first head of Pixar"
    assert description("Who did Disney hire?") is None  # "the person who did Disney hire"
    assert description("What city is Pixar in?") is None
    assert description("What is the name of the studio?") is None  # "What is" names no noun
    assert description("When was Pixar founded?") is None


def test_a_name_is_replaced_whole_by_what_describes_it():
    descriptions = {"Disney": ["the company that bought Pixar"]}
    rng = random.Random(0)
    assert described_question(rng, "When was Disney founded?", "1923", descriptions) == "When was the company that bought Pixar founded?"
    assert described_question(rng, "Disney is based where?", "Burbank", descriptions) == "The company that bought Pixar is based where?"
    assert described_question(rng, "What did the Disney board decide?", "1990", descriptions) == "What did the company that bought Pixar board decide?"
    assert described_question(rng, "Who ran Walt Disney?", "1990", descriptions) is None  # part of a longer name
    assert described_question(rng, "Which Disney-owned studio?", "1990", descriptions) is None  # part of a compound


def test_no_description_that_gives_the_answer_away_or_names_what_the_question_does():
    rng = random.Random(0)
    assert described_question(rng, "When was Disney founded?", "Pixar", {"Disney": ["the company that bought Pixar"]}) is None
    assert described_question(rng, "Why did Disney buy Pixar?", "1990", {"Disney": ["the company that bought Pixar"]}) is None
    assert described_question(rng, "When was Pixar founded?", "1986", {"Disney": ["the company that bought Pixar"]}) is None


def test_descriptions_come_from_the_questions_a_name_answers():
    assert descriptions_of(ARTICLE) == {"Disney": ["the company that bought Pixar"]}  # "1923" is no name


def test_a_described_example_is_answered_by_the_window_of_the_question_it_came_from():
    described = [
        e for seed in range(10) for e in article_examples(ARTICLE, random.Random(seed), 0.0, described=1.0) if e.kind == "described"
    ]
    assert described
    for example in described:
        assert example.question == "When was the company that bought Pixar founded?"
        assert example.context[example.answer_start : example.answer_end] == "1923"
        assert example.context in DISNEY
    without = [e for e in article_examples(ARTICLE, random.Random(0), 0.0) if e.kind == "described"]
    assert without == []
