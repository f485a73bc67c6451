"""Indexing on Ray against one process: the same SQuAD paragraphs, as files, built both ways.

    python benchmarks/ray_indexing.py [--paragraphs 600] [--rounds 2] [--workers 2]

The first `--paragraphs` SQuAD v1.1 dev paragraphs (build_cost.py's corpus) are written
one per .txt file, then indexed in turn each round (so load from other jobs falls on both alike):

- one process: `Index.build(files)` with the model already loaded (what `qa index` does after
  its ~5 s start), with qa's torch threads (one per core) and with one thread (on a busy
  machine two OpenMP threads spin against other jobs; benchmarks/README.md);
- Ray: `qa.index.distributed.build_with_ray` on a local cluster of `--workers` CPUs started before
  the clock (a cluster exists before a job is sent to it), with `--workers` actors. Timed whole
  (workers started, models loaded, files loaded, embedded, segments written, one commit, the
  batch segments merged into a one-process layout), and
  its parts: worker start, the batches, the commit; per task, the round trip minus the time
  inside the task is Ray's overhead.

Prints a Markdown table (passages/s, ratio to one process) with the load average. Issue 13's
bar: Ray with 2 workers >= 0.8x the one-process throughput on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from qa.index.distributed import RayBuildReport, RayOptions, build_with_ray, import_ray
from qa.models.embedding import Embedder, load_embedder
from qa.models.packaged import DEFAULT_MODEL, MODELS, TextEmbedder
from qa.eval.evaluation import squad_documents
from qa.index.coordinator import Index
from qa.index.planning import settings_for
from qa.index.view import IndexView
from qa.text.chunking import ChunkingConfig
from qa.index.lexical import BM25Config

SINGLE_THREAD = 1


def write_corpus(folder: Path, paragraphs: int) -> int:
    """The first `paragraphs` SQuAD paragraphs, one UTF-8 file each; returns how many."""
    documents = squad_documents()[0][:paragraphs]
    for number, document in enumerate(documents):
        (folder / f"p{number:05d}.txt").write_text(document.text, encoding="utf-8")
    return len(documents)


def one_process(corpus: Path, target: Path, embedder: TextEmbedder) -> tuple[float, int]:
    """Seconds and passages of a one-process build (model loaded beforehand)."""
    started = time.perf_counter()
    index = Index.build([corpus], target, embedder=embedder, progress=False)
    return time.perf_counter() - started, index.size[1]


def on_ray(corpus: Path, target: Path, workers: int) -> tuple[float, RayBuildReport]:
    """Seconds of a whole Ray job on the running cluster, and its report."""
    settings = settings_for(load_embedder(), ChunkingConfig(), BM25Config(), False, None)
    started = time.perf_counter()
    built = build_with_ray([corpus], target, settings, RayOptions(workers=workers, progress=False))
    # As `Index.build(executor="ray")` does: the batch segments merged into a one-process layout.
    # (That call returns no report, so the job is run here step by step; qa offers the merge on
    # its writer only, hence the private name.)
    Index(IndexView.open(target, built.manifest, {}), load_embedder()).merge_batches()
    return time.perf_counter() - started, built.report


def uptime() -> str:
    """`uptime`'s line: the load around each round."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    """Each round: one process (2 threads, 1 thread), then Ray; then the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ray = import_ray()
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        corpus.mkdir()
        count = write_corpus(corpus, args.paragraphs)
        embedder = load_embedder()
        one_thread = Embedder(MODELS[DEFAULT_MODEL], threads=SINGLE_THREAD)
        for model in (embedder, one_thread):
            model.encode(["warm-up text"] * 8)  # the one-process model loaded, as after qa's start
        print(f"before: {uptime()}", flush=True)
        started = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        init_seconds = time.perf_counter() - started
        single: list[float] = []
        single_one_thread: list[float] = []
        whole: list[float] = []
        reports: list[RayBuildReport] = []
        passages = 0
        try:
            for round_number in range(args.rounds):
                seconds, passages = one_process(corpus, Path(scratch) / f"single-{round_number}", embedder)
                single.append(seconds)
                seconds, _ = one_process(corpus, Path(scratch) / f"single-1t-{round_number}", one_thread)
                single_one_thread.append(seconds)
                seconds, report = on_ray(corpus, Path(scratch) / f"ray-{round_number}", args.workers)
                whole.append(seconds)
                reports.append(report)
                print(
                    f"round {round_number + 1}: one process {single[-1]:.1f} s ({single_one_thread[-1]:.1f} s with "
                    f"1 thread), Ray {whole[-1]:.1f} s; {uptime()}", flush=True,
                )
        finally:
            ray.shutdown()
    print_table(count, passages, single, single_one_thread, whole, reports, init_seconds, args)
    print(f"\nafter: {uptime()}; {os.cpu_count()} cores; one process: {embedder.precision}, {embedder.threads} torch threads")


def print_table(
    count: int, passages: int, single: list[float], single_one_thread: list[float], whole: list[float],
    reports: list[RayBuildReport],
    init_seconds: float, args: argparse.Namespace,
) -> None:
    """Medians per way against one process, and Ray's own costs."""
    base = statistics.median(single)
    work = statistics.median(r.embed_seconds + r.commit_seconds for r in reports)
    starts = statistics.median(r.start_seconds for r in reports)
    overhead = statistics.median(r.overhead_per_task for r in reports)
    task = statistics.median(s for r in reports for s in r.task_seconds)
    worker = reports[-1].workers[0]
    rate = lambda seconds: passages / seconds  # noqa: E731
    print(f"\n### {count} SQuAD paragraphs ({passages} passages), median of {args.rounds} rounds\n")
    print("| way | seconds | passages/s | / one process |\n|---|---|---|---|")
    print(f"| one process ({load_embedder().threads} torch threads, qa's default) | {base:.1f} | {rate(base):.1f} | 1.00 |")
    one = statistics.median(single_one_thread)
    print(f"| one process, {SINGLE_THREAD} torch thread | {one:.1f} | {rate(one):.1f} | {base / one:.2f} |")
    print(
        f"| Ray, {args.workers} workers ({worker.device} {worker.precision}, {worker.threads} thread each), whole job "
        f"| {statistics.median(whole):.1f} | {rate(statistics.median(whole)):.1f} | {base / statistics.median(whole):.2f} |"
    )
    print(f"| Ray, {args.workers} workers, batches + commit (workers warm) | {work:.1f} | {rate(work):.1f} | {base / work:.2f} |")
    per_worker = rate(work) / args.workers
    print(
        f"\nRay: {reports[-1].batches} batches; starting {args.workers} workers and their models {starts:.1f} s "
        f"(per job), a local cluster {init_seconds:.1f} s (once); a task {task:.1f} s inside, overhead per task "
        f"(round trip minus inside) {overhead * 1000:.0f} ms; {per_worker:.1f} passages/s per worker."
    )


if __name__ == "__main__":
    main()
