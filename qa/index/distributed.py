"""Building an index on a Ray cluster: many machines (and their GPUs) embed, one manifest swap.

    >>> Index.build(["corpus/"], path="/shared/index", executor="ray")            # local Ray
    >>> Index.build(["corpus/"], path="/shared/index", executor="ray", ray_address="head:6379")
    $ qa index corpus/ --index /shared/index --ray [ADDRESS]

Embedding is nearly all the cost of a build (~100 passages/s per CPU box), and it splits cleanly
by file, so it is the part that goes to the cluster; Ray (an existing engine, `pip install -e
".[ray]"`) does the scheduling, the retries and the transport. Nothing else changes: workers
produce the same immutable segments as one process (`qa.index.ingest`, `qa.index.segments`), and the driver
commits them with one compare-and-set swap of the manifest (`qa.index.store.commit`), so readers see
the old index or the whole new one, never part of it.

- The driver lists the files (nothing is read but the folder tree) and plans each file's doc id
  from its name, in the order `qa.loading.documents.load_documents` would give it, so ids do not depend
  on which worker loads which file.
- An actor pool of `workers` `qa.index.ray_worker.Worker`s, one model each (int8 on a CPU as qa
  picks on that machine, a GPU when the cluster has one per worker), takes batches of files:
  load, split, chunk, embed, then write the batch as a segment into a staging folder the driver
  made under the index folder.
- The index folder must be the same path on every worker (shared storage: NFS, a cluster file
  system, or one machine). Each worker first confirms it sees a marker file the driver wrote
  there, so a worker that cannot reach it stops the build with a message, before any embedding.
- Ray retries a batch whose worker died (the actor restarts) or that raised an `OSError`;
  a file that cannot be read is skipped with its reason, as on one machine.
- Progress (documents, passages, passages/s) goes to stderr as batches finish.

Known difference from one process: a file that is skipped still holds the doc id planned for it,
so of two files whose names give the same id (`notes.md`, `notes.txt`) where the first cannot be
read, the second is `notes~2` here and `notes` on one machine.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Sequence, TypeVar

from qa.index import store
from qa.loading.documents import SkippedFile, find_files, slug, unique_doc_id
from qa.models.precision import PRECISION_VARIABLE
from qa.index.segment_commits import StagedSegment, commit_segments
from qa.index.ray_worker import MARKER_PREFIX, Batch, BatchResult, FileTask, Worker, WorkerInfo
from qa.errors import IndexProblem
from qa.index.settings import IndexSettings
from qa.index.store import Bookkeeping, Manifest, SegmentEntry

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

RAY_INSTALL_HINT = 'install the ray extra: pip install -e ".[ray]"'
# A batch holds files of about this many bytes: minutes of embedding on a CPU worker, so Ray's
# per-task cost (~tens of ms) and the driver's round trip vanish next to it, and a retry redoes
# little.
BATCH_BYTES = 8 * 1024 * 1024
# A small corpus is cut into at least this many batches per worker, so no worker idles while
# another finishes a large batch.
BATCHES_PER_WORKER = 4
# Ray retries a batch this many times: after its worker process died (the actor restarts) or
# after one of `RETRIED_ERRORS` (a network file system's hiccup).
TASK_RETRIES = 3
ACTOR_RESTARTS = 3
RETRIED_ERRORS = (OSError,)
CPUS_PER_WORKER = 1
# Environment variables of the driver that workers take over (how qa embeds).
FORWARDED_VARIABLES = (PRECISION_VARIABLE,)
EXECUTORS = ("local", "ray")


class RayUnavailable(ValueError):
    """`executor="ray"` without the `ray` package installed."""


class IndexFolderUnreachable(IndexProblem):
    """A Ray worker cannot see the index folder the driver writes to."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: `address` of a running cluster (None: start a local Ray for
    the job; a Ray this process already started or joined is used as it is), and `workers`
    (None: one per CPU of the cluster, or one per GPU when it has GPUs)."""

    address: str | None = None
    workers: int | None = None
    progress: bool = True


@dataclass(frozen=True)
class RayBuildReport:
    """How a Ray build went, for progress and benchmarks (`benchmarks/ray_indexing.py`).

    `start_seconds`: connecting to or starting Ray, starting the workers and loading their
    models; `embed_seconds`: from the first batch submitted to the last result;
    `task_seconds`: time inside each task; `round_trip_seconds`: submit to result, per task.
    """

    workers: tuple[WorkerInfo, ...]
    batches: int
    documents: int
    passages: int
    start_seconds: float
    embed_seconds: float
    commit_seconds: float
    task_seconds: tuple[float, ...]
    round_trip_seconds: tuple[float, ...]

    @property
    def overhead_per_task(self) -> float:
        """Mean seconds a task costs beyond its own work: scheduling, transport, the driver."""
        gaps = [trip - inside for trip, inside in zip(self.round_trip_seconds, self.task_seconds)]
        return sum(gaps) / len(gaps) if gaps else 0.0


@dataclass(frozen=True)
class RayBuild:
    """What `build_with_ray` returns: the committed manifest (the index opens on it) and the report."""

    manifest: Manifest
    report: RayBuildReport


def import_ray() -> "ModuleType":
    """`ray`, imported only now (it is an optional extra), or `RayUnavailable` with the fix."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable(f"indexing with Ray needs the ray package ({error}); {RAY_INSTALL_HINT}") from None
    return ray


