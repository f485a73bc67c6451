"""benchmarks/reading_ceiling.py: the window built around a gold answer, and the shipped reader's
span read from it (benchmarks/ is not a package, so the script is loaded from its file)."""

from __future__ import annotations

from types import ModuleType

from qa.eval.evaluation import EvalQuestion
from qa.models.reading import load_reader

from conftest import benchmark_script

TEXT = "The weather was cold. Talks are led by Jonathan Powell. Nobody else came. The hall closed at ten."
ANSWER = "Jonathan Powell"


def _reading_ceiling() -> ModuleType:
    benchmark_script("common")  # the script's own `import common` finds it loaded
    return benchmark_script("reading_ceiling")


def test_the_gold_window_is_the_answers_sentence_with_its_neighbours():
    ceiling = _reading_ceiling()
    at = TEXT.index(ANSWER)

    start, end = ceiling.gold_window(TEXT, at, 1)
    assert TEXT[start:end] == "The weather was cold. Talks are led by Jonathan Powell. Nobody else came."
    start, end = ceiling.gold_window(TEXT, at, 0)
    assert TEXT[start:end] == "Talks are led by Jonathan Powell."
    start, end = ceiling.gold_window(TEXT, 0, 1)  # the first sentence has no neighbour before it
    assert TEXT[start:end] == "The weather was cold. Talks are led by Jonathan Powell."
    assert ceiling.gold_window(TEXT, len(TEXT) + 5, 1) is None


def test_the_reader_handed_the_gold_window_reads_the_answer_and_counts_it():
    ceiling = _reading_ceiling()
    question = EvalQuestion("Who leads the talks?", "doc", (ANSWER,), (TEXT.index(ANSWER),))
    wrong = EvalQuestion("Who leads the talks?", "doc", ("the hall",), (TEXT.index("The hall"),))

    [read] = ceiling.read_gold_windows(load_reader(), {"doc": TEXT}, [question], 1)
    assert read.span == ANSWER and read.answered
    label, n, em, f1, *_ = ceiling.row("one", [read, ceiling.Read(wrong, read.span, True)])
    assert (n, em, f1) == (2, "0.500", "0.500")
