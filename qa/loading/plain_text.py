"""The .txt and .md converter: bytes -> text in the right encoding, its paragraphs, the
boilerplate lines around a saved article, Markdown section headings, and a title from the first
lines when a file has none (`qa.loading.documents` calls it as `qa.loading.formats` for HTML,
PDF and DOCX).

    >>> decode_text("café".encode("cp1252"))
    ('café', 'cp1252')
"""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass

Span = tuple[int, int]
# A section heading longer than this is shortened (an HTML "heading" can be a whole paragraph).
MAX_SECTION_CHARS = 200

# Decoding order for text files: UTF-8 (a BOM is dropped), then Windows-1252, which covers most
# legacy Western files; Latin-1 as the last resort never fails, so nothing is lost.
FALLBACK_ENCODINGS = ("cp1252", "latin-1")


# Byte order marks of UTF-32 and UTF-16 (Notepad's "Unicode"), UTF-32 first: its
# little-endian mark begins with UTF-16's.
_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def bom_decoded(raw: bytes) -> tuple[str, str] | None:
    """(text, encoding) of bytes that start with a UTF-16/32 byte order mark and decode
    without a NUL in that encoding (the mark is dropped), else None."""
    for bom, encoding in _UNICODE_BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError:
                return None
            return (text, encoding) if "\x00" not in text else None
    return None


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8, falling back to cp1252 then latin-1. Returns (text, encoding).

    A UTF-16 or UTF-32 byte order mark is honoured first.
    """
    decoded = bom_decoded(raw)
    if decoded is not None:
        return decoded
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding in FALLBACK_ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


# --- plain text and Markdown -------------------------------------------------------------

_CREDIT_LINE = re.compile(r"^\s*(photo|image|picture)\s+credit\s*:\s*(?P<source>.*?)\s*$", re.I)
_SOURCE_LABEL = re.compile(r"^\s*sources?\s*:?\s*$", re.I)
_SOURCE_INLINE = re.compile(r"^\s*sources?\s*:\s*(?P<source>\S.*?)\s*$", re.I)


@dataclass(frozen=True)
class Boilerplate:
    """What the lines around a saved article said about it: its source (a credit line or "Source: ...")."""

    source: str | None


def _line_spans(text: str) -> list[Span]:
    spans, offset = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans.append((offset, offset + len(body)))
        offset += len(line)
    return spans


def _strip_span(text: str, span: Span) -> Span:
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def text_paragraphs(text: str) -> tuple[list[Span], Boilerplate]:
    """Paragraph spans of a text file, without credit/source boilerplate lines.

    Paragraphs are blank-line separated blocks when the file has blank lines, otherwise one
    paragraph per line (news articles saved one paragraph per line).
    """
    lines = [_strip_span(text, span) for span in _line_spans(text)]
    source: str | None = None
    nonempty = [i for i, (s, e) in enumerate(lines) if e > s]
    drop: set[int] = set()
    if nonempty:
        first = nonempty[0]
        match = _CREDIT_LINE.match(text[lines[first][0] : lines[first][1]])
        if match:
            drop.add(first)
            source = match.group("source") or None
    if len(nonempty) >= 2:
        label, value = nonempty[-2], nonempty[-1]
        if _SOURCE_LABEL.match(text[lines[label][0] : lines[label][1]]):
            drop.update({label, value})
            source = text[lines[value][0] : lines[value][1]]
    if nonempty and nonempty[-1] not in drop:
        match = _SOURCE_INLINE.match(text[lines[nonempty[-1]][0] : lines[nonempty[-1]][1]])
        if match:
            drop.add(nonempty[-1])
            source = match.group("source")

    blocks: list[list[int]] = [[]]
    has_blank_lines = any(e == s for s, e in lines[nonempty[0] : nonempty[-1]]) if nonempty else False
    for i, (s, e) in enumerate(lines):
        if e == s or i in drop:
            if blocks[-1]:
                blocks.append([])
            continue
        if not has_blank_lines and blocks[-1]:
            blocks.append([])
        blocks[-1].append(i)
    spans = [(lines[b[0]][0], lines[b[-1]][1]) for b in blocks if b]
    return spans, Boilerplate(source=source)


_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>.+?)\s*#*\s*$")
# A fenced code block's opening or closing line: "#" lines inside it are code, not headings.
_MD_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def markdown_sections(text: str, paragraphs: list[Span]) -> tuple[str, ...]:
    """Per paragraph, the last Markdown ATX heading (`# …` to `###### …`) at or before its
    start, outside fenced code blocks; "" before the first heading.

    >>> markdown_sections("# A\n\nx\n\n## B\ny", [(0, 3), (5, 6), (8, 14)])
    ('A', 'A', 'B')
    """
    starts: list[int] = []
    titles: list[str] = []
    fenced = False
    for start, end in _line_spans(text):
        line = text[start:end]
        if _MD_FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _MD_HEADING.match(line)
        if match:
            starts.append(start + len(line) - len(line.lstrip()))
            titles.append(" ".join(match.group("title").split()))
    sections = []
    for start, _ in paragraphs:
        at = bisect.bisect_right(starts, start)
        sections.append(titles[at - 1] if at else "")
    return tuple(sections)


# News saved as text often opens with lines that name no content: a photo credit, a byline, a
# timestamp. Such a paragraph (at most `CREDIT_LINE_CHARS` long) is not taken for the title.
CREDIT_LINE_CHARS = 120
_NO_TITLE_LINE = re.compile(
    r"""^(?:
        (?:photo|image|picture|video|illustration)s?\s*(?:credit|courtesy|by)?s?\s*[:\-–—]
      | credits?\s*:
      | source\s*:
      | copyright\b | © | \(c\)\s
      | by\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+)+\s*(?:[,|]|$)
      | (?:updated|published|posted|last\s+modified)\b
      | (?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?
        (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}\s*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# A dateline before the first sentence: "New York (CNN Business) —", "LONDON (Reuters) -",
# "CNN —", "WASHINGTON —". A name in Title Case followed by a dash is left alone ("Sir Keir
# Starmer — the prime minister — said"): only an outlet in brackets or a word in capitals
# marks a dateline.
_DATELINE = re.compile(
    r"""^(?:
        (?:[A-Z][\w.'’]*(?:[ ,]+[A-Z][\w.'’]*){0,3}\s*)?\([A-Z][^()]{0,38}\)\s*[—–-]{1,2}
      | [A-Z][A-Z.&'’]+(?:[ ,]+[A-Z][A-Z.&'’]+){0,3}\s*(?:[—–]|\s-{1,2})
    )\s*""",
    re.VERBOSE,
)
# Where a title's first sentence ends: a stop, then a capital or an opening quote ("U.S. stocks
# rose" stays whole).
_FIRST_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“‘'(])")
# Paragraphs looked at for a title before giving up on skipping credit lines.
TITLE_PARAGRAPHS = 5


def text_title(text: str, paragraphs: list[Span], markdown: bool) -> str:
    """A heading if there is one, else the first sentence of the first paragraph that is not a
    credit line, byline or timestamp, without a leading dateline, shortened.

        >>> text_title("Photo credit: x.com\nLONDON (Reuters) - Rates rose. More.", [(0, 19), (20, 56)], False)
        'Rates rose.'
    """
    if not paragraphs:
        return ""
    if markdown:
        for start, end in paragraphs:
            match = _MD_HEADING.match(text[start:end].splitlines()[0])
            if match:
                return match.group("title")
    for start, end in paragraphs[:TITLE_PARAGRAPHS]:
        paragraph = " ".join(text[start:end].split())
        if len(paragraph) <= CREDIT_LINE_CHARS and _NO_TITLE_LINE.match(paragraph):
            continue
        content = _DATELINE.sub("", paragraph, count=1)
        if content:
            return shorten(_FIRST_SENTENCE_END.split(content, maxsplit=1)[0], 90)
    start, end = paragraphs[0]
    first = " ".join(text[start:end].split())
    return shorten(_FIRST_SENTENCE_END.split(first, maxsplit=1)[0], 90)


def shorten(text: str, limit: int) -> str:
    """Cut `text` at a word boundary to at most `limit` characters, adding '…' if cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:—-")
    return cut + "…"
