"""A Report → what is sent: HTML with chart images, the tables as CSV, a PDF, and the email carrying them.

Everything here reads the already-masked frames of the Report, so no rendering step can show more than
the recipient's role allows. Values are HTML-escaped by the template engine.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from success_metrics.calculators import ColumnType, Frame, Kind
from success_metrics.notify.reports import pdf, view
from success_metrics.notify.reports.content import Report

_TEMPLATE = Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=True,
                        trim_blocks=True, lstrip_blocks=True).get_template("report.html.j2")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str
    text: str
    images: dict[str, bytes]  # content id → PNG
    csvs: dict[str, bytes]  # file name → CSV
    pdf_name: str
    pdf: bytes
    document: view.Document  # what the HTML and the PDF were drawn from

    @property
    def attachment_names(self) -> tuple[str, ...]:
        return (*self.csvs, self.pdf_name)


def csv_bytes(frame: Frame) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.name for c in frame.columns])
    for row in frame.rows():
        writer.writerow([
            datetime.fromtimestamp(v / 1000, UTC).isoformat() if c.type is ColumnType.TIME and v is not None
            else ("" if v is None else v) for v, c in zip(row, frame.columns, strict=True)])
    return out.getvalue().encode()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def render(report: Report) -> Rendered:
    """Charts, tables, CSVs, HTML, text and PDF of one report (CPU-bound: run it in a worker thread)."""
    d = view.document(report)
    images = {i: make_msgid(domain="success-metrics")[1:-1] for i, b in enumerate(d.blocks) if b.image}
    csvs: dict[str, bytes] = {}
    for section in report.sections:
        if section.frame is not None and section.frame.row_count and section.frame.kind is not Kind.STAT:
            csvs[f"{_slug(section.title)}.csv"] = csv_bytes(section.frame)
    for b in d.blocks:
        if b.table and b.table.more:
            b.table = replace(b.table, csv=f"{_slug(b.title)}.csv")
    html = _TEMPLATE.render(d=d, images=images)
    text = "\n".join([f"{d.title} — {report.tenant_name} — {d.period}", "", *report.highlights, "",
                      "The full report is in the HTML part and the attached PDF.", "", d.masked_for])
    pdf_name = f"{report.kind.value}-report-{report.period.key}.pdf"
    pngs = {images[i]: b.image for i, b in enumerate(d.blocks) if b.image}
    return Rendered(f"{d.title}: {report.tenant_name}, {d.period}", html, text, pngs, csvs, pdf_name,
                    pdf.build(d), d)


def email(rendered: Rendered, to: str, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = to
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None  # added just above
    for cid, png in rendered.images.items():
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>")
    for name, data in rendered.csvs.items():
        message.add_attachment(data, maintype="text", subtype="csv", filename=name)
    message.add_attachment(rendered.pdf, maintype="application", subtype="pdf", filename=rendered.pdf_name)
    return message


def write(rendered: Rendered, out: Path) -> list[Path]:
    """The report as files: report.html (images beside it), the CSVs and the PDF."""
    out.mkdir(parents=True, exist_ok=True)
    html = rendered.html
    written = []
    for i, (cid, png) in enumerate(rendered.images.items(), 1):
        name = f"chart-{i}.png"
        (out / name).write_bytes(png)
        html = html.replace(f"cid:{cid}", name)
        written.append(out / name)
    (out / "report.html").write_text(html, encoding="utf-8")
    written.append(out / "report.html")
    for name, data in rendered.csvs.items():
        (out / name).write_bytes(data)
        written.append(out / name)
    (out / rendered.pdf_name).write_bytes(rendered.pdf)
    written.append(out / rendered.pdf_name)
    return written
