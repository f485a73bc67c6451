"""Tiered merges: many small segments (one per add) become fewer, larger ones.

Every add writes one segment, so without merges a library built one upload at a time would be
searched segment by segment. The policy (Lucene's TieredMergePolicy, simplified): segments fall
into tiers by size, powers of `MERGE_FACTOR` live chunks; when a tier holds `MERGE_FACTOR`
segments they are merged into one of the next tier, and a segment whose deleted share passes
`MAX_DELETED_SHARE` is rewritten. A merge copies live rows and their vectors (nothing is
embedded again) and rebuilds BM25 for the merged chunks, so each chunk is merged about
log_MERGE_FACTOR(corpus) times over its life.

    >>> plan_merge(manifest.segments)      # the names to merge next, or ()
    ('seg-a', 'seg-b', ...)
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from qa.index.segments import DOC, FIRST_SENTENCE, LAST_SENTENCE, SegmentData
from qa.index.store import CommitConflict, Manifest, SegmentEntry
from qa.index.view import IndexView

MERGE_FACTOR = 10
MAX_DELETED_SHARE = 0.3


def _tier(entry: SegmentEntry) -> int:
    live = max(1, entry.chunks * entry.live_documents // max(1, entry.documents))
    return int(math.log(live, MERGE_FACTOR))


def plan_merge(segments: tuple[SegmentEntry, ...], full: bool = False) -> tuple[str, ...]:
    """Names of the segments to merge next (empty: nothing to do).

    `full`: everything into one segment (`qa index --compact`), when there is more than one
    segment or any deleted row.
    """
    if full:
        if len(segments) > 1 or any(s.deleted for s in segments):
            return tuple(s.name for s in segments)
        return ()
    for entry in segments:
        if entry.documents and len(entry.deleted) / entry.documents > MAX_DELETED_SHARE:
            return (entry.name,)
    tiers: dict[int, list[SegmentEntry]] = {}
    for entry in segments:
        tiers.setdefault(_tier(entry), []).append(entry)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= MERGE_FACTOR:
            smallest = sorted(tiers[tier], key=lambda e: e.chunks)[:MERGE_FACTOR]
            return tuple(e.name for e in smallest)
    return ()


def plan_build_layout(view: IndexView, limit: int) -> list[tuple[str, ...]]:
    """Runs of consecutive segments to merge so that each holds up to `limit` bytes of text,
    as a build on one machine cuts them (`qa.index.planning.BUILD_BATCH_CHARS`); only runs of two or
    more. A Ray build writes a segment per batch; merged this way, it has the layout, and so the
    BM25 length normalisation and the rankings, of a one-process build of the same files.

        >>> plan_build_layout(view, limit=150_000_000)   # three small batch segments
        [('seg-a', 'seg-b', 'seg-c')]
    """
    runs: list[list[str]] = [[]]
    filled = 0
    for entry, segment in zip(view.manifest.segments, view.segments):
        if runs[-1] and filled + segment.text_bytes > limit:
            runs.append([])
            filled = 0
        runs[-1].append(entry.name)
        filled += segment.text_bytes
    return [tuple(run) for run in runs if len(run) > 1]


def merged_data(view: IndexView, names: tuple[str, ...]) -> tuple[SegmentData, dict[tuple[str, int], int]]:
    """The live rows of the named segments as one `SegmentData`, and where each old
    (segment name, document row) went in it."""
    documents, added, sentences, chunks, chunk_vectors, sentence_vectors = [], [], [], [], [], []
    new_rows: dict[tuple[str, int], int] = {}
    sentence_base = 0
    for position, segment in enumerate(view.segments):
        if segment.name not in names:
            continue
        entry = view.manifest.segments[position]
        for row, record in enumerate(segment.documents):
            if row in entry.deleted:
                continue
            new_row = len(documents)
            new_rows[(segment.name, row)] = new_row
            documents.append(segment.document(row))
            added.append(record.added)
            s_rows = slice(record.first_sentence, record.first_sentence + record.sentences)
            c_rows = slice(record.first_chunk, record.first_chunk + record.chunks)
            doc_sentences = np.array(segment.sentences[s_rows], dtype=np.int64)
            doc_sentences[:, DOC] = new_row
            doc_chunks = np.array(segment.chunks[c_rows], dtype=np.int64)
            doc_chunks[:, DOC] = new_row
            doc_chunks[:, [FIRST_SENTENCE, LAST_SENTENCE]] += sentence_base - record.first_sentence
            sentences.append(doc_sentences)
            chunks.append(doc_chunks)
            chunk_vectors.append(np.asarray(segment.chunk_vectors[c_rows], dtype=np.float32))
            sentence_vectors.append(np.asarray(segment.sentence_vectors[s_rows]))
            sentence_base += record.sentences
    dimension = view.settings.dimension
    data = SegmentData(
        documents=tuple(documents),
        added=tuple(added),
        sentences=np.concatenate(sentences).reshape(-1, 4) if sentences else np.zeros((0, 4), np.int64),
        chunks=np.concatenate(chunks).reshape(-1, 6) if chunks else np.zeros((0, 6), np.int64),
        chunk_vectors=np.concatenate(chunk_vectors).reshape(-1, dimension) if chunk_vectors else np.zeros((0, dimension), np.float32),
        sentence_vectors=np.concatenate(sentence_vectors).reshape(-1, dimension) if sentence_vectors else np.zeros((0, dimension), np.float16),
    )
    return data, new_rows


def apply_merge(
    live: Manifest | None,
    names: tuple[str, ...],
    merged: SegmentEntry | None,
    new_rows: dict[tuple[str, int], int],
) -> Manifest:
    """The live manifest with `names` replaced by `merged` (None: they held no live document).

    Documents deleted from the old segments while the merge ran are deleted in the merged one;
    if another merge already took one of the segments, `CommitConflict`.
    """
    if live is None or not set(names) <= {s.name for s in live.segments}:
        raise CommitConflict("the segments to merge are no longer live")
    kept: list[SegmentEntry] = []
    late_deletes: set[int] = set()
    for entry in live.segments:
        if entry.name not in names:
            kept.append(entry)
            continue
        late_deletes.update(new_rows[(entry.name, row)] for row in entry.deleted if (entry.name, row) in new_rows)
    if merged is not None:
        kept.append(replace(merged, deleted=frozenset(late_deletes)))
    return live.with_segments(tuple(kept))
