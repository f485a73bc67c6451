"""Citations a reader can find in the original (issue 11, item 5) and per-file limits (issue 10).

A PDF keeps its page numbers and a Markdown, HTML or DOCX file its section headings through
loading, sentences, the index on disk, reopening and merges, up to `Citation`, the JSON of
`qa ask --json` and `/api/ask`, the CLI text, the source card and its link to the stored
original, which a real server serves (uploads only). PDFs are written here by hand: a few
hundred bytes of PDF syntax with a text layer pypdf reads, no PDF writer needed.
"""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

from qa.answering.compose import Citation, answer_json
from qa.serving.api import original_url
from qa.text.chunking import split_sentences
from qa.cli import main
from qa.loading.documents import FileLimits, load_documents, load_file, markdown_sections
from qa.index.coordinator import Index
from qa.serving.rendering import citation_card, pages_text, sources_html
from qa.index.segments import PARAGRAPH_COLUMNS, PARAGRAPHS, SectionTable
from pdf_files import REPORT_PAGES, SLEDGES, pdf_bytes
from servers import LOGIN, PASSWORD, USER, running_server  # noqa: F401 - the real-server fixture, shared

NOTES_MD = """# Field notes

Intro text about the birds of the Tarnwick coast.

```
# not a heading: a comment in a code block
```

## Penguins

Emperor penguins of the Tarnwick colony huddle together to survive the winter cold.
"""
PENGUINS = "How do the emperor penguins of the Tarnwick colony survive the winter?"
EVIL_SECTION = '<img src=x onerror=alert(1)> & "quotes"'


def _docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Budget", level=1)
    document.add_paragraph("The council approved the budget.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "roads", "40%"
    document.add_heading("Vote", level=2)
    document.add_paragraph("The vote was unanimous.")
    document.save(path)
    return path


def _corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.pdf").write_bytes(pdf_bytes(REPORT_PAGES))
    (folder / "notes.md").write_text(NOTES_MD, encoding="utf-8")
    return folder


# --- loading and sentences -------------------------------------------------------------------


def test_pdf_paragraphs_keep_their_page_numbers(tmp_path: Path):
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes(REPORT_PAGES))
    doc = load_file(path)
    assert doc.title == "Tarnwick report"
    assert doc.pages == (1, 2, 3) and len(doc.paragraphs) == 3
    assert [doc.page(n) for n in (1, 2, 3)] == [1, 2, 3]
    assert doc.paragraph_text(3) == REPORT_PAGES[2][0]
    assert doc.sections == () and doc.section(1) is None
    third = [s for s in split_sentences(doc) if "forty sledges" in s.text]
    assert [(s.page, s.section) for s in third] == [(3, None)]


def test_markdown_sections_follow_headings_and_skip_code_blocks(tmp_path: Path):
    path = tmp_path / "notes.md"
    path.write_text(NOTES_MD, encoding="utf-8")
    doc = load_file(path)
    texts = [doc.text[s:e] for s, e in doc.paragraphs]
    by_text = dict(zip(texts, doc.sections))
    assert by_text["# Field notes"] == "Field notes"
    assert by_text["Intro text about the birds of the Tarnwick coast."] == "Field notes"
    assert by_text[texts[2]] == "Field notes"  # the code block: its "#" line is no heading
    assert by_text[texts[-1]] == "Penguins"
    assert doc.pages == ()
    penguins = [s for s in split_sentences(doc) if "Emperor" in s.text]
    assert [(s.page, s.section) for s in penguins] == [(None, "Penguins")]
    assert markdown_sections("text\n\n# A\n\nb", [(0, 4), (6, 9), (11, 12)]) == ("", "A", "A")


def test_pages_and_sections_must_match_the_paragraphs():
    from qa.loading.documents import Document

    with pytest.raises(ValueError, match="pages has 1 entries for 2 paragraphs"):
        Document("d", "T", "s", "p", "ab cd", ((0, 2), (3, 5)), "h", pages=(1,))


def test_plain_text_has_no_sections(tmp_path: Path):
    path = tmp_path / "plain.txt"
    path.write_text("# Not markdown\n\nA plain sentence.\n", encoding="utf-8")
    assert load_file(path).sections == ()


def test_html_headings_are_sections_and_stay_plain_text(tmp_path: Path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><body><h1>Station</h1><p>The station opened in 1990.</p>"
        "<h2>&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;</h2><p>The boiler was replaced.</p></body></html>",
        encoding="utf-8",
    )
    doc = load_file(path)
    assert doc.sections == ("Station", "Station", EVIL_SECTION, EVIL_SECTION)


def test_docx_heading_styles_are_sections_and_tables_stay_in_place(tmp_path: Path):
    doc = load_file(_docx(tmp_path / "minutes.docx"))
    assert [doc.text[s:e] for s, e in doc.paragraphs] == [
        "Budget", "The council approved the budget.", "roads | 40%", "Vote", "The vote was unanimous.",
    ]
    assert doc.sections == ("Budget", "Budget", "Budget", "Vote", "Vote")


