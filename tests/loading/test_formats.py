"""qa/loading/formats.py: a PDF whose metadata title is a placeholder is titled as a reader would.

A writer that was given no title puts "untitled", "(anonymous)" or "Microsoft Word - file.doc" in
the metadata; the title then comes from the first heading (text drawn larger than the body) or,
without one, the file name. A heading (a short line in a larger font, or standing alone above a
paragraph) is a paragraph of its own and the section of those after it; a passage keeps within
its page. PDFs here are written by hand with a heading font size, and by reportlab where it is
installed; the bar's reportlab PDF is indexed and asked with the real model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.index.coordinator import Index
from qa.loading.documents import load_file
from qa.loading.formats import first_heading, is_placeholder_title, pdf_paragraphs
from qa.serving.rendering import citation_card
from qa.text.chunking import chunk_document, split_sentences

from pdf_files import REPORT_PAGES, one_page_pdf, pdf_bytes


def _pdf_with_headings(pages: list[tuple[str, str]], title: str) -> bytes:
    """A PDF whose page n draws `pages[n][0]` at 18 pt above `pages[n][1]` at 11 pt."""
    count = len(pages)
    font = 3 + 2 * count
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * n} 0 R' for n in range(count))}] /Count {count} >>".encode(),
        font: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        font + 1: f"<< /Title ({title}) /Producer (ReportLab PDF Library) >>".encode(),
    }
    for n, (heading, body) in enumerate(pages):
        stream = (f"BT /F1 18 Tf 72 720 Td ({heading}) Tj ET\nBT /F1 11 Tf 72 690 Td 14 TL ({body}) Tj T* "
                  f"(It was a good year.) Tj ET").encode()
        objects[3 + 2 * n] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * n} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        ).encode()
        objects[4 + 2 * n] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(objects))
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, font + 1, xref)
    return bytes(out)


FARM = [("Page one: Planting", "The farm planted barley in March."),
        ("Page two: Harvest", "The harvest filled both barns."),
        ("Page three: Sales", "Sales of barley rose by a third.")]


@pytest.mark.parametrize("title", ["untitled", "Untitled document", "(anonymous)", "Microsoft Word - farm_final.docx", ""])
def test_a_placeholder_title_gives_way_to_the_first_heading(tmp_path: Path, title: str):
    path = tmp_path / "farm-report.pdf"
    path.write_bytes(_pdf_with_headings(FARM, title))
    document = load_file(path)
    assert document.title == "Page one: Planting"
    assert document.pages and document.text.startswith("Page one: Planting")  # the text is unchanged


def test_without_a_heading_the_file_name_is_the_title(tmp_path: Path):
    path = tmp_path / "harvest-notes.pdf"
    path.write_bytes(pdf_bytes((("The harvest filled both barns.", "It was a good year."),), title="untitled"))
    assert load_file(path).title == "harvest-notes"
    path.write_bytes(one_page_pdf("Exports grew by four percent."))  # no title at all
    assert load_file(path).title == "harvest-notes"


def test_a_real_title_is_kept(tmp_path: Path):
    (tmp_path / "report.pdf").write_bytes(pdf_bytes(REPORT_PAGES, title="Tarnwick report"))
    (tmp_path / "farm.pdf").write_bytes(_pdf_with_headings(FARM, "Annual farm report"))
    assert load_file(tmp_path / "report.pdf").title == "Tarnwick report"
    assert load_file(tmp_path / "farm.pdf").title == "Annual farm report"


def test_a_reportlab_pdf_titled_untitled_takes_its_first_heading(tmp_path: Path):
    pytest.importorskip("reportlab")
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    path = tmp_path / "farm.pdf"
    story = []
    for heading, body in FARM:
        story += [Paragraph(heading, styles["Heading1"]), Paragraph(body * 5, styles["BodyText"]), PageBreak()]
    SimpleDocTemplate(str(path), title="untitled").build(story)
    assert load_file(path).title == "Page one: Planting"


@pytest.mark.parametrize(
    "title, placeholder",
    [("untitled", True), ("Untitled-1", True), ("Document1", True), ("Microsoft PowerPoint - deck.pptx", True),
     ("  ", True), ("Untitled Territories of the North", False), ("Minutes of the council", False),
     ("Microsoft Word in the classroom", False)],
)
def test_placeholder_titles(title: str, placeholder: bool):
    assert is_placeholder_title(title) is placeholder


def test_the_first_heading_is_the_first_larger_text_whole():
    runs = [("", 12.0), ("Annual", 18.0), (" report\n", 18.0), ("Body text " * 5, 11.0), ("Later heading", 18.0)]
    assert first_heading(runs) == "Annual report"
    assert first_heading([("Only body text.", 11.0), ("More body.", 11.0)]) is None
    assert first_heading([("x" * 300, 20.0), ("Body " * 100, 11.0)]) is None  # a large paragraph is no title


def _paragraphs(*pages: list[tuple[str, float]]) -> list[tuple[str, str, int]]:
    found, numbers, _ = pdf_paragraphs(list(pages))
    return list(zip(found.paragraphs, found.sections, numbers))


def test_a_larger_line_is_a_heading_paragraph_and_the_section_of_those_after():
    page = [("Annual", 18.0), ("report", 18.0), ("The barley came in early.", 11.0), ("", 0.0),
            ("The barns filled up.", 11.0)]
    assert _paragraphs(page, [("More barley was sold.", 11.0)]) == [
        ("Annual report", "Annual report", 1), ("The barley came in early.", "Annual report", 1),
        ("The barns filled up.", "Annual report", 1), ("More barley was sold.", "Annual report", 2),
    ]
    assert _paragraphs([("x " * 150, 18.0), ("Body.", 11.0)])[0][1] == ""  # a long large line is no heading


def test_a_short_line_standing_alone_above_a_paragraph_is_a_heading():
    body = "The harvest filled both barns before the rain came."
    assert _paragraphs([("Page two: Harvest", 0.0), (body, 0.0), ("It was a good year.", 0.0)]) == [
        ("Page two: Harvest", "Page two: Harvest", 1), (f"{body} It was a good year.", "Page two: Harvest", 1),
    ]
    not_headings = [
        [("The farm planted barley in", 0.0), ("March.", 0.0)],  # a wrapped line fills its column
        [(body, 0.0), ("and so", 0.0), ("Then it rained.", 0.0)],  # lower case, after an unfinished line
        [(body, 0.0), ("Notes", 0.0)],  # nothing follows
        [(body, 0.0), ("Roads:", 0.0), (body, 0.0)],  # ends like a lead-in
        [(body, 0.0), ("Apples", 0.0), ("Pears", 0.0)],  # a list, not a heading above a paragraph
        [("Small print", 8.0), (body, 11.0), (body, 11.0)],  # smaller than the body
    ]
    for lines in not_headings:
        assert {section for _, section, _ in _paragraphs(lines)} == {""}, lines


REPORTLAB_PAGES = [
    ("Page one: Planting", "The farm planted barley in the lower fields in March. The seed came from the "
     "cooperative in Elmsworth, which delivered it by lorry."),
    ("Page two: Harvest", "The harvest filled both barns by the end of August. The combine broke down twice "
     "during the rains and was mended by the neighbours."),
    ("Page three: Sales", "Sales of barley rose by a third compared with the year before. Most of the grain "
     "went to the brewery in Tarnwick, which paid on delivery."),
]


def _reportlab_pdf(path: Path) -> Path:
    pytest.importorskip("reportlab")
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = []
    for heading, body in REPORTLAB_PAGES:
        story += [Paragraph(heading, styles["Heading1"]), Paragraph(body, styles["BodyText"]), PageBreak()]
    SimpleDocTemplate(str(path), title="untitled").build(story)
    return path


def test_a_reportlab_pdfs_headings_are_paragraphs_and_its_passages_keep_to_a_page(tmp_path: Path):
    document = load_file(_reportlab_pdf(tmp_path / "farm.pdf"))
    assert document.title == "Page one: Planting"
    texts = [document.paragraph_text(n) for n in range(1, len(document.paragraphs) + 1)]
    for page, (heading, body) in enumerate(REPORTLAB_PAGES, 1):
        at = texts.index(heading)  # the heading is its own paragraph, never glued to the sentence after
        assert (document.page(at + 1), document.section(at + 1)) == (page, heading)
        assert (texts[at + 1], document.section(at + 2)) == (body, heading)
    sentences = split_sentences(document)
    assert not any(s.text.startswith("Page") and len(s.text) > 20 for s in sentences)
    chunks = chunk_document(document, sentences)
    assert [document.page(c.paragraph) for c in chunks] == [1, 2, 3]
    assert all(c.text.startswith(REPORTLAB_PAGES[n][0] + "\n\n") for n, c in enumerate(chunks))


def test_a_question_about_page_3_cites_page_3_under_its_heading(embedder, tmp_path: Path):
    folder = tmp_path / "docs"
    folder.mkdir()
    _reportlab_pdf(folder / "farm.pdf")
    index = Index.build([folder], path=tmp_path / "index")
    assert index.document("farm").title == "Page one: Planting"
    headings = [heading for heading, _ in REPORTLAB_PAGES]
    for question, page in [("Where did most of the barley grain go?", 3), ("How many times did the combine break down?", 2)]:
        answer = index.answer(question)
        assert not answer.abstained and answer.citations, answer
        for citation in answer.citations:
            assert (citation.page, citation.pages, citation.section) == (page, (page,), headings[page - 1]), question
            assert not any(heading in citation.quote for heading in headings), citation.quote
            passage = next(p for p in answer.passages if p.chunk_id == citation.chunk_id)
            card = citation_card(citation, passage, turn=1)
            assert REPORTLAB_PAGES[page - 1][1].split(".")[0] in card  # the quoted page's text ...
            others = [body.split(".")[0] for n, (_, body) in enumerate(REPORTLAB_PAGES, 1) if n != page]
            assert not any(other in card for other in others)  # ... and no other page's
