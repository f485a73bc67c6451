"""Before a write: the settings a new index gets, the embedder an opened one must use, and what an
add, remove or refresh changes (documents to embed, rows to delete, the bookkeeping after it).

Pure planning over an `IndexView` and files on disk: `qa.index.coordinator.Index` plans with
these, then embeds and commits (`qa.index.segment_commits`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from qa.errors import IndexMismatch, ModelUnavailable
from qa.index import store
from qa.index.lexical import BM25Config
from qa.index.settings import LATE, SENTENCE_PASS, SENTENCE_VECTORS, SEPARATE, VECTOR_METHODS, IndexSettings
from qa.index.store import Bookkeeping
from qa.index.view import IndexView
from qa.loading.documents import Document, SkippedFile, file_fingerprint, find_files, printable, unique_doc_id
from qa.models.packaged import MODELS, TextEmbedder
from qa.text.chunking import ChunkingConfig

PathsLike = Sequence[str | Path] | str | Path
# A build writes one segment per this many characters of text (~150k chunks of 1,000 characters).
BUILD_BATCH_CHARS = 150_000_000
SENTENCE_VECTOR_METHODS = VECTOR_METHODS


@dataclass(frozen=True)
class UpdateReport:
    """What an `add` or `refresh` did, doc ids in each list."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """A planned write: documents to embed into a new segment, documents to delete, and the
    bookkeeping after it."""

    fresh: list[Document]
    delete: set[str]
    bookkeeping: Bookkeeping
    report: UpdateReport = UpdateReport()


def as_list(paths: PathsLike) -> list[str | Path]:
    """`paths` as a list, one path given alone included."""
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def resolved_paths(paths: PathsLike) -> list[str]:
    """`paths` as absolute path strings, as the bookkeeping records inputs."""
    return [str(Path(p).resolve()) for p in as_list(paths)]


def fingerprints(inputs: Sequence[str], excluded: set[str]) -> dict[str, str]:
    """Each file under `inputs` (absolute path) and its fingerprint, `excluded` paths left out:
    comparing two of these tells which files were added, changed or removed."""
    return {
        str(f.resolve()): file_fingerprint(f)
        for f in find_files(list(inputs))
        if str(f.resolve()) not in excluded
    }


def under(path: str, roots: Sequence[str]) -> bool:
    """Whether the absolute `path` is one of `roots` or lies inside one of them."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


@dataclass(frozen=True)
class Scan:
    """The files under the paths a sync was given, listed and hashed once before planning.

    roots: the paths given (absolute); present: those that exist; files: each file found
    (absolute path -> the path as found); fingerprints: its `file_fingerprint`; skipped:
    what the listing left out (hidden files, ...)."""

    roots: tuple[str, ...]
    present: tuple[str, ...]
    files: dict[str, Path]
    fingerprints: dict[str, str]
    skipped: tuple[SkippedFile, ...]


def scan_paths(paths: PathsLike, *, missing_ok: bool = False) -> Scan:
    """List and fingerprint the files under `paths` (files or folders). A path that does not
    exist is a `ValueError` naming it, unless `missing_ok` (a watcher's deleted file: whatever
    was indexed there is to be removed)."""
    given = as_list(paths)
    missing = [p for p in given if not os.path.lexists(p)]
    if missing and not missing_ok:
        raise ValueError(f"no such file or folder: {printable(str(missing[0]))}")
    present = [p for p in given if p not in missing]
    skipped: list[SkippedFile] = []
    files = {str(f.resolve()): f for f in find_files(present, skipped)}
    return Scan(
        tuple(resolved_paths(given)),
        tuple(resolved_paths(present)),
        files,
        {path: file_fingerprint(file) for path, file in files.items()},
        tuple(skipped),
    )


def live_files(view: IndexView) -> dict[str, tuple[str, str]]:
    """Resolved file path -> (doc id, content hash) of every live document of `view`."""
    found = {}
    for doc_id, (position, row) in view.locations.items():
        record = view.segments[position].documents[row]
        found[record.resolved_path] = (doc_id, record.content_hash)
    return found


def resolved(skip: SkippedFile) -> str:
    """The absolute path of a skipped file (recorded as it was given, maybe relative)."""
    return str(Path(skip.path).resolve())


def same_skips(a: Sequence[SkippedFile], b: Sequence[SkippedFile]) -> bool:
    """Whether two lists name the same files (wherever their paths were relative to) for the
    same reasons, in any order: a sync that skips what the last write skipped commits nothing."""

    def key(skips: Sequence[SkippedFile]) -> set[tuple[str, str]]:
        return {(resolved(s), s.reason) for s in skips}

    return key(a) == key(b)


