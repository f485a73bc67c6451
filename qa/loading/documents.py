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
each paragraph comes under: Markdown `#` lines, HTML h1-h6, DOCX "Heading"/"Title" styles,
PDF lines in a larger font or standing alone above a paragraph; a heading is a paragraph of
its own, never glued to the sentence after it).

Only regular files are read (`qa.loading.regular_files`): a FIFO, socket or device, or a link to
one, is skipped with its reason, never opened for reading (an open FIFO blocks). Per-file limits
(`qa.loading.file_limits.FileLimits`): `MAX_FILE_BYTES` per file; a PDF of more than
`MAX_PDF_PAGES` pages is refused whole; HTML, PDF and DOCX are parsed in a child process
(`qa.loading.parsing`) killed past `PARSE_SECONDS` and limited to `PARSE_MEMORY_MB`, so even a
parser call that never returns costs one skipped file and at most the time limit.
"""

from __future__ import annotations

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
    error_line,
)
from qa.loading.formats import Extracted
from qa.loading.parsing import parse_file
from qa.loading.plain_text import (
    MAX_SECTION_CHARS,
    bom_decoded,
    decode_text,
    markdown_sections,
    shorten,
    text_paragraphs,
    text_title,
)
from qa.loading.regular_files import file_problem, hash_regular_file, read_regular_file

Span = tuple[int, int]

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".docx"}
SIDECAR_SUFFIX = ".meta.json"


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


def load_documents(paths: list[str | Path] | str | Path, limits: FileLimits | None = None) -> LoadResult:
    """Load files and directories (walked recursively, in sorted order).

    Unsupported, unreadable, binary or empty files are reported in `LoadResult.skipped`
    with a one-line reason; nothing raises for a bad file. Side-car `*.meta.json` files are
    read as metadata of the file with the same stem, never as documents. FIFOs, sockets and
    devices are skipped with their reason; `limits` (default `FileLimits()`) bound each file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    limits = limits or FileLimits()
    result = LoadResult()
    used_ids: set[str] = set()
    for file in find_files(paths, result.skipped):
        try:
            document = load_file(file, limits=limits)
        except UnreadableFile as error:
            result.skipped.append(SkippedFile(str(file), str(error)))
            continue
        except Exception as error:  # noqa: BLE001 - parsers raise anything; one bad file is one skipped file
            result.skipped.append(SkippedFile(str(file), f"could not be read ({error_line(error)})"))
            continue
        doc_id = unique_doc_id(document.doc_id, used_ids)
        used_ids.add(doc_id)
        if doc_id != document.doc_id:
            document = _with_id(document, doc_id)
        result.documents.append(document)
    return result


def load_file(path: str | Path, doc_id: str | None = None, limits: FileLimits | None = None) -> Document:
    """Load one file; raises `UnreadableFile` with a one-line reason, whatever the parser
    raised (lxml's XMLSyntaxError for a damaged .docx, say), and when it is not a regular file
    or its parse passed a limit of `limits` (default `FileLimits()`): uploads call this directly."""
    try:
        return _load_file(path, doc_id, limits or FileLimits())
    except UnreadableFile as error:
        reason = _short_reason(str(error))
        if reason == str(error):
            raise
        raise UnreadableFile(reason) from None  # a parser's message quoted whole (raw bytes, lines)
    except Exception as error:  # noqa: BLE001 - parsers raise anything; one bad file is one reason
        raise UnreadableFile(f"could not be read ({error_line(error)})") from None


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
    raw = read_regular_file(path, MAX_FILE_BYTES)
    if not raw.strip():
        raise UnreadableFile("file is empty")
    meta_raw, meta = _read_sidecar(path)
    deadline = Deadline.after(limits.parse_seconds)
    pages: tuple[int, ...] = ()
    sections: tuple[str, ...] = ()
    if suffix in TEXT_SUFFIXES:
        if b"\x00" in raw[:8192] and bom_decoded(raw) is None:
            raise UnreadableFile("looks binary (contains NUL bytes), not text")
        text, encoding = decode_text(raw)
        paragraphs, boilerplate = text_paragraphs(text)
        markdown = suffix != ".txt"
        title = meta.title or text_title(text, paragraphs, markdown=markdown)
        source = meta.source or boilerplate.source or path.name
        if markdown:
            sections = markdown_sections(text, paragraphs)
    else:
        encoding = "utf-8"
        extracted: Extracted = parse_file(suffix, raw, limits)  # in a child process, killed at the limits
        text, paragraphs = join_paragraphs(extracted.paragraphs)
        # A PDF without a real title (qa.loading.formats.is_placeholder_title) and without a
        # heading is titled by its file name: its first sentence makes a poor title.
        title = meta.title or extracted.title or ("" if suffix == ".pdf" else text_title(text, paragraphs, markdown=False))
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
    """The files `load_documents` would try, in its order: regular files and links to them.
    Missing paths, hidden files, FIFOs, sockets, devices and broken links go to `skipped`
    with their reason (nothing is opened to find out)."""
    files: list[Path] = []
    reasons = skipped if skipped is not None else []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(_folder_files(path, reasons))
            continue
        problem = file_problem(path)
        if problem is None:
            files.append(path)
        else:
            reasons.append(SkippedFile(str(path), problem))
    return files


def _folder_files(folder: Path, skipped: list[SkippedFile]) -> list[Path]:
    """The regular files under `folder`, sorted; the rest that is not a folder to `skipped`."""
    files: list[Path] = []
    for file in sorted(folder.rglob("*")):
        if file.name.endswith(SIDECAR_SUFFIX):
            continue
        if file.is_dir():
            continue  # rglob walks it
        problem = file_problem(file)
        if any(part.startswith(".") for part in file.relative_to(folder).parts):
            skipped.append(SkippedFile(str(file), "hidden (its name or folder starts with a dot)"))
            continue
        if problem is None:
            files.append(file)
        else:
            skipped.append(SkippedFile(str(file), problem))
    return files


def file_fingerprint(path: Path) -> str:
    """The `content_hash` a `Document` loaded from `path` would get (file plus side-car);
    "unreadable" for a file that is not a regular one or cannot be read."""
    digest = hashlib.sha256()
    try:
        hash_regular_file(path, digest)
    except UnreadableFile:
        return "unreadable"
    digest.update(_read_sidecar(path)[0])
    return digest.hexdigest()


def _read_sidecar(path: Path) -> tuple[bytes, _Metadata]:
    """Optional `<stem>.meta.json` beside the file: {"title": ..., "source": ...}."""
    sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
    try:
        raw = read_regular_file(sidecar, MAX_FILE_BYTES)  # never a FIFO named like a side-car
    except UnreadableFile:
        return b"", _Metadata()
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
