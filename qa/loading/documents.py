"""Files on disk -> `Document`s: decoded text, title, source and paragraph spans.

Every later offset (chunks, sentences, citations) points into `Document.text`, so this module
never rewrites the text of a plain-text file: boilerplate lines such as "Photo credit: …" are
left in the text but kept out of `Document.paragraphs`, which is all that gets indexed.

    >>> result = load_documents(["seeds/"])
    >>> doc = result.documents[0]
    >>> start, end = doc.paragraphs[0]
    >>> doc.text[start:end][:22]
    'UK Prime Minister Sir '

Formats: `.txt`, `.md`, `.html`/`.htm`, `.pdf` (pypdf) and `.docx` (python-docx). For HTML, PDF
and DOCX the text is what the parser extracts, paragraphs joined by blank lines; offsets point
into that extracted text.

Where a reader finds a paragraph in the original: `Document.pages` (PDF: the 1-based page each
paragraph was read from; a paragraph never spans pages) and `Document.sections` (the heading
each paragraph comes under: Markdown `#` lines, HTML h1-h6, DOCX "Heading"/"Title" styles).

Per-file limits (`qa.loading.file_limits.FileLimits`): a PDF of more than `MAX_PDF_PAGES` pages is
refused whole; parsing that runs past `PARSE_SECONDS` is abandoned with a reason, checked by
the extractors as they go (`qa.loading.file_limits.Deadline`). One parser call that never returns to the loop (lxml parsing one huge
HTML page, pypdf reading one page) is bounded by the size limits instead: `MAX_FILE_BYTES`,
`qa.loading.formats.MAX_DOCX_UNCOMPRESSED`, and pypdf's own caps on decompressed streams.
"""

from __future__ import annotations

import bisect
import codecs
import hashlib
import json
import re
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path

from qa.loading.file_limits import (  # noqa: F401  (FileLimits, UnreadableFile: part of this module's interface)
    MAX_FILE_BYTES,
    Deadline,
    FileLimits,
    UnreadableFile,
)
from qa.loading.formats import extract_docx, extract_html, extract_pdf

Span = tuple[int, int]

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}
SIDECAR_SUFFIX = ".meta.json"
# A section heading longer than this is shortened (an HTML "heading" can be a whole paragraph).
MAX_SECTION_CHARS = 200

# Decoding order for text files: UTF-8 (a BOM is dropped), then Windows-1252, which covers most
# legacy Western files; Latin-1 as the last resort never fails, so nothing is lost.
FALLBACK_ENCODINGS = ("cp1252", "latin-1")


@dataclass(frozen=True)
class Document:
    """One loaded file. `paragraphs` are (start, end) spans of content in `text`."""

    doc_id: str
    title: str
    source: str
    path: str
    text: str
    paragraphs: tuple[Span, ...]
    content_hash: str
    encoding: str = "utf-8"
    # Per paragraph, parallel to `paragraphs`; empty when the format has none.
    pages: tuple[int, ...] = ()  # 1-based page number (PDF), 0 = unknown
    sections: tuple[str, ...] = ()  # the heading the paragraph comes under, "" = none

    def __post_init__(self) -> None:
        for name in ("pages", "sections"):
            values = getattr(self, name)
            if values and len(values) != len(self.paragraphs):
                raise ValueError(f"{name} has {len(values)} entries for {len(self.paragraphs)} paragraphs")

    def paragraph_text(self, number: int) -> str:
        """The text of paragraph `number` (1-based, as shown in citations)."""
        start, end = self.paragraphs[number - 1]
        return self.text[start:end]

    def page(self, number: int) -> int | None:
        """The page paragraph `number` (1-based) is on, or None when unknown."""
        page = self.pages[number - 1] if self.pages else 0
        return page or None

    def section(self, number: int) -> str | None:
        """The heading paragraph `number` (1-based) comes under, or None."""
        return (self.sections[number - 1] if self.sections else "") or None


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(name: str) -> str:
    """A file name with control characters (a newline, an escape) shown as \\xNN, so that a
    hostile name cannot break a line of output or a table.

    >>> printable("a\nb.txt")
    'a\\x0ab.txt'
    """
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", name)


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed and the one-line reason; the manifest keeps them, so
    `Index.skipped` and the CLI can tell the user what is missing and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"skipped {printable(self.path)}: {self.reason}"


