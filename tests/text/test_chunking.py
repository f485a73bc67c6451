"""qa/text/chunking.py: sentence and chunk spans are exact and respect the chunking rules."""

from __future__ import annotations

import random
import re

import pytest

from qa.text.chunking import (
    ChunkingConfig,
    ABBREVIATIONS,
    is_abbreviation,
    chunk_document,
    split_paragraph,
    split_sentences,
)
from qa.loading.documents import Document, join_paragraphs, load_file

from conftest import SEED_FILE
from counting_text import CountingText


def _doc(*paragraphs: str) -> Document:
    text, spans = join_paragraphs(list(paragraphs))
    return Document("d", "T", "s", "p", text, tuple(spans), "h")


def _split(text: str) -> list[str]:
    return [text[s:e] for s, e in split_paragraph(text, 0, len(text))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dr. Smith left. He came back.", ["Dr. Smith left.", "He came back."]),
        ("The U.S. Army moved. Then it stopped.", ["The U.S. Army moved.", "Then it stopped."]),
        ("J. K. Rowling wrote it. Fans cheered.", ["J. K. Rowling wrote it.", "Fans cheered."]),
        ("Prices rose 3.5 percent. Bonds fell.", ["Prices rose 3.5 percent.", "Bonds fell."]),
        ("He said “Go home.” They left.", ["He said “Go home.”", "They left."]),
        ("Really? Yes! Fine.", ["Really?", "Yes!", "Fine."]),
        ("no capital after. so one sentence", ["no capital after. so one sentence"]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]):
    assert _split(text) == expected


def test_every_sentence_and_chunk_of_the_seed_is_an_exact_span():
    doc = load_file(SEED_FILE)
    sentences = split_sentences(doc)
    chunks = chunk_document(doc, sentences)
    assert len(sentences) == 17
    for s in sentences:
        assert doc.text[s.start : s.end] == s.text
        assert s.text == s.text.strip() and s.text
        start, end = doc.paragraphs[s.paragraph - 1]
        assert start <= s.start < s.end <= end
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.start == sentences[c.first_sentence].start
        assert c.end == sentences[c.last_sentence].end
    # Every sentence is in some chunk.
    covered = {i for c in chunks for i in range(c.first_sentence, c.last_sentence + 1)}
    assert covered == set(range(len(sentences)))


def test_sentences_cover_the_paragraph_text():
    doc = load_file(SEED_FILE)
    sentences = split_sentences(doc)
    for number, (start, end) in enumerate(doc.paragraphs, 1):
        joined = " ".join(s.text for s in sentences if s.paragraph == number)
        assert joined == " ".join(doc.text[start:end].split())


def test_long_paragraph_splits_at_sentences_with_overlap():
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(12)]
    doc = _doc(" ".join(sentences))
    config = ChunkingConfig(max_chars=150, overlap_sentences=1)
    chunks = chunk_document(doc, split_sentences(doc), config)
    assert len(chunks) > 1
    for c in chunks:
        assert len(c.text) <= 150
        assert c.text.endswith(".")
    for previous, current in zip(chunks, chunks[1:]):
        assert current.first_sentence == previous.last_sentence  # one sentence of overlap


def test_a_sentence_longer_than_max_chars_is_kept_whole():
    long_sentence = "This sentence " + "goes on and on " * 20 + "until it ends."
    doc = _doc(long_sentence + " Short one.")
    chunks = chunk_document(doc, split_sentences(doc), ChunkingConfig(max_chars=100, overlap_sentences=0))
    assert chunks[0].text == long_sentence
    assert chunks[1].text == "Short one."


def test_tiny_paragraphs_merge_but_normal_ones_stay_apart():
    normal = "A paragraph of a normal size that talks about one thing at length. " * 4
    doc = _doc("Heading", normal.strip(), normal.strip())
    chunks = chunk_document(doc, split_sentences(doc))
    assert len(chunks) == 2
    assert chunks[0].text.startswith("Heading\n\nA paragraph")
    assert chunks[0].paragraph == 1 and chunks[1].paragraph == 3


def _paged(paragraphs: list[str], pages: tuple[int, ...], sections: tuple[str, ...] = ()) -> Document:
    text, spans = join_paragraphs(paragraphs)
    return Document("p", "T", "s", "p.pdf", text, tuple(spans), "h", pages=pages, sections=sections)


