"""Answer quality on SQuAD v1.1 dev (single-article mode) and abstention on the SQuAD 2.0 sample.

    python benchmarks/answers.py                 # 1,000 questions, default settings
    python benchmarks/answers.py --sweep         # also try composer variants
    python benchmarks/answers.py --mmr           # also try MMR for the 2nd and 3rd sentence
    python benchmarks/answers.py --sample 0      # every question of all 48 articles

Single-article mode: one index per SQuAD article (cached in benchmarks/.cache/articles), asked
only that article's questions, like the one-article default corpus. Prints Markdown tables:
gold answer inside the answer text (SQuAD normalisation), citations covering a gold
answer_start, abstention, mean answer length, latency; then the abstention trade-off on the
SQuAD 2.0 sample and on the seed article's on-topic and off-topic questions.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import replace
from pathlib import Path

from qa.answer_evaluation import (
    AnswerReport,
    abstention_curve,
    article_indexes,
    evaluate_answers,
    squad2_questions,
)
from qa.answering import AnswerConfig, compose_from_search
from qa.evaluation import sample_questions, squad_documents
import qa.index as qa_index
from qa.defaults import settings_outdated
from qa.index import Index
from qa.store import IndexProblem

HERE = Path(__file__).resolve().parent
SEED_QUESTIONS = json.loads((HERE / "seed_questions.json").read_text())
NO_ABSTAIN = float("-inf")


def _row(name: str, r: AnswerReport) -> str:
    return (
        f"| {name} | {r.questions} | {r.contains_gold:.3f} | {r.citation_covers_gold:.3f} | "
        f"{r.abstained:.3f} | {r.mean_chars:.0f} | {r.mean_sentences:.2f} | "
        f"{r.latency.p50_ms:.1f} | {r.latency.p95_ms:.1f} |"
    )


HEADER = (
    "| composer | questions | gold in answer | citation covers gold | abstained | mean chars | "
    "mean sentences | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|---|---|"
)


def _sweep(indexes: dict[str, Index], questions: list) -> None:
    """Composer settings on the same searches (search once, compose many times).

    Latency columns here time composition only. Prints the 10 best settings by gold-in-answer
    among those with mean answers of at most 400 characters.
    """
    base = AnswerConfig()
    searches = {id(q): indexes[q.title].search(q.question, base.passages) for q in questions}
    results = []
    for lexical, passage, keep, idf in itertools.product((0.5, 1.0), (0.0, 0.2), (0.6, 0.7, 0.8), (False, True)):
        config = replace(base, lexical_weight=lexical, passage_weight=passage, keep_ratio=keep, idf_weighted=idf)
        report = evaluate_answers(
            lambda q: compose_from_search(indexes[q.title], searches[id(q)], [], config), questions
        )
        name = f"lexical {lexical}, passage {passage}, keep {keep}, idf {idf}"
        results.append((name, report))
    fitting = [r for r in results if r[1].mean_chars <= 400]
    fitting.sort(key=lambda r: (-r[1].contains_gold, -r[1].citation_covers_gold))
    print(f"\n### Sweep: best 10 of {len(results)} settings with mean answer <= 400 chars\n")
    print(HEADER)
    for name, report in fitting[:10]:
        print(_row(name, report))


def _mmr_table(indexes: dict[str, Index], questions: list) -> None:
    """Maximal marginal relevance for the 2nd and 3rd answer sentence, on the same searches."""
    base = AnswerConfig()
    searches = {id(q): indexes[q.title].search(q.question, base.passages) for q in questions}
    print("\n### MMR for the 2nd and 3rd sentence (default settings otherwise)\n")
    print(HEADER)
    for mmr_lambda in (1.0, 0.9, 0.8, 0.7, 0.5, 0.3):
        config = replace(base, mmr_lambda=mmr_lambda)
        report = evaluate_answers(
            lambda q: compose_from_search(indexes[q.title], searches[id(q)], [], config), questions
        )
        print(_row(f"MMR lambda {mmr_lambda}" + (" (off, default)" if mmr_lambda == 1.0 else ""), report))


def _seed_index(cache: Path) -> Index:
    path = cache / f"seed-{qa_index.SENTENCE_VECTORS}"
    try:
        index = Index.open(path)
        if not settings_outdated(index.settings):
            return index
    except IndexProblem:
        pass
    return Index.build([HERE.parent / "seeds"], path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, default=1000, help="questions (0 = all 10,570)")
    parser.add_argument("--data", help="folder holding squad-v1.1-dev/ and squad2-dev-sample/")
    parser.add_argument("--cache", default=str(HERE / ".cache"))
    parser.add_argument("--sweep", action="store_true", help="also measure composer variants")
    parser.add_argument("--mmr", action="store_true", help="also measure MMR for answer diversity")
    parser.add_argument(
        "--sentence-vectors", choices=["late", "separate"], help="how new indexes make sentence vectors (default: qa's)"
    )
    args = parser.parse_args()
    if args.sentence_vectors:
        qa_index.SENTENCE_VECTORS = args.sentence_vectors
    cache = Path(args.cache)
    data = Path(args.data) if args.data else None

    documents, questions = squad_documents(data)
    chosen = sample_questions(questions, args.sample) if args.sample else questions
    print(f"building/opening {len({d.title for d in documents})} article indexes…", file=sys.stderr)
    indexes = article_indexes(documents, cache / f"articles-{qa_index.SENTENCE_VECTORS}")

    print("\n## SQuAD v1.1 dev, single-article mode\n")
    print(HEADER)
    report = evaluate_answers(lambda q: indexes[q.title].answer(q.question), chosen)
    print(_row("default", report), flush=True)
    if args.sweep:
        _sweep(indexes, chosen)
    if args.mmr:
        _mmr_table(indexes, chosen)

    # Abstention: relevance of the best sentence with abstention switched off, then thresholds.
    never = replace(AnswerConfig(), abstain_below=NO_ABSTAIN)
    squad2 = squad2_questions(documents, (data / "squad2-dev-sample") if data else None)
    relevance = {True: [], False: []}
    for item in squad2:
        answer = indexes[item.question.title].answer(item.question.question, config=never)
        relevance[item.answerable].append(answer.relevance)
    seed = _seed_index(cache)
    right = sum(p in [c.paragraph for c in seed.answer(q).citations] for q, p in SEED_QUESTIONS["on_topic"])
    followed = sum(
        p in [c.paragraph for c in seed.answer(q, history=[(h, seed.answer(h).text)]).citations]
        for h, q, p in SEED_QUESTIONS["followups"]
    )
    print(
        f"\nSeed article: {right} of {len(SEED_QUESTIONS['on_topic'])} on-topic answers and {followed} of "
        f"{len(SEED_QUESTIONS['followups'])} follow-ups cite the expected paragraph "
        f"(sentence vectors: {seed.settings.sentence_vectors})"
    )
    on_topic = [seed.answer(q, config=never).relevance for q, _ in SEED_QUESTIONS["on_topic"]]
    follow = [
        seed.answer(q, history=[(h, "")], config=never).relevance for h, q, _ in SEED_QUESTIONS["followups"]
    ]
    off_topic = [seed.answer(q, config=never).relevance for q in SEED_QUESTIONS["off_topic"]]
    thresholds = [round(0.30 + 0.05 * i, 2) for i in range(13)]
    squad_curve = abstention_curve(relevance[True], relevance[False], thresholds)
    seed_curve = abstention_curve(on_topic + follow, off_topic, thresholds)
    print(
        f"\n## Abstention trade-off (SQuAD 2.0 sample: {len(relevance[True])} answerable, "
        f"{len(relevance[False])} unanswerable; seed: {len(on_topic) + len(follow)} on-topic, "
        f"{len(off_topic)} off-topic)\n"
    )
    print("| threshold | SQuAD2 unanswerable abstained | SQuAD2 answerable wrongly abstained | seed off-topic abstained | seed on-topic wrongly abstained |")
    print("|---|---|---|---|---|")
    default = AnswerConfig().abstain_below
    for s, o in zip(squad_curve, seed_curve):
        mark = " **(default)**" if abs(s.threshold - default) < 1e-9 else ""
        print(
            f"| {s.threshold:.2f}{mark} | {s.unanswerable_abstained:.3f} | {s.answerable_abstained:.3f} | "
            f"{o.unanswerable_abstained:.3f} | {o.answerable_abstained:.3f} |"
        )


if __name__ == "__main__":
    main()
