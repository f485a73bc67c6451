"""Small PDFs written by hand (no PDF writer needed), for tests and benchmarks/bad_files.py."""

from __future__ import annotations

import io

REPORT_TITLE = "Tarnwick report"
# What each page of the report says; page 3 alone answers the sledge question.
REPORT_PAGES = (
    ("The annual report of the Tarnwick survey covers the northern research station.",),
    ("Funding for the station came from the national science council in full.",),
    ("The Tarnwick glacier station stores exactly forty sledges for winter expeditions.",),
)
SLEDGES = "How many sledges does the Tarnwick glacier station store?"


def pdf_bytes(pages: tuple[tuple[str, ...], ...], title: str | None = REPORT_TITLE) -> bytes:
    """A PDF whose page n shows the lines of `pages[n - 1]` (Helvetica, plain ASCII text), with
    `title` in its document information (none when None).

        >>> pdf_bytes((("Exports grew.",),), title=None)[:8]
        b'%PDF-1.4'
    """
    count = len(pages)
    font = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * n} 0 R" for n in range(count))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        font: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    if title is not None:
        objects[font + 1] = f"<< /Title ({title}) >>".encode()
    for n, lines in enumerate(pages):
        stream = "\n".join(["BT /F1 12 Tf 72 720 Td 14 TL", *(f"({line}) Tj T*" for line in lines), "ET"]).encode()
        objects[3 + 2 * n] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * n} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        ).encode()
        objects[4 + 2 * n] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number in sorted(objects):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, objects[number]))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    info = b" /Info %d 0 R" % (font + 1) if title is not None else b""
    out.write(b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref))
    return out.getvalue()


def one_page_pdf(text: str) -> bytes:
    """A one-page PDF with `text` in its text layer and no title."""
    return pdf_bytes(((text,),), title=None)