def test_a_chunk_keeps_within_its_pdf_page():
    # Three tiny paragraphs would merge into one chunk; on three pages they are three chunks.
    lines = ["Funding came in full.", "The station stores forty sledges.", "Winter was long."]
    merged = _doc(*lines)
    assert len(chunk_document(merged, split_sentences(merged))) == 1
    paged = _paged(lines, (1, 2, 3))
    chunks = chunk_document(paged, split_sentences(paged))
    assert [c.text for c in chunks] == lines
    assert [paged.page(c.paragraph) for c in chunks] == [1, 2, 3]
    two = _paged([*lines, "It snowed."], (1, 2, 3, 3))  # tiny ones on one page still merge
    assert [c.text for c in chunk_document(two, split_sentences(two))][-1] == "Winter was long.\n\nIt snowed."


def test_a_pdf_heading_starts_a_chunk_and_stays_out_of_the_one_before():
    paragraphs = ["Planting", "The farm planted barley.", "Harvest", "The barns filled."]
    sections = ("Planting", "Planting", "Harvest", "Harvest")
    paged = _paged(paragraphs, (1, 1, 1, 1), sections)
    chunks = chunk_document(paged, split_sentences(paged))
    assert [c.text for c in chunks] == ["Planting\n\nThe farm planted barley.", "Harvest\n\nThe barns filled."]
    text, spans = join_paragraphs(paragraphs)  # without pages (Markdown, HTML): as before
    plain = Document("m", "T", "s", "m.md", text, tuple(spans), "h", sections=sections)
    assert len(chunk_document(plain, split_sentences(plain))) == 1


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        ChunkingConfig(max_chars=10)
    with pytest.raises(ValueError):
        ChunkingConfig(overlap_sentences=-1)


# --- linear ingest ---------------------------------------------------------------------------


def _old_is_abbreviation(text: str, period_at: int) -> bool:
    """The original check, quadratic in the document length: the reference for equivalence."""
    word = re.search(r"([A-Za-z.]+)$", text[:period_at])
    if not word:
        return False
    token = word.group(1).lower().strip(".")
    if token in ABBREVIATIONS:
        return True
    return len(token) == 1 and token.isalpha()


_OLD_BOUNDARY = re.compile(r"([.!?…]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9À-Ý])")


def _old_split_paragraph(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The original splitter (a boundary tried at every character), the reference."""
    spans, cursor = [], start
    for match in _OLD_BOUNDARY.finditer(text, start, end):
        if match.group(1) == "." and _old_is_abbreviation(text, match.start(1)):
            continue
        if match.end(2) > cursor:
            spans.append((cursor, match.end(2)))
        cursor = match.end(3)
    if cursor < end:
        spans.append((cursor, end))
    return [(s, e) for s, e in spans if text[s:e].strip()]


# Pieces that reach the corners of the old regular expression: dot runs around a word (the old
# check stripped them), a newline before the period (its `$` matched there), words just longer
# than "approx", the longest abbreviation.
_PIECES = [
    "Mr", "Dr", "U.S", "e.g", "approx", "approxx", "xapprox", "St", "J", "j", "A.B", "...",
    ".", "..........", " ", "\n", "!", "?", "…", "”", ")", "The", "x", "1", "3.5", "À",
]


def test_abbreviation_check_matches_the_original_regular_expression():
    rng = random.Random(7)
    texts = [load_file(SEED_FILE).text, "....Mr. Smith", "x....Mr. Smith", "Mr...\n. Smith"]
    texts += ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 60))) for _ in range(300)]
    for text in texts:
        for period_at in (i for i, char in enumerate(text) if char == "."):
            assert is_abbreviation(text, period_at) == _old_is_abbreviation(text, period_at), (
                text[max(0, period_at - 20) : period_at + 3]
            )


def test_splitting_matches_the_original_even_from_inside_a_run_of_punctuation():
    rng = random.Random(8)
    texts = ["Wait!!! Then go.", "Fine... Then?! So “Yes.” Done"]
    texts += ["".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 40))) for _ in range(200)]
    for text in texts:
        for start in range(len(text) + 1):
            expected = _old_split_paragraph(text, start, len(text))
            assert split_paragraph(text, start, len(text)) == expected, (text, start)


def _characters_read(paragraph_count: int) -> int:
    paragraph = (
        "Dr. Smith met the U.S. delegation at 9 a.m. with J. K. Rowling. "
        "Prices rose approx. 3.5 percent, e.g. in St. Louis! Was it true? "
    ) * 6
    text, spans = join_paragraphs([paragraph.strip()] * paragraph_count)
    doc = Document("d", "T", "s", "p", CountingText(text), tuple(spans), "h")
    CountingText.read = 0
    chunk_document(doc, split_sentences(doc))
    return CountingText.read


def test_splitting_and_chunking_read_the_text_a_bounded_number_of_times():
    # The old abbreviation check copied the text from its start at every period, so doubling
    # the document quadrupled what was read (seconds for a few hundred kilobytes).
    small, large = _characters_read(200), _characters_read(400)  # ~160 KB and ~320 KB
    assert large <= 2.2 * small
