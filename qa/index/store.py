"""The index folder's commit point: numbered manifests naming immutable segments, swapped
atomically, committed only by compare-and-set.

Layout of an index folder (the Lucene/tantivy model):

    index/
      CURRENT                     the live manifest's file name (replaced with os.replace)
      manifest-0000000007.json    generation 7: settings, segments and their deleted documents,
                                  bookkeeping, and a sha256 of its own content
      seg-<id>/                   one immutable segment (qa.index.segments)
      .building-<pid>@<host>-<id>/ a segment being written (removed when its process is gone)
      .lock                       held only for the instant of a commit

A writer reads the live manifest (generation g), does its slow work (loading, embedding,
writing a segment) without any lock, then `commit`s: under the lock it checks that the live
generation is still g, moves its new segments into place, writes manifest g+1 and points CURRENT
at it. If another writer committed first, `CommitConflict` tells it to re-read and re-plan, so
two processes never undo each other's changes. A crash at any moment leaves CURRENT naming a
complete manifest whose segments all exist.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from qa.loading.documents import SkippedFile
from qa.errors import IndexCorrupted, IndexMismatch, IndexNotFound, IndexProblem, now
from qa.index.settings import IndexSettings, settings_from_json

# numpy reports a short write (a full disk) as "OSError: 3072 requested and 992 written", with no errno.
SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")
FORMAT_VERSION = 4
CURRENT = "CURRENT"
MANIFEST_PREFIX = "manifest-"
SEGMENT_PREFIX = "seg-"
BUILDING_PREFIX = ".building-"
# A staging folder written from another machine is removed only after this long untouched.
ABANDONED_ELSEWHERE_SECONDS = 24 * 3600
# Manifests (and the segments they name) kept besides the live one, for readers that read
# CURRENT just before a commit replaced it.
KEPT_GENERATIONS = 2


class CommitConflict(Exception):
    """Another writer committed since this one read the manifest: re-read and re-plan."""


@dataclass(frozen=True)
class Bookkeeping:
    """What the index was built from, to tell when it is stale.

    inputs: the paths given to build/add (absolute); excluded: files removed by the user;
    sources: fingerprint of every input file at the last write; skipped: files the last write
    could not load, with the reason.
    """

    inputs: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    skipped: tuple[SkippedFile, ...] = ()


@dataclass(frozen=True)
class SegmentEntry:
    """A segment as the manifest lists it: its folder, the sha256 of its segment.json (which
    lists every other file's size and sha256), and the rows of its deleted documents."""

    name: str
    documents: int
    chunks: int
    checksum: str
    deleted: frozenset[int] = frozenset()

    @property
    def live_documents(self) -> int:
        """Documents not deleted; their rows stay in the segment until a merge drops them."""
        return self.documents - len(self.deleted)


@dataclass(frozen=True)
class Manifest:
    """One committed state of the index."""

    generation: int
    created: str
    settings: IndexSettings
    segments: tuple[SegmentEntry, ...] = ()
    bookkeeping: Bookkeeping = Bookkeeping()

    def with_segments(self, segments: tuple[SegmentEntry, ...]) -> "Manifest":
        """A copy listing `segments` instead (the manifest is frozen); commit it to make it live."""
        return replace(self, segments=segments)


def rebuild_hint(root: Path) -> str:
    """The command that rebuilds the index at `root`, for the end of every "unreadable" error."""
    return f"rebuild it with: qa index <your documents> --index {root}"


# --- reading -------------------------------------------------------------------------------


def _manifest_name(generation: int) -> str:
    return f"{MANIFEST_PREFIX}{generation:010d}.json"


def live_manifest_path(root: Path) -> Path:
    """The file CURRENT names, or `IndexNotFound`/`IndexCorrupted`/`IndexMismatch` with a fix."""
    pointer = root / CURRENT
    if not pointer.is_file():
        raise IndexNotFound(f"no index at {root} (no {pointer.name} file); {rebuild_hint(root)}")
    raw = pointer.read_bytes().strip()
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        raise IndexCorrupted(f"{pointer} is damaged (not a file name); {rebuild_hint(root)}") from None
    if name.startswith("snapshot-"):
        raise IndexMismatch(
            f"the index at {root} has format version 1 (one snapshot), this qa reads "
            f"{FORMAT_VERSION} (segments); {rebuild_hint(root)}"
        )
    path = root / name
    if not name.startswith(MANIFEST_PREFIX) or "/" in name or not path.is_file():
        raise IndexCorrupted(f"{pointer} names a missing manifest {name!r}; {rebuild_hint(root)}")
    return path


def live_generation(root: Path) -> int | None:
    """The live generation number, read cheaply from CURRENT alone (None when unreadable)."""
    try:
        name = (root / CURRENT).read_text(encoding="ascii").strip()
        return int(name[len(MANIFEST_PREFIX) : -len(".json")])
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def read_manifest(root: Path) -> Manifest:
    """The live manifest of the index at `root`, its checksum and format checked."""
    path = live_manifest_path(root)
    hint = rebuild_hint(root)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexCorrupted(f"{path} is unreadable ({error}); {hint}") from None
    if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
        found = raw.get("format_version") if isinstance(raw, dict) else None
        raise IndexMismatch(
            f"{path} has format version {found!r}, this qa reads {FORMAT_VERSION}; {hint}"
        )
    checksum = raw.pop("checksum", None)
    if checksum != manifest_checksum(raw):
        raise IndexCorrupted(f"{path} is damaged (checksum mismatch); {hint}")
    try:
        return _manifest_from_json(raw)
    except (KeyError, TypeError, ValueError) as error:
        raise IndexCorrupted(f"{path} is unreadable ({error!r}); {hint}") from None


def manifest_checksum(raw: dict) -> str:
    """sha256 of a manifest's JSON content without its own "checksum" field."""
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _manifest_from_json(raw: dict) -> Manifest:
    book = raw["bookkeeping"]
    return Manifest(
        generation=int(raw["generation"]),
        created=str(raw["created"]),
        settings=settings_from_json(raw["settings"]),
        segments=tuple(
            SegmentEntry(s["name"], int(s["documents"]), int(s["chunks"]), str(s["checksum"]), frozenset(s["deleted"]))
            for s in raw["segments"]
        ),
        bookkeeping=Bookkeeping(
            inputs=tuple(book["inputs"]),
            excluded=tuple(book["excluded"]),
            sources=dict(book["sources"]),
            skipped=tuple(SkippedFile(p, r) for p, r in book["skipped"]),
        ),
    )


def _manifest_to_json(manifest: Manifest) -> dict:
    book = manifest.bookkeeping
    return {
        "format_version": FORMAT_VERSION,
        "generation": manifest.generation,
        "created": manifest.created,
        "settings": asdict(manifest.settings),
        "segments": [
            {"name": s.name, "documents": s.documents, "chunks": s.chunks, "checksum": s.checksum, "deleted": sorted(s.deleted)}
            for s in manifest.segments
        ],
        "bookkeeping": {
            "inputs": list(book.inputs),
            "excluded": list(book.excluded),
            "sources": book.sources,
            "skipped": [[s.path, s.reason] for s in book.skipped],
        },
    }


# --- writing -------------------------------------------------------------------------------


@contextlib.contextmanager
def writer_lock(root: Path) -> Iterator[None]:
    """Exclusive lock on an index folder for the instant of a commit (across processes)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staging_name(host: str | None = None, pid: int | None = None) -> str:
    """`.building-<pid>@<host>-<id>`: the writer's process and machine, so that a cleaner on
    another machine sharing the folder (a Ray worker, a replica) never takes a live build for a
    dead one because that pid is free on its own machine."""
    host = host if host is not None else socket.gethostname()
    pid = pid if pid is not None else os.getpid()
    return f"{BUILDING_PREFIX}{pid}@{host}-{uuid.uuid4().hex[:12]}"


def _staging_owner(name: str) -> tuple[int, str | None]:
    """(pid, host) of a staging folder's name; host None for names without one (older qa),
    pid -1 when the name is not one of ours."""
    owner = name[len(BUILDING_PREFIX) :].rpartition("-")[0]
    pid, at, host = owner.partition("@")
    try:
        return int(pid), (host if at else None)
    except ValueError:
        return -1, None


def remove_abandoned_builds(root: Path) -> None:
    """Delete `.building-*` folders whose writer is gone: on this machine, when its process has
    died (a crash or kill mid-write); from another machine, only once untouched for
    `ABANDONED_ELSEWHERE_SECONDS` (its process cannot be asked from here)."""
    this_host = socket.gethostname()
    for folder in root.glob(BUILDING_PREFIX + "*"):
        pid, host = _staging_owner(folder.name)
        if host is not None and host != this_host:
            try:
                idle = time.time() - folder.stat().st_mtime
            except OSError:
                continue
            if idle < ABANDONED_ELSEWHERE_SECONDS:
                continue
        elif pid == os.getpid() or (pid > 0 and _pid_alive(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def staging(root: Path) -> Iterator[Path]:
    """A private folder to write one segment into; removed on exit unless `commit` took it."""
    root.mkdir(parents=True, exist_ok=True)
    remove_abandoned_builds(root)
    folder = root / staging_name()
    folder.mkdir()
    try:
        yield folder
    except OSError as error:
        if error.errno is None and SHORT_WRITE.search(str(error)):  # numpy's `tofile` on a full disk
            raise OSError(errno.ENOSPC, "No space left on device", str(root)) from error
        if error.errno is not None and error.filename is None:  # written via a file object: name the folder
            raise OSError(error.errno, error.strerror, str(root)) from error
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_segment_name() -> str:
    """A fresh segment folder name: UTC time then random hex, so concurrent writers never collide
    and names sort by creation."""
    return f"{SEGMENT_PREFIX}{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"


def commit(
    root: Path,
    base_generation: int | None,
    change: Callable[[Manifest | None], Manifest],
    staged: dict[Path, str] | None = None,
    *,
    locked: bool = False,
) -> Manifest:
    """Make `change(live manifest)` the live manifest, if the live generation is still
    `base_generation` (None: the folder has no readable index yet). With `ANY_GENERATION`,
    `change` itself checks that its preconditions hold on the live manifest (a full rebuild has
    none; a merge needs its segments still there) and raises `CommitConflict` if not.

    `staged` maps staging folders to the segment names they become. Raises `CommitConflict`
    when another writer committed first; nothing is changed then. `locked`: the caller holds
    `writer_lock(root)` already (a writer that plans under the lock).
    """
    with contextlib.nullcontext() if locked else writer_lock(root):
        live = _readable_manifest(root)
        live_generation_now = live.generation if live else None
        if base_generation != ANY_GENERATION and live_generation_now != base_generation:
            raise CommitConflict(f"index at {root} moved from generation {base_generation} to {live_generation_now}")
        new = change(live)
        new = replace(new, generation=(live_generation_now or 0) + 1, created=now())
        for folder, name in (staged or {}).items():  # written and synced by qa.index.segments
            os.rename(folder, root / name)
        _fsync_dir(root)
        name = _manifest_name(new.generation)
        raw = _manifest_to_json(new)
        raw["checksum"] = manifest_checksum(raw)
        _write_synced(root / name, json.dumps(raw, indent=1, ensure_ascii=False))
        _write_synced(root / (CURRENT + ".tmp"), name)
        os.replace(root / (CURRENT + ".tmp"), root / CURRENT)
        _fsync_dir(root)
        _collect_garbage(root, new.generation)
    return new


# `commit(root, ANY_GENERATION, ...)`: commit on top of whatever is live (see `commit`).
ANY_GENERATION = -1


def _readable_manifest(root: Path) -> Manifest | None:
    try:
        return read_manifest(root)
    except IndexProblem:
        return None


def _referenced_segments(root: Path, generations: list[int]) -> set[str]:
    names: set[str] = set()
    for generation in generations:
        path = root / _manifest_name(generation)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            names.update(s["name"] for s in raw["segments"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return names


def _collect_garbage(root: Path, live: int) -> None:
    """Delete manifests older than the kept generations and segments none of them names.

    Readers open every file of a segment when they open it, so deleting a segment a reader
    still uses is safe on POSIX (the data lives until they close it).
    """
    generations = []
    for path in root.glob(MANIFEST_PREFIX + "*.json"):
        try:
            generations.append(int(path.name[len(MANIFEST_PREFIX) : -len(".json")]))
        except ValueError:
            continue
    keep = [g for g in generations if live - KEPT_GENERATIONS <= g <= live]
    for generation in generations:
        if generation not in keep:
            with contextlib.suppress(OSError):
                (root / _manifest_name(generation)).unlink()
    referenced = _referenced_segments(root, keep)
    for folder in root.glob(SEGMENT_PREFIX + "*"):
        if folder.name not in referenced:
            shutil.rmtree(folder, ignore_errors=True)
    for folder in root.glob("snapshot-*"):  # format 1, replaced by a rebuild
        shutil.rmtree(folder, ignore_errors=True)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder` to disk (before a commit makes it live)."""
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync(path)
    _fsync_dir(folder)
