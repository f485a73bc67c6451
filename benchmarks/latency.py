"""Warm latency of qa.retrieve() and qa.answer() on the seed article, and process memory.

    python benchmarks/latency.py [--repeats 5] [--reader FOLDER]

Asks every question of benchmarks/seed_questions.json (on-topic, off-topic, follow-ups)
`--repeats` times after one warm-up pass, and prints p50/p95 per call next to the baseline
measured in the same process: encoding the question alone with sentence-transformers (fp32
torch), which is what every peer stack pays per question. qa encodes questions with the int8
ONNX export of the same model (qa/models/query_encoding.py), shown on its own row; the last row is
qa.retrieve with QA_QUERY_ENCODER=torch behaviour, for comparison. Latency ratios to the
baseline are what to compare across machines; absolute figures depend on the machine's load.
With `--reader FOLDER` (a reader.onnx and its reader.json, e.g. a training run's candidate),
qa.answer is also timed with that reader and with the shipped one on the on-topic questions
(the ones the reader reads: off-topic ones abstain before it), passes interleaved.
"""

from __future__ import annotations

import argparse
import resource
import statistics
from pathlib import Path
from typing import Callable

import common
import qa
from qa.eval.evaluation import percentile
from qa.models.reading import READER_FILE, READER_SETTINGS_FILE, load_reader, open_reader, reader_in_use


def timed(call: Callable[[str], object], questions: list[str], repeats: int) -> list[float]:
    """Milliseconds of each call, `repeats` passes over the questions after one untimed pass."""
    for question in questions:  # warm-up
        call(question)
    return [ms for _ in range(repeats) for ms in common.timed_ms(call, questions)]


def readers_compared(folder: Path, questions: list[str], repeats: int) -> dict[str, list[float]]:
    """qa.answer's milliseconds with the shipped reader and with the one in `folder`, each pass
    of the questions alternating between them so both see the same machine load."""
    readers = {"qa.answer(q), on-topic, shipped reader": load_reader()}
    readers[f"qa.answer(q), on-topic, reader of {folder}"] = open_reader(folder / READER_FILE, folder / READER_SETTINGS_FILE)
    times: dict[str, list[float]] = {name: [] for name in readers}
    for rep in range(repeats + 1):  # the first pass of each warms up
        for name, reader in readers.items():
            with reader_in_use(reader):
                measured = common.timed_ms(qa.answer, questions)
            if rep:
                times[name].extend(measured)
    return times


def main() -> None:
    """Time each call on the seed questions beside the baseline; print the table and peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--reader", type=Path, help="also time qa.answer with the reader in this folder")
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
    if args.reader is not None:
        on_topic = [q for q, _ in common.seed_questions()["on_topic"]]
        rows.update(readers_compared(args.reader, on_topic, args.repeats))
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
