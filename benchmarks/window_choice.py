"""Where the reader's answers are lost: retrieval, the windows read, or the reader's choice.

    python benchmarks/window_choice.py [--reads 3 6 10] [--neighbours 1]

On the held-out SQuAD v1.1 *train* articles (every 20th, never trained on; the ones
scripts/train_reader.py chooses its operating points on; never dev), each indexed in two halves
as there, the answerable questions asked against their own half:

- how often a sentence holding a gold answer is among the first k candidate sentences;
- for the windows around the first n candidates (each with a neighbour either side, as qa
  reads), how often some window's best span lies in a gold sentence ("any window"), how often
  the window with the best margin does ("best margin": what qa quotes first), and how often one
  of the two best does (what qa quotes with its runner-up rule at most);
- the best margin's span against the gold answer (EM / F1, SQuAD's normalisation, one gold
  answer per train question), whatever its margin: the short answer before abstention.

`--neighbours` reads that many sentences either side of each candidate instead of qa's
`window_neighbours` (1): 0 was measured against 1 on 2026-12-07 (benchmarks/README.md).

Why: the bar asks for gold in the answer .93 of the time, and this says which stage caps it.
Data: `../shared/data/squad-v1.1-train/`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import common

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.train_reader import TRAIN_JSON, Asked, held_out_questions, load_articles, split_articles  # noqa: E402
from qa.answering.candidates import Candidate, rank_candidates  # noqa: E402
from qa.answering.config import AnswerConfig  # noqa: E402
from qa.answering.sentence_scoring import load_scorer  # noqa: E402
from qa.answering.windows import Pick, read_windows  # noqa: E402
from qa.eval.evaluation import contains_answer, exact_match, token_f1  # noqa: E402
from qa.models.reading import load_reader  # noqa: E402

CANDIDATE_DEPTHS = (1, 3, 6, 10)
DEFAULT_READS = (3, 6, 10)


@dataclass(frozen=True)
class Question:
    """One answerable question: where its first gold sentence ranks, and per n read, whether
    each window's best span (best margin first) lies in a gold sentence."""

    gold_rank: int | None
    windows: dict[int, list[bool]]
    best_span: dict[int, str]  # per n read, the best margin's span ("" when no window was read)
    answers: tuple[str, ...]


def _in_gold(pick: Pick, answers: Sequence[str]) -> bool:
    return contains_answer(" ".join(c.sentence.text for c in pick.sentences), answers)


def measured(asked: Asked, reads: Sequence[int], neighbours: int) -> Question:
    config = AnswerConfig()
    candidates: list[Candidate] = rank_candidates(asked.searcher, asked.result, [], config, load_scorer())
    gold = next((i for i, c in enumerate(candidates) if contains_answer(c.sentence.text, asked.answers)), None)
    windows, best_span = {}, {}
    for n in reads:
        picks = read_windows(asked.searcher, load_reader(), [asked.result.question], candidates[:n], candidates,
                             neighbours, set())
        windows[n] = [_in_gold(p, asked.answers) for p in picks]
        best_span[n] = picks[0].text if picks else ""
    return Question(gold, windows, best_span, asked.answers)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, nargs="+", default=list(DEFAULT_READS), help="candidate sentences read")
    parser.add_argument("--neighbours", type=int, default=AnswerConfig().window_neighbours,
                        help="sentences read either side of each candidate (default: qa's)")
    args = parser.parse_args(argv)
    print(common.machine_line())
    _, held = split_articles(load_articles(TRAIN_JSON))
    with tempfile.TemporaryDirectory() as work:
        asked = [a for a in held_out_questions(held, Path(work)) if a.answerable]
        common.log(f"{len(asked)} answerable held-out train questions")
        questions = [measured(a, args.reads, args.neighbours) for a in asked]
    share = lambda hits: f"{sum(hits) / len(questions):.3f}"  # noqa: E731
    common.print_table(
        ("first k candidate sentences", "hold a gold sentence"),
        [(k, share(q.gold_rank is not None and q.gold_rank < k for q in questions)) for k in CANDIDATE_DEPTHS],
        f"Candidates ({len(questions)} answerable held-out train questions)",
    )
    common.print_table(
        ("candidates read (n)", "any window's best span in gold", "best margin in gold", "one of the two best in gold",
         "best margin's span EM", "F1"),
        [(n, share(any(q.windows[n]) for q in questions), share(q.windows[n][:1] == [True] for q in questions),
          share(any(q.windows[n][:2]) for q in questions), share(exact_match(q.best_span[n], q.answers) for q in questions),
          f"{sum(token_f1(q.best_span[n], q.answers) for q in questions) / len(questions):.3f}") for n in args.reads],
        "The reader's windows",
    )
    print(f"\nload at end {common.load_text()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
