"""Followed folders: how long from a file written to an answer that cites it, and from a file
deleted to the index forgetting it (issue 22's bar: within 10 s).

    python benchmarks/watch.py [--files 10]

One index of a small folder, followed with `Index.watch` (real file events through watchfiles,
the library's own writer). For each of `--files` new files, in turn: write it, then ask its
question until an answer cites it; delete it, then list the documents until it is gone. Each
wait polls every 20 ms, so a figure is at most that much late. The tests check that both
happen (tests/index/test_watching.py, tests/serving/test_api.py) with a hang guard only; the
seconds are measured here, as everything timed is. Tables go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import common
from qa.index.coordinator import Index

BAR_S = 10.0  # issue 22: a change reaches the served index within this long
POLL_S = 0.02
GIVE_UP_S = 300.0  # a wait this long is reported as a failure, not a figure
FIRST_FILE = "The harbour of Lindenhof reopened in March after the storm.\n"
# File n says something only it says; its question asks exactly that.
FACT = "The lighthouse keeper of island {n} painted the door a shade called colour{n} last spring.\n"
QUESTION = "What colour did the lighthouse keeper of island {n} paint the door?"


def seconds_until(condition: Callable[[], bool]) -> float:
    """Seconds until `condition()` is true, polled every `POLL_S`; a SystemExit after `GIVE_UP_S`."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > GIVE_UP_S:
            raise SystemExit(f"gave up after {GIVE_UP_S:.0f} s")
        time.sleep(POLL_S)
    return time.perf_counter() - start


def measure(files: int, work: Path) -> tuple[list[float], list[float]]:
    """(seconds written -> cited, seconds deleted -> forgotten) for each new file."""
    folder = work / "notes"
    folder.mkdir()
    (folder / "harbour.txt").write_text(FIRST_FILE, encoding="utf-8")
    index = Index.build([folder], work / "index")
    index.answer("warm-up: when did the harbour reopen?")
    cited, forgotten = [], []
    with index.watch([folder]):
        for n in range(files):
            doc_id = f"fact{n}"
            path = folder / f"{doc_id}.txt"
            path.write_text(FACT.format(n=n), encoding="utf-8")
            question = QUESTION.format(n=n)
            cited.append(seconds_until(lambda: any(c.doc_id == doc_id for c in index.answer(question).citations)))
            path.unlink()
            forgotten.append(seconds_until(lambda: doc_id not in {d.doc_id for d in index.documents()}))
            print(f"  file {n + 1}/{files}: cited {cited[-1]:.2f} s, forgotten {forgotten[-1]:.2f} s", file=sys.stderr)
    return cited, forgotten


def row(label: str, values: list[float]) -> tuple[str, str, str, str, str]:
    """A table row: median, slowest, and whether the slowest is within the bar."""
    slowest = max(values)
    return (label, str(len(values)), f"{statistics.median(values):.2f}", f"{slowest:.2f}", "yes" if slowest <= BAR_S else "no")


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table; the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10, help="files written then deleted, one at a time")
    args = parser.parse_args(argv)
    print(common.machine_line())
    with tempfile.TemporaryDirectory() as work:
        cited, forgotten = measure(args.files, Path(work))
    common.print_table(
        ("change", "files", "median s", "slowest s", f"within {BAR_S:.0f} s"),
        [row("written -> an answer cites it", cited), row("deleted -> gone from the index", forgotten)],
        "A followed folder (Index.watch), one file at a time",
    )
    print(f"\nload average after: {common.load_text()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
