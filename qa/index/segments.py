"""One immutable segment of an index: documents, sentence and chunk spans, vectors, BM25.

A segment is written once into a staging folder (`write_segment`), committed by the manifest
(`qa.index.store`) and never changed afterwards; deleting a document only lists its row in the
manifest. Everything is columnar and memory-mapped, so opening a segment reads its small
metadata file and maps the rest, and memory grows with what questions touch:

    seg-<id>/
      segment.json         row counts, every other file's size and sha256 (the manifest holds
                           the sha256 of segment.json itself)
      documents.npy,       the documents' records (id, title, source, path, hash, row ranges),
      doc_strings.*        by column (qa.index.document_table)
      texts.bin            the documents' texts, UTF-8, one after another
      paragraphs.npy       int64 (P, 4): paragraph start, end (character span), page (1-based,
                           0 = unknown) and section (row of the section table, -1 = none)
      sections.bin,        the segment's distinct section headings, UTF-8, one after another,
      sections.npy         and int64 (H + 1,) byte offsets: heading h is bin[off[h]:off[h+1]]
      sentences.npy        int64 (S, 4): document row, paragraph number, start, end
      chunks.npy           int64 (C, 6): document row, paragraph, start, end, first and last
                           sentence row (inclusive)
      chunk_vectors.npy    float32 (C, d), unit rows
      sentence_vectors.npy float16 (S, d), unit rows (half the disk and page cache; cosines
                           differ from float32 by < 1e-3)
      bm25/                bm25s index of title + chunk text
      chunks.hnsw          HNSW graph of the chunk vectors (large segments only, qa.index.ann)
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.index import ann
from qa.checksums import sha256_file
from qa.index.document_table import DocumentRecord, DocumentTable, write_document_table
from qa.loading.documents import Document
from qa.index.lexical import BM25Config, LexicalIndex
from qa.errors import IndexCorrupted
from qa.index.store import fsync_tree, rebuild_hint

SEGMENT_FILE = "segment.json"
TEXTS = "texts.bin"
PARAGRAPHS = "paragraphs.npy"
SECTIONS_TEXT = "sections.bin"
SECTIONS_OFFSETS = "sections.npy"
SENTENCES = "sentences.npy"
CHUNKS = "chunks.npy"
CHUNK_VECTORS = "chunk_vectors.npy"
SENTENCE_VECTORS = "sentence_vectors.npy"
BM25_FOLDER = "bm25"
SENTENCE_DTYPE = np.float16
# Segments whose files add up to at most this many bytes have every file's sha256 checked on
# open; larger ones have their sizes checked (hashing gigabytes would take seconds per open).
VERIFY_MAX_BYTES = 64 * 1024 * 1024
# Decoded document texts kept per segment (a passage needs its document's text).
TEXT_CACHE = 256

# Columns of the span arrays.
DOC, PARAGRAPH, START, END, FIRST_SENTENCE, LAST_SENTENCE = range(6)
# Columns of paragraphs.npy.
PARAGRAPH_START, PARAGRAPH_END, PARAGRAPH_PAGE, PARAGRAPH_SECTION = range(4)
PARAGRAPH_COLUMNS = 4
NO_PAGE = 0
NO_SECTION = -1


@dataclass(frozen=True)
class SegmentData:
    """A segment in memory, before it is written: what ingest or a merge produces.

    `sentences` and `chunks` use the column layout of the module docstring; document rows
    index `documents`, sentence rows index `sentences`.
    """

    documents: tuple[Document, ...]
    added: tuple[str, ...]
    sentences: np.ndarray
    chunks: np.ndarray
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray

    @property
    def chunk_count(self) -> int:
        """Chunk rows; a segment without any gets no BM25 index."""
        return len(self.chunks)


def chunk_texts_for_bm25(data: SegmentData, titles: bool) -> list[str]:
    """The text BM25 indexes for each chunk, in chunk order: the chunk, after its document's title
    line when `titles` (`BM25Config.titles`), so a title word finds every chunk of its document."""
    texts = []
    for doc_row, _, start, end, _, _ in data.chunks.tolist():
        document = data.documents[doc_row]
        text = document.text[start:end]
        texts.append(f"{document.title}\n{text}" if titles else text)
    return texts


def write_segment(folder: Path, data: SegmentData, bm25: BM25Config) -> tuple[int, int, str]:
    """Write `data` into the empty staging `folder` and flush it to disk.

    Returns (documents, chunks, sha256 of segment.json) for the manifest's `SegmentEntry`.
    """
    records, encoded, paragraphs = [], [], []
    headings = _HeadingTable()
    offset = 0
    sentence_first, sentence_counts = _row_ranges(data.sentences, len(data.documents))
    chunk_first, chunk_counts = _row_ranges(data.chunks, len(data.documents))
    for row, (document, added) in enumerate(zip(data.documents, data.added)):
        raw = document.text.encode("utf-8", "surrogatepass")
        encoded.append(raw)
        records.append(
            DocumentRecord(
                doc_id=document.doc_id,
                title=document.title,
                source=document.source,
                path=document.path,
                resolved_path=str(Path(document.path).resolve()),
                content_hash=document.content_hash,
                encoding=document.encoding,
                added=added,
                text_start=offset,
                text_end=offset + len(raw),
                first_paragraph=len(paragraphs),
                paragraphs=len(document.paragraphs),
                first_sentence=int(sentence_first[row]),
                sentences=int(sentence_counts[row]),
                first_chunk=int(chunk_first[row]),
                chunks=int(chunk_counts[row]),
            )
        )
        paragraphs.extend(_paragraph_rows(document, headings))
        offset += len(raw)
    (folder / TEXTS).write_bytes(b"".join(encoded))
    write_document_table(folder, records)
    headings.write(folder)
    dimension = data.chunk_vectors.shape[1] if data.chunk_vectors.ndim == 2 else 0
    np.save(folder / PARAGRAPHS, np.asarray(paragraphs, dtype=np.int64).reshape(-1, PARAGRAPH_COLUMNS))
    np.save(folder / SENTENCES, np.asarray(data.sentences, dtype=np.int64).reshape(-1, 4))
    np.save(folder / CHUNKS, np.asarray(data.chunks, dtype=np.int64).reshape(-1, 6))
    chunk_vectors = np.ascontiguousarray(data.chunk_vectors, dtype=np.float32).reshape(-1, dimension)
    np.save(folder / CHUNK_VECTORS, chunk_vectors)
    np.save(folder / SENTENCE_VECTORS, np.asarray(data.sentence_vectors, dtype=SENTENCE_DTYPE).reshape(-1, dimension))
    if data.chunk_count:
        LexicalIndex.build(chunk_texts_for_bm25(data, bm25.titles), bm25).save(folder / BM25_FOLDER)
    ann.build_graph(chunk_vectors, folder)
    files = {
        str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    meta = {"documents": len(records), "chunks": data.chunk_count, "files": files}
    (folder / SEGMENT_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    fsync_tree(folder)
    return len(records), data.chunk_count, sha256_file(folder / SEGMENT_FILE)


class _HeadingTable:
    """The distinct section headings of a segment being written, numbered as first seen."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}

    def row(self, heading: str) -> int:
        if not heading:
            return NO_SECTION
        return self.rows.setdefault(heading, len(self.rows))

    def write(self, folder: Path) -> None:
        encoded = [h.encode("utf-8", "surrogatepass") for h in self.rows]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        (folder / SECTIONS_TEXT).write_bytes(b"".join(encoded))
        np.save(folder / SECTIONS_OFFSETS, offsets)


