"""The Documents tab and the header's status line, as escaped HTML: the sortable table of indexed
documents, the remove confirmation, upload notices.

Everything that comes from a document (titles, sources, ids) is escaped here, as in
`qa.serving.rendering` for answers and sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Iterable, Sequence

from qa.serving.rendering import source_html, text_html

if TYPE_CHECKING:  # pragma: no cover
    from qa.index.view import DocumentEntry


@dataclass(frozen=True)
class DocumentRow:
    """One row of the documents table: `added` as shown, `stamp` as stored, to sort by."""

    doc_id: str
    title: str
    source: str
    paragraphs: int
    chunks: int
    added: str  # shown: '2026-11-26 00:29 UTC'
    stamp: str = ""  # as stored (ISO 8601, UTC): sorts by time, to the microsecond


def document_rows(entries: Iterable["DocumentEntry"]) -> list[DocumentRow]:
    """One row per indexed document, newest first (what was just uploaded is on top), then by
    title; `added` shortened to date and time."""
    rows = [
        DocumentRow(e.doc_id, e.title, e.source, e.paragraphs, e.chunks, _short_date(e.added), e.added)
        for e in entries
    ]
    rows.sort(key=lambda r: (r.title.lower(), r.doc_id))
    return sorted(rows, key=lambda r: r.stamp, reverse=True)  # stable: equal times stay by title


def _short_date(stamp: str) -> str:
    """'2026-11-26T00:29:26.902596+00:00' -> '2026-11-26 00:29 UTC' (unknown forms unchanged)."""
    match = re.match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})", stamp)
    return f"{match.group(1)} {match.group(2)} UTC" if match else stamp


# The documents table's columns: (heading, kind). `SORT_JS` sorts a column by its cells'
# `data-sort` values, as numbers for "number" columns and as text otherwise.
DOCUMENT_COLUMNS = (
    ("Title", "text"), ("Source", "text"), ("Paragraphs", "number"), ("Passages", "number"),
    ("Added", "text"), ("Id", "text"),
)
SORTED_BY = "Added"  # the column `document_rows` orders by (descending) when the table is drawn


def _cell(shown: str, sort_key: str | int, css: str = "") -> str:
    """A table cell: `shown` is HTML (already escaped), `sort_key` what the column sorts by."""
    klass = f' class="{css}"' if css else ""
    return f'<td{klass} data-sort="{escape(str(sort_key), quote=True)}">{shown}</td>'


def _header(title: str, kind: str) -> str:
    """A column heading whose button sorts the table (keyboard reachable, state in aria-sort)."""
    state = "descending" if title == SORTED_BY else "none"
    return (
        f'<th aria-sort="{state}" data-kind="{kind}"><button type="button" class="qa-sort" '
        f'title="Sort by {title.lower()}">{title}<span class="qa-sort-mark" aria-hidden="true"></span>'
        "</button></th>"
    )


def documents_table(entries: Iterable["DocumentEntry"]) -> str:
    """The documents tab's table, newest first, every cell escaped; the headings sort it."""
    rows = document_rows(entries)
    if not rows:
        return '<p class="qa-empty">No documents indexed yet: upload some below.</p>'
    body = "".join(
        f'<tr data-doc="{escape(r.doc_id, quote=True)}">'
        + _cell(escape(r.title), r.title.lower())
        + _cell(source_html(r.source), r.source.lower())
        + _cell(str(r.paragraphs), r.paragraphs, "qa-n")
        + _cell(str(r.chunks), r.chunks, "qa-n")
        + _cell(escape(r.added), r.stamp)
        + _cell(f"<code>{escape(r.doc_id)}</code>", r.doc_id)
        + "</tr>"
        for r in rows
    )
    head = "".join(_header(title, kind) for title, kind in DOCUMENT_COLUMNS)
    # On a narrow screen the table scrolls sideways inside this box (focusable, so the keyboard
    # scrolls it too), and every column stays reachable.
    return (
        '<div class="qa-docs-wrap" role="region" aria-label="Indexed documents" tabindex="0">'
        f'<table class="qa-docs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def document_choices(entries: Iterable["DocumentEntry"]) -> list[tuple[str, str]]:
    """(label, doc_id) pairs for the remove-a-document dropdown (labels are shown as text)."""
    return [(f"{r.title} ({r.doc_id})", r.doc_id) for r in document_rows(entries)]


def status_text(documents: int, passages: int, model: str) -> str:
    """The status line as plain text, with singular and plural counts.

    >>> status_text(1, 7, "all-MiniLM-L6-v2")
    '1 document · 7 passages · model all-MiniLM-L6-v2 · extractive answers, offline'
    """
    doc_word = "document" if documents == 1 else "documents"
    passage_word = "passage" if passages == 1 else "passages"
    return (
        f"{documents} {doc_word} · {passages} {passage_word} · model {model} "
        "· extractive answers, offline"
    )


def status_html(documents: int, passages: int, model: str) -> str:
    """`status_text` as the header's HTML, escaped (the model name comes from the index's
    settings): each part kept on one line, and the model and "extractive answers, offline"
    left out on a phone's width (`qa-status-extra`), so the header stays two short lines."""
    parts = status_text(documents, passages, model).split(" · ")
    spans = [
        f'<span class="qa-status-part{" qa-status-extra" if number >= 2 else ""}">'
        f'{"· " if number else ""}{escape(part)}</span>'
        for number, part in enumerate(parts)
    ]
    return f'<div class="qa-status">{" ".join(spans)}</div>'


def remove_prompt_html(title: str, doc_id: str, upload: bool) -> str:
    """The second step of Remove: what will happen, asked before anything is removed."""
    what = (
        "Its uploaded file is deleted too."
        if upload
        else "It is not an upload: its file stays on disk, but Rebuild does not add it back."
    )
    return (
        f'<div class="qa-confirm" role="alert">Remove <b>“{escape(title)}”</b> '
        f"(<code>{escape(doc_id)}</code>) from the index? {escape(what)}</div>"
    )


def notices_html(lines: Sequence[tuple[bool, str]]) -> str:
    """Upload/remove results: (ok, message) pairs as an escaped list."""
    if not lines:
        return ""
    items = "".join(
        f'<li class="{"qa-ok" if ok else "qa-fail"}">{"✓" if ok else "✗"} {text_html(message)}</li>'
        for ok, message in lines
    )
    return f'<ul class="qa-notices">{items}</ul>'

# Sorts the documents table when a column heading is clicked (or pressed with Enter/Space):
# one listener on the document, so tables redrawn after an upload sort too. Rows keep their
# escaped markup; only their order changes.
SORT_JS = """
() => {
    if (window.__qaSortInstalled) return;
    window.__qaSortInstalled = true;
    document.addEventListener("click", (event) => {
        const button = event.target.closest(".qa-docs .qa-sort");
        if (!button) return;
        const heading = button.closest("th");
        const body = heading.closest("table").tBodies[0];
        const column = [...heading.parentNode.children].indexOf(heading);
        const ascending = heading.getAttribute("aria-sort") !== "ascending";
        const numeric = heading.dataset.kind === "number";
        const key = (row) => {
            const value = row.children[column].dataset.sort || "";
            return numeric ? Number(value) : value;
        };
        const rows = [...body.rows].sort((a, b) => {
            const x = key(a), y = key(b);
            const order = x < y ? -1 : x > y ? 1 : 0;
            return ascending ? order : -order;
        });
        body.append(...rows);
        for (const other of heading.parentNode.children) other.setAttribute("aria-sort", "none");
        heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
}
"""
