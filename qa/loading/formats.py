"""Text extraction for structured formats: HTML (BeautifulSoup), PDF (pypdf), DOCX (python-docx).

Each extractor returns `Extracted`: the content paragraphs in reading order (whitespace
collapsed), plus a title and source when the file states them, and per paragraph the page it
is on (PDF) and the heading it comes under (HTML h1-h6, DOCX heading styles, PDF lines drawn larger than
the body or standing alone above a paragraph: `pdf_paragraphs`). `qa.loading.documents`
joins the paragraphs into the `Document` text. Extractors raise `UnreadableFile` with a
one-line reason, and check the file's `Deadline` between pages, blocks and paragraphs.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa.loading.file_limits import MAX_PDF_PAGES, NO_DEADLINE, Deadline, UnreadableFile

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

# Elements that never hold article content: code, styling, navigation and page furniture.
_DROPPED_TAGS = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "nav", "header", "footer", "aside", "form", "button", "select", "menu", "dialog",
)
_BLOCK_TAGS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption",
    "dt", "dd", "td", "th", "caption", "div", "section", "article", "main", "body",
)
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}
# The name a dropped tag is left with: no search of extract_html asks for it.
_DROPPED = "qa-dropped"
# What a <br> reads as: "one<br>two" is "one two" once whitespace is collapsed, not "onetwo".
_LINE_BREAK = "\n"


@dataclass(frozen=True)
class Extracted:
    """What an extractor found in one file (see the module docstring); `qa.loading.documents` makes it a
    `Document`. A side-car `.meta.json` title or source wins over these; None falls back to the text
    or the file name."""

    paragraphs: list[str]
    title: str | None = None
    source: str | None = None
    pages: tuple[int, ...] = ()  # per paragraph: 1-based page (PDF); empty when none
    sections: tuple[str, ...] = ()  # per paragraph: the heading it comes under, "" = none


def _clean(text: str) -> str:
    return " ".join(text.split())


class _Sections:
    """Collects paragraphs and, for each, the last heading at or before it."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.sections: list[str] = []
        self._current = ""

    def add(self, text: str, heading: bool) -> None:
        if heading:
            self._current = text
        self.paragraphs.append(text)
        self.sections.append(self._current)