# --- per-file limits ---------------------------------------------------------------------------


def test_a_pdf_over_the_page_limit_is_skipped_with_the_reason(tmp_path: Path):
    (tmp_path / "report.pdf").write_bytes(pdf_bytes(REPORT_PAGES))
    refused = load_documents([tmp_path], FileLimits(pdf_pages=2))
    assert refused.documents == []
    assert [s.reason for s in refused.skipped] == ["PDF has 3 pages; the limit is 2 per file"]
    assert [d.doc_id for d in load_documents([tmp_path], FileLimits(pdf_pages=3)).documents] == ["report"]


def test_parsing_past_the_time_limit_skips_the_file_with_the_reason(tmp_path: Path):
    _corpus(tmp_path)
    (tmp_path / "page.html").write_text("<p>The station opened in 1990.</p>", encoding="utf-8")
    _docx(tmp_path / "minutes.docx")
    # A limit of 0 s has passed at the first check: every parser stops there, with the reason.
    result = load_documents([tmp_path], FileLimits(parse_seconds=0))
    assert result.documents == []
    assert sorted(Path(s.path).name for s in result.skipped) == ["minutes.docx", "notes.md", "page.html", "report.pdf"]
    assert {s.reason for s in result.skipped} == {"parsing took longer than 0 s, the limit per file"}
    assert len(load_documents([tmp_path]).documents) == 4


# --- the index, answers and every output ---------------------------------------------------


@pytest.fixture(scope="module")
def paged_index(embedder, tmp_path_factory: pytest.TempPathFactory) -> Index:
    """An index of the 3-page report and the Markdown notes. Do not modify it."""
    root = tmp_path_factory.mktemp("pages")
    return Index.build([_corpus(root / "docs")], path=root / "index")


def _cited(index: Index, question: str, doc_id: str) -> Citation:
    answer = index.answer(question)
    assert not answer.abstained, answer
    return next(c for c in answer.citations if c.doc_id == doc_id)


def test_a_citation_from_page_3_of_a_3_page_pdf_says_page_3(paged_index: Index):
    citation = _cited(paged_index, SLEDGES, "report")
    assert "forty sledges" in citation.quote
    assert (citation.page, citation.pages, citation.section) == (3, (3,), None)
    assert paged_index.document("report").text[citation.start : citation.end] == citation.quote


def test_a_markdown_citation_names_its_section(paged_index: Index):
    citation = _cited(paged_index, PENGUINS, "notes")
    assert "huddle together" in citation.quote
    assert (citation.page, citation.pages, citation.section) == (None, (), "Penguins")


def test_the_segment_stores_pages_and_headings_by_column(paged_index: Index):
    folder = paged_index.path / paged_index.segments()[0].name
    paragraphs = np.load(folder / PARAGRAPHS)
    assert paragraphs.dtype == np.int64 and paragraphs.shape[1] == PARAGRAPH_COLUMNS
    sections = SectionTable(folder)
    assert sorted(sections[h] for h in range(len(sections))) == ["Field notes", "Penguins"]
    reopened = Index.open(paged_index.path)
    assert reopened.document("report").pages == (1, 2, 3)
    assert reopened.document("notes").sections == paged_index.document("notes").sections


def test_merges_carry_pages_and_sections(embedder, tmp_path: Path):
    index = Index.build([_corpus(tmp_path / "docs")], path=tmp_path / "index")
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "minutes.md").write_text("# Minutes\n\nThe Tarnwick council met on Monday.\n", encoding="utf-8")
    index.add([extra])
    before = {d: index.document(d) for d in ("report", "notes", "minutes")}
    index.compact()
    assert len(index.segments()) == 1
    for doc_id, document in before.items():
        after = index.document(doc_id)
        assert (after.pages, after.sections) == (document.pages, document.sections), doc_id
    assert _cited(index, SLEDGES, "report").page == 3


