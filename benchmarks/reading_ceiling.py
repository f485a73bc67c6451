"""Reading ceiling: how well does the reader read when it is handed the window that holds the
answer, with retrieval and the choice between windows taken out?

    python benchmarks/reading_ceiling.py                      # the shipped reader, 1,000 dev questions
    python benchmarks/reading_ceiling.py --candidate build/reader/candidate-X

`answers.py --reader` measures the whole answer: retrieval, the windows read, the reader's choice
between them, abstention and the span. Its short answer's EM / F1 can only be as good as the
span read from the right window; this script measures that span alone. SQuAD v1.1 dev (the same
1,000 questions as `answers.py --reader`: `sample_questions`, seed 0), each question's own
paragraph split by qa's splitter, the window built as qa builds one around a candidate: the
sentence holding the first gold `answer_start` with `window_neighbours` (1) sentences either
side, and, as a second row, that sentence alone. EM / F1 against all gold answers (SQuAD's
normalisation), counted twice: the best span whatever the no-answer score, and at the shipped
abstention margin (an abstention counts 0). Evaluation only: nothing here chooses a setting.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import common
from qa.answering.config import AnswerConfig
from qa.eval.evaluation import EvalQuestion, exact_match, sample_questions, squad_documents, token_f1
from qa.models.reading import Reader, Window, load_reader
from qa.text.chunking import split_paragraph

SAMPLE = 1000  # as answers.py --reader
NEIGHBOURS = (AnswerConfig().window_neighbours, 0)


@dataclass(frozen=True)
class Read:
    """One question's best span in its gold window, and whether the reader would quote it."""

    question: EvalQuestion
    span: str
    answered: bool


def gold_window(text: str, answer_start: int, neighbours: int) -> tuple[int, int] | None:
    """The character range of the sentence holding `answer_start` with `neighbours` sentences
    either side (qa's splitter), or None when no sentence holds it."""
    sentences = split_paragraph(text, 0, len(text))
    at = next((i for i, (s, e) in enumerate(sentences) if s <= answer_start < e), None)
    if at is None:
        return None
    lo, hi = max(0, at - neighbours), min(len(sentences) - 1, at + neighbours)
    return sentences[lo][0], sentences[hi][1]


def read_gold_windows(reader: Reader, texts: dict[str, str], questions: Sequence[EvalQuestion], neighbours: int) -> list[Read]:
    """Each question read with its gold window alone (one onnxruntime call, as qa reads)."""
    out = []
    for q in questions:
        found = gold_window(texts[q.doc_id], q.answer_starts[0], neighbours)
        if found is None:
            out.append(Read(q, "", False))
            continue
        start, end = found
        [reading] = reader.read(q.question, [Window(q.doc_id, start, texts[q.doc_id][start:end])])
        span = texts[q.doc_id][start + reading.start : start + reading.end]
        out.append(Read(q, span, reading.margin >= reader.abstain_margin))
    return out


def row(label: str, reads: list[Read]) -> tuple:
    """EM / F1 of the best span, then at the shipped margin (abstained as 0), and abstentions."""
    n = len(reads)
    scored = [(exact_match(r.span, r.question.answers), token_f1(r.span, r.question.answers), r.answered) for r in reads]
    em = sum(e for e, _, _ in scored) / n
    f1 = sum(f for _, f, _ in scored) / n
    em_m = sum(e for e, _, answered in scored if answered) / n
    f1_m = sum(f for _, f, answered in scored if answered) / n
    abstained = sum(not answered for _, _, answered in scored) / n
    return (label, n, f"{em:.3f}", f"{f1:.3f}", f"{em_m:.3f}", f"{f1_m:.3f}", f"{abstained:.3f}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=SAMPLE, help="SQuAD v1.1 dev questions, seed 0; 0 = all")
    parser.add_argument("--data", type=Path, help="folder holding squad-v1.1-dev/")
    common.add_candidate_argument(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table; the exit status."""
    args = parse_args(argv)
    print(f"Machine: {common.machine_line()}")
    documents, questions = squad_documents(args.data)
    texts = {d.doc_id: d.text for d in documents}
    chosen = sample_questions(questions, args.sample) if args.sample else questions
    with common.candidate_reader(args.candidate):
        reader = load_reader()
        rows = [row(f"gold sentence + {k} each side" if k else "gold sentence alone",
                    read_gold_windows(reader, texts, chosen, k)) for k in NEIGHBOURS]
    common.print_table(
        ("window read", "questions", "best span EM", "best span F1", "EM at the margin", "F1 at the margin", "abstained"),
        rows, f"SQuAD v1.1 dev, the reader handed the gold window (abstain margin {reader.abstain_margin})",
    )
    print(f"\nload at end {common.load_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
