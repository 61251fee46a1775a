"""The PDF of a report (fpdf2): title, highlights, alerts, then each section's chart and table.

fpdf2's built-in fonts cover Latin-1 only, so text is folded to it (— becomes -, ≈ becomes ~) rather than
embedding a font file.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

from fpdf import FPDF
from fpdf.enums import XPos, YPos

MAX_PDF_ROWS = 40
MAX_PDF_COLUMNS = 8
_FOLD = str.maketrans({"—": "-", "–": "-", "≈": "~", "·": "-", "…": "...", "’": "'", "“": '"', "”": '"'})

SectionPart = tuple[str, str | None, bytes | None, list[str] | None, list[list[str]]]


def latin1(text: str) -> str:
    return text.translate(_FOLD).encode("latin-1", "replace").decode("latin-1")


def _line(doc: FPDF, text: str, size: float = 10, style: str = "") -> None:
    doc.set_font("Helvetica", style, size)
    doc.multi_cell(0, size * 0.55, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def build(*, title: str, subtitle: str, highlights: Sequence[str], alerts: Sequence[str],
          sections: Sequence[SectionPart]) -> bytes:
    doc = FPDF(orientation="portrait", unit="mm", format="A4")
    doc.set_auto_page_break(auto=True, margin=15)
    doc.add_page()
    _line(doc, title, 16, "B")
    _line(doc, subtitle, 9)
    doc.ln(3)
    if highlights:
        _line(doc, "Highlights", 12, "B")
        for text in highlights:
            _line(doc, f"- {text}", 9)
    if alerts:
        _line(doc, "Active alerts", 12, "B")
        for text in alerts:
            _line(doc, f"- {text}", 9)
    for heading, note, png, header, rows in sections:
        doc.ln(3)
        _line(doc, heading, 12, "B")
        if note:
            _line(doc, note, 9, "I")
        if png:
            doc.image(BytesIO(png), w=doc.epw)
        if header:
            doc.set_font("Helvetica", "", 7)
            with doc.table(text_align="LEFT", line_height=4) as grid:
                grid.row([latin1(h) for h in header[:MAX_PDF_COLUMNS]])
                for row in rows[:MAX_PDF_ROWS]:
                    grid.row([latin1(v) for v in row[:MAX_PDF_COLUMNS]])
    return bytes(doc.output())
