"""Scale: qa's own work at 10k, 100k and 1M chunks, with random vectors standing in for the model.

    python benchmarks/scale.py                                        # 10k and 100k chunks
    python benchmarks/scale.py --sizes 10000 100000 1000000 --json scale.json
    python benchmarks/scale.py --sizes 1000000 --keep /data/scale     # keep the built indexes
    python benchmarks/scale.py --requery /data/scale/1000000          # query a kept one again

Per size (under /tmp, or `--keep DIR/<size>`): the build (wall, CPU, per step: `BuildPhases`),
its peak RSS, disk and segments; then in a fresh process (`--query-process`): opening, retrieve
and answer p50/p95 over 200 questions (also on one BLAS/OpenMP thread, with one hop, and within
one document), its peak RSS, adding and removing one .txt (median of 5), each HNSW graph's
recall@10. `--requery` runs the query process alone on a kept size folder.

Random vectors stand in for the model (scale_workload.py, SQuAD's sentences recombined): what
grows with the corpus is qa's own work; the model's cost is build_cost.py's and latency.py's.
Warm-cache figures. 10k and 100k take ~15 s and 3-8 minutes; 1M 10-30 minutes, ~7 GB RSS.
"""

from __future__ import annotations

import time

PROCESS_STARTED = time.perf_counter()  # before qa is imported: the query process reports import time

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import common
import qa
from qa.eval.evaluation import percentile
from qa.index import ann
from qa.loading.documents import Document
from scale_workload import EMBEDDER_NAME, PoolSentence, RandomEmbedder, pick_questions, sentence_pool, synthetic_documents

DEFAULT_SIZES = (10_000, 100_000)
RECALL_K = 10
UPDATE_REPEATS = 5
TEMP_PARENT = Path("/tmp")
QUERY_PROCESS_TIMEOUT_S = 3600
RSS_SAMPLE_S = 0.5
PROGRESS_EVERY_S = 60.0
ADDED_FILE = "scale-added.txt"  # the one small document added and removed again
ADDED_TEXT = ("The harbour bridge was opened in 1932 after eight years of construction.\n\nIt carries rail, road and "
              "foot traffic between the northern and southern shores, and its arch is still one of the widest of its kind.\n")


# --- measuring -------------------------------------------------------------------------------


