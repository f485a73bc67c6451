"""Answers, citations and document lists -> HTML for the web chat (`qa.web`).

Pure functions, no Gradio: everything that comes from a document, a file name or a question
goes through `html.escape` here, and nothing is handed to a Markdown renderer, so a document
containing `<script>`, `<img onerror=...>` or `[x](javascript:...)` shows up as that text.

    >>> answer = index.answer("What is the US backstop position?")
    >>> answer_html(answer, turn=1)         # sentences, each followed by <a href="#src-1-1">[1]</a>
    >>> sources_html(answer, turn=1)        # one card per citation, quoted sentences in <mark>

Citation cards have the id `src-<turn>-<number>` (`anchor()`), so a marker in answer 3 links to
answer 3's sources even after later answers were added to the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from qa.answering import Answer, Citation
    from qa.retrieval import Passage
    from qa.view import DocumentEntry

Span = tuple[int, int]

NO_SOURCES = "No sources: the documents don't say."
_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def anchor(turn: int, number: int) -> str:
    """The element id of citation `number` of answer `turn`."""
    return f"src-{turn}-{number}"


def text_html(text: str) -> str:
    """Plain text as HTML: escaped, line breaks kept."""
    return escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def question_html(question: str) -> str:
    """A user's chat message as HTML (escaped, never Markdown)."""
    return f'<div class="qa-question">{text_html(question)}</div>'


def answer_html(answer: "Answer", turn: int, upto: int | None = None) -> str:
    """The answer as HTML: each quoted sentence escaped and followed by its `[n]` link.

    `upto` shows only the first `upto` sentences (used to stream the answer in).
    """
    if answer.abstained:
        return (
            f'<div class="qa-answer qa-abstained"><p>{text_html(answer.text)} '
            "None of the indexed documents answers this question.</p></div>"
        )
    sentences = answer.sentences if upto is None else answer.sentences[: max(upto, 0)]
    if not answer.sentences:  # an answer without sentence detail: show its text as is
        return f'<div class="qa-answer"><p>{text_html(answer.text)}</p></div>'
    parts = [
        f'{text_html(s.text)} <a class="qa-cite" href="#{anchor(turn, s.citation)}" '
        f'title="Source {s.citation}">[{s.citation}]</a>'
        for s in sentences
    ]
    return f'<div class="qa-answer"><p>{" ".join(parts)}</p></div>'


def message_html(message: str, kind: str = "error") -> str:
    """A short notice in the chat (an error, or a hint), escaped."""
    return f'<div class="qa-notice qa-{escape(kind, quote=True)}">{text_html(message)}</div>'


def highlight(text: str, base: int, spans: Iterable[Span]) -> str:
    """`text` (which starts at document offset `base`) escaped, with `spans` in `<mark>`.

    Spans are document offsets; the parts outside `text` are ignored, overlaps merged.
    """
    clipped = sorted(
        (max(start - base, 0), min(end - base, len(text)))
        for start, end in spans
        if end > base and start < base + len(text) and end > start
    )
    merged: list[list[int]] = []
    for start, end in clipped:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out.append(text_html(text[at:start]))
        out.append(f"<mark>{text_html(text[start:end])}</mark>")
        at = end
    out.append(text_html(text[at:]))
    return "".join(out)


def source_html(source: str) -> str:
    """A document's source: a link when it is an http(s) URL, escaped text otherwise."""
    if _URL.match(source.strip()):
        url = escape(source.strip(), quote=True)
        return f'<a href="{url}" target="_blank" rel="noopener noreferrer nofollow">{escape(source.strip())}</a>'
    return escape(source)