def extract_html(markup: str, deadline: Deadline = NO_DEADLINE) -> Extracted:
    """Paragraphs of an HTML page, without scripts, styles and navigation boilerplate.

    >>> extract_html("<title>T</title><nav>menu</nav><p>Hello <b>world</b></p>").paragraphs
    ['Hello world']
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("meta", attrs={"property": "og:title"})
    title = title_tag.get("content") if title_tag else None
    if not title and soup.title and soup.title.string:
        title = soup.title.string
    site = soup.find("meta", attrs={"property": "og:site_name"})
    source = site.get("content") if site else None
    for tag in soup(_DROPPED_TAGS):
        if not tag.decomposed:  # not inside a tag dropped before it
            _drop(tag)
    for tag in soup.find_all(attrs={"role": True}):
        if not tag.decomposed and str(tag.get("role", "")).lower() in _BOILERPLATE_ROLES:
            _drop(tag)
    for tag in soup.find_all(attrs={"hidden": True}):
        if not tag.decomposed:
            _drop(tag)
    _mark_line_breaks(soup)
    deadline.check()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    collected = _Sections()
    blocks = root.find_all(_BLOCK_TAGS)
    holders = _blocks_holding_blocks(blocks)
    for block in blocks:
        deadline.check()
        # Only leaf blocks: a <div> that wraps <p>s contributes through its children.
        if id(block) in holders:
            text = _own_text(block)
        else:
            text = block.get_text()  # inline tags join as a browser shows them
        text = _clean(text)
        if text:
            collected.add(text, heading=block.name in _HEADING_TAGS)
    if not collected.paragraphs:
        text = _clean(root.get_text(" "))
        if text:
            collected.add(text, heading=False)
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ") if h1 else None
    return Extracted(
        paragraphs=collected.paragraphs,
        title=_clean(title) if title else None,
        source=_clean(source) if source else None,
        sections=tuple(collected.sections),
    )


def _blocks_holding_blocks(blocks: list[Tag]) -> set[int]:
    """The ids of the `blocks` that have another of them inside, in time linear in the page.

    `block.find(...)` per block was quadratic on deep nesting: bs4 finds the end of a tag's
    descendants by walking down to its last one, so 50,000 nested <div>s took minutes. A block
    holds a block exactly when it is the nearest block ancestor of one; each element between
    is walked once, its answer remembered.
    """
    block_ids = {id(block) for block in blocks}
    nearest: dict[int, int | None] = {}  # a non-block element -> its nearest block ancestor
    holders: set[int] = set()
    for block in blocks:
        walked: list[int] = []
        parent = block.parent
        found: int | None = None
        while parent is not None:
            if id(parent) in block_ids:
                found = id(parent)
                break
            if id(parent) in nearest:
                found = nearest[id(parent)]
                break
            walked.append(id(parent))
            parent = parent.parent
        for element in walked:
            nearest[element] = found
        if found is not None:
            holders.add(found)
    return holders


def _drop(tag: Tag) -> None:
    """Take a tag and its content out of the text, leaving an empty placeholder.

    bs4's decompose looks the tag up among its parent's children one by one, which made a page
    with thousands of dropped siblings (icons, buttons) quadratic. Emptying the tag removes
    each child from the front of its list (found at once); renamed to _DROPPED, without
    attributes or text, what is left is invisible to every search and get_text that follows.
    """
    tag.clear(decompose=True)
    tag.name = _DROPPED
    tag.attrs = {}


def _mark_line_breaks(soup: BeautifulSoup) -> None:
    """Give every <br> a newline as its text, so that extracted text breaks where it does.

    The newline goes inside the <br>, not in its place: bs4's replace_with looks the element up
    in its parent's children one by one, which made a page of many <br>s quadratic.
    """
    for br in soup.find_all("br"):
        br.append(_LINE_BREAK)


def _own_text(block: Tag) -> str:
    """The strings directly inside a block that holds other blocks (they give their own text).

    A <br> among them counts as a line break, as the newline inside it is not a direct string.
    """
    own = {id(string) for string in block.find_all(string=True, recursive=False)}
    return "".join(
        _LINE_BREAK if child.name == "br" else str(child)
        for child in block.children
        if child.name == "br" or id(child) in own
    )


def extract_pdf(raw: bytes, deadline: Deadline = NO_DEADLINE, max_pages: int = MAX_PDF_PAGES) -> Extracted:
    """Paragraphs of a PDF's text layer (pypdf), each with its 1-based page number and the
    heading it comes under; a paragraph never spans pages. A heading (`pdf_paragraphs`) is a
    paragraph of its own. Scanned PDFs without text, and PDFs of more than `max_pages` pages,
    are refused."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise UnreadableFile("PDF is encrypted")
        count = len(reader.pages)
        if count > max_pages:
            raise UnreadableFile(f"PDF has {count:,} pages; the limit is {max_pages:,} per file")
        pages: list[list[tuple[str, float]]] = []  # per page: its lines, each with its font size
        first_page_runs: list[tuple[str, float]] = []  # (text, font size) as drawn on page 1
        for number, page in enumerate(reader.pages):
            deadline.check()
            runs: list[tuple[str, float]] = []
            text = page.extract_text(visitor_text=_run_collector(runs)) or ""
            pages.append(_sized_lines(text, runs))
            if number == 0:
                first_page_runs = runs
        title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise UnreadableFile(f"not a readable PDF: {error}") from None
    collected, numbers, first_heading_found = pdf_paragraphs(pages, deadline)
    if not collected.paragraphs:
        raise UnreadableFile("PDF has no text layer (scanned image?)")
    title = _clean(title) if isinstance(title, str) else ""
    if is_placeholder_title(title):
        title = first_heading(first_page_runs) or first_heading_found or ""
    return Extracted(
        paragraphs=collected.paragraphs,
        title=title or None,
        pages=tuple(numbers),
        sections=tuple(collected.sections),
    )


