"""The PDF of a report (fpdf2), drawn from the same Document as the HTML: branded band, KPI tiles, charts, tables.

Text is set in DejaVu Sans, the font matplotlib ships (already a dependency), so currency symbols, arrows and
dashes print as they are. Each page carries the brand and report title at the top and, at the bottom, the role
the copy was masked for and "page N of M". A heading never ends a page: a block starts on a new page when its
heading and first content would not fit. Table columns share the page width by their longest text, and a
table too wide to fit is set smaller rather than cut, so the PDF has every column the HTML and CSV have.
"""

from __future__ import annotations

import base64
import binascii
from io import BytesIO
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

from success_metrics.notify.reports.view import Block, Document, Table, Tile

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
TONES = {"good": (43, 138, 62), "bad": (201, 42, 42), "warn": (230, 119, 0), "neutral": (73, 80, 87)}
GREY = (108, 117, 125)
MIN_TABLE_FONT = 6.0


def rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def logo(url: str | None) -> bytes | None:
    """A logo given inline (data: URL) is drawn; one behind a web address is not fetched while rendering."""
    if not url or not url.startswith("data:image/") or ";base64," not in url:
        return None
    try:
        return base64.b64decode(url.split(";base64,", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None


class _Pdf(FPDF):
    def __init__(self, d: Document) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.d = d
        self.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 18, 15)
        self.alias_nb_pages()

    def header(self) -> None:
        self.set_fill_color(*rgb(self.d.colors[0]))
        self.rect(0, 0, self.w, 5, style="F")
        if self.page_no() > 1:
            self.set_xy(15, 8)
            self.set_font("DejaVu", "", 8)
            self.set_text_color(*GREY)
            self.cell(0, 4, f"{self.d.brand} · {self.d.title} · {self.d.period}")
            self.set_y(18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", "", 7.5)
        self.set_text_color(*GREY)
        self.cell(self.epw * 0.8, 4, self.d.masked_for)
        self.cell(self.epw * 0.2, 4, f"Page {self.page_no()} of {{nb}}", align="R")

    def text_line(self, text: str, size: float, style: str = "", color: tuple[int, int, int] = (33, 37, 41),
                  height: float | None = None) -> None:
        self.set_font("DejaVu", style, size)
        self.set_text_color(*color)
        self.multi_cell(0, height or size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _title(doc: _Pdf, d: Document) -> None:
    doc.set_fill_color(*rgb(d.colors[0]))
    doc.rect(0, 5, doc.w, 26, style="F")
    mark = logo(d.logo_url)
    if mark:
        doc.image(BytesIO(mark), x=doc.w - 15 - 20, y=9, h=18, keep_aspect_ratio=True)
    else:  # a monogram in the brand's second colour
        doc.set_fill_color(*rgb(d.colors[1]))
        doc.rect(doc.w - 15 - 18, 9, 18, 18, style="F", round_corners=True)
        doc.set_xy(doc.w - 15 - 18, 9)
        doc.set_font("DejaVu", "B", 14)
        doc.set_text_color(255, 255, 255)
        doc.cell(18, 18, "".join(w[0] for w in d.brand.split()[:2]).upper(), align="C")
    doc.set_xy(15, 10)
    doc.set_font("DejaVu", "B", 17)
    doc.cell(doc.epw - 25, 8, f"{d.brand} · {d.title}")
    doc.set_xy(15, 19)
    doc.set_font("DejaVu", "", 10)
    doc.cell(doc.epw - 25, 6, f"{d.tenant} · {d.period}")
    doc.set_y(34)
    doc.text_line(d.generated, 8, color=GREY)


def _heading(doc: _Pdf, text: str, need: float, color: str) -> None:
    """The block's heading, on a new page when it and ``need`` mm of what follows would not fit."""
    if doc.get_y() + 12 + need > doc.page_break_trigger:
        doc.add_page()
    doc.ln(3)
    doc.text_line(text, 12.5, "B", rgb(color), 7)
    doc.set_draw_color(*rgb(color))
    doc.set_line_width(0.5)
    doc.line(doc.l_margin, doc.get_y(), doc.l_margin + doc.epw, doc.get_y())
    doc.ln(2)


TILE_H = 37.0


def fit(doc: FPDF, text: str, width: float, size: float, style: str = "") -> float:
    """The font size, at most ``size`` and at least 5.5 pt, at which ``text`` fits ``width`` mm (then set)."""
    while True:
        doc.set_font("DejaVu", style, size)
        if doc.get_string_width(text) <= width or size <= 5.5:
            return size
        size -= 0.5


def _text(doc: FPDF, text: str, x: float, y: float, w: float, size: float, style: str = "",
          color: tuple[int, int, int] = (73, 80, 87), h: float = 4) -> None:
    fit(doc, text, w, size, style)
    doc.set_text_color(*color)
    doc.set_xy(x, y)
    doc.cell(w, h, text)


def _tile(doc: _Pdf, t: Tile, x: float, y: float, w: float, bar: str) -> None:
    doc.set_draw_color(222, 226, 230)
    doc.set_line_width(0.3)
    doc.rect(x, y, w, TILE_H - 3, round_corners=True)
    inner = w - 6
    _text(doc, t.title, x + 3, y + 2, inner, 8)
    _text(doc, t.value, x + 3, y + 6.5, inner, 15, "B", (33, 37, 41), 7)
    _text(doc, f"{t.arrow} {t.change}" if t.change else "No previous period to compare", x + 3, y + 14, inner, 7,
          color=TONES[t.change_tone])
    if t.progress is not None:
        doc.set_fill_color(233, 236, 239)
        doc.rect(x + 3, y + 19, inner, 1.8, style="F")
        doc.set_fill_color(*rgb(bar))
        doc.rect(x + 3, y + 19, max(0.5, inner * t.progress), 1.8, style="F")
    _text(doc, t.target or "", x + 3, y + 21.5, inner, 7)
    _text(doc, t.projected or "", x + 3, y + 25, inner, 7)
    _text(doc, t.status, x + 3, y + 29, inner, 7.5, "B", TONES[t.status_tone])


def _tiles(doc: _Pdf, tiles: list[Tile], bar: str) -> None:
    per_row = 4 if len(tiles) != 3 else 3
    w = (doc.epw - 3 * (per_row - 1)) / per_row
    for i in range(0, len(tiles), per_row):
        if doc.get_y() + TILE_H > doc.page_break_trigger:
            doc.add_page()
        y = doc.get_y()
        for j, t in enumerate(tiles[i:i + per_row]):
            _tile(doc, t, doc.l_margin + j * (w + 3), y, w, bar)
        doc.set_y(y + TILE_H)


def column_widths(doc: FPDF, t: Table) -> tuple[list[float], float]:
    """Widths (mm) sharing the page by each column's longest text, and the font size that fits them."""
    size = 8.0
    while True:
        doc.set_font("DejaVu", "", size)
        need = [max(_word(doc, h, "B"), *(_width(doc, r[j], "") for r in t.rows)) + 3.2
                for j, h in enumerate(t.header)]  # values on one line; a long header may wrap
        longest_word = [max(_word(doc, h, "B"), *(_word(doc, r[j], "") for r in t.rows)) + 3.2
                        for j, h in enumerate(t.header)]
        if sum(longest_word) <= doc.epw or size <= MIN_TABLE_FONT:
            break
        size -= 0.5
    if sum(need) <= doc.epw:
        spare = doc.epw - sum(need)
        return [n + spare * n / sum(need) for n in need], size
    # wrap the widest columns: each keeps at least its longest word
    widths = list(longest_word)
    spare = doc.epw - sum(widths)
    extra = [n - w for n, w in zip(need, widths, strict=True)]
    return [w + max(0.0, spare) * e / (sum(extra) or 1) for w, e in zip(widths, extra, strict=True)], size


def _width(doc: FPDF, text: str, style: str) -> float:
    """The width of ``text`` in the current size and ``style``."""
    doc.set_font("DejaVu", style, doc.font_size_pt)
    return doc.get_string_width(text)


def _word(doc: FPDF, text: str, style: str) -> float:
    """The width of the longest word of ``text`` (where a cell can wrap) in the current size."""
    return max((_width(doc, w, style) for w in text.split()), default=0.0)


def _table(doc: _Pdf, t: Table, color: str) -> None:
    widths, size = column_widths(doc, t)
    doc.set_font("DejaVu", "", size)
    doc.set_fill_color(255, 255, 255)
    doc.set_text_color(33, 37, 41)
    doc.set_draw_color(222, 226, 230)
    doc.set_line_width(0.2)
    aligns = ["RIGHT" if n else "LEFT" for n in t.numeric]
    with doc.table(col_widths=widths, width=min(doc.epw, sum(widths)), align="LEFT", line_height=size * 0.5,
                   text_align=aligns, headings_style=_head(color), borders_layout="HORIZONTAL_LINES",
                   first_row_as_headings=True) as grid:
        grid.row(t.header)
        for row in t.rows:
            grid.row(row)
    if t.more:
        doc.text_line(f"{t.more} more rows in {t.csv}.", 7.5, "", GREY)


def _head(color: str) -> object:
    from fpdf.fonts import FontFace
    return FontFace(emphasis="BOLD", fill_color=(241, 243, 245), color=rgb(color))


def _image_height(png: bytes, width: float) -> float:
    with Image.open(BytesIO(png)) as im:
        return width * im.height / im.width


def _block(doc: _Pdf, b: Block, d: Document) -> None:
    first = (TILE_H if b.tiles else _image_height(b.image, doc.epw) if b.image else 14 if b.table else 8)
    _heading(doc, b.title, first, d.colors[0])
    if b.empty:
        doc.text_line(b.empty, 9, "", (73, 80, 87))
    if b.tiles:
        _tiles(doc, b.tiles, d.colors[1])
    for line in b.lines:
        doc.text_line(f"•  {line}", 9, height=4.8)
    if b.image:
        doc.image(BytesIO(b.image), w=doc.epw)
    if b.table:
        _table(doc, b.table, d.colors[0])
    for note in b.notes:
        doc.text_line(note, 7.5, "", GREY, 3.8)


def build(d: Document) -> bytes:
    doc = _Pdf(d)
    doc.add_page()
    _title(doc, d)
    for b in d.blocks:
        _block(doc, b, d)
    return bytes(doc.output())