def _paragraph_rows(document: Document, headings: _HeadingTable) -> list[tuple[int, int, int, int]]:
    """One paragraphs.npy row per paragraph of `document` (see the module docstring)."""
    rows = []
    for number, (start, end) in enumerate(document.paragraphs, 1):
        section = document.section(number)
        rows.append((start, end, document.page(number) or NO_PAGE, headings.row(section or "")))
    return rows


class SectionTable:
    """A written segment's section headings, memory-mapped; one is decoded when asked for."""

    def __init__(self, folder: Path) -> None:
        self._offsets = np.load(folder / SECTIONS_OFFSETS, mmap_mode="r")
        path = folder / SECTIONS_TEXT
        self._text = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
        if self._offsets.ndim != 1 or len(self._offsets) < 1 or int(self._offsets[-1]) != len(self._text):
            raise ValueError(f"section offsets {self._offsets.shape} do not fit {len(self._text)} bytes")

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, row: int) -> str | None:
        """Heading `row`, or None for `NO_SECTION`."""
        if row == NO_SECTION:
            return None
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        return bytes(self._text[start:end]).decode("utf-8", "surrogatepass")


def _row_ranges(rows: np.ndarray, documents: int) -> tuple[np.ndarray, np.ndarray]:
    """First row and row count of each document in a span array sorted by document."""
    counts = np.bincount(np.asarray(rows[:, DOC], dtype=np.int64), minlength=documents) if len(rows) else np.zeros(documents, np.int64)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]) if documents else counts
    return first, counts


