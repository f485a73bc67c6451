"""The second retrieval hop (`AnswerConfig.hops`): what it buys on multi-hop questions and what
it costs on single-hop ones.

    python benchmarks/second_hop.py [--squad-questions 1000] [--candidate build/reader/candidate-X]

HotpotQA sample (100 questions, 994 pooled paragraphs), one or two hops, with and without the
reader, and the reader kept from abstaining: answers citing both gold paragraphs, abstentions
(all and by HotpotQA's question type, bridge or comparison),
both gold paragraphs among the first 10 passages a reader is shown (the answer's passages,
then the rest of the retrieval's top 10), gold in answer, mean length, answer latency.
Pooled SQuAD v1.1 dev (2,067 paragraphs, 48 articles; single-hop questions, seed 0): gold in
answer, mean length, the share of answers the hop changed, latency. Indexes are cached in
the eval cache (`qa eval` builds the same ones). Data: `../shared/data/`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import common
from qa.eval.answer_evaluation import evaluate_answers
from qa.answering.compose import Answer, AnswerConfig
from qa.eval.eval_runs import HOTPOT_FOLDER, SHOWN_PASSAGES, both_shown, cached_index, hotpot_corpus
from qa.eval.evaluation import EvalQuestion, default_data_dir, sample_questions, squad_documents
from qa.index.coordinator import Index
from qa.paths import data_dir

HOPS = (1, 2)
# HotpotQA rows: the hop with and without the reader, and the reader kept from abstaining
# (where the reader's answers lose "cite both": benchmarks/README.md, "Multi-hop").
HOTPOT_CONFIGS = (
    ("1", AnswerConfig(hops=1)),
    ("2 (default)", AnswerConfig(hops=2)),
    ("2, no reader", AnswerConfig(hops=2, reader=False)),
    ("2, reader never abstaining", AnswerConfig(hops=2, abstain_margin=float("-inf"))),
)


@dataclass(frozen=True)
class HopRow:
    """One HotpotQA row: shares of the 100 questions, mean length and answer p50."""

    name: str
    cite_both: float
    abstained: float  # "The documents don't say." (every HotpotQA question has an answer)
    abstained_by_type: str  # "bridge 7/78, comparison 3/22": HotpotQA's own question types
    shown_both: float
    gold_in_answer: float
    mean_chars: float
    p50_ms: float


def timed_answers(answer: Callable[[str], Answer], questions: Sequence[str]) -> tuple[list[Answer], float]:
    """Every answer and the median milliseconds per answer."""
    answers, times = [], []
    for question in questions:
        start = time.perf_counter()
        answers.append(answer(question))
        times.append((time.perf_counter() - start) * 1000)
    return answers, statistics.median(times)


def answered(questions: Sequence[EvalQuestion], answers: Sequence[Answer]) -> Callable[[EvalQuestion], Answer]:
    """`evaluate_answers`' answer function over answers already made (and timed): no question
    is answered twice."""
    by_question = {q.question: a for q, a in zip(questions, answers)}
    return lambda q: by_question[q.question]


def question_types() -> dict[str, str]:
    """HotpotQA's type of each sample question ("bridge" or "comparison"), by question id."""
    raw = json.loads((default_data_dir() / HOTPOT_FOLDER / "hotpotqa_train.json").read_text(encoding="utf-8"))
    return {item["_id"]: item["type"] for item in raw}


def abstained_by_type(questions: Sequence[EvalQuestion], answers: Sequence[Answer], types: dict[str, str]) -> str:
    """How many questions of each type the answers abstained on: "bridge 7/78, comparison 3/22"."""
    kinds = [types[q.question_id] for q in questions]
    return ", ".join(
        f"{kind} {sum(a.abstained for k, a in zip(kinds, answers) if k == kind)}/{kinds.count(kind)}"
        for kind in sorted(set(kinds))
    )


def hotpot_row(
    index: Index, items: list[tuple[EvalQuestion, tuple[str, str]]], name: str, config: AnswerConfig, types: dict[str, str],
) -> HopRow:
    """Answer every HotpotQA question with `config` and score it."""
    answers, p50 = timed_answers(lambda q: index.answer(q, config=config), [q.question for q, _ in items])
    cite_both = shown_both = 0
    for (question, gold), answer in zip(items, answers):
        cite_both += set(gold) <= {c.doc_id for c in answer.citations}
        shown_both += both_shown(gold, answer, index.retrieve(question.question, k=SHOWN_PASSAGES))
    questions = [q for q, _ in items]
    report = evaluate_answers(answered(questions, answers), questions)
    n = len(items)
    abstained = sum(a.abstained for a in answers) / n
    by_type = abstained_by_type(questions, answers, types)
    return HopRow(name, cite_both / n, abstained, by_type, shown_both / n, report.contains_gold, report.mean_chars, p50)


def main() -> None:
    """The HotpotQA table by hops and reader, then pooled SQuAD with and without the hop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-questions", type=int, default=1000)
    common.add_candidate_argument(parser)
    args = parser.parse_args()
    print(common.machine_line())
    with common.candidate_reader(args.candidate):
        hotpot_table()
        pooled_squad_table(args.squad_questions)


def hotpot_table() -> None:
    """The HotpotQA rows (`HOTPOT_CONFIGS`)."""
    cache = data_dir() / "eval-cache"
    documents, items = hotpot_corpus()
    index = cached_index(documents, cache, "hotpot")
    print(f"HotpotQA: {len(items)} questions, {len(documents)} paragraphs")
    types = question_types()
    print("| hops, reader | answers cite both gold | abstained | abstained by type | both among the first 10 shown | gold in answer | mean chars | answer p50 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, config in HOTPOT_CONFIGS:
        r = hotpot_row(index, items, name, config, types)
        print(
            f"| {r.name} | {r.cite_both:.2f} | {r.abstained:.2f} | {r.abstained_by_type} | {r.shown_both:.2f} "
            f"| {r.gold_in_answer:.2f} | {r.mean_chars:.0f} | {r.p50_ms:.1f} |"
        )


def pooled_squad_table(squad_questions: int) -> None:
    """Pooled SQuAD dev with one hop and two: what the hop changes on single-hop questions."""
    documents, questions = squad_documents()
    index = cached_index(documents, data_dir() / "eval-cache", "squad-pooled")
    chosen = sample_questions(questions, squad_questions)
    print(f"\nPooled SQuAD: {len(chosen)} questions, {len(documents)} paragraphs")
    print("| hops | gold in answer | citation covers gold | mean chars | answers changed by the hop | answer p50 ms |")
    print("|---|---|---|---|---|---|")
    texts: dict[int, list[str]] = {}
    for hops in HOPS:
        config = AnswerConfig(hops=hops)
        answers, p50 = timed_answers(lambda q: index.answer(q, config=config), [q.question for q in chosen])
        texts[hops] = [a.text for a in answers]
        changed = sum(a != b for a, b in zip(texts[hops], texts[HOPS[0]])) / len(chosen)
        report = evaluate_answers(answered(chosen, answers), chosen)
        print(
            f"| {hops} | {report.contains_gold:.3f} | {report.citation_covers_gold:.3f} | "
            f"{report.mean_chars:.0f} | {changed:.3f} | {p50:.1f} |"
        )


if __name__ == "__main__":
    main()
