"""The reader on evaluation data it never saw: SQuAD v1.1 dev, the SQuAD 2.0 sample, the seed.

    python benchmarks/reader.py                    # 1,000 dev questions over all 48 articles, all 500 SQuAD 2.0
    python benchmarks/reader.py --sample 0         # every dev question (10,570; ~15 min)

The reader (qa/models/reader.onnx) was trained and its operating points chosen on SQuAD v1.1 *train*
only (scripts/train_reader.py); everything here is held out. Single-article mode: one index
per SQuAD article (cached in benchmarks/.cache/reader-articles), asked only that article's
questions, like the one-article default corpus. Each question is searched once and composed
twice in the same process: with the reader (the default) and without it (`reader=False`, the
composer before it), so the two differ only in composition.

Prints Markdown tables: gold answer inside the answer text and citations covering a gold
answer_start (SQuAD normalisation), abstention, mean answer length, the short answer's EM / F1
(SQuAD's normalisation; abstained = 0) and whether every short answer is exact in its
document; latency (search + compose, p50/p95); the reliability table and ECE of
`Answer.confidence`; the SQuAD 2.0 trade-off curve over the reader's abstention margin; the
seed article's questions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.eval.answer_evaluation import (
    article_indexes,
    citation_covers,
    expected_calibration_error,
    reliability_table,
    squad2_questions,
)
from qa.answering.compose import Answer, AnswerConfig, compose_from_search
from qa.eval.evaluation import contains_answer, exact_match, sample_questions, squad_documents, token_f1
from qa.index.coordinator import Index
from qa.models.reading import load_reader

HERE = Path(__file__).resolve().parent
SEED_QUESTIONS = json.loads((HERE / "seed_questions.json").read_text())
SEED_UNANSWERABLE = ["When did Trump meet Putin?"]
WITH_READER = AnswerConfig()
WITHOUT_READER = AnswerConfig(reader=False)
CURVE_OFFSETS = (-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)  # around the shipped margin


@dataclass(frozen=True)
class Row:
    name: str
    questions: int
    contains: float
    covers: float
    abstained: float
    chars: float
    exact: float
    f1: float
    short_exact_in_document: str
    p50_ms: float
    p95_ms: float


def cpu_line() -> str:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    units = [u for u in ("avx512_vnni", "avx512_bf16", "amx_tile") if u in flags]
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} cores, {' '.join(units) or 'no VNNI/bf16/AMX'}; load {os.getloadavg()[0]:.1f} at start"


def rows_for(indexes, questions) -> list[Row]:
    searched = []
    for q in questions:
        started = time.perf_counter()
        result = indexes[q.title].pinned().search(q.question, WITH_READER.passages)
        searched.append((result, time.perf_counter() - started))
    rows = []
    for name, config in (("reader (default)", WITH_READER), ("no reader (before)", WITHOUT_READER)):
        answers, seconds = [], []
        for q, (result, search_s) in zip(questions, searched):
            started = time.perf_counter()
            answers.append(compose_from_search(indexes[q.title].pinned(), result, [], config))
            seconds.append(search_s + time.perf_counter() - started)
        rows.append(_row(name, indexes, questions, answers, seconds))
        if config is WITH_READER:
            _reliability(questions, answers)
    return rows


def _row(name, indexes, questions, answers: list[Answer], seconds) -> Row:
    n = len(questions)
    given = [(q, a) for q, a in zip(questions, answers) if not a.abstained]
    shorts = [(q, a.short_answer) for q, a in given if a.short_answer is not None]
    exact_in_doc = all(indexes[q.title].document(s.doc_id).text[s.start : s.end] == s.text for q, s in shorts)
    return Row(
        name,
        n,
        sum(contains_answer(a.text, q.answers) for q, a in given) / n,
        sum(citation_covers(a, q) for q, a in given) / n,
        1 - len(given) / n,
        float(np.mean([len(" ".join(s.text for s in a.sentences)) for _, a in given])) if given else 0.0,
        sum(exact_match(s.text, q.answers) for q, s in shorts) / n,
        sum(token_f1(s.text, q.answers) for q, s in shorts) / n,
        ("yes" if exact_in_doc else "NO") if shorts else "—",
        float(np.percentile(seconds, 50) * 1000),
        float(np.percentile(seconds, 95) * 1000),
    )


def _reliability(questions, answers: list[Answer]) -> None:
    given = [(q, a) for q, a in zip(questions, answers) if not a.abstained]
    table = reliability_table([a.confidence for _, a in given], [contains_answer(a.text, q.answers) for q, a in given])
    print("\n### Confidence of the reader's answers (SQuAD v1.1 dev)\n")
    print("| confidence | answers | mean confidence | share containing gold |\n|---|---|---|---|")
    for b in table:
        print(f"| {b.low:.1f}–{b.high:.1f} | {b.answers} | {b.mean_confidence:.3f} | {b.share_correct:.3f} |")
    print(f"\nECE {expected_calibration_error(table):.3f} over {len(given)} answers")


def print_rows(title: str, rows: list[Row]) -> None:
    print(f"\n## {title}\n")
    print("| composer | questions | gold in answer | citation covers gold | abstained | mean chars | short EM | short F1 | short exact in document | answer p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.name} | {r.questions} | {r.contains:.3f} | {r.covers:.3f} | {r.abstained:.3f} | {r.chars:.0f} | "
            f"{r.exact:.3f} | {r.f1:.3f} | {r.short_exact_in_document} | {r.p50_ms:.1f} | {r.p95_ms:.1f} |"
        )


def squad2_curve(indexes, documents) -> None:
    items = squad2_questions(documents)
    shipped = load_reader().abstain_margin
    searched = [(i, indexes[i.question.title].pinned().search(i.question.question, WITH_READER.passages)) for i in items]
    print(f"\n## SQuAD 2.0 sample, single-article: {len(items)} questions "
          f"({sum(i.answerable for i in items)} answerable)\n")
    print("| composer | abstain margin | unanswerable abstained | answerable abstained | answerable: gold in answer |")
    print("|---|---|---|---|---|")
    configs = [("no reader (before)", WITHOUT_READER, None)]
    configs += [("reader", AnswerConfig(abstain_margin=shipped + o), shipped + o) for o in CURVE_OFFSETS]
    for name, config, margin in configs:
        un = an = gold = 0
        for item, result in searched:
            answer = compose_from_search(indexes[item.question.title].pinned(), result, [], config)
            if item.answerable:
                an += answer.abstained
                gold += not answer.abstained and contains_answer(answer.text, item.question.answers)
            else:
                un += answer.abstained
        n_un = sum(not i.answerable for i in items)
        n_an = len(items) - n_un
        label = "—" if margin is None else f"{margin:.2f}" + (" (shipped)" if margin == shipped else "")
        print(f"| {name} | {label} | {un / n_un:.3f} | {an / n_an:.3f} | {gold / n_an:.3f} |")


def seed_table(cache: Path) -> None:
    index = Index.build([HERE.parent / "seeds"], path=cache / "reader-seed", progress=False)
    print("\n## The seed article\n")
    print("| question | expected paragraph | reader: paragraph cited | short answer | abstained |\n|---|---|---|---|---|")
    for question, paragraph in SEED_QUESTIONS["on_topic"]:
        a = index.answer(question)
        cited = a.citations[0].paragraph if a.citations else "—"
        short = a.short_answer.text if a.short_answer else "—"
        print(f"| {question} | {paragraph} | {cited} | {short} | {a.abstained} |")
    for first, question, paragraph in SEED_QUESTIONS["followups"]:
        earlier = index.answer(first)
        a = index.answer(question, history=[(first, earlier.text)])
        cited = a.citations[0].paragraph if a.citations else "—"
        print(f"| (after “{first}”) {question} | {paragraph} | {cited} | {a.short_answer.text if a.short_answer else '—'} | {a.abstained} |")
    off = SEED_QUESTIONS["off_topic"] + SEED_UNANSWERABLE
    abstained = [q for q in off if index.answer(q).abstained]
    print(f"\nOff-topic and unanswerable: {len(abstained)} of {len(off)} abstained; answered: "
          f"{[q for q in off if q not in abstained]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=1000, help="dev questions (random.seed(0)); 0 = all")
    parser.add_argument("--cache", default=str(HERE / ".cache"))
    parser.add_argument("--skip-squad2", action="store_true")
    args = parser.parse_args()
    cache = Path(args.cache)
    print(f"Machine: {cpu_line()}")
    documents, questions = squad_documents()
    indexes = article_indexes(documents, cache / "reader-articles")
    chosen = sample_questions(questions, args.sample) if args.sample else questions
    print_rows(f"SQuAD v1.1 dev, all 48 articles, single-article: {len(chosen)} questions", rows_for(indexes, chosen))
    if not args.skip_squad2:
        squad2_curve(indexes, documents)
    seed_table(cache)
    print(f"\nload at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