def test_json_outputs_and_the_cli_name_the_page_and_section(paged_index: Index, capsys):
    payload = json.loads(json.dumps(answer_json(paged_index.answer(SLEDGES))))
    cited = next(c for c in payload["citations"] if c["doc_id"] == "report")
    assert (cited["page"], cited["pages"], cited["section"]) == (3, [3], None)

    assert main(["ask", SLEDGES, "--json", "--index", str(paged_index.path)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [c["page"] for c in cli["citations"] if c["doc_id"] == "report"] == [3]

    assert main(["ask", SLEDGES, "--index", str(paged_index.path)]) == 0
    report_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("[") and "— report.pdf" in line)
    assert ", page 3, paragraph 3, chars" in report_line

    assert main(["ask", PENGUINS, "--index", str(paged_index.path)]) == 0
    assert "— notes.md, section “Penguins”, paragraph " in capsys.readouterr().out

    assert main(["search", SLEDGES, "--json", "-k", "3", "--index", str(paged_index.path)]) == 0
    passages = json.loads(capsys.readouterr().out)
    report = paged_index.document("report")
    pages = [(p["page"], report.page(p["paragraph"])) for p in passages if p["doc_id"] == "report"]
    assert pages and all(page == expected and page is not None for page, expected in pages)  # where it starts
    assert main(["search", PENGUINS, "--json", "-k", "3", "--index", str(paged_index.path)]) == 0
    notes = paged_index.document("notes")
    sections = [(p["section"], notes.section(p["paragraph"])) for p in json.loads(capsys.readouterr().out) if p["doc_id"] == "notes"]
    assert sections and all(section == expected for section, expected in sections) and sections[0][0] is not None


def test_the_source_card_names_the_page_and_links_to_the_original_at_it(paged_index: Index):
    answer = paged_index.answer(SLEDGES)
    number = next(c.number for c in answer.citations if c.doc_id == "report")
    markup = sources_html(answer, turn=2, originals={"report": original_url("report")})
    card = markup[markup.index(f'id="src-2-{number}"') :]
    assert '<span class="qa-page">page 3</span>' in card
    assert 'href="/api/documents/report/original#page=3"' in card and "open the original at page 3" in card
    # no original known (a document that is not an upload): no link
    assert "qa-original" not in sources_html(answer, turn=2)


def test_card_escapes_headings_and_names_page_ranges():
    citation = Citation(
        number=1, doc_id="a b/c", title="T", source="s", paragraph=4, start=0, end=5, quote="Hello",
        spans=((0, 5),), chunk_id="a b/c:0", paragraphs=(4, 5), page=2, pages=(2, 3), section=EVIL_SECTION,
    )
    card = citation_card(citation, None, turn=1, original=original_url(citation.doc_id))
    assert "<img" not in card and "section “&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;”" in card
    assert "pages 2 and 3" in card
    assert 'href="/api/documents/a%20b%2Fc/original#page=2"' in card
    assert pages_text((), None) == "" and pages_text((4, 5, 6), 4) == "pages 4\u20136"


# --- the stored original, served by a real server -----------------------------------------------


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def _upload(port: int, files: dict[str, bytes], headers: dict[str, str] | None = None) -> list[dict]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        b"--%s\r\nContent-Disposition: form-data; name=\"files\"; filename=\"%s\"\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n%s\r\n" % (boundary.encode(), name.encode(), data)
        for name, data in files.items()
    ) + b"--%s--\r\n" % boundary.encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(
            "POST", "/api/documents", body=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})},
        )
        response = connection.getresponse()
        assert response.status == 200, response.read()
        return json.loads(response.read())["outcomes"]
    finally:
        connection.close()


def test_the_server_serves_stored_uploads_only_at_the_cited_page(embedder, running_server, tmp_path: Path):
    index = Index.build([_corpus(tmp_path / "docs")], path=tmp_path / "index")
    server = running_server(index)
    report = pdf_bytes(REPORT_PAGES, title="Uploaded report")
    evil_html = b"<html><body><script>alert(1)</script><p>The Tarnwick boiler hums.</p></body></html>"
    outcomes = _upload(server.port, {"uploaded report.pdf": report, "evil.html": evil_html})
    assert [o["ok"] for o in outcomes] == [True, True], outcomes
    pdf_id, html_id = (o["doc_id"] for o in outcomes)

    status, data, _ = server.request("POST", "/api/ask", {"question": SLEDGES})
    assert status == 200 and 3 in [c["page"] for c in data["citations"]]

    status, body, headers = _get(server.port, original_url(pdf_id))
    assert status == 200 and body == report
    assert headers["content-type"] == "application/pdf" and headers["content-disposition"].startswith("inline")
    assert headers["x-content-type-options"] == "nosniff"

    status, body, headers = _get(server.port, original_url(html_id))
    assert status == 200 and body == evil_html
    assert headers["content-type"].startswith("text/plain") and "sandbox" in headers["content-security-policy"]

    for missing in ("report", "no-such-doc", "%2E%2E"):  # indexed but not an upload, unknown, ".."
        status, body, _ = _get(server.port, f"/api/documents/{missing}/original")
        assert status == 404 and "not an uploaded document" in json.loads(body)["error"], missing
    assert _get(server.port, "/api/documents/..%2F..%2Fetc%2Fpasswd/original")[0] == 404  # no route takes it

    guarded = running_server(index, auth=(USER, PASSWORD))
    assert _get(guarded.port, original_url(pdf_id))[0] == 401
    assert _get(guarded.port, original_url(pdf_id), LOGIN)[:2] == (200, report)

