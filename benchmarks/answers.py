"""Answer quality, calibration and abstention on the held-out half of SQuAD (issue 12's split).

    python benchmarks/answers.py                 # every held-out question (~5,200 + 250 + seed)
    python benchmarks/answers.py --sample 1000   # 1,000 held-out SQuAD v1.1 questions (random.seed(0))
    python benchmarks/answers.py --mmr           # also MMR for the 2nd and 3rd sentence

Held out, never trained or tuned on (benchmarks/train_scorer.py reads only the other half):
the SQuAD v1.1 dev articles at odd positions in the file, and the second half (file order) of
the SQuAD 2.0 sample. Single-article mode: one index per SQuAD article (cached in
benchmarks/.cache/articles-*), asked only that article's questions, like the one-article default
corpus. Each question is searched once; the hand-tuned composer ("before") and the learned one
("now") compose from the same search, so the latency columns time composition alone.

Prints Markdown tables: gold answer inside the answer text (SQuAD normalisation), citations
covering a gold answer_start, abstention, mean answer length; the reliability table and ECE of
`Answer.confidence`; the abstention curve on SQuAD 2.0's held-out half (all of it, and only its
questions on held-out articles, since its answerable questions on even articles are training
questions of SQuAD v1.1); the seed article's questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from qa.eval.answer_evaluation import (
    HELD_OUT,
    AnswerReport,
    Squad2Question,
    abstention_curve,
    article_indexes,
    evaluate_answers,
    expected_calibration_error,
    reliability_table,
    squad2_questions,
    squad2_split,
    squad_split,
)
from qa.answering.compose import Answer, compose_from_search
from qa.answering.config import HAND_TUNED, HAND_TUNED_ABSTAIN, LEARNED, AnswerConfig
from qa.eval.evaluation import EvalQuestion, contains_answer, sample_questions, squad_documents
import qa.index.coordinator as qa_index
from qa.index.settings import settings_outdated
from qa.index.coordinator import Index
from qa.answering.sentence_scoring import load_scorer
from qa.errors import IndexProblem
from qa.index.settings import VECTOR_METHODS

HERE = Path(__file__).resolve().parent
SEED_QUESTIONS = json.loads((HERE / "seed_questions.json").read_text())
SEED_UNANSWERABLE = ["When did Trump meet Putin?"]  # on the seed's topic, not in it (tests too)
NEVER = float("-inf")
COMPOSERS = {"hand-tuned (default)": AnswerConfig(scorer=HAND_TUNED), "learned (opt-in)": AnswerConfig(scorer=LEARNED)}
CURVE = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
HAND_TUNED_CURVE = (0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

HEADER = (
    "| composer | questions | gold in answer | citation covers gold | abstained | mean chars | "
    "mean sentences | compose p50 ms | compose p95 ms |\n|---|---|---|---|---|---|---|---|---|"
)


def _row(name: str, r: AnswerReport) -> str:
    return (
        f"| {name} | {r.questions} | {r.contains_gold:.3f} | {r.citation_covers_gold:.3f} | "
        f"{r.abstained:.3f} | {r.mean_chars:.0f} | {r.mean_sentences:.2f} | "
        f"{r.latency.p50_ms:.2f} | {r.latency.p95_ms:.2f} |"
    )


Composer = Callable[[EvalQuestion, AnswerConfig], Answer]


def composer_for(indexes: dict[str, Index], questions: Sequence[EvalQuestion]) -> Composer:
    """Search each question once (its article's index), then compose with any config."""
    searches = {}
    started = time.perf_counter()
    for n, q in enumerate(questions):
        searches[id(q)] = indexes[q.title].pinned().search(q.question, AnswerConfig().passages)
        if n % 1000 == 999:
            print(f"  searched {n + 1}/{len(questions)} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return lambda q, config: compose_from_search(indexes[q.title].pinned(), searches[id(q)], [], config)


def _squad_table(compose: Composer, questions: list[EvalQuestion], mmr: bool) -> None:
    print(f"\n## SQuAD v1.1 dev, held-out articles (odd positions), single-article: {len(questions)} questions\n")
    print(HEADER)
    for name, config in COMPOSERS.items():
        print(_row(name, evaluate_answers(lambda q: compose(q, config), questions)), flush=True)
    if mmr:
        for mmr_lambda in (0.9, 0.7, 0.5, 0.3):
            config = AnswerConfig(mmr_lambda=mmr_lambda)
            print(_row(f"learned, MMR lambda {mmr_lambda}", evaluate_answers(lambda q: compose(q, config), questions)))


def _calibration(title: str, answers: list[Answer], correct: list[bool]) -> None:
    table = reliability_table([a.confidence for a in answers], correct)
    print(f"\n### Reliability of `confidence`: {title} ({len(answers)} answers, abstention off)\n")
    print("| confidence | answers | mean confidence | share containing gold |\n|---|---|---|---|")
    for b in table:
        print(f"| {b.low:.1f}–{b.high:.1f} | {b.answers} | {b.mean_confidence:.3f} | {b.share_correct:.3f} |")
    print(f"\nECE ({len(table)} non-empty bins of 10): **{expected_calibration_error(table):.3f}**")


def _abstention(compose: Composer, items: list[Squad2Question], label: str) -> None:
    never = AnswerConfig(abstain_below=NEVER)
    answerable = [compose(i.question, never) for i in items if i.answerable]
    unanswerable = [compose(i.question, never) for i in items if not i.answerable]
    learned = AnswerConfig(scorer=LEARNED, abstain_below=NEVER)
    learned_yes = [compose(i.question, learned).confidence for i in items if i.answerable]
    learned_no = [compose(i.question, learned).confidence for i in items if not i.answerable]
    operating = load_scorer().abstain_below
    print(f"\n### Abstention, SQuAD 2.0 sample held-out half, {label}: {len(answerable)} answerable, {len(unanswerable)} unanswerable\n")
    print("| composer, abstaining on | threshold | unanswerable abstained | answerable wrongly abstained |\n|---|---|---|---|")
    thresholds = sorted(set(CURVE) | {operating})
    curves = (
        ("hand-tuned (default), relevance", [a.relevance for a in answerable], [a.relevance for a in unanswerable], HAND_TUNED_CURVE, HAND_TUNED_ABSTAIN),
        ("hand-tuned, confidence (`abstain_on=\"confidence\"`)", [a.confidence for a in answerable], [a.confidence for a in unanswerable], thresholds, operating),
        ("learned, confidence", learned_yes, learned_no, thresholds, operating),
    )
    for name, yes, no, points, default in curves:
        for p in abstention_curve(yes, no, points):
            mark = " **(default)**" if p.threshold == default else ""
            print(f"| {name} | {p.threshold:.2f}{mark} | {p.unanswerable_abstained:.3f} | {p.answerable_abstained:.3f} |")
    gold = [contains_answer(a.text, i.question.answers) for a, i in zip(answerable, [i for i in items if i.answerable])]
    _calibration(f"SQuAD 2.0 held-out half, {label}", answerable + unanswerable, gold + [False] * len(unanswerable))


def _seed_index(cache: Path) -> Index:
    path = cache / f"seed-{qa_index.SENTENCE_VECTORS}"
    try:
        index = Index.open(path)
        if not settings_outdated(index.settings):
            return index
    except IndexProblem:
        pass
    return Index.build([HERE.parent / "seeds"], path)


def _seed_table(seed: Index) -> None:
    print("\n## Seed article (benchmarks/seed_questions.json)\n")
    print("| composer | on-topic citing the expected paragraph | follow-ups citing it | on-topic + follow-ups abstained | off-topic abstained | mean chars |")
    print("|---|---|---|---|---|---|")
    on_topic, followups, off_topic = SEED_QUESTIONS["on_topic"], SEED_QUESTIONS["followups"], SEED_QUESTIONS["off_topic"]
    for name, config in COMPOSERS.items():
        asked = [(seed.answer(q, config=config), p) for q, p in on_topic]
        asked += [(seed.answer(q, history=[(h, seed.answer(h, config=config).text)], config=config), p) for h, q, p in followups]
        right = sum(p in [c.paragraph for c in a.citations] for a, p in asked[: len(on_topic)])
        followed = sum(p in [c.paragraph for c in a.citations] for a, p in asked[len(on_topic):])
        wrongly = sum(a.abstained for a, _ in asked)
        off = sum(seed.answer(q, config=config).abstained for q in off_topic)
        chars = [len(" ".join(s.text for s in a.sentences)) for a, _ in asked if not a.abstained]
        print(
            f"| {name} | {right} of {len(on_topic)} | {followed} of {len(followups)} | {wrongly} of {len(asked)} | "
            f"{off} of {len(off_topic)} | {sum(chars) / max(len(chars), 1):.0f} |"
        )
    # The margins the default composer's abstention sits between (README, "Abstention").
    never = AnswerConfig(abstain_below=NEVER)
    asked = [seed.answer(q, config=never) for q, _ in on_topic]
    asked += [seed.answer(q, history=[(h, seed.answer(h).text)], config=never) for h, q, _ in followups]
    off = [seed.answer(q, config=never) for q in off_topic]
    unanswerable = [seed.answer(q, config=never) for q in SEED_UNANSWERABLE]
    for measure, threshold in (("confidence", load_scorer().abstain_below), ("relevance", HAND_TUNED_ABSTAIN)):
        print(
            f"\nDefault composer's {measure} on the seed: weakest on-topic or follow-up "
            f"{min(getattr(a, measure) for a in asked):.3f}, strongest off-topic {max(getattr(a, measure) for a in off):.3f}, "
            f"on-topic but unanswered {', '.join(f'{getattr(a, measure):.3f}' for a in unanswerable)}; threshold {threshold}"
        )


def _short_note_table(cache: Path) -> None:
    """The three-paragraph note of benchmarks/short_note.json, uploaded alone as a text file
    (as tests/test_answering.py builds it)."""
    note = json.loads((HERE / "short_note.json").read_text())
    folder = cache / f"short-note-{qa_index.SENTENCE_VECTORS}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "note.txt").write_text("\n\n".join(note["paragraphs"]), encoding="utf-8")
    index = Index.build([folder / "note.txt"], folder / "index")
    print("\n## A short upload alone (benchmarks/short_note.json)\n")
    print("| composer, abstaining on | right sentence quoted | abstained | off-topic abstained | confidence of the answers |")
    print("|---|---|---|---|---|")
    rules = {
        "hand-tuned (default), relevance": AnswerConfig(),
        "hand-tuned, confidence": AnswerConfig(abstain_on="confidence"),
        "learned, confidence": AnswerConfig(scorer=LEARNED),
    }
    for name, config in rules.items():
        answers = [(index.answer(q, config=config), quoted) for q, quoted in note["answerable"]]
        right = sum(quoted in a.text for a, quoted in answers)
        abstained = sum(a.abstained for a, _ in answers)
        off = sum(index.answer(q, config=config).abstained for q in note["off_topic"])
        confidence = ", ".join(f"{a.confidence:.2f}" for a, _ in answers)
        print(f"| {name} | {right} of {len(answers)} | {abstained} | {off} of {len(note['off_topic'])} | {confidence} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=0, help="held-out SQuAD v1.1 questions (0 = all)")
    parser.add_argument("--data", help="folder holding squad-v1.1-dev/ and squad2-dev-sample/")
    parser.add_argument("--cache", default=str(HERE / ".cache"))
    parser.add_argument("--mmr", action="store_true", help="also measure MMR for answer diversity")
    parser.add_argument(
        "--sentence-vectors", choices=VECTOR_METHODS, help="how new indexes make sentence vectors (default: qa's)"
    )
    args = parser.parse_args()
    if args.sentence_vectors:
        qa_index.SENTENCE_VECTORS = args.sentence_vectors
    cache = Path(args.cache)
    data = Path(args.data) if args.data else None

    documents, questions = squad_documents(data)
    held_out = [q for q in questions if squad_split(q) == HELD_OUT]
    chosen = sample_questions(held_out, args.sample) if args.sample else held_out
    squad2 = [
        i for i in squad2_questions(documents, (data / "squad2-dev-sample") if data else None)
        if squad2_split(i.position, i.total, i.question) == HELD_OUT
    ]
    print(f"building/opening {len({d.title for d in documents})} article indexes…", file=sys.stderr)
    indexes = article_indexes(documents, cache / f"articles-{qa_index.SENTENCE_VECTORS}")
    compose = composer_for(indexes, [*chosen, *(i.question for i in squad2)])

    _squad_table(compose, chosen, args.mmr)
    never = AnswerConfig(abstain_below=NEVER)
    answers = [compose(q, never) for q in chosen]
    _calibration("SQuAD v1.1 held-out articles", answers, [contains_answer(a.text, q.answers) for a, q in zip(answers, chosen)])
    _abstention(compose, squad2, "all")
    _abstention(compose, [i for i in squad2 if squad_split(i.question) == HELD_OUT], "on held-out articles only")
    _seed_table(_seed_index(cache))
    _short_note_table(cache)


if __name__ == "__main__":
    main()
