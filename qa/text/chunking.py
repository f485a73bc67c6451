"""`Document` -> `Sentence`s and `Chunk`s, each an exact (start, end) span of `Document.text`.

Chunks are what retrieval ranks; sentences are what answers quote. A chunk never cuts a
sentence and stays inside one paragraph, except that a tiny paragraph (a heading, a one-line
remark) is merged with its neighbour so that it is not retrieved without context. A chunk keeps
within its page (`Document.pages`, PDFs): paragraphs of different pages are never merged, so
a passage and its source card show one page; in a PDF a heading starts a chunk.

    >>> from qa.loading.documents import Document
    >>> text = "Dr. Smith arrived. He spoke.\\n\\nShort."
    >>> doc = Document("d", "T", "s", "p", text, ((0, 28), (30, 36)), "h")
    >>> [s.text for s in split_sentences(doc)]
    ['Dr. Smith arrived.', 'He spoke.', 'Short.']

Why a regular expression rather than a library: pysbd and blingfire are unmaintained and NLTK's
punkt needs a data download; this splitter keeps exact offsets and handles the abbreviations,
initials and quotes of English news, which the tests pin down.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass

from qa.loading.documents import Document


@dataclass(frozen=True)
class ChunkingConfig:
    """Chunk size and overlap, in characters and sentences.

    Defaults were picked on SQuAD v1.1 dev (benchmarks/HISTORY.md, "Sweep"): ~1,000 characters keeps a
    typical news or Wikipedia paragraph whole (MiniLM reads 256 word pieces, ~1,000 characters);
    longer paragraphs split with one sentence of overlap; paragraphs under 200 characters merge.
    """

    max_chars: int = 1000
    overlap_sentences: int = 1
    min_paragraph_chars: int = 200

    def __post_init__(self) -> None:
        if self.max_chars < 50:
            raise ValueError("max_chars must be at least 50")
        if self.overlap_sentences < 0:
            raise ValueError("overlap_sentences must be >= 0")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a document, what answers quote and cite: `document.text[start:end] == text`."""

    doc_id: str
    paragraph: int  # 1-based paragraph number
    start: int
    end: int
    text: str
    page: int | None = None  # 1-based page of its paragraph (PDF), None when unknown
    section: str | None = None  # the heading its paragraph comes under, None when none


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: sentences `first_sentence .. last_sentence` of its document."""

    chunk_id: str
    doc_id: str
    paragraph: int  # 1-based number of the paragraph the chunk starts in
    start: int
    end: int
    text: str
    first_sentence: int  # index into the document's sentence list
    last_sentence: int  # inclusive


# Words whose trailing period does not end a sentence.
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "no", "nos", "vs", "etc",
    "gen", "col", "lt", "sgt", "capt", "cmdr", "adm", "maj", "rep", "sen", "gov", "pres",
    "rev", "hon", "inc", "ltd", "co", "corp", "dept", "univ", "est", "approx", "fig", "vol",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "e.g", "i.e", "u.s", "u.k", "u.n", "a.m", "p.m", "cf", "al", "op", "ed", "eds", "pp",
}
# The longest entry of ABBREVIATIONS ("approx"). A word whose letters span more characters
# than this is neither an abbreviation nor an initial, so the look-back before a period never
# needs to read further: that keeps splitting linear in the length of the document.
_LONGEST_ABBREVIATION = max(len(word) for word in ABBREVIATIONS)
# What the word before a period may be made of (the abbreviation check's notion of a word).
_WORD_CHARACTERS = frozenset(string.ascii_letters + ".")
_LETTERS = frozenset(string.ascii_letters)
_SENTENCE_PUNCTUATION = ".!?…"
# A sentence ends at . ! ? (or …), optionally followed by closing quotes or brackets,
# then whitespace, then something that can start a sentence.
_BOUNDARY_BODY = r"([.!?…]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9À-Ý])"
# Tried only where a run of punctuation begins: a match cannot start inside a run once it
# failed at the run's start, and trying every position of a long run ("!!!!…") is quadratic.
_BOUNDARY = re.compile(r"(?<![.!?…])" + _BOUNDARY_BODY)
# The same without the look-behind, for a paragraph that starts inside a run of punctuation.
_BOUNDARY_ANYWHERE = re.compile(_BOUNDARY_BODY)


def is_abbreviation(text: str, period_at: int) -> bool:
    """Whether the period at `period_at` ends an abbreviation or an initial, not a sentence."""
    token = _word_before(text, period_at)
    if token is None:
        return False
    if token in ABBREVIATIONS:
        return True
    # Initials such as "J." in "J. K. Rowling", or "U.S." written without the final dot check.
    return len(token) == 1 and token.isalpha()


def _word_before(text: str, period_at: int) -> str | None:
    """The lower-cased word of letters and dots before a period, without its outer dots.

    None when there is no such word or its letters span more than _LONGEST_ABBREVIATION
    characters (then it cannot matter). Reads at most that many characters plus the word's
    outer dots, which the old `strip(".")` ignored whatever their number (so they must be
    read to stay exact); words before two sentence ends are apart (whitespace follows a
    sentence end), so each dot is read for one period only and splitting stays linear.
    """
    end = _word_end(text, period_at)
    if end is None:
        return None
    last = _skip_dots_back(text, end)  # trailing dots, stripped anyway
    first = last
    window_start = max(last - _LONGEST_ABBREVIATION, 0)
    while first > window_start and text[first - 1] in _WORD_CHARACTERS:
        first -= 1
    before_dots = _skip_dots_back(text, first)
    if before_dots > 0 and text[before_dots - 1] in _LETTERS:
        return None  # letters continue past the window: too long to be an abbreviation
    return text[first:last].lower().strip(".")


def _word_end(text: str, period_at: int) -> int | None:
    """Where the word before a period ends, or None when a period follows no word.

    The word may also end before a newline just before the period: the original
    `re.search(r"([A-Za-z.]+)$", text[:period_at])` allowed that (`$` matches before a
    final newline), and splitting must not change.
    """
    end = period_at
    if end > 0 and text[end - 1] == "\n":
        end -= 1
    if end > 0 and text[end - 1] in _WORD_CHARACTERS:
        return end
    return None


def _skip_dots_back(text: str, position: int) -> int:
    """The start of the run of dots that ends at `position`."""
    while position > 0 and text[position - 1] == ".":
        position -= 1
    return position


def _boundaries(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    """The candidate sentence ends in text[start:end], in order (see _BOUNDARY).

    A paragraph that starts inside a run of punctuation gets one try at its start, as the
    look-behind would skip it; if that fails, no later position of the run can match either.
    """
    inside_run = (
        0 < start < end
        and text[start - 1] in _SENTENCE_PUNCTUATION
        and text[start] in _SENTENCE_PUNCTUATION
    )
    if inside_run:
        first = _BOUNDARY_ANYWHERE.match(text, start, end)
        if first:
            yield first
            start = first.end()
    yield from _BOUNDARY.finditer(text, start, end)


def split_paragraph(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end], covering it without gaps (minus whitespace)."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _boundaries(text, start, end):
        punct_start = match.start(1)
        if match.group(1) == "." and is_abbreviation(text, punct_start):
            continue
        sentence_end = match.end(2)
        if sentence_end > cursor:
            spans.append((cursor, sentence_end))
        cursor = match.end(3)
    if cursor < end:
        spans.append((cursor, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def split_sentences(document: Document) -> list[Sentence]:
    """Every sentence of every content paragraph, in document order."""
    sentences: list[Sentence] = []
    for number, (start, end) in enumerate(document.paragraphs, 1):
        page, section = document.page(number), document.section(number)
        for s, e in split_paragraph(document.text, start, end):
            sentences.append(Sentence(document.doc_id, number, s, e, document.text[s:e], page, section))
    return sentences


def chunk_document(
    document: Document, sentences: list[Sentence], config: ChunkingConfig = ChunkingConfig()
) -> list[Chunk]:
    """Group a document's sentences into chunks (see module docstring for the rules)."""
    groups: list[tuple[int, int]] = []  # inclusive sentence index ranges
    by_paragraph: dict[int, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_paragraph.setdefault(sentence.paragraph, []).append(i)

    def length(first: int, last: int) -> int:
        return sentences[last].end - sentences[first].start

    for number in sorted(by_paragraph):
        indices = by_paragraph[number]
        pieces = _pack(indices, sentences, config)
        if len(pieces) == 1 and groups:
            first, last = pieces[0]
            prev_first, prev_last = groups[-1]
            tiny = (
                length(first, last) < config.min_paragraph_chars
                or length(prev_first, prev_last) < config.min_paragraph_chars
            )
            if tiny and _mergeable(sentences[prev_last], sentences[first]) and length(prev_first, last) <= config.max_chars:
                groups[-1] = (prev_first, last)
                continue
        groups.extend(pieces)

    chunks = []
    for n, (first, last) in enumerate(groups):
        start, end = sentences[first].start, sentences[last].end
        chunks.append(
            Chunk(
                chunk_id=f"{document.doc_id}:{n}",
                doc_id=document.doc_id,
                paragraph=sentences[first].paragraph,
                start=start,
                end=end,
                text=document.text[start:end],
                first_sentence=first,
                last_sentence=last,
            )
        )
    return chunks


def _mergeable(before: Sentence, after: Sentence) -> bool:
    """Whether the paragraph of `after` may join the chunk ending with `before`: on the same
    page, and in a PDF under the same heading too (a heading starts a chunk rather than ending
    the one before it). Without pages (all but PDFs) always."""
    if before.page is None and after.page is None:
        return True
    return before.page == after.page and before.section == after.section


def _pack(
    indices: list[int], sentences: list[Sentence], config: ChunkingConfig
) -> list[tuple[int, int]]:
    """Greedy packing of one paragraph's sentences into ranges of at most max_chars.

    A single sentence longer than max_chars becomes a chunk of its own (never cut).
    """
    pieces: list[tuple[int, int]] = []
    first = indices[0]
    last_index = indices[-1]
    while True:
        last = first
        while last < last_index and sentences[last + 1].end - sentences[first].start <= config.max_chars:
            last += 1
        pieces.append((first, last))
        if last == last_index:
            return pieces
        next_first = max(last + 1 - config.overlap_sentences, first + 1)
        first = next_first
