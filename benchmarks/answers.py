"""Answers: how often qa's answer holds and cites the gold answer, when it abstains, and how far
its confidence can be trusted, on questions it was never tuned on.

    python benchmarks/answers.py --reader                 # the reader against the composer alone
    python benchmarks/answers.py --reader --sample 0      # every dev question (10,570; ~15 min)
    python benchmarks/answers.py --reader --candidate build/reader/candidate-X   # a training run's file
    python benchmarks/answers.py                          # the composers on issue 12's held-out half
    python benchmarks/answers.py --sample 1000 --mmr      # + MMR for the 2nd and 3rd sentence

Single-article mode throughout: one index per SQuAD article (cached under benchmarks/.cache/),
asked only that article's questions, like the one-article default corpus. Each question is
searched once and composed every way from that search, so rows differ only in composition.
"Gold in answer": the answer text contains a gold answer (SQuAD normalisation); "citation
covers gold": a quoted sentence of the gold paragraph contains a gold answer_start.

`--reader`: the reader (qa/models/reader.onnx, trained and tuned on SQuAD v1.1 *train* only by
scripts/train_reader.py) against `reader=False`, on `--sample` dev questions (1,000, seed 0,
all 48 articles): the short answer's EM / F1 and whether it is exact in its document, latency
(search + compose), the reliability of `Answer.confidence`, the SQuAD 2.0 sample's trade-off
over the reader's abstention margin, and the seed article's questions one by one.

Without it: issue 12's split, which benchmarks/train_scorer.py never reads: the SQuAD v1.1
dev articles at odd positions and the second half of the SQuAD 2.0 sample. The hand-tuned
composer (the default) and the learned one; reliability and ECE of `confidence`; the abstention
curves (relevance and confidence) on SQuAD 2.0's held-out half; the seed article; the short
note of benchmarks/short_note.json uploaded alone. Latency columns there time composition alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import common
from qa.answering.compose import Answer, compose_from_search
from qa.answering.config import HAND_TUNED, HAND_TUNED_ABSTAIN, LEARNED, AnswerConfig
from qa.answering.sentence_scoring import load_scorer
from qa.errors import IndexProblem
from qa.eval.answer_evaluation import (
    HELD_OUT,
    AnswerReport,
    Squad2Question,
    abstention_curve,
    article_indexes,
    citation_covers,
    evaluate_answers,
    expected_calibration_error,
    reliability_table,
    squad2_questions,
    squad2_split,
    squad_split,
)
from qa.eval.evaluation import EvalQuestion, contains_answer, exact_match, sample_questions, squad_documents, token_f1
from qa.index.coordinator import Index
from qa.index.settings import VECTOR_METHODS
from qa.loading.documents import Document
from qa.models.reading import load_reader

READER_SAMPLE = 1000  # --reader: dev questions unless --sample says otherwise
COMPOSERS = {"hand-tuned (default)": AnswerConfig(scorer=HAND_TUNED), "learned (opt-in)": AnswerConfig(scorer=LEARNED)}
WITH_READER, WITHOUT_READER = AnswerConfig(), AnswerConfig(reader=False)
CONFIDENCE_CURVE = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
RELEVANCE_CURVE = (0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
MARGIN_OFFSETS = (-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0)  # around the reader's shipped margin
MMR_LAMBDAS = (0.9, 0.7, 0.5, 0.3)
Composer = Callable[[EvalQuestion, AnswerConfig], Answer]


def article_indexes_made(documents: Sequence[Document], cache: Path, method: str | None) -> dict[str, Index]:
    """One index per article, cached; with `method`, its vectors made that way (qa's
    `article_indexes` builds qa's default way)."""
    folder = cache / f"articles-{common.vector_method(method)}"
    if method is None:
        return article_indexes(documents, folder)
    by_title: dict[str, list[Document]] = {}
    for document in documents:
        by_title.setdefault(document.title, []).append(document)
    indexes = {}
    for n, (title, docs) in enumerate(by_title.items()):
        path = folder / f"article-{n:02d}"
        try:
            index = Index.open(path)
            if index.settings.sentence_vectors != method or len(index.documents()) != len(docs):
                raise IndexProblem("built another way")
        except IndexProblem:
            index = Index.from_documents(docs, path, progress=False, sentence_vectors=method)
        indexes[title] = index
    return indexes


def composer_for(indexes: dict[str, Index], questions: Sequence[EvalQuestion]) -> tuple[Composer, dict[int, float]]:
    """Search each question once (its article's index); compose it with any config. Also the
    seconds each search took, by question id."""
    searches, seconds = {}, {}
    for n, q in enumerate(questions):
        started = time.perf_counter()
        searches[id(q)] = indexes[q.title].pinned().search(q.question, AnswerConfig().passages)
        seconds[id(q)] = time.perf_counter() - started
        if n % 1000 == 999:
            common.log(f"  searched {n + 1}/{len(questions)}")
    return (lambda q, config: compose_from_search(indexes[q.title].pinned(), searches[id(q)], [], config)), seconds


def print_reliability(title: str, confidence: list[float], correct: list[bool]) -> None:
    """The reliability table of `Answer.confidence` and its ECE."""
    table = reliability_table(confidence, correct)
    common.print_table(
        ("confidence", "answers", "mean confidence", "share containing gold"),
        [(f"{b.low:.1f}–{b.high:.1f}", b.answers, f"{b.mean_confidence:.3f}", f"{b.share_correct:.3f}") for b in table],
        f"Reliability of `confidence`: {title} ({len(confidence)} answers)",
    )
    print(f"\nECE **{expected_calibration_error(table):.3f}** over {len(confidence)} answers ({len(table)} non-empty bins of 10)")


# --- the reader ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReaderRow:
    """One composer's answers on the dev sample."""

    name: str
    contains: float
    covers: float
    abstained: float
    chars: float
    exact: float
    f1: float
    short_exact_in_document: str
    p50_ms: float
    p95_ms: float


def reader_row(name: str, indexes: dict[str, Index], questions: list[EvalQuestion], answers: list[Answer], seconds: list[float]) -> ReaderRow:
    """Shares over all questions; the short answer's EM / F1 count an abstention as 0."""
    n = len(questions)
    given = [(q, a) for q, a in zip(questions, answers) if not a.abstained]
    shorts = [(q, a.short_answer) for q, a in given if a.short_answer is not None]
    exact_in_doc = all(indexes[q.title].document(s.doc_id).text[s.start : s.end] == s.text for q, s in shorts)
    return ReaderRow(
        name,
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


def reader_table(indexes: dict[str, Index], questions: list[EvalQuestion]) -> None:
    """Reader and composer alone from the same searches; latency is search + composition."""
    compose, searched = composer_for(indexes, questions)
    rows = []
    for name, config in (("reader (default)", WITH_READER), ("no reader (before)", WITHOUT_READER)):
        answers, seconds = [], []
        for q in questions:
            started = time.perf_counter()
            answers.append(compose(q, config))
            seconds.append(searched[id(q)] + time.perf_counter() - started)
        rows.append(reader_row(name, indexes, questions, answers, seconds))
        if config is WITH_READER:
            given = [(q, a) for q, a in zip(questions, answers) if not a.abstained]
            print_reliability("the reader's answers, SQuAD v1.1 dev", [a.confidence for _, a in given],
                              [contains_answer(a.text, q.answers) for q, a in given])
    common.print_table(
        ("composer", "questions", "gold in answer", "citation covers gold", "abstained", "mean chars", "short EM",
         "short F1", "short exact in document", "answer p50 ms", "p95 ms"),
        [(r.name, len(questions), f"{r.contains:.3f}", f"{r.covers:.3f}", f"{r.abstained:.3f}", f"{r.chars:.0f}",
          f"{r.exact:.3f}", f"{r.f1:.3f}", r.short_exact_in_document, f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}") for r in rows],
        f"SQuAD v1.1 dev, all 48 articles, single-article: {len(questions)} questions",
    )


def margin_curve(indexes: dict[str, Index], documents: list[Document]) -> None:
    """SQuAD 2.0 sample: abstention by the reader's margin, around the shipped one."""
    items = squad2_questions(documents)
    shipped = load_reader().abstain_margin
    compose, _ = composer_for(indexes, [i.question for i in items])
    configs = [("no reader (before)", WITHOUT_READER, None)]
    configs += [("reader", AnswerConfig(abstain_margin=shipped + o), shipped + o) for o in MARGIN_OFFSETS]
    answerable = sum(i.answerable for i in items)
    rows = []
    for name, config, margin in configs:
        un = an = gold = 0
        for item in items:
            answer = compose(item.question, config)
            if item.answerable:
                an += answer.abstained
                gold += not answer.abstained and contains_answer(answer.text, item.question.answers)
            else:
                un += answer.abstained
        label = "—" if margin is None else f"{margin:.2f}" + (" (shipped)" if margin == shipped else "")
        n_un = len(items) - answerable
        rows.append((name, label, f"{un / n_un:.3f}", f"{an / answerable:.3f}", f"{gold / answerable:.3f}"))
    common.print_table(
        ("composer", "abstain margin", "unanswerable abstained", "answerable abstained", "answerable: gold in answer"),
        rows, f"SQuAD 2.0 sample, single-article: {len(items)} questions ({answerable} answerable)",
    )


def quoted_paragraphs(answer: Answer) -> list[int]:
    """Every paragraph the answer quotes a sentence from, ascending: a seed question counts as
    answered from its paragraph when one of its quotes comes from it (a quote may lean on the
    sentence before it, in the paragraph before: qa.answering.pointing)."""
    return sorted({p for c in answer.citations for p in c.paragraphs})


def seed_questions_one_by_one(index: Index) -> None:
    """Every seed question with the paragraph it should cite, what was cited and the short answer."""
    sets = common.seed_questions()
    rows, hits = [], []
    asked = [(q, p, []) for q, p in sets["on_topic"]] + [(q, p, [(f, index.answer(f).text)]) for f, q, p in sets["followups"]]
    for question, paragraph, history in asked:
        a = index.answer(question, history=history)
        label = f"(after “{history[0][0]}”) {question}" if history else question
        quoted = quoted_paragraphs(a)
        hits.append(paragraph in quoted)
        rows.append((label, paragraph, ", ".join(map(str, quoted)) or "—", "yes" if hits[-1] else "no",
                     a.short_answer.text if a.short_answer else "—", a.abstained))
    common.print_table(("question", "expected paragraph", "paragraphs quoted", "quotes it", "short answer", "abstained"),
                       rows, "The seed article")
    on_topic = len(sets["on_topic"])
    print(f"\nOn-topic questions quoting their paragraph: {sum(hits[:on_topic])} of {on_topic}")
    off = sets["off_topic"] + list(common.SEED_UNANSWERABLE)
    answered = [q for q in off if not index.answer(q).abstained]
    print(f"\nOff-topic and unanswerable: {len(off) - len(answered)} of {len(off)} abstained; answered: {answered}")


# --- the composers on the held-out half ------------------------------------------------------------


def report_row(name: str, r: AnswerReport) -> tuple:
    """A composer's row: shares, length and composition time."""
    return (name, r.questions, f"{r.contains_gold:.3f}", f"{r.citation_covers_gold:.3f}", f"{r.abstained:.3f}",
            f"{r.mean_chars:.0f}", f"{r.mean_sentences:.2f}", f"{r.latency.p50_ms:.2f}", f"{r.latency.p95_ms:.2f}")


def composer_table(compose: Composer, questions: list[EvalQuestion], mmr: bool) -> None:
    """Each composer (and MMR settings) on the held-out SQuAD v1.1 questions."""
    configs = list(COMPOSERS.items())
    if mmr:
        configs += [(f"hand-tuned, MMR lambda {x}", AnswerConfig(mmr_lambda=x)) for x in MMR_LAMBDAS]
    common.print_table(
        ("composer", "questions", "gold in answer", "citation covers gold", "abstained", "mean chars",
         "mean sentences", "compose p50 ms", "compose p95 ms"),
        [report_row(name, evaluate_answers(lambda q, c=config: compose(q, c), questions)) for name, config in configs],
        f"SQuAD v1.1 dev, held-out articles (odd positions), single-article: {len(questions)} questions",
    )


def abstention_tables(compose: Composer, items: list[Squad2Question], label: str) -> None:
    """Abstention curves on SQuAD 2.0 (relevance and confidence), and calibration there."""
    never = AnswerConfig(abstain_below=common.NEVER)
    learned = AnswerConfig(scorer=LEARNED, abstain_below=common.NEVER)
    yes = [(i, compose(i.question, never), compose(i.question, learned)) for i in items if i.answerable]
    no = [(i, compose(i.question, never), compose(i.question, learned)) for i in items if not i.answerable]
    operating = load_scorer().abstain_below
    thresholds = sorted(set(CONFIDENCE_CURVE) | {operating})
    curves = (
        ("hand-tuned (default), relevance", "relevance", 1, RELEVANCE_CURVE, HAND_TUNED_ABSTAIN),
        ('hand-tuned, confidence (`abstain_on="confidence"`)', "confidence", 1, thresholds, operating),
        ("learned, confidence", "confidence", 2, thresholds, operating),
    )
    rows = []
    for name, measure, column, points, default in curves:
        curve = abstention_curve([getattr(t[column], measure) for t in yes], [getattr(t[column], measure) for t in no], points)
        for p in curve:
            mark = " **(default)**" if p.threshold == default else ""
            rows.append((name, f"{p.threshold:.2f}{mark}", f"{p.unanswerable_abstained:.3f}", f"{p.answerable_abstained:.3f}"))
    common.print_table(("composer, abstaining on", "threshold", "unanswerable abstained", "answerable wrongly abstained"), rows,
                       f"Abstention, SQuAD 2.0 sample held-out half, {label}: {len(yes)} answerable, {len(no)} unanswerable")
    gold = [contains_answer(a.text, i.question.answers) for i, a, _ in yes]
    print_reliability(f"SQuAD 2.0 held-out half, {label}", [a.confidence for _, a, _ in yes + no], gold + [False] * len(no))


def seed_composer_table(seed: Index) -> None:
    """The seed's questions per composer, and the margins its abstention sits between."""
    sets = common.seed_questions()
    on_topic, followups, off_topic = sets["on_topic"], sets["followups"], sets["off_topic"]
    rows = []
    for name, config in COMPOSERS.items():
        asked = [(seed.answer(q, config=config), p) for q, p in on_topic]
        asked += [(seed.answer(q, history=[(h, seed.answer(h, config=config).text)], config=config), p) for h, q, p in followups]
        cites = [p in quoted_paragraphs(a) for a, p in asked]
        chars = [len(" ".join(s.text for s in a.sentences)) for a, _ in asked if not a.abstained]
        off = sum(seed.answer(q, config=config).abstained for q in off_topic)
        rows.append((name, f"{sum(cites[:len(on_topic)])} of {len(on_topic)}", f"{sum(cites[len(on_topic):])} of {len(followups)}",
                     f"{sum(a.abstained for a, _ in asked)} of {len(asked)}", f"{off} of {len(off_topic)}", f"{sum(chars) / max(len(chars), 1):.0f}"))
    common.print_table(("composer", "on-topic citing the expected paragraph", "follow-ups citing it",
                        "on-topic + follow-ups abstained", "off-topic abstained", "mean chars"), rows,
                       "Seed article (benchmarks/seed_questions.json)")
    never = AnswerConfig(abstain_below=common.NEVER)
    asked = [seed.answer(q, config=never) for q, _ in on_topic]
    asked += [seed.answer(q, history=[(h, seed.answer(h).text)], config=never) for h, q, _ in followups]
    off = [seed.answer(q, config=never) for q in off_topic]
    unanswerable = [seed.answer(q, config=never) for q in common.SEED_UNANSWERABLE]
    for measure, threshold in (("confidence", load_scorer().abstain_below), ("relevance", HAND_TUNED_ABSTAIN)):
        print(f"\nDefault composer's {measure} on the seed: weakest on-topic or follow-up "
              f"{min(getattr(a, measure) for a in asked):.3f}, strongest off-topic {max(getattr(a, measure) for a in off):.3f}, "
              f"on-topic but unanswered {', '.join(f'{getattr(a, measure):.3f}' for a in unanswerable)}; threshold {threshold}")


def short_note_table(cache: Path) -> None:
    """The three-paragraph note uploaded alone as a text file (tests/test_answering.py builds
    the same): does each abstention rule still give its right answers?"""
    note = common.short_note()
    folder = cache / "short-note"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "note.txt").write_text("\n\n".join(note["paragraphs"]), encoding="utf-8")
    index = Index.build([folder / "note.txt"], folder / "index", progress=False)
    rules = {
        "hand-tuned (default), relevance": AnswerConfig(),
        "hand-tuned, confidence": AnswerConfig(abstain_on="confidence"),
        "learned, confidence": AnswerConfig(scorer=LEARNED),
    }
    rows = []
    for name, config in rules.items():
        answers = [(index.answer(q, config=config), quoted) for q, quoted in note["answerable"]]
        off = sum(index.answer(q, config=config).abstained for q in note["off_topic"])
        rows.append((name, f"{sum(quoted in a.text for a, quoted in answers)} of {len(answers)}", sum(a.abstained for a, _ in answers),
                     f"{off} of {len(note['off_topic'])}", ", ".join(f"{a.confidence:.2f}" for a, _ in answers)))
    common.print_table(("composer, abstaining on", "right sentence quoted", "abstained", "off-topic abstained",
                        "confidence of the answers"), rows, "A short upload alone (benchmarks/short_note.json)")


# --- the command ---------------------------------------------------------------------------------


def run_reader(args: argparse.Namespace, cache: Path) -> None:
    """`--reader`: the dev table, the SQuAD 2.0 margin curve, the seed one by one."""
    documents, questions = squad_documents(args.data)
    indexes = article_indexes_made(documents, cache, args.sentence_vectors)
    sample = READER_SAMPLE if args.sample is None else args.sample
    reader_table(indexes, sample_questions(questions, sample) if sample else questions)
    if not args.skip_squad2:
        margin_curve(indexes, documents)
    seed_questions_one_by_one(common.seed_index(cache / "seed"))


def run_held_out(args: argparse.Namespace, cache: Path) -> None:
    """The composers, calibration and abstention on the held-out half, the seed, the note."""
    documents, questions = squad_documents(args.data)
    held_out = [q for q in questions if squad_split(q) == HELD_OUT]
    chosen = sample_questions(held_out, args.sample) if args.sample else held_out
    squad2 = [
        i for i in squad2_questions(documents, (args.data / "squad2-dev-sample") if args.data else None)
        if squad2_split(i.position, i.total, i.question) == HELD_OUT
    ]
    common.log(f"building/opening {len({d.title for d in documents})} article indexes")
    indexes = article_indexes_made(documents, cache, args.sentence_vectors)
    compose, _ = composer_for(indexes, [*chosen, *(i.question for i in squad2)])
    composer_table(compose, chosen, args.mmr)
    never = AnswerConfig(abstain_below=common.NEVER)
    answers = [compose(q, never) for q in chosen]
    print_reliability("SQuAD v1.1 held-out articles, abstention off", [a.confidence for a in answers],
                      [contains_answer(a.text, q.answers) for a, q in zip(answers, chosen)])
    abstention_tables(compose, squad2, "all")
    abstention_tables(compose, [i for i in squad2 if squad_split(i.question) == HELD_OUT], "on held-out articles only")
    seed_composer_table(common.seed_index(cache / "seed"))
    short_note_table(cache)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reader", action="store_true", help="the reader against the composer alone, on dev")
    parser.add_argument("--sample", type=int, help=f"SQuAD v1.1 questions, seed 0; 0 = all (default: all held-out; --reader {READER_SAMPLE})")
    parser.add_argument("--mmr", action="store_true", help="held-out: also MMR for answer diversity")
    parser.add_argument("--skip-squad2", action="store_true", help="--reader: leave out the SQuAD 2.0 margin curve")
    parser.add_argument("--data", type=Path, help="folder holding squad-v1.1-dev/ and squad2-dev-sample/")
    parser.add_argument("--cache", type=Path, default=common.CACHE, help="index cache (default benchmarks/.cache)")
    parser.add_argument("--sentence-vectors", choices=VECTOR_METHODS, help="how new indexes make vectors (default: qa's)")
    common.add_candidate_argument(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run what the options ask for; the exit status."""
    args = parse_args(argv)
    print(f"Machine: {common.machine_line()}")
    with common.candidate_reader(args.candidate):
        (run_reader if args.reader else run_held_out)(args, args.cache)
    print(f"\nload at end {common.load_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