def settings_for(
    embedder: TextEmbedder, chunking: ChunkingConfig, bm25: BM25Config, embed_titles: bool, sentence_vectors: str | None
) -> IndexSettings:
    """The settings a new index gets with `embedder`: the vector method asked for, or the one
    this embedder can make ("separate" when it cannot pool sentences or titles are embedded)."""
    method = sentence_vectors or SENTENCE_VECTORS
    if method not in SENTENCE_VECTOR_METHODS:
        raise ValueError(f"sentence vectors must be made one of {SENTENCE_VECTOR_METHODS} ways, not {method!r}")
    if method == SENTENCE_PASS and (embed_titles or not hasattr(embedder, "encode_groups")):
        method = SEPARATE  # a title is no sentence of the chunk; a plain embedder has one way
    if method == LATE and not hasattr(embedder, "encode_passages"):
        method = SEPARATE
    return IndexSettings(
        model=embedder.name,
        model_id=getattr(embedder, "model_id", embedder.name),
        dimension=int(embedder.dimension),
        chunking=chunking,
        bm25=bm25,
        embed_titles=embed_titles,
        sentence_vectors=method,
    )


def build_batches(documents: list[Document]) -> list[list[Document]]:
    """Documents in runs of at most `BUILD_BATCH_CHARS` characters of text: a build embeds and
    writes one segment per run, so its memory is bounded by a run, not by the corpus."""
    batches: list[list[Document]] = [[]]
    size = 0
    for document in documents:
        if batches[-1] and size + len(document.text) > BUILD_BATCH_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(document)
        size += len(document.text)
    return batches


class TakenIds:
    """The doc ids a new document may not take: live in `view` and not being deleted, or
    given to another new document of the same write (`add`)."""

    def __init__(self, view: IndexView, freed: set[str]) -> None:
        self._view, self._freed, self._new = view, freed, set()

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        return doc_id in self._new or (doc_id not in self._freed and self._view.locate(doc_id) is not None)

    def add(self, doc_id: str) -> None:
        """Reserve `doc_id` for a new document of this write."""
        self._new.add(doc_id)


def plan_documents(view: IndexView, incoming: list[Document], delete: set[str], bookkeeping: Bookkeeping) -> Change:
    """Which incoming documents are new, updated or unchanged against `view`."""
    taken = TakenIds(view, set(delete))
    added, updated, unchanged, fresh = [], [], [], []
    delete = set(delete)
    for document in incoming:
        previous_id = view.doc_id_at_path(str(Path(document.path).resolve()))
        found = view.locate(previous_id) if previous_id and previous_id not in delete else None
        if found is not None:
            position, row = found
            if view.segments[position].documents[row].content_hash == document.content_hash:
                unchanged.append(previous_id)
                continue
            delete.add(previous_id)
            fresh.append(replace(document, doc_id=previous_id))
            updated.append(previous_id)
        else:
            doc_id = unique_doc_id(document.doc_id, taken)
            taken.add(doc_id)
            fresh.append(replace(document, doc_id=doc_id))
            added.append(doc_id)
    report = UpdateReport(added=added, updated=updated, unchanged=unchanged)
    return Change(fresh, delete, bookkeeping, report)


def check_embedder(settings: IndexSettings, requested: str | None, embedder: TextEmbedder | None, root: Path) -> None:
    """`IndexMismatch` or `ModelUnavailable` unless the index can be opened with `requested` /
    `embedder` (or, with neither, the packaged model it names, at the version it was built with)."""
    hint = store.rebuild_hint(root)
    if requested is not None and requested != settings.model:
        raise IndexMismatch(f"the index at {root} was built with model {settings.model!r}, not {requested!r}; {hint}")
    if embedder is not None:
        if embedder.name != settings.model:
            raise IndexMismatch(
                f"the index at {root} was built with embedder {settings.model!r}, not {embedder.name!r}; "
                f"open it with that embedder or {hint}"
            )
        return
    if settings.model not in MODELS:
        raise ModelUnavailable(
            f"the index at {root} was built with embedder {settings.model!r}, which qa does not ship; "
            f"pass it as Index.open(..., embedder=...) or {hint}"
        )
    installed = MODELS[settings.model].model_id
    if installed != settings.model_id:
        raise IndexMismatch(
            f"the index at {root} was built with {settings.model_id}, but {installed} is "
            f"installed; vectors from different model versions don't mix; {hint}"
        )


def stale_reason(view: IndexView, packaged_model: bool) -> str | None:
    """Why an index no longer matches its input files or, when it uses a `packaged_model`, the
    installed version of that model; None when it does."""
    settings = view.settings
    if packaged_model and settings.model in MODELS:
        installed = MODELS[settings.model].model_id
        if installed != settings.model_id:
            return f"built with {settings.model_id}, installed is {installed}"
    book = view.manifest.bookkeeping
    now = fingerprints(book.inputs, set(book.excluded))
    if now != book.sources:
        changed = sorted(set(now.items()) ^ set(book.sources.items()))
        return f"{len({p for p, _ in changed})} input file(s) changed, e.g. {changed[0][0]}"
    return None
