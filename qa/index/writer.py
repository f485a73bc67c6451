"""How an index folder changes: a new index's first commit, then every add, remove, refresh,
sync and merge, each planned against the live view and committed by compare-and-set.

An `IndexWriter` belongs to one `Index` (`qa.index.coordinator`), which gives it the live view
and installs what it commits. The slow part of a write (loading, embedding, writing a segment)
runs with no lock held, so writers in other processes are not kept waiting; if another writer
committed first, the change is planned again on the new view, reusing the vectors already
computed. Nobody's acknowledged change is undone.

The plans (`plan_add`, `plan_remove`, `plan_refresh`, `plan_sync`) are functions of the live view that
say what a write changes, so a re-plan after a lost race sees the other writer's commit.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from qa.errors import IndexProblem, now
from qa.index import merging, store
from qa.index.ingest import embed_documents
from qa.index.planning import Change, Scan, UpdateReport, build_batches, fingerprints, live_files, plan_documents
from qa.index.planning import resolved, same_skips, under
from qa.index.segment_commits import commit_change, commit_merge, commit_segments, write_staged
from qa.index.segments import SegmentData
from qa.index.settings import IndexSettings
from qa.index.store import Bookkeeping, CommitConflict, Manifest
from qa.index.view import IndexView
from qa.loading.documents import Document, LoadResult, SkippedFile, load_documents
from qa.models.packaged import TextEmbedder

# A writer that loses the compare-and-set this many times in a row stops being optimistic: it
# re-plans and commits holding the folder's commit lock, which no other writer can then move.
OPTIMISTIC_ATTEMPTS = 3

Plan = Callable[[IndexView], Change]


def create_index(
    documents: list[Document],
    root: Path,
    bookkeeping: Bookkeeping,
    embedder: TextEmbedder,
    settings: IndexSettings,
    progress: bool | None,
) -> Manifest:
    """Embed `documents` in batches, write a segment per batch and commit them all as the index
    at `root`, replacing whatever is there; returns the committed manifest."""
    with contextlib.ExitStack() as stack:
        staged = []
        for batch in build_batches(documents):
            data = embed_documents(batch, settings, embedder, [now()] * len(batch), progress)
            staged.append(write_staged(stack.enter_context(store.staging(root)), data, settings.bm25))
        return commit_segments(
            root,
            store.ANY_GENERATION,  # a build replaces whatever is there
            staged,
            lambda _live, entries: Manifest(0, "", settings, entries, bookkeeping),
        )


def plan_add(loaded: LoadResult, requested: list[str]) -> Plan:
    """Add or update `loaded`'s documents; `requested` (resolved paths) joins the inputs.

    Only the added paths are read again: an add costs what it adds, and a changed file
    elsewhere stays stale until a refresh indexes it."""

    def plan(view: IndexView) -> Change:
        book = view.manifest.bookkeeping
        added_paths = {str(Path(d.path).resolve()) for d in loaded.documents}
        inputs = book.inputs + tuple(p for p in requested if p not in book.inputs)
        excluded = tuple(p for p in book.excluded if p not in added_paths)
        sources = {**book.sources, **fingerprints(requested, set(excluded))}
        bookkeeping = Bookkeeping(inputs, excluded, sources, tuple(loaded.skipped))
        return plan_documents(view, loaded.documents, set(), bookkeeping)

    return plan


def plan_remove(*doc_ids: str) -> Plan:
    """Tombstone `doc_ids` (one commit); their files are excluded, so a refresh or a sync does
    not index them again. `KeyError` for an id that is not live."""

    def plan(view: IndexView) -> Change:
        gone = {str(Path(view.document(doc_id).path).resolve()) for doc_id in doc_ids}
        book = view.manifest.bookkeeping
        sources = {p: f for p, f in book.sources.items() if p not in gone}
        excluded = book.excluded + tuple(sorted(gone - set(book.excluded)))
        bookkeeping = Bookkeeping(book.inputs, excluded, sources, ())
        return Change([], set(doc_ids), bookkeeping, UpdateReport(removed=list(dict.fromkeys(doc_ids))))

    return plan


def plan_refresh(skipped: list[SkippedFile]) -> Plan:
    """Re-read every input path: new, changed and deleted files. The files that could not be
    read are put in `skipped` (the last plan's, after a re-plan)."""

    def plan(view: IndexView) -> Change:
        book = view.manifest.bookkeeping
        loaded = load_documents(list(book.inputs))
        skipped[:] = loaded.skipped
        wanted = [d for d in loaded.documents if str(Path(d.path).resolve()) not in book.excluded]
        paths = {str(Path(d.path).resolve()) for d in wanted}
        gone = {doc_id for path, doc_id in view.by_path.items() if path not in paths}
        sources = fingerprints(book.inputs, set(book.excluded))
        bookkeeping = Bookkeeping(book.inputs, book.excluded, sources, tuple(loaded.skipped))
        change = plan_documents(view, wanted, gone, bookkeeping)
        return replace(change, report=replace(change.report, removed=sorted(gone)))

    return plan


EXCLUDED_REASON = "removed from the index earlier; add it again to index it"


def plan_sync(scan: Scan, skipped: list[SkippedFile]) -> Plan:
    """Bring the index in step with the files under `scan.roots`: a file that is new or changed
    since its document was indexed (by content hash) is read, a document whose file is gone
    from those paths (or can no longer be read) is removed, and an unchanged file costs
    nothing, nor does one skipped last time and unchanged since. Documents elsewhere (other
    paths, uploads) are left alone; files removed by the user stay out. What was skipped, and
    why, is put in `skipped` (the last plan's, after a re-plan)."""
    read: dict[str, Document | SkippedFile] = {}  # kept across re-plans: each file is read once

    def plan(view: IndexView) -> Change:
        book = view.manifest.bookkeeping
        wanted = {p: f for p, f in scan.fingerprints.items() if p not in book.excluded}
        live = live_files(view)
        stale = [p for p, f in wanted.items() if p not in live or live[p][1] != f]
        before = {resolved(s): s for s in book.skipped}
        for path in stale:
            if path not in live and path in before and book.sources.get(path) == wanted[path]:
                read.setdefault(path, before[path])
        _read_into(read, {p: scan.files[p] for p in stale if p not in read})
        documents = [d for p in stale if isinstance(d := read[p], Document)]
        failed = [s for p in stale if isinstance(s := read[p], SkippedFile)]
        kept = set(wanted) - {resolved(s) for s in failed}
        gone = {doc_id for path, (doc_id, _) in live.items() if under(path, scan.roots) and path not in kept}
        inputs = list(book.inputs)
        for root in scan.present:
            if not under(root, inputs):
                inputs.append(root)
        sources = {p: f for p, f in book.sources.items() if not under(p, scan.roots)} | wanted
        skips = tuple(s for s in book.skipped if not under(resolved(s), scan.roots)) + scan.skipped + tuple(failed)
        bookkeeping = Bookkeeping(tuple(inputs), book.excluded, sources, book.skipped if same_skips(skips, book.skipped) else skips)
        change = plan_documents(view, documents, gone, bookkeeping)
        excluded = [SkippedFile(str(scan.files[p]), EXCLUDED_REASON) for p in scan.files if p in book.excluded]
        skipped[:] = [*scan.skipped, *failed, *excluded]
        unchanged = [live[p][0] for p in wanted if p in live and p not in stale]
        return replace(change, report=replace(change.report, unchanged=unchanged + change.report.unchanged, removed=sorted(gone)))

    return plan


def _read_into(read: dict[str, Document | SkippedFile], files: dict[str, Path]) -> None:
    """Load `files` (absolute path -> path as found) into `read`: each its document or its skip."""
    if not files:
        return
    loaded = load_documents(list(files.values()))
    for document in loaded.documents:
        read[str(Path(document.path).resolve())] = document
    for skip in loaded.skipped:
        read[resolved(skip)] = skip
    for path, file in files.items():
        read.setdefault(path, SkippedFile(str(file), "could not be read"))


class IndexWriter:
    """The writes of one `Index`: one at a time in this process, by compare-and-set across
    processes, with the tiered merges they call for run in the background."""

    def __init__(
        self,
        root: Path,
        view: Callable[[], IndexView],
        install: Callable[[Manifest], None],
        embedder: Callable[[], TextEmbedder],
    ) -> None:
        """`view()`: the live view; `install(manifest)`: make a commit live; `embedder()`: the
        index's embedder (loaded only when a write has documents to embed)."""
        self.root = root
        self._view = view
        self._install = install
        self._embedder = embedder
        self._lock = threading.Lock()  # writers of this process take turns; others by CAS
        self._merges: list[threading.Thread] = []

    def write(self, plan: Plan, progress: bool | None) -> Change:
        """Plan, embed, write and commit by compare-and-set, re-planning after a conflict.

        After `OPTIMISTIC_ATTEMPTS` lost races (many busy writers) the plan and commit run
        under the commit lock, so every write finishes; vectors embedded in earlier tries are
        reused. A plan that changes nothing commits nothing.
        """
        embedded: dict[tuple[tuple[str, str], ...], SegmentData] = {}
        with self._lock:
            attempt = 0
            while True:
                locked = attempt >= OPTIMISTIC_ATTEMPTS
                with store.writer_lock(self.root) if locked else contextlib.nullcontext():
                    view = self._view()
                    change = plan(view)
                    if not change.fresh and not change.delete and change.bookkeeping == view.manifest.bookkeeping:
                        return change
                    key = tuple((d.doc_id, d.content_hash) for d in change.fresh)
                    if change.fresh and key not in embedded:
                        embedded[key] = embed_documents(
                            change.fresh, view.settings, self._embedder(), [now()] * len(change.fresh), progress
                        )
                    try:
                        manifest = commit_change(self.root, view, change, embedded.get(key), locked=locked)
                    except CommitConflict:
                        attempt += 1
                        continue
                self._install(manifest)
                self._merge_in_background()
                return change

    def compact(self, *, full: bool = True) -> int:
        """Merge segments now: all into one (`full`), or what the tiered policy asks for.
        Returns how many segments were merged."""
        merged = 0
        with self._lock:
            while True:
                view = self._view()
                names = merging.plan_merge(view.manifest.segments, full=full)
                if not names:
                    return merged
                self._install(commit_merge(self.root, view, names))
                merged += len(names)
                if full:
                    return merged

    def merge_to_build_layout(self, batch_chars: int) -> None:
        """Merge a distributed build's batch segments into the segments a one-process build
        writes (`merging.plan_build_layout`): the same rankings, and fewer segments to search.
        Nothing is embedded again; each run is one merge commit."""
        with self._lock:
            for names in merging.plan_build_layout(self._view(), batch_chars):
                self._install(commit_merge(self.root, self._view(), names))

    def wait_for_merges(self) -> None:
        """Block until the background merges started by this writer have finished."""
        for thread in list(self._merges):
            thread.join()

    def _merge_in_background(self) -> None:
        """Start the merges the tiered policy asks for, one thread at a time."""
        self._merges = [t for t in self._merges if t.is_alive()]
        if self._merges or not merging.plan_merge(self._view().manifest.segments):
            return

        def run() -> None:
            try:
                self.compact(full=False)
            except (CommitConflict, IndexProblem, OSError):
                pass  # merging is an optimisation: the next write tries again

        thread = threading.Thread(target=run, name="qa-merge", daemon=True)
        self._merges.append(thread)
        thread.start()
