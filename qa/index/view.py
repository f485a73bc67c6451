"""`IndexView`: one committed generation of an index, opened for reading.

A view pairs a manifest with its opened segments and what the manifest's tombstones mean for
them (which chunks are live, where each live document is). It never changes: a commit makes a
new view, which reuses the already-opened segments it shares with the old one (segments are
immutable), so a question that started on one view finishes on it.

    >>> view = IndexView.open(Path("index"), read_manifest(Path("index")), {})
    >>> [d.doc_id for d in view.documents()]
    ['000_56409ce4796d023f']
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.text.chunking import Sentence
from qa.loading.documents import Document
from qa.index.lexical import lucene_idf
from qa.index.segments import DOC, FIRST_SENTENCE, LAST_SENTENCE, Segment
from qa.index.settings import IndexSettings
from qa.index.store import Manifest


@dataclass(frozen=True)
class DocumentEntry:
    """What the index says about one document (no text)."""

    doc_id: str
    path: str
    title: str
    source: str
    content_hash: str
    paragraphs: int
    sentences: int
    chunks: int
    added: str  # ISO 8601 UTC


@dataclass(frozen=True)
class IndexView:
    """Segments of one manifest generation with their live rows (see the module docstring)."""

    root: Path
    manifest: Manifest
    segments: tuple[Segment, ...]
    live_chunks: tuple[np.ndarray, ...]  # per segment: bool per chunk row
    deleted_chunks: tuple[int, ...]  # per segment: how many chunk rows are deleted

    @classmethod
    def open(cls, root: Path, manifest: Manifest, opened: dict[str, Segment]) -> "IndexView":
        """Open `manifest`'s segments, reusing those in `opened` (segment name -> Segment)."""
        segments, live, deleted = [], [], []
        for entry in manifest.segments:
            segment = opened.get(entry.name) or Segment(root / entry.name, manifest.settings.bm25, entry.checksum)
            segments.append(segment)
            dead_docs = np.fromiter(entry.deleted, dtype=np.int64, count=len(entry.deleted))
            mask = ~np.isin(segment.chunk_docs, dead_docs)
            live.append(mask)
            deleted.append(int(len(mask) - mask.sum()))
        return cls(root, manifest, tuple(segments), tuple(live), tuple(deleted))

    @functools.cached_property
    def locations(self) -> dict[str, tuple[int, int]]:
        """Doc id -> (segment, document row) of every live document; built on first use (it
        reads every doc id, which a question does not need)."""
        found: dict[str, tuple[int, int]] = {}
        for position, (segment, entry) in enumerate(zip(self.segments, self.manifest.segments)):
            for doc_id, row in segment.doc_rows.items():
                if row not in entry.deleted:
                    found[doc_id] = (position, row)
        return found

    def locate(self, doc_id: str) -> tuple[int, int] | None:
        """(segment, document row) of the live document `doc_id`, or None: one dict lookup per
        segment, through maps each segment builds once (an add must not read every doc id)."""
        for position in range(len(self.segments) - 1, -1, -1):
            row = self.segments[position].doc_rows.get(doc_id)
            if row is not None and row not in self.manifest.segments[position].deleted:
                return position, row
        return None

    def doc_id_at_path(self, resolved_path: str) -> str | None:
        """The doc id of the live document read from `resolved_path`, or None."""
        for position in range(len(self.segments) - 1, -1, -1):
            segment = self.segments[position]
            row = segment.path_rows.get(resolved_path)
            if row is not None and row not in self.manifest.segments[position].deleted:
                return segment.documents[row].doc_id
        return None

    def within(self, doc_ids: Sequence[str]) -> IndexView:
        """This view with only the chunks of `doc_ids` live for searching: a question asked
        within some documents searches, fuses, reads and hops inside them alone, as if the rest
        were deleted (no top-k filtered afterwards, which could come back empty).

        `ValueError` naming the ids that are not live documents, or for an empty list.

            >>> view.within(["report"]).size[1]   # the report's chunks
            3
        """
        wanted = list(dict.fromkeys(doc_ids))
        if not wanted:
            raise ValueError("documents is empty: name at least one document id, or leave the filter out")
        found = {doc_id: self.locate(doc_id) if isinstance(doc_id, str) else None for doc_id in wanted}
        missing = [doc_id for doc_id, location in found.items() if location is None]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise ValueError(f"no such document in the index: {shown}; `qa docs` lists the ids")
        masks = [np.zeros_like(mask) for mask in self.live_chunks]
        for position, row in found.values():
            record = self.segments[position].documents[row]
            masks[position][record.first_chunk : record.first_chunk + record.chunks] = True
        live = tuple(mask & keep for mask, keep in zip(self.live_chunks, masks))
        return replace(self, live_chunks=live, deleted_chunks=tuple(int(len(m) - m.sum()) for m in live))

    @property
    def live_documents(self) -> int:
        """Documents not deleted, from the manifest alone (no segment is read); 0 means nothing to search."""
        return sum(entry.live_documents for entry in self.manifest.segments)

    @property
    def settings(self) -> IndexSettings:
        """What the index was built with (the manifest's `IndexSettings`)."""
        return self.manifest.settings

    @property
    def generation(self) -> int:
        """The manifest generation this view shows; `Index.view` compares it with CURRENT's."""
        return self.manifest.generation

    @property
    def size(self) -> tuple[int, int]:
        """(live documents, live chunks)."""
        return self.live_documents, int(sum(int(m.sum()) for m in self.live_chunks))

    def documents(self) -> list[DocumentEntry]:
        """Live documents, oldest segment first."""
        entries = []
        for doc_id, (position, row) in self.locations.items():
            record = self.segments[position].documents[row]
            entries.append(
                DocumentEntry(
                    doc_id=doc_id,
                    path=record.path,
                    title=record.title,
                    source=record.source,
                    content_hash=record.content_hash,
                    paragraphs=record.paragraphs,
                    sentences=record.sentences,
                    chunks=record.chunks,
                    added=record.added,
                )
            )
        return entries

    def titles_mention(self, name: str) -> bool:
        """Whether some document title of the view's segments contains `name` (case-insensitive):
        a second hop (`qa.answering.compose`) searches only names that a document is titled with. A
        deleted document's title may count: this only spares searches, and a search returns
        live passages alone. Each segment keeps its titles (`Segment.titles_text`), so a new
        view after a commit reads only its new segment's."""
        wanted = name.lower()
        return any(wanted in segment.titles_text for segment in self.segments)

    @functools.cached_property
    def by_path(self) -> dict[str, str]:
        """Resolved file path -> doc id of every live document (how an add finds updates)."""
        return {
            self.segments[position].documents[row].resolved_path: doc_id
            for doc_id, (position, row) in self.locations.items()
        }

    def document(self, doc_id: str) -> Document:
        """The live document `doc_id`, text and paragraphs read back from its segment; `KeyError`
        when it is not in this view."""
        found = self.locate(doc_id)
        if found is None:
            raise KeyError(f"no document {doc_id!r} in the index at {self.root}")
        position, row = found
        return self.segments[position].document(row)

    # --- BM25 statistics over all segments -------------------------------------------------

    def idf(self, terms: tuple[str, ...]) -> dict[str, float]:
        """Index-wide BM25 IDF of each term (deleted rows count until merged, as in Lucene)."""
        total = sum(len(s.chunks) for s in self.segments)
        frequencies = dict.fromkeys(terms, 0)
        for segment in self.segments:
            if segment.lexical is None:
                continue
            for term, df in segment.lexical.document_frequencies(terms).items():
                frequencies[term] += df
        return {t: lucene_idf(df, total) for t, df in frequencies.items()}

    # --- chunks ------------------------------------------------------------------------------

    def chunk_id(self, position: int, row: int) -> str:
        """The public id, "<doc id>:<chunk number in the document>", of chunk `row` of segment
        `position`; it stays the same when a merge moves the chunk (see `locate_chunk`)."""
        segment = self.segments[position]
        doc_row = int(segment.chunks[row, DOC])
        record = segment.documents[doc_row]
        return f"{record.doc_id}:{row - record.first_chunk}"

    def locate_chunk(self, chunk_id: str) -> tuple[int, int]:
        """(segment, chunk row) of a live chunk id such as "doc:3"."""
        doc_id, _, number = chunk_id.rpartition(":")
        found = self.locate(doc_id)
        if found is None:
            raise KeyError(f"no chunk {chunk_id!r} in the index at {self.root}")
        position, doc_row = found
        record = self.segments[position].documents[doc_row]
        if not number.isdigit() or int(number) >= record.chunks:
            raise KeyError(f"no chunk {chunk_id!r} in the index at {self.root}")
        return position, record.first_chunk + int(number)

    def chunk_sentences(self, chunk_id: str) -> tuple[list[Sentence], np.ndarray]:
        """The sentences of a chunk (with their paragraphs' page and section) and their stored
        vectors (float32), for answers."""
        position, row = self.locate_chunk(chunk_id)
        segment = self.segments[position]
        first, last = int(segment.chunks[row, FIRST_SENTENCE]), int(segment.chunks[row, LAST_SENTENCE])
        spans = np.asarray(segment.sentences[first : last + 1])
        doc_row = int(segment.chunks[row, DOC])
        doc_id = segment.documents[doc_row].doc_id
        text = segment.text(doc_row)
        rows = spans.tolist()
        numbers = sorted({p for _, p, _, _ in rows})
        places = dict(zip(numbers, segment.places(doc_row, numbers)))  # paragraph -> (page, section)
        sentences = [Sentence(doc_id, p, s, e, text[s:e], *places[p]) for _, p, s, e in rows]
        vectors = np.asarray(segment.sentence_vectors[first : last + 1], dtype=np.float32)
        return sentences, vectors
