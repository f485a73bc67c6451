"""Load on the JSON API: 32 concurrent clients on `POST /api/ask` of a real `qa serve`.

    python benchmarks/load.py [--clients 32] [--seconds 20] [--corpus auto|seed|squad] [--questions 200]
                              [--answer-threads N] [--no-upload]

Starts `app.py --index <copy> --port <free>` in a subprocess (a copy, because uploads change
it), asks every question once alone to record its answer, then runs two timed phases of
`--clients` threads, each with one keep-alive `http.client` connection, asking in a loop:

1. plain load;
2. the same load while an uploader posts documents to `POST /api/documents` one after
   another (each ~40 KB of text on a topic no question touches, so it must not change answers).

Every response is checked: HTTP 200 and the same text and citations as the question got
alone. Adding documents changes index-wide IDF, so an answer may legitimately change during
phase 2: an answer there counts as wrong only if it matches neither the answer before nor the
answer after the uploads. The corpus is SQuAD v1.1 dev (2,067 paragraphs, the cached pooled
index of `common.pooled_index`) when ../shared/data exists, else the seed article.
Prints a Markdown table with the load average (1 min) at the start and end of each phase.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import qa
from qa.eval.evaluation import percentile, sample_questions, squad_documents

START_TIMEOUT_S = 180
REQUEST_TIMEOUT_S = 60
UPLOAD_SENTENCES = 400  # ~40 KB: a few seconds of embedding on 2 cores
WARMUP_S = 3.0
# The bar from issue 10.
BAR_RPS, BAR_P95_MS = 100.0, 500.0

Question = tuple[str, list[list[str]]]  # (question, history)


@dataclass
class PhaseResult:
    """One timed phase: latencies, errors, wrong answers, uploads, load and CPU."""

    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    uploads: int = 0
    upload_seconds: list[float] = field(default_factory=list)
    load_before: float = 0.0
    load_after: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server process used during the phase
    client_cpu: float = 0.0  # CPU seconds this (client) process used

    def cpu_ms(self) -> tuple[float, float]:
        """(server, client) CPU milliseconds per request: what the load costs, whatever else runs."""
        n = max(len(self.latencies), 1)
        return self.server_cpu / n * 1000, self.client_cpu / n * 1000

    def row(self) -> str:
        """The phase's row of the table."""
        n = len(self.latencies)
        p50 = percentile(self.latencies, 50) * 1000 if n else float("nan")
        p95 = percentile(self.latencies, 95) * 1000 if n else float("nan")
        p99 = percentile(self.latencies, 99) * 1000 if n else float("nan")
        uploads = (
            f"{self.uploads} ({sum(self.upload_seconds) / max(len(self.upload_seconds), 1):.1f} s each)"
            if self.upload_seconds else "-"
        )
        server_ms, client_ms = self.cpu_ms()
        return (
            f"| {self.name} | {n} | {n / self.seconds:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | "
            f"{len(self.errors)} | {len(self.wrong)} | {uploads} | {server_ms:.1f} / {client_ms:.1f} | "
            f"{self.load_before:.2f} → {self.load_after:.2f} |"
        )


def load_average() -> float:
    """The 1-minute load average, printed at each phase's start and end."""
    return os.getloadavg()[0]


def own_cpu() -> float:
    """CPU seconds this (client) process has used so far."""
    times = os.times()
    return times.user + times.system


# --- corpus and questions ------------------------------------------------------------------


def squad_index(folder: Path, count: int) -> tuple[Path, list[Question]]:
    """A copy of the cached pooled SQuAD index (`common.pooled_index`, built when missing)."""
    documents, questions = squad_documents()
    shutil.copytree(common.pooled_index(documents).index.path, folder)
    return folder, [(q.question, []) for q in sample_questions(questions, count)]


def seed_index(folder: Path) -> tuple[Path, list[Question]]:
    """The seed article's index and its questions, follow-ups with their first answer."""
    index = qa.Index.build([common.SEEDS], folder, progress=False)
    sets = common.seed_questions()
    asked = [(q, []) for q, _ in sets["on_topic"]] + [(q, []) for q in sets["off_topic"]]
    followups = [(q, [[first, index.answer(first).text]]) for first, q, _ in sets["followups"]]
    return folder, asked + followups


