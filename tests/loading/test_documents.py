"""qa/loading/documents.py and qa/loading/formats.py: loading files into Documents with exact spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.loading.documents import UnreadableFile, decode_text, load_documents, load_file

from conftest import SEED_FILE, SEEDS
from pdf_files import one_page_pdf


def test_seed_keeps_file_text_and_drops_boilerplate_from_paragraphs():
    doc = load_file(SEED_FILE)
    assert doc.text == SEED_FILE.read_bytes().decode("utf-8")
    assert doc.source == "www.bbc.com"
    assert len(doc.paragraphs) == 9
    contents = [doc.text[s:e] for s, e in doc.paragraphs]
    assert contents[0].startswith("UK Prime Minister Sir Keir Starmer")
    assert contents[-1].startswith("This urgency may account")
    assert not any("Photo credit" in c or c in ("Source", "www.bbc.com") for c in contents)


def test_seed_title_comes_from_the_sidecar():
    doc = load_file(SEED_FILE)
    assert doc.title.startswith("Starmer's coalition of the willing")


def test_title_is_derived_without_a_sidecar(tmp_path: Path):
    path = tmp_path / "story.txt"
    path.write_text("Rain fell on Paris for a week. Streets flooded.\nThe river rose.\n")
    doc = load_file(path)
    assert doc.title == "Rain fell on Paris for a week."
    assert doc.source == "story.txt"


@pytest.mark.parametrize(
    "opening, title",
    [
        ("Photo credit: www.bbc.com\nSir Keir spoke on Saturday. He was upbeat.", "Sir Keir spoke on Saturday."),
        ("CNN —\nStocks fell sharply on Monday. Oil rose.", "Stocks fell sharply on Monday."),
        ("New York (CNN Business) — Bumble unveiled a drone. It ships in May.", "Bumble unveiled a drone."),
        ("LONDON (Reuters) - The Bank of England held rates. Markets rose.", "The Bank of England held rates."),
        ("WASHINGTON — Congress passed the bill. It goes to the Senate.", "Congress passed the bill."),
        ("By Jane Doe, CNN\nUpdated 10:32 AM EDT, Sat March 15, 2025\nThe harbour reopened. Ferries run.", "The harbour reopened."),
        ("March 15, 2025\nRain fell on Paris. Streets flooded.", "Rain fell on Paris."),
        # Content that looks a little like a credit or a dateline stays the title.
        ("Sir Keir Starmer — the prime minister — spoke. More followed.", "Sir Keir Starmer — the prime minister — spoke."),
        ("By 2030 the city will have grown by half. Planners worry.", "By 2030 the city will have grown by half."),
        ("U.S. stocks rose on Friday. Bonds fell.", "U.S. stocks rose on Friday."),
    ],
)
def test_titles_skip_credits_bylines_and_datelines(tmp_path: Path, opening: str, title: str):
    """News saved as text opens with a credit line or a dateline; the title (source card, BM25
    text) is the first sentence of content instead."""
    path = tmp_path / "story.txt"
    path.write_text(opening + "\n", encoding="utf-8")
    assert load_file(path).title == title


def test_blank_line_paragraphs_and_markdown_heading(tmp_path: Path):
    path = tmp_path / "notes.md"
    path.write_text("# Garden notes\n\nTomatoes need sun\nand water.\n\nBasil likes heat.\n")
    doc = load_file(path)
    assert doc.title == "Garden notes"
    assert [doc.text[s:e] for s, e in doc.paragraphs] == [
        "# Garden notes",
        "Tomatoes need sun\nand water.",
        "Basil likes heat.",
    ]


def test_html_drops_scripts_styles_and_navigation(tmp_path: Path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Harbour news</title><style>p{color:red}</style>"
        "<script>alert('x')</script></head><body><nav><a href='/'>Home</a> Menu</nav>"
        "<article><h1>Boats return</h1><p>The fishing fleet came back on <b>Monday</b>.</p>"
        "<p>Catches were good.</p></article><footer>Copyright</footer></body></html>"
    )
    doc = load_file(path)
    paragraphs = [doc.text[s:e] for s, e in doc.paragraphs]
    assert doc.title == "Harbour news"
    assert paragraphs == [
        "Boats return",
        "The fishing fleet came back on Monday.",
        "Catches were good.",
    ]
    assert "alert" not in doc.text and "Menu" not in doc.text and "Copyright" not in doc.text


def test_html_line_breaks_read_as_spaces_and_dropped_tags_leave_no_text():
    from qa.loading.formats import extract_html

    markup = (
        "<body><div>Intro<br>line<p>One<br>two.</p><button>Share</button>"
        "<span hidden>secret</span><div role='navigation'>Menu</div> end</div></body>"
    )
    assert extract_html(markup).paragraphs == ["Intro line end", "One two."]


def _index_lookups(paragraph_count: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Children bs4's Tag.index walks past while extracting a page of <br>s and buttons."""
    from bs4.element import Tag

    from qa.loading.formats import extract_html

    walked = 0
    original = Tag.index

    def counting_index(self: Tag, element: object) -> int:
        nonlocal walked
        position = original(self, element)
        walked += position + 1
        return position

    monkeypatch.setattr(Tag, "index", counting_index)
    line = "<p>The fleet came back.<br>Catches were good.</p><button>Share</button>"
    extract_html("<html><body><article>" + line * paragraph_count + "</article></body></html>")
    return walked


