"""What runs on a Ray worker during `qa index --ray` (`qa.index.distributed` drives it): the
batches it is given, the `Worker` actor that loads, embeds and writes each as a segment into a
staging folder, and the check that it sees the index folder the driver wrote its marker into.

Importing this module needs no ray: the driver makes `Worker` remote when a build starts.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

from qa.errors import now
from qa.index.ingest import embed_documents
from qa.index.segments import write_segment
from qa.index.settings import IndexSettings
from qa.loading.documents import SkippedFile, file_fingerprint, load_documents
from qa.models.embedding import load_embedder
# The file each worker must see in the index folder before it embeds anything.
MARKER_PREFIX = ".ray-reach-"


@dataclass(frozen=True)
class FileTask:
    """One file of a batch: the path as the user gave it (stored in the index, as on one
    machine), its absolute path (what a worker opens) and the doc id the driver planned."""

    path: str
    absolute: str
    doc_id: str


@dataclass(frozen=True)
class Batch:
    """One task for a worker: files that become one segment, written into `folder`. `number`
    pairs the result with its batch and keeps the report in submission order."""

    number: int
    files: tuple[FileTask, ...]
    folder: str  # the staging folder under the index folder that the segment is written into


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker said when it started: where it runs and how it embeds."""

    host: str
    pid: int
    device: str
    precision: str
    threads: int
    start_seconds: float  # loading the model
    reachable: bool
    problem: str = ""


@dataclass(frozen=True)
class BatchResult:
    """A finished batch: its segment's manifest numbers (documents 0: no segment), the files it
    skipped, every file's fingerprint (for staleness) and the time spent inside the task."""

    number: int
    folder: str
    documents: int
    chunks: int
    checksum: str
    skipped: tuple[SkippedFile, ...]
    fingerprints: tuple[tuple[str, str], ...]
    seconds: float
    host: str




class Worker:
    """One Ray actor: one model, loaded once, embedding batch after batch (made remote with
    `ray.remote(Worker)` when a build starts, so importing this module needs no ray)."""

    def __init__(self, model: str, environment: dict[str, str]) -> None:
        os.environ.update(environment)
        self._embedder = load_embedder(model)

    def prepare(self, marker: str, probes: tuple[str, ...]) -> WorkerInfo:
        """Check the driver's marker file and one input file per input path, then load the
        model (timed)."""
        host, pid = socket.gethostname(), os.getpid()
        problem = marker_problem(Path(marker)) or next((f"cannot see {p}" for p in probes if not os.path.isfile(p)), "")
        if problem:
            return WorkerInfo(host, pid, "", "", 0, 0.0, False, problem)
        started = time.perf_counter()
        loaded = self._embedder.loaded()
        return WorkerInfo(host, pid, loaded.device, loaded.precision, loaded.threads, time.perf_counter() - started, True)

    def embed(self, batch: Batch, settings: IndexSettings) -> BatchResult:
        """Load, split, chunk and embed the batch's files and write them as one segment into
        the batch's staging folder (emptied first: this may be a retry)."""
        started = time.perf_counter()
        folder = Path(batch.folder)
        _empty(folder)
        documents, skipped, fingerprints = [], [], []
        for task in batch.files:
            loaded = load_documents([task.absolute])
            documents.extend(replace(d, doc_id=task.doc_id, path=task.path) for d in loaded.documents)
            skipped.extend(replace(s, path=task.path) for s in loaded.skipped)
            fingerprints.append((task.absolute, file_fingerprint(Path(task.absolute))))
        counts = (0, 0, "")
        if documents:
            data = embed_documents(documents, settings, self._embedder, [now()] * len(documents), progress=False)
            counts = write_segment(folder, data, settings.bm25)
        return BatchResult(
            batch.number, batch.folder, *counts, tuple(skipped), tuple(fingerprints),
            time.perf_counter() - started, socket.gethostname(),
        )


def marker_problem(marker: Path) -> str:
    """Why this machine does not see the driver's `marker` file ("" when it does)."""
    try:
        seen = marker.read_text(encoding="ascii") == marker.name[len(MARKER_PREFIX) :]
    except OSError as error:
        return f"{marker} not found ({error.strerror or error})"
    return "" if seen else f"{marker} has other content"


def _empty(folder: Path) -> None:
    """Remove what an earlier try of a batch left in its staging folder."""
    if not folder.is_dir():
        raise FileNotFoundError(f"the staging folder {folder} is missing (is the index folder shared with this worker?)")
    for child in folder.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
