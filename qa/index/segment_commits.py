"""The one way a writer lands new segments: write each into a staging folder, then commit them
with one manifest swap (`qa.index.store.commit`).

A build (`Index.build`, one segment per batch), an add or remove (`Index.add`, one segment or
none, plus tombstones), a merge (one merged segment or none) and a Ray build (segments written
by the workers) differ only in the manifest they make from the live one: each passes that as
`change(live, entries)`, and `commit_segments` renames the staged folders into place under the
writer lock, names them in the new manifest and swaps it in, or raises `CommitConflict` with
nothing changed. `commit_change` (an add, remove or refresh) and `commit_merge` are the two
commits of a live index's writes.

    >>> with store.staging(root) as folder:
    ...     staged = [write_staged(folder, data, settings.bm25)]
    ...     commit_segments(root, view.generation, staged, lambda live, entries: replace(
    ...         live, segments=live.segments + entries))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from qa.errors import IndexProblem
from qa.index import merging, store
from qa.index.lexical import BM25Config
from qa.index.planning import Change
from qa.index.segments import SegmentData, write_segment
from qa.index.store import Manifest, SegmentEntry
from qa.index.view import IndexView

# The manifest a writer makes from the live one (None: no index yet) and its new segments.
ManifestChange = Callable[[Manifest | None, tuple[SegmentEntry, ...]], Manifest]


@dataclass(frozen=True)
class StagedSegment:
    """A segment written and flushed into a staging `folder`, and the entry that will name it."""

    folder: Path
    entry: SegmentEntry


def write_staged(folder: Path, data: SegmentData, bm25: BM25Config) -> StagedSegment:
    """Write `data` as a segment into the empty staging `folder`, under a new segment name."""
    return StagedSegment(folder, SegmentEntry(store.new_segment_name(), *write_segment(folder, data, bm25)))


def commit_segments(
    root: Path, base_generation: int | None, staged: Sequence[StagedSegment], change: ManifestChange, *, locked: bool = False
) -> Manifest:
    """Make `change(live, entries of staged)` the live manifest, moving the staged folders into
    place, if the live generation is still `base_generation` (see `qa.index.store.commit`, whose
    `ANY_GENERATION` and `locked` this passes on)."""
    entries = tuple(s.entry for s in staged)
    folders = {s.folder: s.entry.name for s in staged}
    return store.commit(root, base_generation, lambda live: change(live, entries), folders, locked=locked)


def commit_change(root: Path, view: IndexView, change: Change, data: SegmentData | None, *, locked: bool = False) -> Manifest:
    """An add, remove or refresh planned on `view`: its deleted documents tombstoned, its new
    documents (`data`, embedded) as one new segment, its bookkeeping; `CommitConflict` when
    another writer committed since `view`."""
    tombstones: dict[int, set[int]] = {}
    for doc_id in change.delete:
        found = view.locate(doc_id)
        if found is None:  # the plan saw it live in this very view
            raise IndexProblem(f"document {doc_id!r} vanished from generation {view.generation} of {root}")
        position, row = found
        tombstones.setdefault(position, set()).add(row)
    segments = tuple(
        replace(entry, deleted=entry.deleted | tombstones.get(position, set()))
        for position, entry in enumerate(view.manifest.segments)
    )
    with store.staging(root) as folder:
        staged = [write_staged(folder, data, view.settings.bm25)] if data is not None and data.documents else []
        return commit_segments(
            root,
            view.generation,
            staged,
            lambda _live, entries: replace(view.manifest, segments=segments + entries, bookkeeping=change.bookkeeping),
            locked=locked,
        )


def commit_merge(root: Path, view: IndexView, names: tuple[str, ...]) -> Manifest:
    """The segments `names` of `view` merged into one (their live documents, deletes made
    meanwhile carried over: `merging.apply_merge`), committed on whatever is live."""
    data, new_rows = merging.merged_data(view, names)
    with store.staging(root) as folder:
        staged = [write_staged(folder, data, view.settings.bm25)] if data.documents else []
        return commit_segments(
            root,
            store.ANY_GENERATION,
            staged,
            lambda live, entries: merging.apply_merge(live, names, entries[0] if entries else None, new_rows),
        )
