"""qa/loading/formats.py: a PDF whose metadata title is a placeholder is titled as a reader would.

A writer that was given no title puts "untitled", "(anonymous)" or "Microsoft Word - file.doc" in
the metadata; the title then comes from the first heading (text drawn larger than the body) or,
without one, the file name. PDFs here are written by hand with a heading font size, and one by
reportlab where it is installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.loading.documents import load_file
from qa.loading.formats import first_heading, is_placeholder_title

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