def upload_text(number: int) -> bytes:
    """A document no benchmark question is about; distinct per `number` (no duplicate skip)."""
    lines = [
        f"Ledger {number}: crate {i} of quince marmalade was weighed at {17 + i % 23} kilograms "
        f"in warehouse {number}-{i % 7} before the {i % 12 + 1}th tide."
        for i in range(UPLOAD_SENTENCES)
    ]
    return ("\n".join(lines) + "\n").encode()


# --- the server ----------------------------------------------------------------------------


class Server:
    """`app.py` in a subprocess on a free port, ready once /api/documents answers."""

    def __init__(self, index: Path, data: Path, answer_threads: int | None) -> None:
        self.port = common.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("QA_AUTH_")}
        env.update(QA_DATA=str(data), PYTHONUNBUFFERED="1", GRADIO_TEMP_DIR=str(data / "gradio"))
        if answer_threads:
            env["QA_ANSWER_THREADS"] = str(answer_threads)
        self.log = open(data / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, str(common.PROJECT / "app.py"), "--index", str(index), "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=data,
        )
        self.wait_ready(data / "server.log")

    def wait_ready(self, log: Path) -> None:
        """Until the server logs that it serves (or exits, or takes too long)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"the server exited with {self.process.returncode}:\n{log.read_text()[-2000:]}")
            if "qa: serving" in log.read_text():
                return
            time.sleep(0.2)  # polling a log file; the benchmark, not a test
        sys.exit("the server did not start in time")

    def stop(self) -> None:
        """Stop the server as Ctrl-C would and close its log."""
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def post(connection: http.client.HTTPConnection, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """POST `body` on a kept-alive connection: (status, body)."""
    connection.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    return response.status, response.read()


def signature(payload: dict[str, Any]) -> str:
    """What must not change under load: the text and what each citation points at."""
    return json.dumps([payload["text"], [(c["doc_id"], c["start"], c["end"]) for c in payload["citations"]]])


def ask_alone(port: int, questions: list[Question]) -> dict[int, str]:
    """Each question asked once with nothing else running: the answers load must not change."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    answers = {}
    for number, (question, history) in enumerate(questions):
        status, raw = post(connection, "/api/ask", json.dumps({"question": question, "history": history}).encode(), "application/json")
        if status != 200:
            sys.exit(f"asking {question!r} alone failed: {status} {raw[:200]!r}")
        answers[number] = signature(json.loads(raw))
    connection.close()
    return answers


# --- load ----------------------------------------------------------------------------------


def client(
    port: int, questions: list[Question], bodies: list[bytes], start: int, stop_at: float, result: PhaseResult,
    lock: threading.Lock, seen: list[tuple[int, str]],
) -> None:
    """One client thread: ask in a loop on one keep-alive connection until `stop_at`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    latencies, errors, answers = [], [], []
    for number in itertools.islice(itertools.cycle(range(len(questions))), start, None):
        if time.monotonic() >= stop_at:
            break
        began = time.perf_counter()
        try:
            status, raw = post(connection, "/api/ask", bodies[number], "application/json")
        except (OSError, http.client.HTTPException) as error:
            errors.append(f"{type(error).__name__}: {error}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
            continue
        latencies.append(time.perf_counter() - began)
        if status != 200:
            errors.append(f"HTTP {status}: {raw[:120]!r}")
            continue
        answers.append((number, signature(json.loads(raw))))
    connection.close()
    with lock:
        result.latencies += latencies
        result.errors += errors
        seen += answers


def uploader(port: int, stop_at: float, result: PhaseResult, first: int) -> None:
    """Upload one document after another until `stop_at` (each upload runs to its end)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    boundary = "qa-load-boundary"
    for number in itertools.count(first):
        if time.monotonic() >= stop_at:
            break
        body = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"ledger-{number}.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n"
        ).encode() + upload_text(number) + f"\r\n--{boundary}--\r\n".encode()
        began = time.perf_counter()
        status, raw = post(connection, "/api/documents", body, f"multipart/form-data; boundary={boundary}")
        outcome = json.loads(raw)["outcomes"][0] if status == 200 else {"ok": False, "message": raw[:200]}
        if not outcome["ok"]:
            result.errors.append(f"upload {number}: {outcome['message']}")
            continue
        result.uploads += 1
        result.upload_seconds.append(time.perf_counter() - began)
    connection.close()