class RssWatch:
    """Samples this process's RSS in a thread: the peak of one phase (ru_maxrss only grows
    over the process), with a progress line every `PROGRESS_EVERY_S` seconds."""

    def __init__(self, label: str) -> None:
        self.label, self.peak_mb = label, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = last = time.monotonic()
        while not self._stop.wait(RSS_SAMPLE_S):
            self.peak_mb = max(self.peak_mb, common.rss_mb())
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                common.log(f"{self.label}: {last - started:.0f} s, RSS {common.rss_mb():,.0f} MB (peak {self.peak_mb:,.0f})")

    def __enter__(self) -> "RssWatch":
        self.peak_mb = common.rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, common.rss_mb())


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder`: the index's size on disk."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@dataclass(frozen=True)
class BuildResult:
    """What building one size cost (wall and CPU seconds, memory, disk)."""

    target_chunks: int
    chunks: int
    documents: int
    segments: int
    graphs: int  # segments with an HNSW graph
    corpus_s: float  # making the Document objects (not qa's work)
    build_s: float
    build_cpu_s: float  # CPU seconds of all the builder's threads: steadier than wall on a busy machine
    # wall / CPU seconds per step of the build (see `BuildPhases`)
    phases: dict[str, tuple[float, float]]
    build_peak_rss_mb: float
    disk_mb: float

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.build_s


@dataclass(frozen=True)
class QueryResult:
    """What the fresh query process measured (ms per call, s for open and updates, MB)."""

    import_s: float
    open_s: float
    first_retrieve_ms: float
    retrieve_p50_ms: float
    retrieve_p95_ms: float
    # Again with BLAS and OpenMP on one thread (threadpoolctl; None without it).
    retrieve_1thread_p50_ms: float | None
    retrieve_1thread_p95_ms: float | None
    answer_p50_ms: float
    answer_p95_ms: float
    answer_one_hop_p50_ms: float  # AnswerConfig(hops=1): what the second hop costs
    top1_has_question: float  # share of questions whose top passage contains them
    # Peak RSS (VmHWM) after the questions; RSS split into own memory and mapped index pages.
    peak_rss_mb: float
    rss_anon_mb: float | None
    rss_file_mb: float | None
    add_s: float  # median of UPDATE_REPEATS
    remove_s: float
    add_all_s: list[float]
    remove_all_s: list[float]
    segments_after_updates: int
    # HNSW vs exact per segment (None: no graph): exact top 10 found in the graph's top 10 and
    # in the `dense_depth` rows asked; ms per question of asking every segment so.
    recall_at_10: float | None
    recall_10_in_depth: float | None
    dense_depth: int
    dense_exact_ms: float
    dense_index_ms: float
    # Within one document (its top passage's): retrieve p50/p95, answer p50, top-1 still its own.
    within_p50_ms: float | None = None
    within_p95_ms: float | None = None
    within_answer_p50_ms: float | None = None
    within_top1_has_question: float | None = None


@dataclass(frozen=True)
class SizeResult:
    """One size: its build, its query process, and the load around them."""

    build: BuildResult
    query: QueryResult
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wall_s: float


def updates(index: qa.Index, folder: Path) -> tuple[list[float], list[float]]:
    """Add the small document and remove it again, `UPDATE_REPEATS` times; each call timed.
    Background merges (the emptied segment is dropped) finish, untimed, before the next."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ADDED_FILE
    path.write_text(ADDED_TEXT, encoding="utf-8")
    adds, removes = [], []
    for _ in range(UPDATE_REPEATS):
        started = time.perf_counter()
        report = index.add([path], progress=False)
        adds.append(time.perf_counter() - started)
        (doc_id,) = report.added
        started = time.perf_counter()
        index.remove(doc_id)
        removes.append(time.perf_counter() - started)
        index.wait_for_merges()
    return adds, removes


def dense_check(index: qa.Index, vectors: np.ndarray, depth: int) -> dict[str, float | None]:
    """Recall of each HNSW segment against exact search of the same segment (mean over
    segments and questions): its top 10 against the exact top 10, and the share of the exact
    top 10 inside the `depth` rows a question asks for; and the time per question of asking
    every segment for its top `depth`, exactly and as qa does. Keys as in `QueryResult`."""
    segments = index.view().segments
    recalls, in_depth = [], []
    for segment in segments:
        if isinstance(segment.vectors, ann.HnswSearch):
            exact = ann.ExactSearch(segment.chunk_vectors)
            for vector in vectors:
                truth = set(exact.top(vector, RECALL_K)[1].tolist())
                recalls.append(len(truth & set(segment.vectors.top(vector, RECALL_K)[1].tolist())) / RECALL_K)
                in_depth.append(len(truth & set(segment.vectors.top(vector, depth)[1].tolist())) / RECALL_K)
    per_question = []
    for structures in ([ann.ExactSearch(s.chunk_vectors) for s in segments], [s.vectors for s in segments]):
        started = time.perf_counter()
        for vector in vectors:
            for search in structures:
                search.top(vector, depth)
        per_question.append((time.perf_counter() - started) * 1000 / len(vectors))
    return {
        "recall_at_10": round(statistics.fmean(recalls), 4) if recalls else None,
        "recall_10_in_depth": round(statistics.fmean(in_depth), 4) if in_depth else None,
        "dense_exact_ms": round(per_question[0], 2),
        "dense_index_ms": round(per_question[1], 2),
    }


def one_thread_retrieve_ms(index: qa.Index, questions: list[str]) -> list[float]:
    """Retrieve times with BLAS/OpenMP limited to one thread; empty without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return []
    with threadpool_limits(limits=1):
        return common.timed_ms(lambda q: index.retrieve(q, k=5), questions)


def query_process(index_path: Path, questions_file: Path, scratch: Path, started: float) -> QueryResult:
    """Run inside the fresh process: open, ask, measure memory, update, check the ANN."""
    import_s = time.perf_counter() - started
    questions = json.loads(questions_file.read_text(encoding="utf-8"))
    embedder = RandomEmbedder()
    before_open = time.perf_counter()
    index = qa.Index.open(index_path, embedder=embedder)
    open_s = time.perf_counter() - before_open
    first_ms = common.timed_ms(lambda q: index.retrieve(q, k=5), questions[:1])[0]
    top_hits, owners = [], {}

    def retrieve(question: str) -> None:
        top = index.retrieve(question, k=5)[0]
        top_hits.append(question in top.text)
        owners[question] = top.doc_id

    retrieve_ms = common.timed_ms(retrieve, questions)
    within = [index.retrieve(q, k=5, documents=[owners[q]])[0].text for q in questions]  # warms, and checks
    within_ms = common.timed_ms(lambda q: index.retrieve(q, k=5, documents=[owners[q]]), questions)
    within_answer_ms = common.timed_ms(lambda q: index.answer(q, documents=[owners[q]]), questions)
    answer_ms, one_hop_ms = answer_pairs_ms(index, questions)
    peak_mb, anon_mb, file_mb = common.peak_rss_mb(), common.proc_status_mb("RssAnon"), common.proc_status_mb("RssFile")
    one_thread_ms = one_thread_retrieve_ms(index, questions)
    adds, removes = updates(index, scratch / "added")
    dense = dense_check(index, embedder.encode(questions), index.fusion.candidates)

    def ms(values: list[float], q: float) -> float | None:
        return round(percentile(values, q), 2) if values else None

    return QueryResult(
        import_s=round(import_s, 3), open_s=round(open_s, 3), first_retrieve_ms=round(first_ms, 1),
        retrieve_p50_ms=ms(retrieve_ms, 50), retrieve_p95_ms=ms(retrieve_ms, 95),
        retrieve_1thread_p50_ms=ms(one_thread_ms, 50), retrieve_1thread_p95_ms=ms(one_thread_ms, 95),
        answer_p50_ms=ms(answer_ms, 50), answer_p95_ms=ms(answer_ms, 95), answer_one_hop_p50_ms=ms(one_hop_ms, 50),
        top1_has_question=sum(top_hits) / len(top_hits),
        peak_rss_mb=round(peak_mb, 1), rss_anon_mb=anon_mb, rss_file_mb=file_mb,
        add_s=round(statistics.median(adds), 4), remove_s=round(statistics.median(removes), 4),
        add_all_s=[round(s, 4) for s in adds], remove_all_s=[round(s, 4) for s in removes],
        segments_after_updates=len(index.segments()), dense_depth=index.fusion.candidates, **dense,
        within_p50_ms=ms(within_ms, 50), within_p95_ms=ms(within_ms, 95),
        within_answer_p50_ms=ms(within_answer_ms, 50),
        within_top1_has_question=sum(q in text for q, text in zip(questions, within)) / len(questions),
    )


def answer_pairs_ms(index: "qa.Index", questions: list[str]) -> tuple[list[float], list[float]]:
    """Each question answered with the defaults and with `AnswerConfig(hops=1)`, the two in
    turn first (the first call of a question warms the pages its sentences live on)."""
    one_hop = qa.AnswerConfig(hops=1)
    default_ms, one_hop_ms = [], []
    for n, question in enumerate(questions):
        calls = [(default_ms, lambda: index.answer(question)), (one_hop_ms, lambda: index.answer(question, config=one_hop))]
        for times, call in calls if n % 2 == 0 else calls[::-1]:
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
    return default_ms, one_hop_ms


def run_query_process(index_path: Path, questions_file: Path, scratch: Path) -> QueryResult:
    """This script with `--query-process` in a fresh process: what opening costs a new process."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--query-process", str(index_path),
        "--questions-file", str(questions_file), "--scratch", str(scratch),
    ]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=QUERY_PROCESS_TIMEOUT_S, check=True)
    return QueryResult(**json.loads(done.stdout.strip().splitlines()[-1]))


class BuildPhases:
    """Wall and CPU seconds spent in the steps of a build, by wrapping the qa functions that
    do them for the length of a `with` block (their behaviour is unchanged):

    - "ingest": `embed_documents` (sentence splitting, chunking, and the stand-in vectors)
    - "vectors": of which `RandomEmbedder.encode` (not qa's work)
    - "write": `write_segment`: files, BM25, HNSW, checksums, fsync
    - "bm25" and "hnsw": of which `LexicalIndex.build` and `ann.build_graph`

    A function imported by name is wrapped in every qa module holding it, wherever qa calls it.
    """

    FUNCTIONS = (("qa.index.ingest", "embed_documents", "ingest"), ("qa.index.segments", "write_segment", "write"))

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self._patches: list[tuple[object, str, object]] = []

    def _wrap(self, owner: object, attribute: str, phase: str) -> None:
        original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        call = getattr(owner, attribute)  # for a method, the plain function: `self` comes in args

        def timed(*args: object, **kwargs: object) -> object:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                totals = self.seconds.setdefault(phase, [0.0, 0.0])
                totals[0] += time.perf_counter() - wall
                totals[1] += time.process_time() - cpu

        self._patches.append((owner, attribute, original))
        setattr(owner, attribute, staticmethod(timed) if isinstance(original, classmethod) else timed)

    def __enter__(self) -> "BuildPhases":
        from qa.index.lexical import LexicalIndex  # `import qa` has loaded every module a build calls

        for module_name, name, phase in self.FUNCTIONS:
            function = getattr(sys.modules[module_name], name)
            for module in [m for key, m in sys.modules.items() if key.startswith("qa.") and getattr(m, name, None) is function]:
                self._wrap(module, name, phase)
        self._wrap(RandomEmbedder, "encode", "vectors")
        self._wrap(LexicalIndex, "build", "bm25")
        self._wrap(ann, "build_graph", "hnsw")
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attribute, original in reversed(self._patches):
            setattr(owner, attribute, original)

    def rounded(self) -> dict[str, tuple[float, float]]:
        """Wall and CPU seconds per step, one decimal."""
        return {phase: (round(wall, 1), round(cpu, 1)) for phase, (wall, cpu) in self.seconds.items()}


def build(documents: list[Document], target: int, corpus_s: float, path: Path) -> BuildResult:
    """Build the index with the stand-in model, timing the steps and watching memory."""
    with RssWatch(f"build {target:,}") as watch, BuildPhases() as phases:
        started, cpu = time.perf_counter(), time.process_time()
        index = qa.Index.from_documents(documents, path, embedder=RandomEmbedder(), progress=False)
        build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    n_docs, n_chunks = index.size
    segments = index.view().segments
    return BuildResult(
        target_chunks=target, chunks=n_chunks, documents=n_docs, segments=len(segments),
        graphs=sum(isinstance(s.vectors, ann.HnswSearch) for s in segments),
        corpus_s=round(corpus_s, 2), build_s=round(build_s, 2), build_cpu_s=round(build_cpu_s, 1),
        phases=phases.rounded(), build_peak_rss_mb=round(watch.peak_mb, 1), disk_mb=round(folder_bytes(path) / 2**20, 1),
    )


def measure_size(pool: list[PoolSentence], target: int, keep: Path | None = None) -> SizeResult:
    """One size: make the corpus, build it, query it in a fresh process."""
    load_before = common.load_average()
    common.log(f"{target:,} chunks: load average before {load_before}")
    wall = time.perf_counter()
    scratch = keep / str(target) if keep is not None else Path(tempfile.mkdtemp(prefix="qa-scale-", dir=TEMP_PARENT))
    scratch.mkdir(parents=True, exist_ok=keep is None)  # a kept size is never overwritten
    try:
        started = time.perf_counter()
        documents = synthetic_documents(pool, target)
        corpus_s = time.perf_counter() - started
        questions_file = scratch / "questions.json"
        questions_file.write_text(json.dumps(pick_questions(documents)), encoding="utf-8")
        common.log(f"{target:,} chunks: {len(documents):,} documents made in {corpus_s:.1f} s; building")
        built = build(documents, target, corpus_s, scratch / "index")
        del documents
        gc.collect()
        if built.chunks != target:
            common.log(f"warning: {built.chunks:,} chunks indexed, {target:,} wanted")
        common.log(f"{target:,} chunks: built in {built.build_s:.1f} s, {built.segments} segments; querying in a fresh process")
        queried = run_query_process(scratch / "index", questions_file, scratch)
    finally:
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    load_after = common.load_average()
    wall_s = time.perf_counter() - wall
    common.log(f"{target:,} chunks: done in {wall_s:.0f} s; load average after {load_after}")
    return SizeResult(built, queried, load_before, load_after, round(wall_s, 1))


# --- the report: issue 9's bars: (chunks, what, limit, unit, the measure).
BARS: tuple[tuple[int, str, float, str, Callable[[QueryResult], float]], ...] = (
    (100_000, "retrieve p50", 15, "ms", lambda q: q.retrieve_p50_ms),
    (100_000, "add one document", 1, "s", lambda q: q.add_s),
    (100_000, "remove one document", 1, "s", lambda q: q.remove_s),
    (100_000, "open", 2, "s", lambda q: q.open_s),
    (100_000, "query process RSS", 1536, "MB", lambda q: q.peak_rss_mb),
    (1_000_000, "retrieve p50", 30, "ms", lambda q: q.retrieve_p50_ms),
    (1_000_000, "add one document", 1, "s", lambda q: q.add_s),
    (1_000_000, "retrieve within one document p50", 30, "ms", lambda q: q.within_p50_ms),  # issue 22
)
QUERY_HEADER = ("open s", "retrieve p50 / p95 ms", "same, 1 BLAS thread", "answer p50 / p95 ms",
                "query peak RSS MB (anon + file)", "add s", "remove s", "ANN recall@10")


def query_cells(q: QueryResult) -> list[str]:
    """The query process's columns of the table (`QUERY_HEADER`)."""
    one_thread = ("n/a (no threadpoolctl)" if q.retrieve_1thread_p50_ms is None
                  else f"{q.retrieve_1thread_p50_ms:.1f} / {q.retrieve_1thread_p95_ms:.1f}")
    recall = ("exact" if q.recall_at_10 is None
              else f"{q.recall_at_10:.3f} ({q.recall_10_in_depth:.3f} in top {q.dense_depth})")
    return [f"{q.open_s:.2f}", f"{q.retrieve_p50_ms:.1f} / {q.retrieve_p95_ms:.1f}", one_thread,
            f"{q.answer_p50_ms:.1f} / {q.answer_p95_ms:.1f}",
            f"{q.peak_rss_mb:,.0f} ({q.rss_anon_mb or 0:,.0f} + {q.rss_file_mb or 0:,.0f})",
            f"{q.add_s:.3f}", f"{q.remove_s:.3f}", recall]


def query_notes(q: QueryResult) -> str:
    """What the table leaves out of the query process."""
    return (f"query process: import {q.import_s:.2f} s, first retrieve {q.first_retrieve_ms:.0f} ms, "
            f"answer p50 without the second hop {q.answer_one_hop_p50_ms:.1f} ms, "
            f"top passage holds the question {q.top1_has_question:.0%}; dense top-{q.dense_depth} of every segment "
            f"{q.dense_index_ms:.1f} ms as searched vs {q.dense_exact_ms:.1f} ms exact; "
            f"add {q.add_all_s} s, remove {q.remove_all_s} s; segments after updates {q.segments_after_updates}; "
            f"within one document: retrieve p50/p95 {q.within_p50_ms} / {q.within_p95_ms} ms, answer p50 "
            f"{q.within_answer_p50_ms} ms, top passage holds the question {q.within_top1_has_question:.0%}")


def print_report(results: list[SizeResult]) -> None:
    """One row per size, the build's steps and the query process's notes, then the bars."""
    common.print_table(
        ("chunks", "docs", "segments (HNSW)", "build s", "chunks/s", "build peak RSS MB", "disk MB", *QUERY_HEADER),
        [(f"{r.build.chunks:,}", f"{r.build.documents:,}", f"{r.build.segments} ({r.build.graphs})", f"{r.build.build_s:.1f}",
          f"{r.build.chunks_per_s:,.0f}", f"{r.build.build_peak_rss_mb:,.0f}", f"{r.build.disk_mb:,.0f}", *query_cells(r.query))
         for r in results],
        f"Scale: random unit vectors ({EMBEDDER_NAME}) for the model, SQuAD sentences recombined",
    )
    print()
    for r in results:
        b = r.build
        phases = ", ".join(f"{name} {wall:.0f} / {cpu:.0f}" for name, (wall, cpu) in b.phases.items())
        print(f"- {b.chunks:,} chunks: build CPU {b.build_cpu_s:.0f} s; build steps, wall / CPU s: {phases}; "
              f"wall {r.wall_s:.0f} s (corpus {b.corpus_s:.0f} s, build {b.build_s:.0f} s); load average before "
              f"{r.load_before}, after {r.load_after} on {os.cpu_count()} cores; {query_notes(r.query)}")
    by_size = {r.build.target_chunks: r.query for r in results}
    rows = []
    for chunks, what, limit, unit, measure in BARS:
        if chunks in by_size:
            value = measure(by_size[chunks])
            rows.append((f"{chunks:,} chunks: {what}", f"≤ {limit:g} {unit}", f"{value:g} {unit}", "yes" if value <= limit else "NO"))
    if rows:
        common.print_table(("bar", "limit", "measured", "met"), rows)


def requery(kept: Path) -> None:
    """The query process again on a size folder that `--keep` left (index/ + questions.json)."""
    load_before = common.load_average()
    q = run_query_process(kept / "index", kept / "questions.json", kept)
    common.print_table(QUERY_HEADER, [query_cells(q)],
                       f"Scale, re-queried: {kept} (load average before {load_before}, after {common.load_average()})")
    print(f"\n- {query_notes(q)}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="chunk counts (default 10000 100000)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--data", type=Path, default=None, help=f"data folder (default {common.data_dir()})")
    parser.add_argument("--keep", type=Path, default=None, help="build into DIR/<size>/ and keep it there")
    parser.add_argument("--requery", type=Path, default=None, help="only query DIR/ (a size folder --keep made)")
    parser.add_argument("--query-process", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--questions-file", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run what the options ask for; the exit status."""
    args = parse_args(argv)
    if args.query_process is not None:
        result = query_process(args.query_process, args.questions_file, args.scratch, PROCESS_STARTED)
        print(json.dumps(asdict(result)))
        return 0
    if args.requery is not None:
        requery(args.requery)
        return 0
    pool = sentence_pool(args.data)
    common.log(f"{len(pool):,} SQuAD sentences in the pool")
    results = []
    for size in args.sizes:
        results.append(measure_size(pool, size, args.keep))
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n", encoding="utf-8")
    print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
