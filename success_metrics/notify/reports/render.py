"""A Report → what is sent: HTML with chart images, the tables as CSV, a PDF, and the email carrying them.

Everything here reads the already-masked frames of the Report, so no rendering step can show more than
the recipient's role allows. Values are HTML-escaped by the template engine.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment

from success_metrics.calculators import ColumnType, Frame, Kind
from success_metrics.notify.reports import charts, pdf
from success_metrics.notify.reports.content import Report

KIND_TITLES = {"daily": "Daily operations report", "weekly": "Weekly executive report",
               "monthly": "Monthly business review"}
MAX_HTML_ROWS = 25

_TEMPLATE = Environment(autoescape=True).from_string("""<!doctype html>
<html><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body style="font-family: Helvetica, Arial, sans-serif; color: #222; max-width: 820px">
<h1 style="color: {{ color }}">{{ brand }} · {{ title }}</h1>
<p>{{ tenant }} · {{ period }} · prepared for {{ recipient }} ({{ role }})</p>
{% if highlights %}<h2>Highlights</h2><ul>{% for line in highlights %}<li>{{ line }}</li>{% endfor %}</ul>{% endif %}
{% if alerts is not none %}<h2>Active alerts</h2>
{% if alerts %}<ul>{% for a in alerts %}<li><b>[{{ a.severity }}]</b> {{ a.title }}: {{ a.summary }}</li>{% endfor %}</ul>
{% else %}<p>No alerts.</p>{% endif %}{% endif %}
{% for s in sections %}<h2>{{ s.title }}</h2>
{% if s.note %}<p><i>{{ s.note }}</i></p>{% endif %}
{% if s.image %}<img src="cid:{{ s.image }}" alt="{{ s.title }}" style="max-width: 100%">{% endif %}
{% if s.header %}<table style="border-collapse: collapse; font-size: 13px">
<tr>{% for h in s.header %}<th style="text-align: left; border-bottom: 1px solid #999; padding: 3px 8px">{{ h }}</th>{% endfor %}</tr>
{% for row in s.rows %}<tr>{% for v in row %}<td style="padding: 3px 8px">{{ v }}</td>{% endfor %}</tr>{% endfor %}
</table>{% if s.more %}<p><i>{{ s.more }} more rows in {{ s.csv }}.</i></p>{% endif %}{% endif %}
{% for n in s.notices %}<p style="font-size: 12px; color: #666">{{ n }}</p>{% endfor %}
{% endfor %}
<p style="font-size: 12px; color: #666">Generated {{ generated }}. Tables are attached as CSV; the whole report as PDF.</p>
</body></html>""")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str
    text: str
    images: dict[str, bytes]  # content id → PNG
    csvs: dict[str, bytes]  # file name → CSV
    pdf_name: str
    pdf: bytes

    @property
    def attachment_names(self) -> tuple[str, ...]:
        return (*self.csvs, self.pdf_name)


def cell(value: Any, column_type: ColumnType) -> str:
    if value is None:
        return "—"
    if column_type is ColumnType.TIME and isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def table(frame: Frame) -> tuple[list[str], list[list[str]]]:
    header = [c.name + (f" ({c.unit.value})" if c.unit else "") for c in frame.columns]
    rows = [[cell(v, c.type) for v, c in zip(row, frame.columns, strict=True)] for row in frame.rows()]
    return header, rows


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
    brand = report.settings.branding
    title = KIND_TITLES[report.kind.value]
    images: dict[str, bytes] = {}
    csvs: dict[str, bytes] = {}
    shown = []
    for section in report.sections:
        entry: dict[str, Any] = {"title": section.title, "note": section.note, "notices": (), "image": None,
                                 "header": None, "csv": None}
        frame = section.frame
        if frame is not None:
            entry["notices"] = frame.notices
            png = charts.chart(frame, section.title, (brand.primary_color, brand.secondary_color))
            if png:
                cid = make_msgid(domain="success-metrics")[1:-1]
                images[cid] = png
                entry["image"] = cid
            if frame.row_count:
                header, rows = table(frame)
                entry.update(header=header, rows=rows[:MAX_HTML_ROWS], more=max(0, len(rows) - MAX_HTML_ROWS))
                if frame.kind is not Kind.STAT:
                    entry["csv"] = f"{_slug(section.title)}.csv"
                    csvs[entry["csv"]] = csv_bytes(frame)
            elif not section.note:
                entry["note"] = "No data for this period."
        shown.append(entry)
    period = report.period.label
    html = _TEMPLATE.render(
        title=title, brand=brand.name, color=brand.primary_color, tenant=report.tenant_name, period=period,
        recipient=report.recipient.email, role=report.recipient.role.value, highlights=report.highlights,
        alerts=report.alerts if report.kind.value == "daily" else None, sections=shown,
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"))
    text = "\n".join([f"{title} — {report.tenant_name} — {period}", "", *report.highlights, "",
                      "The full report is in the HTML part and the attached PDF."])
    pdf_name = f"{report.kind.value}-report-{report.period.key}.pdf"
    document = pdf.build(title=f"{brand.name} · {title}", subtitle=f"{report.tenant_name} · {period} · "
                         f"for {report.recipient.email} ({report.recipient.role.value})",
                         highlights=report.highlights, alerts=[f"[{a.severity}] {a.title}: {a.summary}"
                                                               for a in report.alerts],
                         sections=[(e["title"], e["note"], images.get(e["image"] or ""), e["header"],
                                    e.get("rows") or []) for e in shown])
    return Rendered(f"{title}: {report.tenant_name}, {period}", html, text, images, csvs, pdf_name, document)


def email(rendered: Rendered, to: str, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = to
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    html_part = message.get_payload()[1]
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
