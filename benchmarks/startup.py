"""Cold start: a fresh `qa ask`, its imports, a fresh `qa index` of the default corpus, and
`python app.py` up to its first answer.

    python benchmarks/startup.py [--runs 5] [--index-runs 3] [--app-runs 3] [--index DIR]

Every figure comes from a new process, as a user starting qa gets it, with the operating
system's file cache warm (one untimed `qa ask` first, which also builds the default index when
it is missing). Rows:

- cold `qa ask "what is the US backstop position?"`: wall seconds, CPU seconds (user + system,
  less sensitive than wall to other work on the machine) and peak RSS of the process;
- imports on that path (`python -X importtime`, one run): their total and the largest top-level
  packages, and whether torch, transformers, sentence-transformers or gradio were among them;
- cold `qa index seeds/ --index NEW`: a new index of the default corpus in a new folder, what
  the first `python app.py` on a fresh clone does before serving (wall, CPU, peak RSS);
- `python app.py --port P`, and `bash scripts/app.sh --port P` (its install check, then the
  same): seconds until the page is served (GET / answers 200) and until the first answer through
  the real server (the `/ask` endpoint, Gradio's queue), the CPU seconds the app had used by
  then, and its peak RSS.

Wall seconds depend on the machine's load, printed before and after; the CPU row shows how
much of a slow wall figure was waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

import common

PROJECT = common.PROJECT
QUESTION = "what is the US backstop position?"
# The document model's stack and the web stack: neither belongs on the question path.
HEAVY = ("torch", "transformers", "sentence_transformers", "gradio")
# Top-level imports listed in the import table.
TOP_IMPORTS = 8
# How often the app is polled while it starts (a benchmark, not a test: polling is the measure).
POLL_S = 0.05
# Give up on an app that has not answered after this long.
APP_TIMEOUT_S = 120
# An app that has not stopped this long after Ctrl-C is killed.
STOP_TIMEOUT_S = 30
# How the app is started: directly, and through the one set-up command (install check included).
LAUNCHERS = {"python app.py": [sys.executable, "app.py"], "bash scripts/app.sh": ["bash", "scripts/app.sh"]}
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


@dataclass(frozen=True)
class ProcessRun:
    """What one child process cost: wall and CPU seconds, peak resident memory."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float


def run_child(command: list[str]) -> ProcessRun:
    """Run `command` to its end and measure it with wait4 (its own rusage, not all children's)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {child.stderr.read().decode()[-2000:]}")
    return ProcessRun(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def ask_command(index: str | None) -> list[str]:
    """`qa ask QUESTION`, on `index` when one is given."""
    return common.qa_command() + ["ask", QUESTION] + (["--index", index] if index else [])


def index_command(folder: str) -> list[str]:
    """`qa index seeds/ --index FOLDER`: a new index of the default corpus."""
    return common.qa_command() + ["index", str(PROJECT / "seeds"), "--index", folder]


def cold_builds(runs: int) -> list[ProcessRun]:
    """`runs` new indexes of the default corpus, each by a new process into a new folder."""
    builds = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            builds.append(run_child(index_command(str(Path(folder) / "index"))))
    return builds


def import_profile(index: str | None) -> tuple[float, list[tuple[str, float]], list[str]]:
    """Total import seconds on the `qa ask` path, the largest top-level imports, and which of
    `HEAVY` were imported (one `python -X importtime` run)."""
    command = [sys.executable, "-X", "importtime", "-m", "qa.cli", "ask", QUESTION]
    command += ["--index", index] if index else []
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=True)
    top: dict[str, float] = {}
    imported: set[str] = set()
    for line in done.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if not match:
            continue
        cumulative_us, indent, name = int(match[2]), match[3], match[4]
        imported.add(name.split(".")[0])
        if not indent:  # a top-level import: its cumulative time includes everything under it
            top[name] = top.get(name, 0.0) + cumulative_us / 1e6
    largest = sorted(top.items(), key=lambda item: -item[1])[:TOP_IMPORTS]
    return sum(top.values()), largest, sorted(m for m in HEAVY if m in imported)


def page_served(base: str) -> bool:
    """Whether the app's page answers 200 yet."""
    try:
        with urllib.request.urlopen(base + "/", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def ask_server(base: str, question: str) -> dict:
    """One answer through Gradio's HTTP API for the `/ask` endpoint (what gradio_client does)."""
    request = urllib.request.Request(
        base + "/gradio_api/call/ask",
        data=json.dumps({"data": [question]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=APP_TIMEOUT_S) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/ask/{event_id}", timeout=APP_TIMEOUT_S) as stream:
        event = ""
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line.split(":", 1)[1])
                if event == "error":
                    raise RuntimeError(f"the app answered with an error: {payload}")
                return payload[0]
    raise RuntimeError("the app's answer stream ended without an answer")


@dataclass(frozen=True)
class AppStart:
    """One `python app.py`: seconds to the page and to the first answer, CPU seconds it had
    used by then, and its peak RSS."""

    page_s: float
    first_answer_s: float
    cpu_s: float
    peak_rss_mb: float


def app_start(launcher: list[str], index: str | None) -> AppStart:
    """Start the app with `launcher` on a free port, ask it one question, stop it."""
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    command = launcher + ["--port", str(port)] + (["--index", index] if index else [])
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        app = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=log)
        try:
            page = _poll(app, started, lambda: page_served(base), log)
            answer = ask_server(base, QUESTION)
            first_answer = time.perf_counter() - started
            cpu = common.process_cpu_seconds(app.pid)
            if "[1]" not in answer["text"]:
                raise RuntimeError(f"unexpected first answer: {answer['text']!r}")
        finally:
            peak_rss_mb = _stop(app)
    return AppStart(page, first_answer, cpu, peak_rss_mb)


def _poll(app: subprocess.Popen, started: float, ready: Callable[[], bool], log: IO[bytes]) -> float:
    """Seconds from `started` until `ready()`; an error if the app exits or takes too long."""
    while not ready():
        if app.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"app.py exited: {log.read().decode()[-2000:]}")
        if time.perf_counter() - started > APP_TIMEOUT_S:
            raise RuntimeError(f"app.py served nothing within {APP_TIMEOUT_S} s")
        time.sleep(POLL_S)
    return time.perf_counter() - started


