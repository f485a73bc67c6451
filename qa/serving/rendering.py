"""Answers, citations and document lists -> HTML for the web chat (`qa.serving.web`).

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
from html import escape
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from qa.index.retrieval import MAX_QUESTION_CHARS
from qa.serving.page_assets import CSS  # noqa: F401 - the page's CSS, used as rendering.CSS

if TYPE_CHECKING:  # pragma: no cover
    from qa.answering.compose import Answer, Citation, ShortAnswer
    from qa.index.retrieval import Passage

Span = tuple[int, int]

NO_SOURCES = "No sources: the documents don't say."
# Answers at or above this confidence (P(the answer contains the answer), qa.answering.sentence_scoring)
# are tagged "likely", those below "uncertain": a quiet hint, not a score to read closely.
LIKELY_CONFIDENCE = 0.5
CONFIDENCE_LEGEND = (
    "“likely” / “uncertain” after an answer: the model's estimate of whether the quoted sentences "
    "contain the answer (hover for the percentage). A hint, not a verdict: check the source either way."
)
_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)
# A Markdown ATX heading's marks: the opening run of 1-6 "#" (and an optional closing run).
# Passages are exact document text, so a heading arrives as "# Title"; cards show "Title".
_HEADING_MARKS = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+|$)|[ \t]+#+[ \t]*$", re.MULTILINE)
_MARKERS = re.compile(r" \[\d+\](?= |$)")  # the " [n]" markers `Answer.text` carries
_HEADING_LINE = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]|$)")


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
    short = answer.short_answer
    titles = {c.number: c.title for c in answer.citations}
    parts = [
        highlight(s.text, s.start, (), heading_marks(s.text), _short_span(short, s.doc_id, s.citation))
        for s in sentences
    ]
    links = [citation_link(turn, s.citation, titles.get(s.citation, "")) for s in sentences]
    # The last marker and the confidence tag stay together: the tag never wraps onto a line alone.
    links[-1] = f'<span class="qa-tail">{links[-1]}{confidence_html(answer.confidence)}</span>'
    body = " ".join(f"{part} {link}" for part, link in zip(parts, links))
    return f'<div class="qa-answer"><p>{body}</p></div>'


def citation_link(turn: int, number: int, title: str) -> str:
    """The `[n]` link after a quoted sentence. Its title, "Source 1: <document title>" (escaped),
    becomes its accessible name in the page (`PAGE_JS`: the chat's sanitizer drops an
    `aria-label` written here); Enter or a click moves the focus onto the card."""
    name = escape(f"Source {number}: {title}" if title else f"Source {number}", quote=True)
    return f'<a class="qa-cite" href="#{anchor(turn, number)}" title="{name}">[{number}]</a>'


def _short_span(short: "ShortAnswer | None", doc_id: str, number: int) -> Span | None:
    """The short answer's document span where it belongs to citation `number` of `doc_id`."""
    if short is None or short.doc_id != doc_id or short.number != number:
        return None
    return (short.start, short.end)


def confidence_html(confidence: float) -> str:
    """The small "likely" / "uncertain" tag after an answer; its tooltip gives the percentage,
    and a screen reader hears what the word means before it (`CONFIDENCE_LEGEND` explains it on
    the page).

    Why a word and not the number: the probability is calibrated on SQuAD-like questions, so
    it is a fair hint of whether to check the source, not a precise figure for every corpus.
    """
    likely = confidence >= LIKELY_CONFIDENCE
    word = "likely" if likely else "uncertain"
    percent = round(100 * confidence)
    tip = f"Estimated chance that this answer contains the answer: {percent}%"
    spoken = f"Confidence, an estimated {percent}% chance that this answer contains the answer: "
    return (
        f' <span class="qa-confidence qa-{word}" title="{escape(tip, quote=True)}">'
        f'<span class="qa-sr-only">{escape(spoken)}</span>{escape(word)}</span>'
    )