class Segment:
    """An opened, read-only segment. Arrays are memory-mapped; texts are decoded on demand."""

    def __init__(self, folder: Path, bm25: BM25Config, checksum: str) -> None:
        """`checksum`: the sha256 of segment.json that the manifest recorded."""
        self.folder = folder
        self.name = folder.name
        root = folder.parent
        meta = _read_meta(folder, root, checksum)
        _verify_files(folder, meta["files"], root)
        try:
            self.documents = DocumentTable(folder)
            self.paragraphs = _mapped(folder / PARAGRAPHS)
            self.sections = SectionTable(folder)
            self.sentences = _mapped(folder / SENTENCES)
            self.chunks = _mapped(folder / CHUNKS)
            self.chunk_vectors = _mapped(folder / CHUNK_VECTORS)
            self.sentence_vectors = _mapped(folder / SENTENCE_VECTORS)
            self._texts = np.memmap(folder / TEXTS, dtype=np.uint8, mode="r") if (folder / TEXTS).stat().st_size else np.zeros(0, np.uint8)
            self.lexical = LexicalIndex.load(folder / BM25_FOLDER, bm25, len(self.chunks)) if len(self.chunks) else None
            self.vectors = ann.open_search(folder, self.chunk_vectors)
        except Exception as error:  # any parse failure means a damaged segment
            raise IndexCorrupted(f"segment {folder} is unreadable ({error!r}); {rebuild_hint(root)}") from None
        if (
            self.paragraphs.shape[1:] != (PARAGRAPH_COLUMNS,)
            or len(self.chunks) != int(meta["chunks"])
            or len(self.documents) != int(meta["documents"])
            or len(self.chunk_vectors) != len(self.chunks)
            or len(self.sentence_vectors) != len(self.sentences)
        ):
            raise IndexCorrupted(f"segment {folder} has inconsistent row counts; {rebuild_hint(root)}")
        self.text = lru_cache(maxsize=TEXT_CACHE)(self._text)
        self.chunk_docs = np.asarray(self.chunks[:, DOC]) if len(self.chunks) else np.zeros(0, np.int64)

    @property
    def text_bytes(self) -> int:
        """Bytes of UTF-8 text this segment stores (its documents' texts)."""
        return int(self._texts.size)

    @functools.cached_property
    def doc_rows(self) -> dict[str, int]:
        """Doc id -> document row, built on first use and kept (a segment never changes)."""
        return {doc_id: row for row, doc_id in enumerate(self.documents.column("doc_id"))}

    @functools.cached_property
    def titles_text(self) -> str:
        """Every document's title, lower-cased, one per line: one substring search over them runs
        at C speed (`IndexView.titles_mention`). Built on first use and kept."""
        return "\n".join(self.documents.column("title")).lower()

    @functools.cached_property
    def path_rows(self) -> dict[str, int]:
        """Resolved file path -> document row (the last, if a path occurs twice)."""
        return {path: row for row, path in enumerate(self.documents.column("resolved_path"))}

    def _text(self, doc_row: int) -> str:
        """The full text of document `doc_row` (use `text`, the cached version)."""
        record = self.documents[doc_row]
        return bytes(self._texts[record.text_start : record.text_end]).decode("utf-8", "surrogatepass")

    def document(self, doc_row: int) -> Document:
        """Document `doc_row` rebuilt as it was loaded: text, paragraph spans, pages and sections."""
        record = self.documents[doc_row]
        rows = np.asarray(self.paragraphs[record.first_paragraph : record.first_paragraph + record.paragraphs])
        pages = tuple(rows[:, PARAGRAPH_PAGE].tolist())
        sections = tuple(self.sections[h] or "" for h in rows[:, PARAGRAPH_SECTION].tolist())
        return Document(
            doc_id=record.doc_id,
            title=record.title,
            source=record.source,
            path=record.path,
            text=self.text(doc_row),
            paragraphs=tuple((int(s), int(e)) for s, e in rows[:, [PARAGRAPH_START, PARAGRAPH_END]].tolist()),
            content_hash=record.content_hash,
            encoding=record.encoding,
            pages=pages if any(pages) else (),
            sections=sections if any(sections) else (),
        )

    def places(self, doc_row: int, paragraphs: Sequence[int]) -> list[tuple[int | None, str | None]]:
        """(page, section) of each paragraph number (1-based) of document `doc_row`: where a
        reader finds it in the original. Reads only those paragraphs' rows."""
        first = self.documents[doc_row].first_paragraph
        rows = np.asarray(self.paragraphs[[first + p - 1 for p in paragraphs]]).reshape(-1, PARAGRAPH_COLUMNS)
        return [
            (page or None, self.sections[section])
            for page, section in rows[:, [PARAGRAPH_PAGE, PARAGRAPH_SECTION]].tolist()
        ]


def _mapped(path: Path) -> np.ndarray:
    """A read-only array backed by the file's pages (a plain ndarray: np.memmap's subclass
    hooks cost more than the read itself for the few rows a question touches)."""
    return np.asarray(np.load(path, mmap_mode="r"))


def _read_meta(folder: Path, root: Path, checksum: str) -> dict:
    path = folder / SEGMENT_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IndexCorrupted(f"index file {path} is missing; {rebuild_hint(root)}") from None
    if hashlib.sha256(raw).hexdigest() != checksum:
        raise IndexCorrupted(f"index file {path} is damaged (checksum mismatch); {rebuild_hint(root)}")
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IndexCorrupted(f"index file {path} is unreadable ({error}); {rebuild_hint(root)}") from None
    return meta


def _verify_files(folder: Path, files: dict, root: Path) -> None:
    """Every file present with its recorded size; small segments also by sha256."""
    hint = rebuild_hint(root)
    total = sum(int(f["bytes"]) for f in files.values())
    for relative, expected in files.items():
        path = folder / relative
        if not path.is_file():
            raise IndexCorrupted(f"index file {path} is missing; {hint}")
        if path.stat().st_size != int(expected["bytes"]):
            raise IndexCorrupted(f"index file {path} is damaged (size mismatch); {hint}")
        if total <= VERIFY_MAX_BYTES and sha256_file(path) != expected["sha256"]:
            raise IndexCorrupted(f"index file {path} is damaged (checksum mismatch); {hint}")