def run_phase(
    name: str, server: "Server", questions: list[Question], clients: int, seconds: float, upload_from: int | None
) -> tuple[PhaseResult, list[tuple[int, str]]]:
    """`clients` threads for `seconds` (and an uploader from document `upload_from`)."""
    port = server.port
    result = PhaseResult(name, seconds, load_before=load_average())
    server_cpu, client_cpu = common.process_cpu_seconds(server.process.pid), own_cpu()
    bodies = [json.dumps({"question": q, "history": h}).encode() for q, h in questions]
    lock, seen = threading.Lock(), []
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client, args=(port, questions, bodies, i * len(questions) // clients, stop_at, result, lock, seen))
        for i in range(clients)
    ]
    if upload_from is not None:
        threads.append(threading.Thread(target=uploader, args=(port, stop_at, result, upload_from)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.load_after = load_average()
    result.server_cpu = common.process_cpu_seconds(server.process.pid) - server_cpu
    result.client_cpu = own_cpu() - client_cpu
    return result, seen


def check(result: PhaseResult, seen: list[tuple[int, str]], *expected: dict[int, str]) -> None:
    """Count an answer wrong when it matches none of the `expected` answers to its question."""
    for number, answer in seen:
        if all(answer != e[number] for e in expected):
            result.wrong.append(f"question {number}")


def main() -> None:
    """Start the server, ask alone, run the phases, print the table and the bar."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--corpus", choices=["auto", "seed", "squad"], default="auto")
    parser.add_argument("--questions", type=int, default=200, help="SQuAD questions drawn (seed: all of its set)")
    parser.add_argument("--no-upload", action="store_true", help="skip the phase with uploads")
    parser.add_argument("--answer-threads", type=int, help="the server's QA_ANSWER_THREADS (default: its own)")
    args = parser.parse_args()
    corpus = args.corpus
    if corpus == "auto":
        corpus = "squad" if common.data_dir().exists() else "seed"
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        root = Path(tmp)
        (root / "data").mkdir()
        if corpus == "squad":
            folder, questions = squad_index(root / "index", args.questions)
        else:
            folder, questions = seed_index(root / "index")
        server = Server(folder, root / "data", args.answer_threads)
        try:
            print(f"corpus {corpus}: {qa.Index.open(folder).size[1]} passages, {len(questions)} questions, "
                  f"{args.clients} clients x {args.seconds:.0f} s, port {server.port}", file=sys.stderr)
            before = ask_alone(server.port, questions)
            warm = PhaseResult("warm-up", WARMUP_S)
            if not args.no_upload:  # one upload: the document model loads now, not in the phase
                uploader(server.port, time.monotonic(), warm, 0)
            run_phase("warm-up", server, questions, args.clients, WARMUP_S, None)
            before = ask_alone(server.port, questions)  # after the warm-up upload
            rows = []
            plain, seen = run_phase("32 clients" if args.clients == 32 else f"{args.clients} clients",
                                    server, questions, args.clients, args.seconds, None)
            check(plain, seen, before)
            rows.append(plain)
            if not args.no_upload:
                loaded, seen = run_phase(f"{plain.name}, uploads in progress", server, questions,
                                         args.clients, args.seconds, 1)
                after = ask_alone(server.port, questions)
                check(loaded, seen, before, after)
                rows.append(loaded)
        finally:
            server.stop()
    print("| phase | requests | requests/s | p50 ms | p95 ms | p99 ms | errors | wrong answers | uploads "
          "| CPU ms/request server / client | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(r.row())
    server_ms, client_ms = rows[0].cpu_ms()
    print(f"\ncapacity of 2 idle cores at this CPU cost: ~{2000 / (server_ms + client_ms):.0f} requests/s "
          f"(server alone: ~{2000 / server_ms:.0f})")
    for r in rows:
        for line in (r.errors + r.wrong)[:5]:
            print(f"  {r.name}: {line}", file=sys.stderr)
    # Issue 10's bar is the plain load; during uploads the answers must stay right, and the
    # rate and latency are reported.
    plain = rows[0]
    fast = len(plain.latencies) / plain.seconds >= BAR_RPS and percentile(plain.latencies, 95) * 1000 <= BAR_P95_MS
    correct = all(not r.errors and not r.wrong for r in rows)
    print(f"\nbar ({plain.name}: >= {BAR_RPS:.0f} requests/s, p95 <= {BAR_P95_MS:.0f} ms; every phase: 0 errors, "
          f"0 wrong): {'met' if fast and correct else 'MISSED'}")


if __name__ == "__main__":
    main()
