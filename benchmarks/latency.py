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
import json
import resource
import statistics
import time
from pathlib import Path
from typing import Callable

import qa
from qa.eval.evaluation import percentile

HERE = Path(__file__).resolve().parent


def timed(call: Callable[[str], object], questions: list[str], repeats: int) -> list[float]:
    for question in questions:  # warm-up
        call(question)
    seconds = []
    for _ in range(repeats):
        for question in questions:
            started = time.perf_counter()
            call(question)
            seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    sets = json.loads((HERE / "seed_questions.json").read_text())
    questions = [q for q, _ in sets["on_topic"]] + sets["off_topic"] + [q for _, q, _ in sets["followups"]]
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
    try:
        load = open("/proc/loadavg").read().split()[0]
    except OSError:
        load = "?"
    print(f"\nSeed article, {len(questions)} questions x {args.repeats}, load average {load}\n")
    print("| call | p50 ms | p95 ms | p50 / baseline |")
    print("|---|---|---|---|")
    for name, seconds in rows.items():
        ms = [s * 1000 for s in seconds]
        print(f"| {name} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} | {statistics.median(seconds) / base:.2f} |")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {rss_mb:.0f} MB (model, torch and the seed index)")


if __name__ == "__main__":
    main()
