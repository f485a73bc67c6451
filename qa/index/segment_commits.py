"""The one way a writer lands new segments: write each into a staging folder, then commit them
with one manifest swap (`qa.index.store.commit`).

A build (`Index.build`, one segment per batch), an add or remove (`Index.add`, one segment or
none, plus tombstones), a merge (one merged segment or none) and a Ray build (segments written
by the workers) differ only in the manifest they make from the live one: each passes that as
`change(live, entries)`, and `commit_segments` renames the staged folders into place under the
writer lock, names them in the new manifest and swaps it in, or raises `CommitConflict` with
nothing changed.

    >>> with store.staging(root) as folder:
    ...     staged = [write_staged(folder, data, settings.bm25)]
    ...     commit_segments(root, view.generation, staged, lambda live, entries: replace(
    ...         live, segments=live.segments + entries))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from qa.index import store
from qa.index.lexical import BM25Config
from qa.index.segments import SegmentData, write_segment
from qa.index.store import Manifest, SegmentEntry

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
