"""A segment's document records, stored by column so that opening a segment parses nothing.

A million-chunk index holds ~180k documents. Kept as one JSON object per document, opening it
spent ~2 s parsing records and building objects, most of which no question ever reads. Here the
numbers are one int64 array and the strings one UTF-8 file with byte offsets, both memory-mapped
(the stored-fields idea of Lucene): a record is built when asked for, in microseconds, and a
whole column (the doc ids, to find a document by id) is read only when it is needed.

    documents.npy         int64 (D, 8): the `NUMBERS` columns of each document
    doc_strings.bin       UTF-8 strings, column after column
    doc_strings.npy       int64 (len(STRINGS), D + 1): byte offsets of column k, row r at [k, r]

    >>> table = DocumentTable(folder)
    >>> len(table), table[0].doc_id
    (1, '000_56409ce4796d023f')
"""

from __future__ import annotations

import functools
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

NUMBERS_FILE = "documents.npy"
STRINGS_FILE = "doc_strings.bin"
OFFSETS_FILE = "doc_strings.npy"
# Records kept built per segment: a question reads the same few documents several times
# (passages, chunk ids, sentences), ~19 record reads per answer on the seed article.
RECORD_CACHE = 1024
ENCODING = "utf-8"
ERRORS = "surrogatepass"  # texts may carry lone surrogates; they must survive a round trip


@dataclass(frozen=True)
class DocumentRecord:
    """What a segment stores about one document besides its text and spans."""

    doc_id: str
    title: str
    source: str
    path: str
    resolved_path: str  # absolute, symlinks resolved: how updates find a file's document
    content_hash: str
    encoding: str
    added: str  # ISO 8601 UTC, kept through updates of other documents and merges
    text_start: int  # byte range in texts.bin
    text_end: int
    first_paragraph: int
    paragraphs: int
    first_sentence: int
    sentences: int
    first_chunk: int
    chunks: int


STRINGS = tuple(f.name for f in fields(DocumentRecord) if f.type == "str")
NUMBERS = tuple(f.name for f in fields(DocumentRecord) if f.type == "int")
assert STRINGS + NUMBERS == tuple(f.name for f in fields(DocumentRecord)), "strings must come first"


def write_document_table(folder: Path, records: Sequence[DocumentRecord]) -> None:
    """Write `records` into `folder` in the layout of the module docstring."""
    rows = [astuple(r) for r in records]
    numbers = np.array([row[len(STRINGS) :] for row in rows], dtype=np.int64).reshape(-1, len(NUMBERS))
    blob, offsets = bytearray(), np.zeros((len(STRINGS), len(rows) + 1), dtype=np.int64)
    for k in range(len(STRINGS)):
        offsets[k, 0] = len(blob)
        for r, row in enumerate(rows):
            blob += row[k].encode(ENCODING, ERRORS)
            offsets[k, r + 1] = len(blob)
    np.save(folder / NUMBERS_FILE, numbers)
    np.save(folder / OFFSETS_FILE, offsets)
    (folder / STRINGS_FILE).write_bytes(bytes(blob))


class DocumentTable(Sequence[DocumentRecord]):
    """The records of one written segment, read-only and memory-mapped (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self._numbers = np.load(folder / NUMBERS_FILE, mmap_mode="r")
        self._offsets = np.load(folder / OFFSETS_FILE, mmap_mode="r")
        path = folder / STRINGS_FILE
        self._strings = np.memmap(path, dtype=np.uint8, mode="r") if path.stat().st_size else np.zeros(0, np.uint8)
        if self._numbers.shape[1:] != (len(NUMBERS),) or self._offsets.shape != (len(STRINGS), len(self._numbers) + 1):
            raise ValueError(f"document table shapes {self._numbers.shape} and {self._offsets.shape} disagree")
        self._record = functools.lru_cache(maxsize=RECORD_CACHE)(self._build_record)

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, row: int) -> DocumentRecord:  # type: ignore[override]
        if not -len(self) <= row < len(self):
            raise IndexError(f"document row {row} of {len(self)}")
        return self._record(row % len(self))

    def _build_record(self, row: int) -> DocumentRecord:
        offsets = self._offsets[:, row : row + 2].tolist()
        strings = [self._string(start, end) for start, end in offsets]
        return DocumentRecord(*strings, *self._numbers[row].tolist())

    def __iter__(self) -> Iterator[DocumentRecord]:
        return (self[row] for row in range(len(self)))

    def column(self, name: str) -> list[str]:
        """Every document's value of the string field `name`, in row order."""
        k = STRINGS.index(name)
        bounds = self._offsets[k].tolist()
        blob = bytes(self._strings[bounds[0] : bounds[-1]])
        base = bounds[0]
        return [blob[a - base : b - base].decode(ENCODING, ERRORS) for a, b in zip(bounds, bounds[1:])]

    def _string(self, start: int, end: int) -> str:
        return bytes(self._strings[start:end]).decode(ENCODING, ERRORS)