def message_html(message: str, kind: str = "error") -> str:
    """A short notice in the chat (an error, or a hint), escaped.

    An error is marked as one (icon, colour, `role="alert"`) so it is never mistaken for an
    answer; the page hides the thumbs up/down of a reply that holds `.qa-error` (see `CSS`).
    """
    kind_class = escape(kind, quote=True)
    if kind != "error":
        return f'<div class="qa-notice qa-{kind_class}">{text_html(message)}</div>'
    return (
        f'<div class="qa-notice qa-{kind_class}" role="alert"><span class="qa-error-icon" aria-hidden="true">'
        f"\u26a0</span> <b>Not answered:</b> {text_html(message)}</div>"
    )


def _thousands(number: int) -> str:
    return f"{number:,}"


def question_count_html(length: int, limit: int = MAX_QUESTION_CHARS) -> str:
    """The counter under the question box: '12 / 2,000 characters', or a warning past the limit.

    `COUNTER_JS` renders the same markup in the browser as the user types; this is the state
    the page starts in (and the one a cleared box returns to).
    """
    if length > limit:
        return (
            f'<div class="qa-count qa-over" data-chars="{length}" role="alert">{_thousands(length)} / '
            f"{_thousands(limit)} characters: too long to ask; shorten it by {_thousands(length - limit)}.</div>"
        )
    return f'<div class="qa-count" data-chars="{length}">{_thousands(length)} / {_thousands(limit)} characters</div>'


def question_refused_html(reason: str, length: int | None = None, limit: int = MAX_QUESTION_CHARS) -> str:
    """What the counter says when the library refused a question (`reason`, its one line): it
    was not sent, and it stays in the box, whole, to be mended (nothing is cut mid-word).
    `length`: the question's length when it was refused for being over `limit`."""
    if length is None:
        return f'<div class="qa-count qa-over qa-refused" role="alert">Not asked: {text_html(reason)}.</div>'
    return (
        f'<div class="qa-count qa-over qa-refused" data-chars="{length}" role="alert">Not asked: the question '
        f"is {_thousands(length)} characters long; the limit is {_thousands(limit)}. Shorten it by "
        f"{_thousands(length - limit)} characters and ask again.</div>"
    )