@dataclass(frozen=True)
class LoadResult:
    """What `load_documents` read: the documents, and the files it skipped instead of raising."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)




@dataclass(frozen=True)
class _Metadata:
    title: str | None = None
    source: str | None = None


def load_documents(paths: list[str | Path] | str | Path, limits: FileLimits = FileLimits()) -> LoadResult:
    """Load files and directories (walked recursively, in sorted order).

    Unsupported, unreadable, binary or empty files are reported in `LoadResult.skipped`
    with a one-line reason; nothing raises for a bad file. Side-car `*.meta.json` files are
    read as metadata of the file with the same stem, never as documents.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    result = LoadResult()
    used_ids: set[str] = set()
    for file in find_files(paths, result.skipped):
        try:
            document = load_file(file, limits=limits)
        except UnreadableFile as error:
            result.skipped.append(SkippedFile(str(file), str(error)))
            continue
        except Exception as error:  # noqa: BLE001 - parsers raise anything; one bad file is one skipped file
            result.skipped.append(SkippedFile(str(file), f"could not be read ({_one_line(error)})"))
            continue
        doc_id = unique_doc_id(document.doc_id, used_ids)
        used_ids.add(doc_id)
        if doc_id != document.doc_id:
            document = _with_id(document, doc_id)
        result.documents.append(document)
    return result