def test_html_extraction_work_grows_linearly_with_the_page(monkeypatch: pytest.MonkeyPatch):
    # bs4's decompose and replace_with find an element by walking its parent's children, so
    # dropping each of n sibling buttons walked ~n²/2 children: a megabyte page took seconds.
    small, large = _index_lookups(1000, monkeypatch), _index_lookups(2000, monkeypatch)
    assert large <= 2.2 * small


def test_docx_is_loaded(tmp_path: Path):
    import docx

    document = docx.Document()
    document.core_properties.title = "Minutes"
    document.add_paragraph("The council approved the budget.")
    document.add_paragraph("The vote was unanimous.")
    path = tmp_path / "minutes.docx"
    document.save(path)
    doc = load_file(path)
    assert doc.title == "Minutes"
    assert [doc.text[s:e] for s, e in doc.paragraphs] == [
        "The council approved the budget.",
        "The vote was unanimous.",
    ]


def test_pdf_text_layer_is_loaded(tmp_path: Path):
    path = tmp_path / "report.pdf"
    path.write_bytes(one_page_pdf("Exports grew by four percent."))
    doc = load_file(path)
    assert "Exports grew by four percent." in doc.text


def test_bad_files_are_skipped_with_one_line_reasons(tmp_path: Path):
    (tmp_path / "good.txt").write_text("A fine sentence.")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02PNG\x00")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (tmp_path / "broken.docx").write_bytes(b"not a zip")
    result = load_documents([tmp_path, tmp_path / "missing.txt"])
    assert [d.doc_id for d in result.documents] == ["good"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons["empty.txt"] == "file is empty"
    assert "binary" in reasons["binary.txt"]
    assert "unsupported" in reasons["picture.png"]
    assert "PDF" in reasons["broken.pdf"]
    assert "docx" in reasons["broken.docx"]
    assert "no such file" in reasons["missing.txt"]
    assert all("\n" not in str(s) for s in result.skipped)


def test_non_utf8_text_falls_back_to_cp1252():
    text, encoding = decode_text("Caf\u00e9 \u201cquoted\u201d".encode("cp1252"))
    assert (text, encoding) == ("Caf\u00e9 \u201cquoted\u201d", "cp1252")
    assert decode_text(b"\xef\xbb\xbfhello") == ("hello", "utf-8")


def test_same_file_names_in_different_folders_get_distinct_ids(tmp_path: Path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "story.txt").write_text(f"Story from {folder}.")
    ids = [d.doc_id for d in load_documents([tmp_path]).documents]
    assert ids == ["story", "story~2"]


def test_unreadable_file_raises_a_one_line_reason(tmp_path: Path):
    with pytest.raises(UnreadableFile, match="unsupported"):
        load_file(tmp_path / "x.exe")


def test_seed_directory_loads_only_the_article():
    result = load_documents([SEEDS])
    assert [d.doc_id for d in result.documents] == ["000_56409ce4796d023f"]
    assert result.skipped == []


def _docx_with(tmp_path: Path, name: str, document_xml: bytes) -> Path:
    """A real .docx (python-docx) whose main XML part is replaced by `document_xml`."""
    import zipfile

    import docx

    source = tmp_path.parent / f"{tmp_path.name}-source.docx"
    document = docx.Document()
    document.add_paragraph("Placeholder.")
    document.save(source)
    target = tmp_path / name
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            data = document_xml if item.filename == "word/document.xml" else original.read(item)
            copy.writestr(item, data)
    return target


def test_a_docx_with_malformed_xml_is_one_skipped_file(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("The harbour reopened on Monday.")
    _docx_with(corpus, "malformed.docx", b"<w:document><w:body><w:p>unclosed")
    result = load_documents([corpus])
    assert [d.doc_id for d in result.documents] == ["good"]
    (skipped,) = result.skipped
    assert skipped.path.endswith("malformed.docx") and "\n" not in str(skipped)


def test_a_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path):
    from qa.loading.formats import MAX_DOCX_UNCOMPRESSED

    bomb = _docx_with(tmp_path, "bomb.docx", b"<w:document>" + b" " * (MAX_DOCX_UNCOMPRESSED + 1))
    assert bomb.stat().st_size < 2 * 1024 * 1024  # small on disk, huge inflated
    with pytest.raises(UnreadableFile, match="zip bomb"):
        load_file(bomb)


def test_hidden_files_are_skipped_with_a_reason_and_odd_names_are_escaped(tmp_path: Path):
    (tmp_path / ".draft.txt").write_text("A hidden draft.")
    (tmp_path / "line\nbreak.txt").write_text("   ")
    result = load_documents([tmp_path])
    reasons = {s.path: s.reason for s in result.skipped}
    assert "hidden" in reasons[str(tmp_path / ".draft.txt")]
    assert any("line\\x0abreak.txt" in str(s) for s in result.skipped)
    assert all("\n" not in str(s) for s in result.skipped)