# --- the driver ---------------------------------------------------------------------------


def build_with_ray(paths: Sequence[str | Path], root: Path, settings: IndexSettings, options: RayOptions = RayOptions()) -> RayBuild:
    """Build the index at `root` from the files under `paths` on Ray; see the module docstring.

    Raises `ValueError` when no file could be loaded (the reasons listed), `RayUnavailable`
    without ray, `IndexFolderUnreachable` when a worker cannot see `root`.
    """
    ray = import_ray()
    started = time.perf_counter()
    root = root.resolve()
    skipped: list[SkippedFile] = []
    tasks = plan_files(paths, skipped)
    if not tasks:
        reasons = "; ".join(str(s) for s in skipped) or "no files found"
        raise ValueError(f"no documents to index under {list(map(str, paths))}: {reasons}")
    with _ray_session(ray, options.address), contextlib.ExitStack() as stack:
        workers = _start_workers(ray, settings, options.workers)
        marker = stack.enter_context(_marker(root))
        infos = _check_workers(ray, workers, marker, _probes(paths, tasks), root)
        start_seconds = time.perf_counter() - started
        if options.progress:
            _say(_describe_workers(infos))
        batches = [
            Batch(number, files, str(stack.enter_context(store.staging(root))))
            for number, files in enumerate(cut_batches(tasks, len(workers)))
        ]
        embedding = time.perf_counter()
        results, trips = _run_batches(ray, workers, batches, settings, len(tasks), options.progress)
        embed_seconds = time.perf_counter() - embedding
        committing = time.perf_counter()
        manifest = _commit(root, settings, paths, results, skipped)
        commit_seconds = time.perf_counter() - committing
    ordered = sorted(results, key=lambda r: r.number)
    report = RayBuildReport(
        workers=tuple(infos),
        batches=len(batches),
        documents=sum(r.documents for r in results),
        passages=sum(r.chunks for r in results),
        start_seconds=start_seconds,
        embed_seconds=embed_seconds,
        commit_seconds=commit_seconds,
        task_seconds=tuple(r.seconds for r in ordered),
        round_trip_seconds=tuple(trips[r.number] for r in ordered),
    )
    return RayBuild(manifest, report)


def plan_files(paths: Sequence[str | Path], skipped: list[SkippedFile]) -> list[FileTask]:
    """The files `load_documents(paths)` would load, in its order, each with the doc id it
    would get (its name's slug, made unique in file order). Missing and hidden paths go to
    `skipped`, as on one machine."""
    taken: set[str] = set()
    tasks = []
    for file in find_files(list(paths), skipped):
        doc_id = unique_doc_id(slug(file.stem), taken)
        taken.add(doc_id)
        tasks.append(FileTask(str(file), str(file.resolve()), doc_id))
    return tasks