def _one_line(error: Exception, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or "no detail"
    return f"{type(error).__name__}: {text[:limit]}"


def load_file(path: str | Path, doc_id: str | None = None, limits: FileLimits = FileLimits()) -> Document:
    """Load one file; raises `UnreadableFile` with a one-line reason, whatever the parser
    raised (lxml's XMLSyntaxError for a damaged .docx, say): uploads call this directly."""
    try:
        return _load_file(path, doc_id, limits)
    except UnreadableFile as error:
        reason = _short_reason(str(error))
        if reason == str(error):
            raise
        raise UnreadableFile(reason) from None  # a parser's message quoted whole (raw bytes, lines)
    except Exception as error:  # noqa: BLE001 - parsers raise anything; one bad file is one reason
        raise UnreadableFile(f"could not be read ({_one_line(error)})") from None


# The longest reason a skipped file is given (a parser's message can quote kilobytes of bytes).
MAX_REASON_CHARS = 240


def _short_reason(reason: str) -> str:
    """`reason` on one line, cut to MAX_REASON_CHARS with "…" when longer."""
    line = " ".join(reason.split()) or "no detail"
    return line if len(line) <= MAX_REASON_CHARS else line[: MAX_REASON_CHARS - 1] + "…"


def _load_file(path: str | Path, doc_id: str | None, limits: FileLimits) -> Document:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableFile(f"unsupported file type {suffix or '(none)'!r}")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableFile(f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
        raw = path.read_bytes()
    except OSError as error:
        raise UnreadableFile(f"cannot read: {error.strerror or error}") from None
    if not raw.strip():
        raise UnreadableFile("file is empty")
    meta_raw, meta = _read_sidecar(path)
    deadline = Deadline.after(limits.parse_seconds)
    pages: tuple[int, ...] = ()
    sections: tuple[str, ...] = ()
    if suffix in TEXT_SUFFIXES:
        if b"\x00" in raw[:8192] and _bom_decoded(raw) is None:
            raise UnreadableFile("looks binary (contains NUL bytes), not text")
        text, encoding = decode_text(raw)
        paragraphs, boilerplate = _text_paragraphs(text)
        markdown = suffix != ".txt"
        title = meta.title or _text_title(text, paragraphs, markdown=markdown)
        source = meta.source or boilerplate.source or path.name
        if markdown:
            sections = markdown_sections(text, paragraphs)
    else:
        encoding = "utf-8"
        if suffix in HTML_SUFFIXES:
            extracted = extract_html(decode_text(raw)[0], deadline)
        elif suffix == ".pdf":
            extracted = extract_pdf(raw, deadline, limits.pdf_pages)
        else:
            extracted = extract_docx(raw, deadline)
        text, paragraphs = join_paragraphs(extracted.paragraphs)
        title = meta.title or extracted.title or _text_title(text, paragraphs, markdown=False)
        source = meta.source or extracted.source or path.name
        pages, sections = extracted.pages, extracted.sections
    deadline.check()
    if not paragraphs:
        raise UnreadableFile("no text content found")
    return Document(
        doc_id=doc_id or slug(path.stem),
        title=title or path.stem,
        source=source,
        path=str(path),
        text=text,
        paragraphs=tuple(paragraphs),
        content_hash=hashlib.sha256(raw + meta_raw).hexdigest(),  # == file_fingerprint(path)
        encoding=encoding,
        pages=pages if any(pages) else (),
        sections=tuple(shorten(s, MAX_SECTION_CHARS) for s in sections) if any(sections) else (),
    )


# Byte order marks of UTF-32 and UTF-16 (Notepad's "Unicode"), UTF-32 first: its
# little-endian mark begins with UTF-16's.
_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)


def _bom_decoded(raw: bytes) -> tuple[str, str] | None:
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
    decoded = _bom_decoded(raw)
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


def join_paragraphs(paragraphs: list[str]) -> tuple[str, list[Span]]:
    """Join extracted paragraphs with blank lines and return the text and their spans."""
    spans: list[Span] = []
    parts: list[str] = []
    offset = 0
    for paragraph in paragraphs:
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(paragraph)
        spans.append((offset, offset + len(paragraph)))
        offset += len(paragraph)
    return "".join(parts), spans


def slug(name: str) -> str:
    """A doc id from a file name: lower-case letters, digits, '-', '_' and '.'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.").lower()
    return cleaned[:80] or "document"


def unique_doc_id(doc_id: str, taken: Container[str]) -> str:
    """`doc_id`, or `doc_id~2`, `doc_id~3` … when another file already has that id."""
    candidate, n = doc_id, 1
    while candidate in taken:
        n += 1
        candidate = f"{doc_id}~{n}"
    return candidate


def _with_id(document: Document, doc_id: str) -> Document:
    from dataclasses import replace

    return replace(document, doc_id=doc_id)


def find_files(paths: list[str | Path], skipped: list[SkippedFile] | None = None) -> list[Path]:
    """The files `load_documents` would try, in its order; missing paths go to `skipped`."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.name.endswith(SIDECAR_SUFFIX):
                    continue
                if any(part.startswith(".") for part in file.relative_to(path).parts):
                    if skipped is not None:
                        skipped.append(SkippedFile(str(file), "hidden (its name or folder starts with a dot)"))
                    continue
                files.append(file)
        elif path.is_file():
            files.append(path)
        elif skipped is not None:
            skipped.append(SkippedFile(str(path), "no such file or directory"))
    return files


def file_fingerprint(path: Path) -> str:
    """The `content_hash` a `Document` loaded from `path` would get (file plus side-car)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return "unreadable"
    return hashlib.sha256(raw + _read_sidecar(path)[0]).hexdigest()


def _read_sidecar(path: Path) -> tuple[bytes, _Metadata]:
    """Optional `<stem>.meta.json` beside the file: {"title": ..., "source": ...}."""
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return b"", _Metadata()
    raw = sidecar.read_bytes()
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw, _Metadata()
    if not isinstance(data, dict):
        return raw, _Metadata()
    title, source = data.get("title"), data.get("source")
    return raw, _Metadata(
        title=title if isinstance(title, str) and title.strip() else None,
        source=source if isinstance(source, str) and source.strip() else None,
    )


# --- plain text and Markdown -------------------------------------------------------------

_CREDIT_LINE = re.compile(r"^\s*(photo|image|picture)\s+credit\s*:\s*(?P<source>.*?)\s*$", re.I)
_SOURCE_LABEL = re.compile(r"^\s*sources?\s*:?\s*$", re.I)
_SOURCE_INLINE = re.compile(r"^\s*sources?\s*:\s*(?P<source>\S.*?)\s*$", re.I)


@dataclass(frozen=True)
class _Boilerplate:
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


def _text_paragraphs(text: str) -> tuple[list[Span], _Boilerplate]:
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
    return spans, _Boilerplate(source=source)


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


def _text_title(text: str, paragraphs: list[Span], markdown: bool) -> str:
    """A heading if there is one, else the first sentence of the first paragraph that is not a
    credit line, byline or timestamp, without a leading dateline, shortened.

        >>> _text_title("Photo credit: x.com\nLONDON (Reuters) - Rates rose. More.", [(0, 19), (20, 56)], False)
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