def _merged(spans: Iterable[Span]) -> list[Span]:
    """Spans sorted, with overlapping or touching ones joined."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _covers(spans: Sequence[Span], at: int) -> bool:
    return any(start <= at < end for start, end in spans)


def heading_marks(text: str) -> list[Span]:
    """Where `text` holds Markdown heading marks ("# ", closing " ##"), as offsets into `text`.

    Only lines that are headings count, so "#1 hit" or "C#" in prose stay as they are.
    """
    marks: list[Span] = []
    at = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if _HEADING_LINE.match(body):
            marks += [(at + m.start(), at + m.end()) for m in _HEADING_MARKS.finditer(body) if m.end() > m.start()]
        at += len(line)
    return marks


def highlight(
    text: str, base: int, spans: Iterable[Span], hidden: Iterable[Span] = (), strong: Span | None = None
) -> str:
    """`text` (which starts at document offset `base`) escaped, with `spans` in `<mark>` and
    the document span `strong` (the reader's short answer) in `<strong class="qa-short">`.

    Spans are document offsets; the parts outside `text` are ignored, overlaps merged.
    `hidden` (offsets into `text`, not the document) are left out of the output: Markdown
    heading marks, so a card reads like the document rather than its source.

        >>> highlight("The backstop stays.", 100, [(100, 119)], strong=(104, 112))
        '<mark>The <strong class="qa-short">backstop</strong> stays.</mark>'
    """
    marks = _inside(text, base, spans)
    bold = _inside(text, base, [strong] if strong else [])
    skip = _merged(hidden)
    cuts = sorted({0, len(text), *(x for span in (*marks, *bold, *skip) for x in span)})
    out, marking = [], False
    for start, end in zip(cuts, cuts[1:]):
        if _covers(skip, start):
            continue
        inside = _covers(marks, start)
        if inside != marking:
            out.append("<mark>" if inside else "</mark>")
            marking = inside
        piece = text_html(text[start:end])
        out.append(f'<strong class="qa-short">{piece}</strong>' if _covers(bold, start) else piece)
    if marking:
        out.append("</mark>")
    return "".join(out)


def _inside(text: str, base: int, spans: Iterable[Span]) -> list[Span]:
    """Document spans as merged offsets into `text`, those outside it left out."""
    return _merged(
        (max(start - base, 0), min(end - base, len(text)))
        for start, end in spans
        if end > base and start < base + len(text) and end > start
    )


def paragraphs_text(paragraphs: Sequence[int], first: int | None = None) -> str:
    """'paragraph 6', 'paragraphs 2 and 4', 'paragraphs 2–4', 'paragraphs 1, 3–5 and 7'.

    Consecutive numbers are shown as a range; `first` stands in when `paragraphs` is empty
    (a citation made before `Citation.paragraphs` existed).
    """
    return numbers_text(paragraphs, first, "paragraph")


def pages_text(pages: Sequence[int], first: int | None = None) -> str:
    """'page 3', 'pages 3 and 4', 'pages 2–5'; "" when the document has no pages."""
    return numbers_text(pages, first, "page") if pages or first else ""


def numbers_text(values: Sequence[int], first: int | None, noun: str) -> str:
    """`noun` with `values` as in `paragraphs_text` (the plural adds an "s")."""
    numbers = sorted(set(values)) or ([first] if first is not None else [])
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    parts: list[str] = []
    for a, b in runs:  # two neighbours read better as "2 and 3" than as "2–3"
        parts += [str(a)] if a == b else [str(a), str(b)] if b == a + 1 else [f"{a}\u2013{b}"]
    if len(parts) == 1:
        return f"{noun} {parts[0]}" if len(numbers) == 1 else f"{noun}s {parts[0]}"
    return f"{noun}s " + ", ".join(parts[:-1]) + " and " + parts[-1]


def source_html(source: str) -> str:
    """A document's source: a link when it is an http(s) URL, escaped text otherwise."""
    if _URL.match(source.strip()):
        url = escape(source.strip(), quote=True)
        return f'<a href="{url}" target="_blank" rel="noopener noreferrer nofollow">{escape(source.strip())}</a>'
    return escape(source)


def place_html(citation: "Citation") -> str:
    """Where the quote is in the original, escaped: 'page 3 · section “Results” · ' (the
    parts the document has), or "" when it has neither pages nor headings."""
    parts = []
    pages = pages_text(citation.pages, citation.page)
    if pages:
        parts.append(f'<span class="qa-page">{pages}</span>')
    if citation.section:
        parts.append(f'<span class="qa-section">section “{escape(citation.section)}”</span>')
    return "".join(f"{part} · " for part in parts)


def original_link(citation: "Citation", url: str) -> str:
    """A link to the stored original at `url`, opened at the quote's page (`#page=N`, which
    PDF viewers follow) when it has one."""
    target = f"{url}#page={citation.page}" if citation.page else url
    label = f"open the original at page {citation.page}" if citation.page else "open the original"
    return (
        f' · <a class="qa-original" href="{escape(target, quote=True)}" target="_blank" '
        f'rel="noopener noreferrer">{label}</a>'
    )


def citation_card(
    citation: "Citation",
    passage: "Passage | None",
    turn: int,
    original: str | None = None,
    short: "ShortAnswer | None" = None,
) -> str:
    """A source card: title, source, page and section (where the document has them),
    paragraph, character span and the passage with the quoted sentences (`citation.spans`,
    exact document offsets) highlighted. `original`: the URL the stored original file is
    served at (uploads), linked from the card; `short`: the answer's short answer, in bold
    when it is this citation's."""
    bold = _short_span(short, citation.doc_id, citation.number)
    if passage is not None and passage.chunk_id == citation.chunk_id:
        body = highlight(passage.text, passage.start, citation.spans, heading_marks(passage.text), bold)
    else:  # no passage text at hand: the quote itself is all highlighted
        body = highlight(
            citation.quote, citation.start, [(citation.start, citation.end)], heading_marks(citation.quote), bold
        )
    spans = ", ".join(f"{start}:{end}" for start, end in citation.spans)
    name = escape(f"Source {citation.number} of answer {turn}: {citation.title}", quote=True)
    # Focusable by script only (tabindex -1): Enter on its [n] moves focus here, Escape or
    # "Back to the answer" (shown while the card is open) returns it to the [n] (`PAGE_JS`).
    return (
        f'<div class="qa-source" id="{anchor(turn, citation.number)}" data-doc="{escape(citation.doc_id, quote=True)}" '
        f'role="group" aria-label="{name}" tabindex="-1">'
        f'<div class="qa-source-head"><span class="qa-num">[{citation.number}]</span> '
        f'<span class="qa-title">{escape(citation.title)}</span>'
        '<button type="button" class="qa-back"><span aria-hidden="true">↩ </span>Back to the answer</button></div>'
        f'<div class="qa-meta">{source_html(citation.source)} · {place_html(citation)}'
        f'{paragraphs_text(citation.paragraphs, citation.paragraph)} · '
        f'characters <code>{spans}</code>{original_link(citation, original) if original else ""}</div>'
        f'<blockquote class="qa-passage">{body}</blockquote></div>'
    )


def passage_card(passage: "Passage") -> str:
    """A retrieved but uncited passage, plain (no highlight)."""
    return (
        f'<div class="qa-source qa-retrieved"><div class="qa-source-head">'
        f'<span class="qa-title">{escape(passage.title)}</span></div>'
        f'<div class="qa-meta">{source_html(passage.source)} · paragraph {passage.paragraph} · '
        f"characters <code>{passage.start}:{passage.end}</code> · score {passage.score:.2f}</div>"
        f'<blockquote class="qa-passage">{highlight(passage.text, passage.start, (), heading_marks(passage.text))}'
        "</blockquote></div>"
    )


def sources_html(answer: "Answer", turn: int, originals: Mapping[str, str] | None = None) -> str:
    """The sources of one answer: a card per citation, then the other retrieved passages
    in a collapsed "also retrieved" section. An abstained answer shows no sources.
    `originals`: doc id -> URL of its stored original, for the documents that have one."""
    head = f'<div class="qa-sources" data-turn="{turn}"><div class="qa-sources-q">{escape(answer.question)}</div>'
    if answer.abstained or not answer.citations:
        return f'{head}<p class="qa-none">{escape(NO_SOURCES)}</p></div>'
    by_chunk = {p.chunk_id: p for p in answer.passages}
    originals = originals or {}
    cards = [
        citation_card(c, by_chunk.get(c.chunk_id), turn, originals.get(c.doc_id), answer.short_answer)
        for c in answer.citations
    ]
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


def live_text(answer: "Answer", turn: int) -> str:
    """What the page's live region announces when answer `turn` is complete: its sentences
    without the `[n]` markers, and how many sources it has (plain text; `live_html` escapes)."""
    if answer.abstained or not answer.citations:
        return f"Answer {turn}: {answer.text}"
    count = len(answer.citations)
    spoken = _MARKERS.sub("", answer.text).strip()
    return f"Answer {turn}: {spoken} ({count} source{'s' if count != 1 else ''}, listed under Sources.)"


def live_html(text: str) -> str:
    """The live region's content (`PAGE_JS` makes its container a polite `role="status"`)."""
    return f'<p class="qa-live-text">{text_html(text)}</p>' if text else ""


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


# Counts what the user typed as Python will (code points, surrounding blanks stripped), so the
# counter and the server's check agree. Runs in the browser on every change of the question box.
COUNTER_JS = f"""
(question) => {{
    const length = [...(question || "").trim()].length;
    const limit = {MAX_QUESTION_CHARS};
    const n = (x) => x.toLocaleString("en-US");
    if (length > limit) {{
        return `<div class="qa-count qa-over" data-chars="${{length}}" role="alert">${{n(length)}} / ${{n(limit)}} ` +
            `characters: too long to ask; shorten it by ${{n(length - limit)}}.</div>`;
    }}
    return `<div class="qa-count" data-chars="${{length}}">${{n(length)}} / ${{n(limit)}} characters</div>`;
}}
"""