def citation_card(citation: "Citation", passage: "Passage | None", turn: int) -> str:
    """A source card: title, source, paragraph, character span and the passage with the
    quoted sentences (`citation.spans`, exact document offsets) highlighted."""
    if passage is not None and passage.chunk_id == citation.chunk_id:
        body = highlight(passage.text, passage.start, citation.spans)
    else:  # no passage text at hand: the quote itself is all highlighted
        body = highlight(citation.quote, citation.start, [(citation.start, citation.end)])
    spans = ", ".join(f"{start}:{end}" for start, end in citation.spans)
    return (
        f'<div class="qa-source" id="{anchor(turn, citation.number)}" data-doc="{escape(citation.doc_id, quote=True)}">'
        f'<div class="qa-source-head"><span class="qa-num">[{citation.number}]</span> '
        f'<span class="qa-title">{escape(citation.title)}</span></div>'
        f'<div class="qa-meta">{source_html(citation.source)} · paragraph {citation.paragraph} · '
        f'characters <code>{spans}</code></div>'
        f'<blockquote class="qa-passage">{body}</blockquote></div>'
    )


def passage_card(passage: "Passage") -> str:
    """A retrieved but uncited passage, plain (no highlight)."""
    return (
        f'<div class="qa-source qa-retrieved"><div class="qa-source-head">'
        f'<span class="qa-title">{escape(passage.title)}</span></div>'
        f'<div class="qa-meta">{source_html(passage.source)} · paragraph {passage.paragraph} · '
        f"characters <code>{passage.start}:{passage.end}</code> · score {passage.score:.2f}</div>"
        f'<blockquote class="qa-passage">{text_html(passage.text)}</blockquote></div>'
    )


def sources_html(answer: "Answer", turn: int) -> str:
    """The sources of one answer: a card per citation, then the other retrieved passages
    in a collapsed "also retrieved" section. An abstained answer shows no sources."""
    head = f'<div class="qa-sources" data-turn="{turn}"><div class="qa-sources-q">{escape(answer.question)}</div>'
    if answer.abstained or not answer.citations:
        return f'{head}<p class="qa-none">{escape(NO_SOURCES)}</p></div>'
    by_chunk = {p.chunk_id: p for p in answer.passages}
    cards = [citation_card(c, by_chunk.get(c.chunk_id), turn) for c in answer.citations]
    cited = {c.chunk_id for c in answer.citations}
    others = [p for p in answer.passages if p.chunk_id not in cited]
    extra = ""
    if others:
        extra = (
            f'<details class="qa-also"><summary>Also retrieved ({len(others)})</summary>'
            + "".join(passage_card(p) for p in others)
            + "</details>"
        )
    return head + "".join(cards) + extra + "</div>"


def sources_panel(sections: Sequence[str], turns: int | None = None) -> str:
    """The sources panel: the sections of every answer so far, the latest first.

    `turns` (the number of exchanges so far, answered or not) is kept as `data-turns`, so a
    page or a test can tell when the panel caught up with the chat.
    """
    count = len(sections) if turns is None else turns
    if not sections:
        return (
            f'<div class="qa-panel" data-turns="{count}"><p class="qa-empty">Ask a question: the sources '
            "of each answer appear here, with the quoted sentences highlighted.</p></div>"
        )
    return (
        f'<div class="qa-panel" data-turns="{count}"><div class="qa-panel-title">Sources</div>'
        + "".join(reversed(sections))
        + "</div>"
    )


@dataclass(frozen=True)
class DocumentRow:
    doc_id: str
    title: str
    source: str
    paragraphs: int
    chunks: int
    added: str


def document_rows(entries: Iterable["DocumentEntry"]) -> list[DocumentRow]:
    """One row per indexed document, sorted by title; `added` shortened to date and time."""
    rows = [
        DocumentRow(e.doc_id, e.title, e.source, e.paragraphs, e.chunks, _short_date(e.added))
        for e in entries
    ]
    return sorted(rows, key=lambda r: (r.title.lower(), r.doc_id))


def _short_date(stamp: str) -> str:
    """'2026-11-26T00:29:26.902596+00:00' -> '2026-11-26 00:29 UTC' (unknown forms unchanged)."""
    match = re.match(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})", stamp)
    return f"{match.group(1)} {match.group(2)} UTC" if match else stamp


