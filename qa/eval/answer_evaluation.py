"""Measuring answers: gold answer in the text, citations covering the gold span, abstention.

Used by benchmarks/answers.py and `qa eval`. SQuAD is scored in "single-article" mode, like the
default corpus: one index per article (~40 paragraphs), asked only that article's questions.

    >>> report = evaluate_answers(lambda q: index_for[q.title].answer(q.question), questions)
    >>> report.contains_gold, report.citation_covers_gold
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from qa.answering.compose import Answer
from qa.index.settings import settings_outdated
from qa.loading.documents import Document
from qa.eval.evaluation import (
    EvalQuestion,
    LatencySummary,
    contains_answer,
    default_data_dir,
    exact_match,
    latency_summary,
    token_f1,
)
from qa.index.coordinator import Index
from qa.errors import IndexProblem

SQUAD2_FOLDER = Path("squad2-dev-sample")
TRAIN = "train"
HELD_OUT = "held-out"
RELIABILITY_BINS = 10  # equal-width confidence bins of the reliability table and ECE


@dataclass(frozen=True)
class AnswerReport:
    """Shares are over all questions; `mean_chars` over answers that did not abstain."""

    questions: int
    contains_gold: float
    citation_covers_gold: float
    abstained: float
    mean_chars: float
    mean_sentences: float
    latency: LatencySummary
    # The reader's short answer against the gold answers (SQuAD's EM and F1), over all
    # questions: an abstained or reader-less answer scores 0.
    short_exact: float = 0.0
    short_f1: float = 0.0


@dataclass(frozen=True)
class AbstentionPoint:
    """At threshold `threshold`: share of unanswerable questions abstained on, and share of
    answerable ones wrongly abstained on."""

    threshold: float
    unanswerable_abstained: float
    answerable_abstained: float


def citation_covers(answer: Answer, question: EvalQuestion) -> bool:
    """A quoted sentence of the gold document contains a gold `answer_start` (or, when the
    question has no offsets, a cited quote contains a gold answer text)."""
    if not question.answer_starts:
        return any(
            (question.doc_id in (None, c.doc_id)) and contains_answer(c.quote, question.answers)
            for c in answer.citations
        )
    return any(
        c.doc_id == question.doc_id and any(s <= a < e for s, e in c.spans for a in question.answer_starts)
        for c in answer.citations
    )


def evaluate_answers(
    answer_for: Callable[[EvalQuestion], Answer], questions: Sequence[EvalQuestion]
) -> AnswerReport:
    """Ask every question through `answer_for`, timing each call."""
    seconds: list[float] = []
    contains = covers = abstained = chars = sentences = 0
    exact = f1 = 0.0
    for question in questions:
        started = time.perf_counter()
        answer = answer_for(question)
        seconds.append(time.perf_counter() - started)
        if answer.abstained:
            abstained += 1
            continue
        chars += len(" ".join(s.text for s in answer.sentences))
        sentences += len(answer.sentences)
        contains += contains_answer(answer.text, question.answers)
        covers += citation_covers(answer, question)
        if answer.short_answer is not None:
            exact += exact_match(answer.short_answer.text, question.answers)
            f1 += token_f1(answer.short_answer.text, question.answers)
    n = len(questions)
    answered = max(n - abstained, 1)
    return AnswerReport(
        questions=n,
        contains_gold=contains / n,
        citation_covers_gold=covers / n,
        abstained=abstained / n,
        mean_chars=chars / answered,
        mean_sentences=sentences / answered,
        latency=latency_summary(seconds),
        short_exact=exact / n,
        short_f1=f1 / n,
    )


def sentence_has_gold(doc_id: str, start: int, end: int, text: str, question: EvalQuestion) -> bool:
    """The scorer's label: the sentence holds a gold `answer_start` of the gold document (or,
    without offsets, contains a gold answer text)."""
    if not question.answer_starts:
        return contains_answer(text, question.answers)
    return doc_id == question.doc_id and any(start <= a < end for a in question.answer_starts)


def article_of(question: EvalQuestion) -> int:
    """Position of a SQuAD question's article in the dev file (doc ids are "squad-<a>-<p>")."""
    return int((question.doc_id or "").split("-")[1])


def squad_split(question: EvalQuestion) -> str:
    """Issue 12's split of SQuAD v1.1 dev: articles at even positions train, odd ones are held out."""
    return TRAIN if article_of(question) % 2 == 0 else HELD_OUT


