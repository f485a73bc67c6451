"""Property tests (hypothesis) for issue 10, item 7: the sentence splitter and chunker, the
loaders, and questions, each against what its module documents.

- qa/text/chunking.py: sentences and chunks are exact spans of the document text, in order, never
  empty, covering every non-space character of each paragraph; a chunk holds whole sentences;
  the work grows linearly with the input (counted, never timed).
- qa/loading/documents.py, qa/loading/formats.py: `load_file` returns a `Document` or raises `UnreadableFile`
  with a one-line reason, whatever the bytes ("Extractors raise `UnreadableFile` with a
  one-line reason"); `load_documents` raises nothing and reports each bad file as one
  `SkippedFile`.
- `Index.answer`: any string is answered, or refused with the documented `ValueError` /
  `TypeError` carrying one human line (qa/index/retrieval.py, `check_question`).

The default profile keeps this file well under a minute on a busy 2-core machine; the tests
marked `slow` run many more examples (`pytest -m slow tests/test_properties.py`).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.text.chunking import ChunkingConfig, Chunk, Sentence, chunk_document, split_sentences
from qa.loading.documents import (
    Document,
    MAX_REASON_CHARS,
    LoadResult,
    UnreadableFile,
    join_paragraphs,
    load_documents,
    load_file,
)
from qa.index.coordinator import Index
from qa.loading.plain_text import text_paragraphs

from conftest import OFF_TOPIC_QUESTIONS, PROJECT, SEED_QUESTIONS
from counting_text import CountingText
from pdf_files import one_page_pdf

# --- profiles ---------------------------------------------------------------------------------

# Examples per property in the default suite, and in the `slow` runs of the same properties.
FAST_EXAMPLES = 60
SLOW_EXAMPLES = 1500
QUESTION_EXAMPLES = 500  # the bar: 500 fuzzed questions, in the default suite
SLOW_QUESTION_EXAMPLES = 3000
FAST = settings(max_examples=FAST_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=SLOW_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A reason or error message a person reads: one line, short, not empty.
MAX_MESSAGE_CHARS = MAX_REASON_CHARS

# --- text strategies --------------------------------------------------------------------------

# Pieces that reach the splitter's corners: abbreviations and initials, runs of punctuation,
# closing quotes and brackets, newlines and other whitespace, capitals and digits that may
# start a sentence, non-ASCII letters.
_PIECES = (
    "Mr", "Dr", "U.S", "e.g", "approx", "approxx", "St", "J", "j", "A.B", "...", ".", "..........",
    " ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u2028", "!", "?", "!!!", "?!", "…", "”", "’", ")", "]",
    "“", "(", "\"", "The", "the", "x", "1", "3.5", "À", "é", "word", "Sentence", "ß", "\r\n",
)
_piece_text = st.lists(st.sampled_from(_PIECES), max_size=120).map("".join)
_any_text = st.text(max_size=400)
document_texts = st.one_of(_piece_text, _any_text, st.lists(_piece_text, max_size=6).map("\n\n".join))
configs = st.builds(
    ChunkingConfig,
    max_chars=st.integers(50, 1500),
    overlap_sentences=st.integers(0, 3),
    min_paragraph_chars=st.integers(0, 400),
)


def _document(text: str) -> Document:
    """A Document of a plain-text file with `text`, paragraphs found as the loader finds them."""
    paragraphs, _ = text_paragraphs(text)
    return Document("d", "T", "s", "p", text, tuple(paragraphs), "h")


# --- the splitter and chunker -------------------------------------------------------------------


def _check_sentences(document: Document, sentences: list[Sentence]) -> None:
    previous_end = 0
    for sentence in sentences:
        start, end = document.paragraphs[sentence.paragraph - 1]
        assert document.text[sentence.start : sentence.end] == sentence.text
        assert sentence.text.strip(), "an empty sentence"
        assert start <= sentence.start < sentence.end <= end, "a sentence outside its paragraph"
        assert sentence.start >= previous_end, "sentences overlap or are out of order"
        previous_end = sentence.end


def _check_coverage(document: Document, sentences: list[Sentence]) -> None:
    """Every non-space character of every paragraph lies in a sentence."""
    covered = set()
    for sentence in sentences:
        covered.update(range(sentence.start, sentence.end))
    for start, end in document.paragraphs:
        missing = [i for i in range(start, end) if not document.text[i].isspace() and i not in covered]
        assert not missing, f"characters {missing[:5]} of paragraph {start}-{end} in no sentence"


def _check_chunks(document: Document, sentences: list[Sentence], chunks: list[Chunk], config: ChunkingConfig) -> None:
    if not sentences:
        assert chunks == []
        return
    assert chunks[0].first_sentence == 0 and chunks[-1].last_sentence == len(sentences) - 1
    for chunk in chunks:
        assert document.text[chunk.start : chunk.end] == chunk.text and chunk.text.strip()
        assert 0 <= chunk.first_sentence <= chunk.last_sentence < len(sentences)
        first, last = sentences[chunk.first_sentence], sentences[chunk.last_sentence]
        assert (chunk.start, chunk.end, chunk.paragraph) == (first.start, last.end, first.paragraph)
        inside = sentences[chunk.first_sentence : chunk.last_sentence + 1]
        assert all(chunk.start <= s.start and s.end <= chunk.end for s in inside)
        if len(inside) > 1:  # only a lone sentence may be longer than max_chars (never cut)
            assert len(chunk.text) <= config.max_chars
    for before, after in zip(chunks, chunks[1:]):
        # In order, no sentence left out between two chunks, overlap only backwards.
        assert before.first_sentence < after.first_sentence <= before.last_sentence + 1
        assert before.last_sentence < after.last_sentence
        assert before.start < after.start and before.end < after.end


def _check_document(text: str, config: ChunkingConfig) -> None:
    document = _document(text)
    sentences = split_sentences(document)
    _check_sentences(document, sentences)
    _check_coverage(document, sentences)
    _check_chunks(document, sentences, chunk_document(document, sentences, config), config)


@FAST
@given(text=document_texts, config=configs)
def test_sentences_and_chunks_are_exact_ordered_covering_spans(text: str, config: ChunkingConfig):
    _check_document(text, config)


@FAST
@given(paragraphs=st.lists(_piece_text.map(str.strip).filter(bool), min_size=1, max_size=8), config=configs)
def test_extracted_paragraphs_chunk_into_exact_spans(paragraphs: list[str], config: ChunkingConfig):
    # HTML, PDF and DOCX text: extracted paragraphs joined by blank lines (qa.loading.documents).
    text, spans = join_paragraphs(paragraphs)
    document = Document("d", "T", "s", "p", text, tuple(spans), "h")
    sentences = split_sentences(document)
    _check_sentences(document, sentences)
    _check_coverage(document, sentences)
    _check_chunks(document, sentences, chunk_document(document, sentences, config), config)


@pytest.mark.slow
@SLOW
@given(text=document_texts, config=configs)
def test_sentences_and_chunks_are_exact_spans_many_examples(text: str, config: ChunkingConfig):
    _check_document(text, config)


class _CountingSentences(list):
    """The sentence list handed to the chunker, counting the sentences it looks up."""

    looked_up = 0

    def __getitem__(self, key):  # type: ignore[override]
        _CountingSentences.looked_up += 1
        return super().__getitem__(key)


# Copies of the drawn unit in the smaller of the two documents compared; the larger has twice.
_SCALE_COPIES = 40
# Doubling the input may at most double the work, plus a little for the ends of the text.
_SCALING_FACTOR = 2.0
_SCALING_SLACK = 64


def _work(unit: str, copies: int, separator: str) -> int:
    """Characters read and sentences looked up to split and chunk `copies` copies of `unit`."""
    text = separator.join([unit] * copies)
    paragraphs, _ = text_paragraphs(text)
    document = Document("d", "T", "s", "p", CountingText(text), tuple(paragraphs), "h")
    CountingText.read = _CountingSentences.looked_up = 0
    sentences = split_sentences(document)
    chunk_document(document, _CountingSentences(sentences))
    return CountingText.read + _CountingSentences.looked_up


@FAST
@given(unit=_piece_text.filter(lambda t: len(t) >= 20), separator=st.sampled_from([" ", "\n\n", ""]))
def test_splitting_and_chunking_work_grows_linearly(unit: str, separator: str):
    # One long paragraph (" ", ""), or many ("\n\n"): counted work, never timed. A quadratic
    # step (the old abbreviation look-back) read the whole text again at every period.
    small = _work(unit, _SCALE_COPIES, separator)
    large = _work(unit, 2 * _SCALE_COPIES, separator)
    assert large <= _SCALING_FACTOR * small + _SCALING_SLACK * len(unit), (small, large)


# --- the loaders --------------------------------------------------------------------------------

SUFFIXES = (".txt", ".md", ".html", ".pdf", ".docx")


def _check_one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert len(message) <= MAX_MESSAGE_CHARS and "Traceback" not in message, repr(message)


def _check_loaded(document: Document) -> None:
    assert document.paragraphs, "a Document without paragraphs"
    for start, end in document.paragraphs:
        assert 0 <= start < end <= len(document.text)
        assert document.text[start:end].strip()
    document.text.encode("utf-8")  # no lone surrogate reaches the index


def _load_bytes(raw: bytes, suffix: str) -> Document | None:
    """`load_file` on a file holding `raw`: the Document, or None after an `UnreadableFile`
    with a one-line reason; anything else it raises fails the test."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"file{suffix}"
        path.write_bytes(raw)
        try:
            document = load_file(path)
        except UnreadableFile as error:
            _check_one_line(str(error))
            return None
    _check_loaded(document)
    return document