def _sized_lines(text: str, runs: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The lines of a page's extracted `text`, each with the largest font size drawn in it
    (from the visitor's `runs`); size 0 (unknown) for every line when the runs do not spell
    the text (pypdf may add spacing of its own)."""
    if "".join("".join(r for r, _ in runs).split()) != "".join(text.split()):
        return [(line, 0.0) for line in text.split("\n")]
    lines: list[tuple[str, float]] = []
    parts: list[str] = []
    size = 0.0
    for run, run_size in runs:
        pieces = run.split("\n")
        for n, piece in enumerate(pieces):
            if n:
                lines.append(("".join(parts), size))
                parts, size = [], 0.0
            parts.append(piece)
            if piece.strip():
                size = max(size, run_size)
    lines.append(("".join(parts), size))
    return lines


# Titles that PDF writers put in the metadata when the author gave none: the title then comes from
# the first heading, else the file name (not the first sentence, which reads as a title badly).
_PLACEHOLDER_TITLE = re.compile(
    r"^(|untitled([\s-]*(document|\d+))?|\(?anonymous\)?|\(?unspecified\)?|document\s*\d*"
    r"|microsoft (office )?(word|powerpoint|excel) - .*)$",
    re.IGNORECASE,
)
# A heading is drawn this much larger than the page's body text (most of its characters' size).
HEADING_SCALE = 1.15
# Longer "headings" are paragraphs in a large font, not titles.
MAX_HEADING_CHARS = 200


def is_placeholder_title(title: str) -> bool:
    """Whether a PDF's metadata title is a writer's placeholder ("untitled", "Microsoft Word -
    report.doc", empty) rather than the document's title.

    >>> is_placeholder_title("Microsoft Word - minutes_final.docx"), is_placeholder_title("Minutes")
    (True, False)
    """
    return bool(_PLACEHOLDER_TITLE.match(title.strip()))


def _run_collector(runs: list[tuple[str, float]]) -> Callable[..., None]:
    """A pypdf `visitor_text` that appends each drawn text with its font size as seen."""

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) if tm and cm else 1.0
        runs.append((text, float(size or 0) * (scale or 1.0)))

    return visit


def first_heading(runs: list[tuple[str, float]]) -> str | None:
    """The first text drawn larger than the body text (the size most characters have), as
    drawn in `runs` of (text, font size); None when nothing is larger.

    >>> first_heading([("Harvest", 18.0), ("The barley came in.", 12.0), ("It rained.", 12.0)])
    'Harvest'
    """
    sizes: Counter[float] = Counter()
    for text, size in runs:
        sizes[round(size, 1)] += len(text.strip())
    if not sizes or not any(sizes.values()):
        return None
    body = sizes.most_common(1)[0][0]
    heading: list[str] = []
    for text, size in runs:
        if not text.strip():
            continue
        if size > body * HEADING_SCALE:
            heading.append(text)
        elif heading:
            break
    found = _clean(" ".join(heading))
    return found if 0 < len(found) <= MAX_HEADING_CHARS else None


# A line of the body's font is a heading of its own ("Page two: Harvest" above a paragraph)
# when it stands alone: at most this many characters and words, ...
MAX_LINE_HEADING_CHARS = 80
MAX_LINE_HEADING_WORDS = 12
# ... and at most this share of the page's longest line (a paragraph's wrapped line fills its
# column; a heading stops well short of it).
LINE_HEADING_WIDTH_SHARE = 0.7
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_NO_HEADING_END = re.compile(r"[.,;:!?…\-–—]$")  # a line ending so goes on, or ends a sentence
_STARTS_SENTENCE = re.compile(r"^[\"'“‘(\[]?[A-Z0-9À-Ý]")


def pdf_paragraphs(
    pages: list[list[tuple[str, float]]], deadline: Deadline = NO_DEADLINE
) -> tuple[_Sections, list[int], str | None]:
    """A PDF's paragraphs from its pages' lines of (text, font size): the collected paragraphs
    with the heading each comes under, each paragraph's 1-based page, and the first heading of
    page 1 (None without one). A blank line ends a paragraph; a heading is a paragraph of its
    own: lines drawn `HEADING_SCALE` larger than the body (the size most characters have) and
    at most `MAX_HEADING_CHARS` long, or a short line standing alone above a paragraph.

    >>> found, pages, first = pdf_paragraphs([[("Harvest", 0.0), ("The barns filled up.", 0.0)]])
    >>> found.paragraphs, found.sections, pages, first
    (['Harvest', 'The barns filled up.'], ['Harvest', 'Harvest'], [1, 1], 'Harvest')
    """
    sizes: Counter[float] = Counter()
    for lines in pages:
        for text, size in lines:
            if size > 0:
                sizes[round(size, 1)] += len(text.strip())
    body = sizes.most_common(1)[0][0] if sizes else 0.0
    collected = _Sections()
    numbers: list[int] = []
    first: str | None = None
    for number, lines in enumerate(pages, 1):
        deadline.check()
        for text, heading in _page_blocks(lines, body):
            collected.add(text, heading=heading)
            numbers.append(number)
            if heading and number == 1 and first is None:
                first = text
    return collected, numbers, first


def _page_blocks(lines: list[tuple[str, float]], body: float) -> list[tuple[str, bool]]:
    """One page's paragraphs as (text, whether it is a heading); see `pdf_paragraphs`."""
    texts = [_clean(text) for text, _ in lines]
    large = [
        bool(body) and size > body * HEADING_SCALE and len(text) <= MAX_HEADING_CHARS
        for text, (_, size) in zip(texts, lines)
    ]
    widest = max((len(t) for t in texts), default=0)
    blocks: list[tuple[str, bool]] = []
    current: list[str] = []
    current_heading = False
    for i, text in enumerate(texts):
        heading = large[i] or _stands_alone(texts, large, i, widest, lines[i][1] >= body)
        if current and (not text or heading != current_heading or (heading and not large[i])):
            blocks.append((" ".join(current), current_heading))
            current = []
        if text:
            current.append(text)
            current_heading = heading
    if current:
        blocks.append((" ".join(current), current_heading))
    return blocks


def _stands_alone(texts: list[str], large: list[bool], i: int, widest: int, body_sized: bool) -> bool:
    """Whether line `i` of a page is a heading in the body's font: short, not ending like a
    sentence or a line that goes on, after a blank line or a finished sentence, and followed by
    a line that starts a sentence of a paragraph."""
    text = texts[i]
    if not text or not body_sized or _NO_HEADING_END.search(text) or not _STARTS_SENTENCE.match(text):
        return False
    if len(text) > min(MAX_LINE_HEADING_CHARS, LINE_HEADING_WIDTH_SHARE * widest):
        return False
    if len(text.split()) > MAX_LINE_HEADING_WORDS:
        return False
    if i and texts[i - 1] and not large[i - 1] and not _SENTENCE_END.search(texts[i - 1]):
        return False
    following = next((j for j in range(i + 1, len(texts)) if texts[j]), None)
    if following is None or large[following] or not _STARTS_SENTENCE.match(texts[following]):
        return False
    after = texts[following]
    return bool(_SENTENCE_END.search(after)) or len(after) > LINE_HEADING_WIDTH_SHARE * widest


# A .docx is a zip: its XML may inflate far beyond the file's size. Refuse more than this much
# XML in all (a 500-page report is ~20 MB) before parsing, so a zip bomb costs milliseconds.
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024


def _refuse_zip_bomb(raw: bytes) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as error:
        raise UnreadableFile(f"not a readable .docx file: {error}") from None
    if inflated > MAX_DOCX_UNCOMPRESSED:
        raise UnreadableFile(
            f"inflates to {inflated:,} bytes of XML; the limit is {MAX_DOCX_UNCOMPRESSED:,} (a zip bomb?)"
        )


# Word's built-in styles that mark a heading ("Heading 1" … "Heading 9", "Title").
_DOCX_HEADING = re.compile(r"^(heading \d|title)$", re.IGNORECASE)


def extract_docx(raw: bytes, deadline: Deadline = NO_DEADLINE) -> Extracted:
    """Paragraphs of a Word document (python-docx) in document order, tables row by row."""
    import zipfile

    from docx import Document as load_docx

    _refuse_zip_bomb(raw)
    try:
        document = load_docx(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise UnreadableFile(f"not a readable .docx file: {error}") from None
    from docx.table import Table

    collected = _Sections()
    # Paragraphs and tables in document order, so that a table row comes under its heading.
    for item in document.iter_inner_content():
        deadline.check()
        if isinstance(item, Table):
            for row in item.rows:
                deadline.check()
                text = _clean(" | ".join(cell.text for cell in row.cells))
                if text:
                    collected.add(text, heading=False)
            continue
        text = _clean(item.text)
        if text:
            collected.add(text, heading=_is_docx_heading(item))
    title = document.core_properties.title
    return Extracted(
        paragraphs=collected.paragraphs,
        title=_clean(title) if title else None,
        sections=tuple(collected.sections),
    )


def _is_docx_heading(paragraph: object) -> bool:
    """Whether a python-docx paragraph has a heading style (its own or one it is based on)."""
    style = getattr(paragraph, "style", None)
    while style is not None:
        if _DOCX_HEADING.match(style.name or ""):
            return True
        style = getattr(style, "base_style", None)
    return False