def squad2_split(position: int, total: int, question: EvalQuestion) -> str | None:
    """The SQuAD 2.0 sample's split: the first half (file order) trains, the second half is held
    out. A first-half question on a held-out article is used for neither: SQuAD 2.0's answerable
    dev questions are SQuAD v1.1's, so training on it would train on held-out v1.1 questions."""
    if position >= total // 2:
        return HELD_OUT
    return TRAIN if squad_split(question) == TRAIN else None


@dataclass(frozen=True)
class ReliabilityBin:
    """Answers whose confidence fell in [low, high): how many, their mean confidence, and the
    share whose text contained the gold answer."""

    low: float
    high: float
    answers: int
    mean_confidence: float
    share_correct: float


def reliability_table(confidence: Sequence[float], correct: Sequence[bool], bins: int = RELIABILITY_BINS) -> list[ReliabilityBin]:
    """Equal-width bins of `confidence` (the last one closed at 1.0); empty bins left out."""
    table = []
    values = list(zip(confidence, correct))
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(c, ok) for c, ok in values if low <= c < high or (b == bins - 1 and c == 1.0)]
        if inside:
            table.append(
                ReliabilityBin(
                    low, high, len(inside), sum(c for c, _ in inside) / len(inside), sum(ok for _, ok in inside) / len(inside)
                )
            )
    return table


def expected_calibration_error(table: Sequence[ReliabilityBin]) -> float:
    """ECE: the answers-weighted mean gap between confidence and accuracy over the bins."""
    total = sum(b.answers for b in table)
    return sum(b.answers * abs(b.mean_confidence - b.share_correct) for b in table) / max(total, 1)


def abstention_curve(
    answerable: Sequence[float], unanswerable: Sequence[float], thresholds: Iterable[float]
) -> list[AbstentionPoint]:
    """Trade-off of abstaining when a score (confidence, or relevance) is below each threshold."""
    points = []
    for t in thresholds:
        points.append(
            AbstentionPoint(
                threshold=t,
                unanswerable_abstained=sum(s < t for s in unanswerable) / max(len(unanswerable), 1),
                answerable_abstained=sum(s < t for s in answerable) / max(len(answerable), 1),
            )
        )
    return points


def article_indexes(documents: Sequence[Document], cache: Path) -> dict[str, Index]:
    """One index per article title, built once into `cache/<n>` and reopened afterwards."""
    by_title: dict[str, list[Document]] = {}
    for document in documents:
        by_title.setdefault(document.title, []).append(document)
    indexes: dict[str, Index] = {}
    for n, (title, docs) in enumerate(by_title.items()):
        path = cache / f"article-{n:02d}"
        try:
            index = Index.open(path)
            if [d.doc_id for d in index.documents()] != [d.doc_id for d in docs]:
                raise IndexProblem("different documents")
            if settings_outdated(index.settings):
                raise IndexProblem("built with other settings")
        except IndexProblem:
            index = Index.from_documents(docs, path, progress=False)
        indexes[title] = index
    return indexes


@dataclass(frozen=True)
class Squad2Question:
    """A SQuAD 2.0 question, whether its paragraph answers it, and its place in the sample file,
    which `squad2_split` needs for the train/held-out split."""

    question: EvalQuestion
    answerable: bool
    position: int = 0  # in the sample's queries.json (file order), for the train/held-out split
    total: int = 0  # questions in that file


def squad2_questions(documents: Sequence[Document], path: str | Path | None = None) -> list[Squad2Question]:
    """The SQuAD 2.0 dev sample, each question tied to the v1.1 paragraph it was written on."""
    folder = Path(path) if path is not None else default_data_dir() / SQUAD2_FOLDER
    queries = json.loads((folder / "queries.json").read_text(encoding="utf-8"))["queries"]
    truth = json.loads((folder / "ground_truth.json").read_text(encoding="utf-8"))
    by_text = {d.text: d for d in documents}
    found = []
    for position, query in enumerate(queries):
        document = by_text.get(query["context"])
        if document is None:
            continue
        gold = truth[query["id"]]
        answers = tuple(a["text"] if isinstance(a, dict) else str(a) for a in gold.get("answers", []))
        starts = tuple(int(a["answer_start"]) for a in gold.get("answers", []) if isinstance(a, dict) and "answer_start" in a)
        found.append(
            Squad2Question(
                EvalQuestion(query["question"], document.doc_id, answers, starts, document.title, query["id"]),
                answerable=not gold["is_impossible"],
                position=position,
                total=len(queries),
            )
        )
    return found
