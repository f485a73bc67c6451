"""qa/index/document_table.py: a segment's document records by column, read back exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qa.index.document_table import NUMBERS, STRINGS, DocumentRecord, DocumentTable, write_document_table

ODD_TITLES = ["", "Café — naïve ☕", "lone \ud800 surrogate", "new\nline and \x00 NUL", "x" * 5000]


def _records(n: int) -> list[DocumentRecord]:
    base = DocumentRecord("d", "t", "s", "p", "/abs/p", "h", "utf-8", "2026-11-26T00:00:00+00:00", *range(8))
    return [
        replace(base, doc_id=f"doc{i}", title=ODD_TITLES[i % len(ODD_TITLES)], text_start=i * 10, chunks=i)
        for i in range(n)
    ]


def test_records_round_trip_exactly(tmp_path: Path):
    records = _records(12)
    write_document_table(tmp_path, records)
    table = DocumentTable(tmp_path)
    assert len(table) == 12 and list(table) == records
    assert table[-1] == records[-1] and table[3].title == "new\nline and \x00 NUL"
    assert table.column("doc_id") == [f"doc{i}" for i in range(12)]
    assert table.column("title") == [r.title for r in records]


def test_an_empty_table_and_rows_out_of_range(tmp_path: Path):
    write_document_table(tmp_path, [])
    table = DocumentTable(tmp_path)
    assert len(table) == 0 and list(table) == [] and table.column("doc_id") == []
    with pytest.raises(IndexError):
        table[0]


def test_every_field_is_stored_by_kind():
    assert len(STRINGS) == 8 and len(NUMBERS) == 8 and STRINGS[0] == "doc_id" and NUMBERS[0] == "text_start"


def test_mismatched_files_are_refused(tmp_path: Path):
    write_document_table(tmp_path, _records(3))
    other = tmp_path / "other"
    other.mkdir()
    write_document_table(other, _records(4))
    (other / "documents.npy").replace(tmp_path / "documents.npy")
    with pytest.raises(ValueError, match="disagree"):
        DocumentTable(tmp_path)