def cut_batches(tasks: list[FileTask], workers: int) -> list[tuple[FileTask, ...]]:
    """Consecutive runs of files of about `BATCH_BYTES`, and at least `BATCHES_PER_WORKER` runs
    per worker when there are enough files (an unreadable size counts as 0)."""
    sizes = [_size(t.absolute) for t in tasks]
    target = min(BATCH_BYTES, max(1, sum(sizes) // max(1, workers * BATCHES_PER_WORKER)))
    batches: list[list[FileTask]] = [[]]
    filled = 0
    for task, size in zip(tasks, sizes):
        if batches[-1] and filled + size > target:
            batches.append([])
            filled = 0
        batches[-1].append(task)
        filled += size
    return [tuple(b) for b in batches]


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


@contextlib.contextmanager
def _ray_session(ray: "ModuleType", address: str | None):
    """Connect to the cluster at `address`, or start a local Ray for this job (shut down after
    it); a Ray this process already started or joined (a test, a notebook) is used as it is."""
    if ray.is_initialized():
        yield
        return
    common = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    if address is None:
        ray.init(num_cpus=os.cpu_count() or 1, **common)
    else:
        ray.init(address=address, **common)
    try:
        yield
    finally:
        ray.shutdown()


def _start_workers(ray: "ModuleType", settings: IndexSettings, requested: int | None) -> list[Any]:
    """The actor pool's workers: one per CPU of the cluster (or per GPU when it has GPUs)
    unless `requested`; each asks for a GPU when there is one for every worker."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    workers = requested or gpus or max(1, int(resources.get("CPU", 1)) // CPUS_PER_WORKER)
    if workers < 1:
        raise ValueError(f"Ray workers must be at least 1, not {workers}")
    remote = ray.remote(Worker).options(
        num_cpus=CPUS_PER_WORKER,
        num_gpus=1 if gpus >= workers else 0,
        max_restarts=ACTOR_RESTARTS,
        max_task_retries=TASK_RETRIES,
    )
    environment = {name: os.environ[name] for name in FORWARDED_VARIABLES if name in os.environ}
    return [remote.remote(settings.model, environment) for _ in range(workers)]


@contextlib.contextmanager
def _marker(root: Path):
    """A file with a fresh token in the index folder, for workers to prove they see it."""
    root.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    path = root / f"{MARKER_PREFIX}{token}"
    path.write_text(token, encoding="ascii")
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _probes(paths: Sequence[str | Path], tasks: list[FileTask]) -> tuple[str, ...]:
    """One file under each input path, for workers to prove they can read the inputs too."""
    probes = []
    for given in paths:
        top = str(Path(given).resolve())
        found = next((t.absolute for t in tasks if t.absolute == top or t.absolute.startswith(top + os.sep)), None)
        if found is not None:
            probes.append(found)
    return tuple(probes)


def _check_workers(ray: "ModuleType", workers: list[Any], marker: Path, probes: tuple[str, ...], root: Path) -> list[WorkerInfo]:
    calls = [w.prepare.remote(str(marker), probes) for w in workers]
    infos = _unwrapped(ray, lambda: ray.get(calls))
    blind = [i for i in infos if not i.reachable]
    if blind:
        first = blind[0]
        raise IndexFolderUnreachable(
            f"{len(blind)} of {len(infos)} Ray worker(s) cannot see the index folder {root} or the "
            f"files to index (e.g. on {first.host}: {first.problem}); put both on storage every "
            f"worker mounts at the same path"
        )
    return infos


def _describe_workers(infos: list[WorkerInfo]) -> str:
    hosts = sorted({i.host for i in infos})
    kinds = sorted({f"{i.device} {i.precision}" for i in infos})
    return f"ray: {len(infos)} worker(s) on {len(hosts)} machine(s) ({', '.join(kinds)}), models loaded"


def _run_batches(
    ray: "ModuleType", workers: list[Any], batches: list[Batch], settings: IndexSettings, total: int, progress: bool
) -> tuple[list[BatchResult], dict[int, float]]:
    """Every batch through the actor pool; returns the results and each one's round trip."""
    from ray.util import ActorPool

    pool = ActorPool(workers)
    submitted: dict[int, float] = {}
    trips: dict[int, float] = {}

    def submit(worker: Any, batch: Batch) -> Any:
        submitted[batch.number] = time.perf_counter()
        return worker.embed.options(retry_exceptions=list(RETRIED_ERRORS)).remote(batch, settings)

    for batch in batches:
        pool.submit(submit, batch)
    results: list[BatchResult] = []
    began = time.perf_counter()
    while pool.has_next():
        result = _unwrapped(ray, pool.get_next_unordered)
        trips[result.number] = time.perf_counter() - submitted[result.number]
        results.append(result)
        if progress:
            _say(_progress_line(results, total, time.perf_counter() - began))
    return results, trips


Result = TypeVar("Result")


def _unwrapped(ray: "ModuleType", wait: Callable[[], Result]) -> Result:
    """`wait()` for Ray results, with a failed task's own error raised, not Ray's wrapper, so
    an OSError still names its file and the CLI still says the fix."""
    try:
        return wait()
    except ray.exceptions.RayTaskError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise
    except ray.exceptions.RayActorError as error:
        raise IndexProblem(f"a Ray worker died {ACTOR_RESTARTS + 1} times; the build was stopped ({error})") from None


def _progress_line(results: list[BatchResult], total: int, seconds: float) -> str:
    files = sum(len(r.fingerprints) for r in results)
    passages = sum(r.chunks for r in results)
    rate = passages / seconds if seconds > 0 else 0.0
    return f"ray: {files:,}/{total:,} documents, {passages:,} passages, {rate:,.1f} passages/s"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _commit(
    root: Path, settings: IndexSettings, paths: Sequence[str | Path], results: list[BatchResult], skipped: list[SkippedFile]
) -> Manifest:
    """One manifest swap naming every batch's segment, in batch order; the bookkeeping as a
    build on one machine writes it."""
    ordered = sorted(results, key=lambda r: r.number)
    loaded_skips = [s for r in ordered for s in r.skipped]
    if not any(r.documents for r in ordered):
        reasons = "; ".join(str(s) for s in skipped + loaded_skips) or "no files found"
        raise ValueError(f"no documents to index under {list(map(str, paths))}: {reasons}")
    staged = [  # written by the workers
        StagedSegment(Path(r.folder), SegmentEntry(store.new_segment_name(), r.documents, r.chunks, r.checksum))
        for r in ordered
        if r.documents
    ]
    inputs = tuple(str(Path(p).resolve()) for p in paths)
    sources = {path: fingerprint for r in ordered for path, fingerprint in r.fingerprints}
    bookkeeping = Bookkeeping(inputs, (), sources, tuple(skipped + loaded_skips))
    return commit_segments(
        root,
        store.ANY_GENERATION,  # a build replaces whatever is there
        staged,
        lambda _live, entries: Manifest(0, "", settings, entries, bookkeeping),
    )