def _stop(app: subprocess.Popen) -> float:
    """Stop the app as Ctrl-C does (killed if it lingers) and return its peak RSS in MB."""
    app.send_signal(signal.SIGINT)
    deadline = time.perf_counter() + STOP_TIMEOUT_S
    while True:
        pid, _, usage = os.wait4(app.pid, os.WNOHANG)
        if pid:
            app.returncode = 0  # reaped here; keep Popen from waiting for it again
            return usage.ru_maxrss / 1024
        if time.perf_counter() > deadline:
            app.kill()
        time.sleep(POLL_S)


def summary(values: list[float], digits: int = 2) -> str:
    """median (min-max) of `values`."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    """Time the cold asks, profile their imports, start each launcher; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="cold `qa ask` runs")
    parser.add_argument("--index-runs", type=int, default=3, help="cold `qa index` runs of the default corpus")
    parser.add_argument("--app-runs", type=int, default=3, help="starts of each app launcher")
    parser.add_argument("--index", help="index folder (default: the default corpus)")
    args = parser.parse_args()

    before = common.load_text()
    run_child(ask_command(args.index))  # untimed: warms the file cache, builds a missing index
    asks = [run_child(ask_command(args.index)) for _ in range(args.runs)]
    import_s, largest, heavy = import_profile(args.index)
    builds = cold_builds(args.index_runs)
    apps = {
        name: [app_start(launcher, args.index) for _ in range(args.app_runs)]
        for name, launcher in LAUNCHERS.items()
    }
    after = common.load_text()

    print(f"{common.cpu_description()}; load average (1, 5, 15 min) before {before}, after {after}\n")
    print("| measure | median (min-max) | runs |")
    print("|---|---|---|")
    print(f"| cold `qa ask`, wall s | {summary([a.wall_s for a in asks])} | {args.runs} |")
    print(f"| cold `qa ask`, CPU s (user + sys) | {summary([a.cpu_s for a in asks])} | {args.runs} |")
    print(f"| cold `qa ask`, peak RSS MB | {summary([a.peak_rss_mb for a in asks], 0)} | {args.runs} |")
    print(f"| imports on the `qa ask` path, s (`-X importtime`) | {import_s:.2f} | 1 |")
    print(f"| torch, transformers, sentence-transformers, gradio imported by `qa ask` | {', '.join(heavy) or 'none'} | 1 |")
    for label, values, digits in (("wall s", [b.wall_s for b in builds], 2), ("CPU s (user + sys)", [b.cpu_s for b in builds], 2),
                                  ("peak RSS MB", [b.peak_rss_mb for b in builds], 0)):
        print(f"| cold `qa index seeds/` into a new folder, {label} | {summary(values, digits)} | {args.index_runs} |")
    for name, starts in apps.items():
        print(f"| `{name}` to the page served, wall s | {summary([a.page_s for a in starts])} | {args.app_runs} |")
        print(f"| `{name}` to the first answer (`/ask`), wall s | {summary([a.first_answer_s for a in starts])} | {args.app_runs} |")
        print(f"| `{name}` CPU s used by its first answer | {summary([a.cpu_s for a in starts])} | {args.app_runs} |")
        print(f"| `{name}` peak RSS, MB | {summary([a.peak_rss_mb for a in starts], 0)} | {args.app_runs} |")
    print("\n| largest top-level imports of `qa ask` | s |")
    print("|---|---|")
    for name, seconds in largest:
        print(f"| {name} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