def _docx_bytes(document_xml: bytes | None = None) -> bytes:
    """A real .docx (python-docx), its main XML part replaced by `document_xml` when given."""
    import docx

    document = docx.Document()
    document.add_paragraph("The council approved the budget.")
    buffer = io.BytesIO()
    document.save(buffer)
    if document_xml is None:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as original, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            copy.writestr(item, document_xml if item.filename == "word/document.xml" else original.read(item))
    return out.getvalue()


_VALID_PDF = one_page_pdf("Exports grew by four percent.")
_VALID_DOCX = _docx_bytes()
_VALID_HTML = b"<html><head><title>T</title></head><body><p>Exports grew.</p></body></html>"
_VALID = {".pdf": _VALID_PDF, ".docx": _VALID_DOCX, ".html": _VALID_HTML, ".txt": b"Exports grew.", ".md": b"# H\n\nBody."}


@st.composite
def _mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """A valid file truncated, with bytes overwritten, or with random bytes spliced in."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["truncate", "overwrite", "insert"]))
        if kind == "truncate":
            del data[at:]
        elif kind == "overwrite":
            patch = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(patch)] = patch
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


@FAST
@given(raw=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_load_or_raise_unreadable_file(raw: bytes, suffix: str):
    _load_bytes(raw, suffix)


@FAST
@given(data=st.data(), suffix=st.sampled_from(SUFFIXES))
def test_damaged_real_files_load_or_raise_unreadable_file(data: st.DataObject, suffix: str):
    _load_bytes(data.draw(_mutated(_VALID[suffix])), suffix)


# XML a .docx's main part may hold: well-formed or not, Word's namespace or none, deep or not.
_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
_docx_xml = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=200).map(lambda t: f"<w:document {_W}><w:body><w:p><w:r><w:t>{t}</w:t></w:r></w:p></w:body></w:document>".encode("utf-8", "surrogatepass")),
    st.integers(1, 1000).map(lambda n: f"<w:document {_W}><w:body>{'<w:tbl><w:tr><w:tc>' * n}<w:p/></w:body></w:document>".encode()),
    st.sampled_from([b"<w:document><w:body><w:p>unclosed", b"", b"<?xml version='1.0'?>", b"<a/>", b"\xff\xfe<\x00"]),
)


@FAST
@given(document_xml=_docx_xml)
def test_docx_with_any_main_part_loads_or_raises_unreadable_file(document_xml: bytes):
    _load_bytes(_docx_bytes(document_xml), ".docx")


def test_a_malformed_docx_is_an_unreadable_file_from_load_file():
    # load_file let lxml's XMLSyntaxError through; uploads call load_file and catch only
    # UnreadableFile, so a damaged .docx uploaded in the chat was an internal error.
    assert _load_bytes(_docx_bytes(b"<w:document><w:body><w:p>unclosed"), ".docx") is None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.docx"
        path.write_bytes(_docx_bytes(b""))
        with pytest.raises(UnreadableFile, match="could not be read .XMLSyntaxError"):
            load_file(path)


# Where a zip local header keeps the length of the member's name.
_ZIP_NAME_LENGTH_AT = 26


def test_a_parser_message_quoting_raw_bytes_becomes_a_short_reason():
    # zipfile quotes the member name it read from a local header: with a damaged length it
    # quoted hundreds of raw bytes, and the reason ran past a line.
    raw = bytearray(_VALID_DOCX)
    header = raw.index(b"PK\x03\x04", 1)  # the second member's local header
    raw[header + _ZIP_NAME_LENGTH_AT : header + _ZIP_NAME_LENGTH_AT + 2] = (2000).to_bytes(2, "little")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.docx"
        path.write_bytes(bytes(raw))
        with pytest.raises(UnreadableFile) as error:
            load_file(path)
    _check_one_line(str(error.value))
    assert str(error.value).startswith("not a readable .docx file") and str(error.value).endswith("…")


# --- odd encodings ------------------------------------------------------------------------------

_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252")


def _encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


_plain_words = st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), min_size=1, max_size=200)


@FAST
@given(text=_plain_words, encoding=st.sampled_from(_ENCODINGS), suffix=st.sampled_from([".txt", ".md", ".html"]))
def test_odd_encodings_load_or_raise_unreadable_file(text: str, encoding: str, suffix: str):
    body = f"<p>{text}</p>" if suffix == ".html" else text
    _load_bytes(_encoded(body, encoding), suffix)


@FAST
@given(parts=st.lists(st.tuples(_plain_words, st.sampled_from(_ENCODINGS)), min_size=2, max_size=5))
def test_mixed_encodings_in_one_file_load_or_raise_unreadable_file(parts: list[tuple[str, str]]):
    _load_bytes(b"\n\n".join(_encoded(text, encoding) for text, encoding in parts), ".txt")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_read_in_its_encoding(encoding: str):
    text = "Caf\u00e9 owners met on Monday.\n\nThe vote was unanimous."
    document = _load_bytes(text.encode(encoding), ".txt")
    assert document is not None and document.text == text
    assert [document.text[s:e] for s, e in document.paragraphs] == ["Caf\u00e9 owners met on Monday.", "The vote was unanimous."]


def test_latin1_and_cp1252_text_keeps_every_character():
    text = "Caf\u00e9 \u00bbna\u00efve\u00ab \u2013 \u201cquoted\u201d."
    assert _load_bytes(text.encode("cp1252"), ".txt").text == text
    assert _load_bytes("Gr\u00fc\u00dfe aus K\u00f6ln.".encode("latin-1"), ".txt").text == "Gr\u00fc\u00dfe aus K\u00f6ln."


# --- deep HTML ----------------------------------------------------------------------------------

# The depth the issue names; and two small depths whose work is compared (counted, not timed).
DEEP_NESTING = 50_000
_SMALL_NESTING = 400


def _nested_divs(depth: int, text: str = "The text at the bottom.") -> str:
    return "<html><body>" + "<div>" * depth + f"<p>{text}</p>" + "</div>" * depth + "</body></html>"


def test_fifty_thousand_nested_divs_load_their_text(tmp_path: Path):
    path = tmp_path / "deep.html"
    path.write_text(_nested_divs(DEEP_NESTING))
    document = load_file(path)
    assert [document.text[s:e] for s, e in document.paragraphs] == ["The text at the bottom."]


def _python_steps(work: Callable[[], object]) -> int:
    """How many Python and builtin calls `work` makes: an operation count, not a time."""
    steps = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal steps
        steps += 1

    sys.setprofile(count)
    try:
        work()
    finally:
        sys.setprofile(None)
    return steps


@pytest.mark.parametrize("markup", [_nested_divs, lambda depth: "<body>" + "<div>x" * depth + "</div>" * depth])
def test_nested_html_extraction_work_grows_linearly(markup: Callable[[int], str]):
    # Each block asked bs4 whether it held another block (`find`), and bs4 walks down to a tag's
    # last descendant first: 50,000 nested <div>s took 275 s before, ~6 s now.
    from qa.loading.formats import extract_html

    extract_html(markup(10))  # imports done before counting
    small = _python_steps(lambda: extract_html(markup(_SMALL_NESTING)))
    large = _python_steps(lambda: extract_html(markup(2 * _SMALL_NESTING)))
    assert large <= 2.2 * small, (small, large)


_html_tags = st.sampled_from(["div", "p", "span", "li", "ul", "table", "td", "section", "b", "h2", "nav", "script", "br"])


@FAST
@given(tags=st.lists(_html_tags, max_size=300), words=st.text(max_size=50), close=st.booleans())
def test_random_nesting_of_html_loads_or_raises_unreadable_file(tags: list[str], words: str, close: bool):
    markup = "".join(f"<{tag}>{words}" for tag in tags)
    if close:
        markup += "".join(f"</{tag}>" for tag in reversed(tags))
    _load_bytes(markup.encode("utf-8", "surrogatepass"), ".html")


# --- load_documents: every bad file is one skipped file ---------------------------------------


def _check_result(result: LoadResult, names: list[str]) -> None:
    loaded = {Path(d.path).name for d in result.documents}
    skipped = {Path(s.path).name for s in result.skipped}
    assert loaded | skipped == set(names) and not loaded & skipped
    for entry in result.skipped:
        _check_one_line(entry.reason)
        assert "\n" not in str(entry)


@FAST
@given(files=st.lists(st.tuples(st.binary(max_size=512), st.sampled_from(SUFFIXES)), min_size=1, max_size=6))
def test_load_documents_never_raises_and_names_each_bad_file(files: list[tuple[bytes, str]]):
    with tempfile.TemporaryDirectory() as folder:
        names = []
        for n, (raw, suffix) in enumerate(files):
            names.append(f"file{n}{suffix}")
            (Path(folder) / names[-1]).write_bytes(raw)
        _check_result(load_documents([folder]), names)


@pytest.mark.slow
@SLOW
@given(data=st.data(), suffix=st.sampled_from(SUFFIXES))
def test_damaged_real_files_many_examples(data: st.DataObject, suffix: str):
    _load_bytes(data.draw(_mutated(_VALID[suffix])), suffix)


# --- questions ----------------------------------------------------------------------------------

_SEED_QUESTIONS = [question for question, _ in SEED_QUESTIONS] + list(OFF_TOPIC_QUESTIONS)
_odd_characters = st.one_of(
    st.characters(),  # any code point but surrogates
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
    st.sampled_from("\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x85\x9f\u200b\u200e\u2028\u2029\ufeff\ufffd\U0010ffff"),
)
questions = st.one_of(
    st.text(_odd_characters, max_size=80),
    st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u3000\u2028\x00"), max_size=40),  # whitespace only
    st.builds(lambda unit, n: unit * n, st.text(_odd_characters, min_size=1, max_size=8), st.integers(200, 700)),  # very long
    st.builds(lambda q, junk, at: q[:at] + junk + q[at:], st.sampled_from(_SEED_QUESTIONS), st.text(_odd_characters, max_size=6), st.integers(0, 40)),
)


def _check_answer_or_refusal(index: Index, question: str) -> None:
    try:
        answer = index.answer(question)
    except (ValueError, TypeError) as error:
        _check_one_line(str(error))
        assert "question" in str(error), f"not a message about the question: {error}"
        return
    payload = json.dumps(asdict(answer), ensure_ascii=False)
    payload.encode("utf-8")  # printable and sendable: no lone surrogate comes back
    assert answer.text.strip()
    for citation in answer.citations:
        assert citation.quote and citation.start < citation.end


@settings(max_examples=QUESTION_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=questions)
def test_fuzzed_questions_are_answered_or_refused_with_one_line(seed_index: Index, question: str):
    _check_answer_or_refusal(seed_index, question)


@pytest.mark.slow
@settings(max_examples=SLOW_QUESTION_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(question=questions)
def test_fuzzed_questions_many_examples(seed_index: Index, question: str):
    _check_answer_or_refusal(seed_index, question)


@pytest.mark.parametrize("question", ["\ud800", "Kursk \udfff?", "What is the US backstop position?\ud83d", "\x00" * 10, "a" * 2001])
def test_lone_surrogates_and_controls_are_answered_or_refused_clearly(seed_index: Index, question: str):
    _check_answer_or_refusal(seed_index, question)


@pytest.mark.parametrize("question", [None, 42, b"bytes", ["list"]])
def test_a_question_that_is_not_a_string_is_a_type_error(seed_index: Index, question: object):
    with pytest.raises(TypeError, match="question must be a string"):
        seed_index.answer(question)  # type: ignore[arg-type]


# --- a folder of bad files among good ones (benchmarks/bad_files.py) ---------------------------


def _bad_files_benchmark() -> ModuleType:
    """benchmarks/bad_files.py, which builds the folder (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bad_files", PROJECT / "benchmarks" / "bad_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_qa_index_indexes_the_good_files_and_names_each_bad_one(tmp_path: Path, embedder, capsys):
    # The folder: a malformed .docx, a .docx zip bomb, a truncated PDF, a binary .txt
    # and good files. The seconds and memory are the benchmark's (benchmarks/README.md).
    from qa.cli import main
    from qa.loading.formats import MAX_DOCX_UNCOMPRESSED

    bad_files = _bad_files_benchmark()
    folder = tmp_path / "corpus"
    bad_files.build_folder(folder, bomb_bytes=MAX_DOCX_UNCOMPRESSED + bad_files.MIB)
    assert main(["index", str(folder), "--index", str(tmp_path / "index")]) == 0
    out, err = capsys.readouterr()
    assert f"indexed {len(bad_files.GOOD_FILES)} document(s)" in out
    skipped = {}
    for line in err.splitlines():
        match = bad_files.SKIPPED_LINE.match(line)
        assert match, f"an unexpected line: {line!r}"
        skipped[Path(match.group("path")).name] = match.group("reason")
    assert set(skipped) == set(bad_files.BAD_FILES)
    assert "zip bomb" in skipped["bomb.docx"] and "binary" in skipped["binary.txt"]
    assert "PDF" in skipped["truncated.pdf"] and "XMLSyntaxError" in skipped["malformed.docx"]
    assert "Traceback" not in out + err
    documents = {Path(d.path).name for d in Index.open(tmp_path / "index").documents()}
    assert documents == set(bad_files.GOOD_FILES)
