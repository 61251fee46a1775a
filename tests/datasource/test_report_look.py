"""Every report kind for every role, rendered from a small real tenant, read the way its recipient reads it: no
empty section, no id where a word belongs, every figure with its unit, no word wider than its PDF column, the
masking role and page numbers on every page, and an agent's copy about the agent."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from fpdf import FPDF
from pypdf import PdfReader

from success_metrics.calculators import Unit
from success_metrics.notify.reports import pdf, view
from success_metrics.notify.reports.content import Recipient, build
from success_metrics.notify.reports.format import known
from success_metrics.notify.reports.render import Rendered, render
from success_metrics.notify.reports.schedule import (
    DEFAULT_TIMES,
    ReportKind,
    latest_due,
)
from success_metrics.notify.reports.view import Document
from success_metrics.rbac.policy import default_policy
from success_metrics.storage.pool import Database
from tests.datasource.test_alert_evaluate import answers
from tests.datasource.test_report_delivery import (  # noqa: F401 (fixture)
    AGENT,
    AGENTS,
    EXEC,
    MANAGER,
    MONDAY,
    tenant,
)

# a moment each kind's period holds the fixture's deals of Thursday 12 Nov 2026: that day, week 46, November
NOW = {ReportKind.DAILY: datetime(2026, 11, 13, 10, tzinfo=UTC), ReportKind.WEEKLY: MONDAY,
       ReportKind.MONTHLY: datetime(2026, 12, 3, 15, tzinfo=UTC)}
MARKS = {Unit.CURRENCY: "$", Unit.PERCENT: "%", Unit.RATIO: "%", Unit.HOURS: " h", Unit.SECONDS: " s",
         Unit.MS: " ms", Unit.SCORE: "/ 100"}
# a snake_case code (above_target, roi_status) or a metric id (roi.monthly): words belong there
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z]+\.[a-z_]+\b")


class _Text(HTMLParser):
    """The text a reader sees: no markup, no style sheet."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip = tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self.skip = False

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\S+@\S+", "", " ".join(" ".join(parser.parts).split()))  # addresses are no labels


async def copy(db: Database, tenant_id: str, kind: ReportKind, who: Recipient) -> tuple[Document, Rendered]:
    period = latest_due(kind, DEFAULT_TIMES[kind], ZoneInfo("UTC"), NOW[kind]).period
    report = await build(answers(db), tenant_id, kind, period, who, default_policy(), NOW[kind])
    sent = render(report)
    return sent.document, sent


@pytest.mark.parametrize("kind", list(ReportKind))
async def test_every_copy_reads_as_its_recipient_needs(db: Database, tenant: str, kind: ReportKind) -> None:
    for who in (EXEC, MANAGER, AGENT):
        d, sent = await copy(db, tenant, kind, who)
        role = who.role.value
        for block in d.blocks:  # no empty section: content, or a sentence saying why there is none
            assert block.tiles or block.table or block.image or block.lines or block.empty, (role, block.title)
        text = visible(sent.html)
        assert not CODE.findall(text), (role, kind, sorted(set(CODE.findall(text))))
        assert "Not included for" not in text  # an agent's copy is written for the agent, not refused to her
        for block in d.blocks:
            for t in block.tiles:  # every headline figure carries its unit
                assert t.unit is None or t.unit is Unit.COUNT or MARKS[t.unit] in t.value, (role, t)
            if block.table:
                for j, unit in enumerate(block.table.units):
                    for row in block.table.rows:
                        assert unit not in MARKS or row[j] == "—" or MARKS[unit] in row[j], (block.title, row[j])
                _words_fit(block.table)
                assert not any(cell in {a for a, *_ in AGENTS} for row in block.table.rows for cell in row)
        for metric, title in (("kpis.year_over_year", "Year over year"), ("forecast.revenue", "Revenue forecast"),
                              ("recommendations.list", "Recommendations")):
            if kind is ReportKind.MONTHLY and who is not AGENT and not known(metric):
                assert f"{title} Not available yet" in text
        pages = PdfReader(io.BytesIO(sent.pdf)).pages
        for n, page in enumerate(pages, 1):
            footer = " ".join(page.extract_text().split())
            assert f"Masked for the {role} role" in footer and f"Page {n} of {len(pages)}" in footer


def _words_fit(table: view.Table) -> None:
    """No word of a PDF table is wider than its column (a cell wraps at spaces, never inside a word)."""
    doc = FPDF()
    doc.add_font("DejaVu", "", str(pdf.FONTS / "DejaVuSans.ttf"))
    doc.add_font("DejaVu", "B", str(pdf.FONTS / "DejaVuSans-Bold.ttf"))
    doc.add_page()
    widths, size = pdf.column_widths(doc, table)
    for j, width in enumerate(widths):
        doc.set_font("DejaVu", "B", size)
        assert doc.get_string_width(max(table.header[j].split(), key=len, default="")) < width, table.header[j]
        doc.set_font("DejaVu", "", size)
        for row in table.rows:
            assert all(doc.get_string_width(w) < width for w in row[j].split()), (table.header[j], row[j])


async def test_an_agents_copy_is_about_the_agent(db: Database, tenant: str) -> None:
    d, sent = await copy(db, tenant, ReportKind.WEEKLY, AGENT)
    titles = [b.title for b in d.blocks]
    assert "Your scorecard" in titles and "Your response time" in titles
    assert not {"Cost-benefit", "Agent rankings", "Monthly goal progress"} & set(titles)
    scorecard = next(b for b in d.blocks if b.title == "Your scorecard")
    assert scorecard.table is not None and [r[0] for r in scorecard.table.rows] == ["Alice Able"]
    # her own revenue, in the tenant's currency: the one deal she closed, 1,000
    assert "$1,000" in scorecard.table.rows[0]
    text = visible(sent.html)
    assert "Bob Baker" not in text and "Cara Cole" not in text
    tiles = {t.title: t for t in next(b for b in d.blocks if b.title == "Headline figures").tiles}
    # she closed her one lead of the week: 1 / 1 = 100 %
    assert tiles["Your lead-to-close rate"].value == "100%"
