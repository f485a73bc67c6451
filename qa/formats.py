"""Text extraction for structured formats: HTML (BeautifulSoup), PDF (pypdf), DOCX (python-docx).

Each extractor returns `Extracted`: the content paragraphs in reading order (whitespace
collapsed), plus a title and source when the file states them. `qa.documents` joins the
paragraphs into the `Document` text. Extractors raise `UnreadableFile` with a one-line reason.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from qa.documents import UnreadableFile

# Elements that never hold article content: code, styling, navigation and page furniture.
_DROPPED_TAGS = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "nav", "header", "footer", "aside", "form", "button", "select", "menu", "dialog",
)
_BLOCK_TAGS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "figcaption",
    "dt", "dd", "td", "th", "caption", "div", "section", "article", "main", "body",
)
_BOILERPLATE_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search"}


@dataclass(frozen=True)
class Extracted:
    paragraphs: list[str]
    title: str | None = None
    source: str | None = None


def _clean(text: str) -> str:
    return " ".join(text.split())


def extract_html(markup: str) -> Extracted:
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
        tag.decompose()
    for tag in soup.find_all(attrs={"role": True}):
        if not tag.decomposed and str(tag.get("role", "")).lower() in _BOILERPLATE_ROLES:
            tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}):
        if not tag.decomposed:
            tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    root = soup.find("article") or soup.find("main") or soup.body or soup
    paragraphs: list[str] = []
    for block in root.find_all(_BLOCK_TAGS):
        # Only leaf blocks: a <div> that wraps <p>s contributes through its children.
        if block.find(_BLOCK_TAGS):
            text = "".join(
                str(child) for child in block.find_all(string=True, recursive=False)
            )
        else:
            text = block.get_text()  # inline tags join as a browser shows them
        text = _clean(text)
        if text:
            paragraphs.append(text)
    if not paragraphs:
        text = _clean(root.get_text(" "))
        if text:
            paragraphs.append(text)
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ") if h1 else None
    return Extracted(
        paragraphs=paragraphs,
        title=_clean(title) if title else None,
        source=_clean(source) if source else None,
    )


def extract_pdf(raw: bytes) -> Extracted:
    """Paragraphs of a PDF's text layer (pypdf). Scanned PDFs without text are refused."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise UnreadableFile("PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, TypeError) as error:
        raise UnreadableFile(f"not a readable PDF: {error}") from None
    paragraphs: list[str] = []
    for page in pages:
        # pypdf ends lines inside a paragraph; a blank line or a line ending a sentence
        # followed by a short line is the best paragraph signal a text layer gives.
        for block in re.split(r"\n\s*\n", page):
            text = _clean(block)
            if text:
                paragraphs.append(text)
    if not paragraphs:
        raise UnreadableFile("PDF has no text layer (scanned image?)")
    return Extracted(paragraphs=paragraphs, title=_clean(title) if title else None)


def extract_docx(raw: bytes) -> Extracted:
    """Paragraphs of a Word document (python-docx), tables included row by row."""
    import zipfile

    from docx import Document as load_docx

    try:
        document = load_docx(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise UnreadableFile(f"not a readable .docx file: {error}") from None
    paragraphs = [_clean(p.text) for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(_clean(" | ".join(cell.text for cell in row.cells)))
    title = document.core_properties.title
    return Extracted(
        paragraphs=[p for p in paragraphs if p],
        title=_clean(title) if title else None,
    )
