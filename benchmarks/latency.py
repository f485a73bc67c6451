"""Warm latency of qa.retrieve() and qa.answer() on the seed article, and process memory.

    python benchmarks/latency.py [--repeats 5]

Asks every question of benchmarks/seed_questions.json (on-topic, off-topic, follow-ups)
`--repeats` times after one warm-up pass, and prints p50/p95 per call next to the baseline
measured in the same process: encoding the question alone with sentence-transformers (fp32
torch), which is what every peer stack pays per question. qa encodes questions with the int8
ONNX export of the same model (qa/models/query_encoding.py), shown on its own row; the last row is
qa.retrieve with QA_QUERY_ENCODER=torch behaviour, for comparison. Latency ratios to the
baseline are what to compare across machines; absolute figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import resource
import statistics
from typing import Callable

import common
import qa
from qa.eval.evaluation import percentile


def timed(call: Callable[[str], object], questions: list[str], repeats: int) -> list[float]:
    """Milliseconds of each call, `repeats` passes over the questions after one untimed pass."""
    for question in questions:  # warm-up
        call(question)
    return [ms for _ in range(repeats) for ms in common.timed_ms(call, questions)]


def main() -> None:
    """Time each call on the seed questions beside the baseline; print the table and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    questions = common.seed_question_texts()
    index = qa.default_index()
    embedder = index.embedder()
    rows = {
        "baseline: encode question (torch fp32)": timed(lambda q: embedder.encode([q]), questions, args.repeats),
        f"encode question ({embedder.query_backend})": timed(
            lambda q: embedder.encode_queries([q]), questions, args.repeats
        ),
        "qa.retrieve(q, k=5)": timed(lambda q: qa.retrieve(q, k=5), questions, args.repeats),
        "qa.answer(q)": timed(qa.answer, questions, args.repeats),
    }
    with embedder.torch_questions():
        rows["qa.retrieve(q, k=5), torch questions"] = timed(lambda q: qa.retrieve(q, k=5), questions, args.repeats)
    base = statistics.median(next(iter(rows.values())))
    common.print_table(
        ("call", "p50 ms", "p95 ms", "p50 / baseline"),
        [(name, f"{percentile(ms, 50):.1f}", f"{percentile(ms, 95):.1f}", f"{statistics.median(ms) / base:.2f}") for name, ms in rows.items()],
        f"Seed article, {len(questions)} questions x {args.repeats}; {common.machine_line()}",
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {rss_mb:.0f} MB (model, torch and the seed index)")


if __name__ == "__main__":
    main()