def documents_table(entries: Iterable["DocumentEntry"]) -> str:
    """The documents tab's table, every cell escaped."""
    rows = document_rows(entries)
    if not rows:
        return '<p class="qa-empty">No documents indexed yet: upload some below.</p>'
    body = "".join(
        f'<tr data-doc="{escape(r.doc_id, quote=True)}"><td>{escape(r.title)}</td><td>{source_html(r.source)}</td>'
        f'<td class="qa-n">{r.paragraphs}</td><td class="qa-n">{r.chunks}</td><td>{escape(r.added)}</td>'
        f"<td><code>{escape(r.doc_id)}</code></td></tr>"
        for r in rows
    )
    return (
        '<table class="qa-docs"><thead><tr><th>Title</th><th>Source</th><th>Paragraphs</th>'
        f"<th>Passages</th><th>Added</th><th>Id</th></tr></thead><tbody>{body}</tbody></table>"
    )


def document_choices(entries: Iterable["DocumentEntry"]) -> list[tuple[str, str]]:
    """(label, doc_id) pairs for the remove-a-document dropdown (labels are shown as text)."""
    return [(f"{r.title} ({r.doc_id})", r.doc_id) for r in document_rows(entries)]


def status_text(documents: int, passages: int, model: str) -> str:
    doc_word = "document" if documents == 1 else "documents"
    passage_word = "passage" if passages == 1 else "passages"
    return (
        f"{documents} {doc_word} · {passages} {passage_word} · model {model} "
        "· extractive answers, offline"
    )


def status_html(documents: int, passages: int, model: str) -> str:
    return f'<div class="qa-status">{escape(status_text(documents, passages, model))}</div>'


def notices_html(lines: Sequence[tuple[bool, str]]) -> str:
    """Upload/remove results: (ok, message) pairs as an escaped list."""
    if not lines:
        return ""
    items = "".join(
        f'<li class="{"qa-ok" if ok else "qa-fail"}">{"✓" if ok else "✗"} {text_html(message)}</li>'
        for ok, message in lines
    )
    return f'<ul class="qa-notices">{items}</ul>'


CSS = """
.qa-answer p, .qa-question { margin: 0; }
.qa-cite { text-decoration: none; font-weight: 600; white-space: nowrap; }
.qa-abstained { font-style: italic; }
.qa-panel { max-height: 640px; overflow-y: auto; }
.qa-panel-title { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.05em; opacity: 0.7; }
.qa-sources { margin-bottom: 1.2em; }
.qa-sources-q { font-weight: 600; margin: 0.2em 0 0.5em; opacity: 0.8; }
.qa-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em;
  margin-bottom: 0.6em; scroll-margin-top: 1em; }
.qa-source:target { outline: 2px solid var(--color-accent); }
.qa-source-head { font-weight: 600; }
.qa-meta { font-size: 0.85em; opacity: 0.8; margin: 0.2em 0 0.4em; }
.qa-passage { margin: 0; padding-left: 0.7em; border-left: 3px solid var(--border-color-primary);
  white-space: normal; }
.qa-passage mark { background: #fde68a; color: inherit; padding: 0 1px; }
.qa-also summary { cursor: pointer; margin: 0.3em 0 0.6em; }
.qa-retrieved { opacity: 0.9; }
.qa-docs { width: 100%; border-collapse: collapse; }
.qa-docs th, .qa-docs td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); }
.qa-docs td.qa-n { text-align: right; }
.qa-status { font-size: 0.9em; opacity: 0.85; }
.qa-notices { list-style: none; padding: 0; margin: 0; }
.qa-fail { color: var(--error-text-color, #b91c1c); }
.qa-notice.qa-error { color: var(--error-text-color, #b91c1c); }
.qa-empty, .qa-none { opacity: 0.75; font-style: italic; }
"""
