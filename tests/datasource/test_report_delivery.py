"""Reports to a real loopback SMTP server: recipients, attachments, masking per role, the export audit,
claim-once scheduling (a second tick or replica sends nothing; after downtime the missed report goes once)."""

from __future__ import annotations

import csv
import io
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from success_metrics.storage import tenants
from success_metrics.notify.errors import AlertingError, ChannelInvalid
from success_metrics.notify.mailer import Mailer
from success_metrics.ingest.intake import ingest
from success_metrics.ingest.writer import Source
from success_metrics.notify.reports.content import Recipient
from success_metrics.notify.reports.delivery import Reporter, parse_schedule, put_schedule
from success_metrics.notify.reports.schedule import ReportKind, latest_due
from success_metrics.settings import Notifications, TenantConfig
from success_metrics.storage.pool import Database
from success_metrics.rbac import Role
from success_metrics.rbac.policy_store import PolicyStore
from tests.datasource.smtp_sink import Sink, smtp_sink  # noqa: F401 (fixture)
from tests.datasource.test_alert_evaluate import answers

UTC_ZONE = ZoneInfo("UTC")
# Thursday 12 Nov 2026 10:00 UTC: three deals closed by three agents in two teams
DAY = datetime(2026, 11, 12, 10, tzinfo=UTC)
# Monday 16 Nov 2026 09:30 UTC: the weekly report (09:00 UTC) for week 46 (9–15 Nov) is due
MONDAY = datetime(2026, 11, 16, 9, 30, tzinfo=UTC)
AGENTS = (("a1", "t1", "Alice Able", 1000.0), ("a2", "t1", "Bob Baker", 2000.0), ("a3", "t2", "Cara Cole", 500.0))
EXEC = Recipient(email="ceo@example.com", role=Role.EXECUTIVE)
MANAGER = Recipient(email="lead-t1@example.com", role=Role.MANAGER, teams=("t1",))
AGENT = Recipient(email="alice@example.com", role=Role.AGENT, agent_id="a1", teams=("t1",))


def _events() -> list[dict]:
    events = []
    for i, (agent, team, name, value) in enumerate(AGENTS):
        lead = f"lead-{i}"
        events += [
            {"id": f"c{i}", "type": "lead.created", "occurred_at": DAY.isoformat(), "lead_id": lead,
             "data": {"source": "website_form", "location_id": "nyc",
                      "contact": {"name": f"Client {i}", "email": f"client{i}@mail.example", "phone": "555-010-0000"}}},
            {"id": f"r{i}", "type": "lead.routed", "occurred_at": (DAY + timedelta(minutes=1)).isoformat(),
             "lead_id": lead, "agent_id": agent, "data": {"team_id": team, "agent_name": name}},
            {"id": f"d{i}", "type": "deal.closed", "occurred_at": (DAY + timedelta(hours=3)).isoformat(),
             "lead_id": lead, "agent_id": agent, "data": {"value": value, "attribution_class": "direct"}},
        ]
    return events


@pytest.fixture
async def tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    tid = new_tenant_id("reports")
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=tid, name="Report Realty"))
    result = await ingest(db, tid, _events(), source=Source.CLI, now=MONDAY)
    assert (result.accepted, result.rejected) == (9, [])
    return tid


def reporter(db: Database, sink: Sink) -> Reporter:
    return Reporter(db, PolicyStore(), answers(db), Mailer(Notifications(smtp_port=sink.port)))


def attachments(message: EmailMessage) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() if part.get_content_type() != "text/csv"
            else part.get_content().encode() for part in message.iter_attachments()}


def rankings(message: EmailMessage) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(attachments(message)["agent-rankings.csv"].decode())))


def pdf_text(message: EmailMessage, name: str) -> bytes:
    """The PDF's content streams, inflated (fpdf2 compresses them), where its text is written."""
    document = attachments(message)[name]
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", document, re.DOTALL)
    return b"".join(zlib.decompress(s) for s in streams if s[:1] == b"x")


def html(message: EmailMessage) -> str:
    """The HTML part with runs of whitespace (mail line ends are CRLF) folded to one space."""
    return " ".join(message.get_body(("html",)).get_content().split())


async def test_weekly_report_is_masked_per_recipient(db: Database, tenant: str, smtp_sink: Sink) -> None:
    await put_schedule(db, tenant, ReportKind.WEEKLY, parse_schedule(
        {"recipients": [EXEC.model_dump(mode="json"), MANAGER.model_dump(mode="json"), AGENT.model_dump(mode="json")]}))
    sent = await reporter(db, smtp_sink).run_due(tenant, MONDAY)
    assert [(s.recipient, s.ok) for s in sent[ReportKind.WEEKLY]] == [
        ("ceo@example.com", True), ("lead-t1@example.com", True), ("alice@example.com", True)]
    assert sorted(r for m in smtp_sink.received for r in m.recipients) == [
        "alice@example.com", "ceo@example.com", "lead-t1@example.com"]

    ceo, = smtp_sink.to("ceo@example.com")
    assert ceo["Subject"] == "Weekly executive report: Report Realty, week 46 of 2026 (2026-11-09 to 2026-11-15)"
    files = attachments(ceo)
    assert "weekly-report-2026-W46.pdf" in files and files["weekly-report-2026-W46.pdf"][:5] == b"%PDF-"
    # the executive sees every agent by name with their revenue: 1000 + 2000 + 500
    assert {(r["agent"], float(r["revenue"])) for r in rankings(ceo)} == {
        ("Alice Able", 1000.0), ("Bob Baker", 2000.0), ("Cara Cole", 500.0)}
    assert any(p.get_content_type() == "image/png" for p in ceo.walk())  # the rankings chart, inline
    assert "Bob Baker" in html(ceo) and "2,000.00" in html(ceo)

    # the team-1 manager sees team 1's agents by name, and team 2's agent only under a pseudonym
    manager_rows = {r["agent"]: float(r["revenue"]) for r in rankings(smtp_sink.to("lead-t1@example.com")[0])}
    assert manager_rows["Alice Able"] == 1000.0 and manager_rows["Bob Baker"] == 2000.0
    assert "Cara Cole" not in manager_rows and "Cara Cole" not in html(smtp_sink.to("lead-t1@example.com")[0])

    # the agent sees her own row only; ROI and costs are not in her copy at all
    alice, = smtp_sink.to("alice@example.com")
    assert [(r["agent"], float(r["revenue"])) for r in rankings(alice)] == [("Alice Able", 1000.0)]
    body = html(alice)
    for other in ("Bob Baker", "Cara Cole", "2,000.00", "500.00"):
        assert other not in body
    assert "ROI</h2> <p><i>Not included for the agent role.</i>" in body
    alice_pdf = pdf_text(alice, "weekly-report-2026-W46.pdf")
    assert b"Alice Able" in alice_pdf and b"Bob Baker" not in alice_pdf and b"Cara Cole" not in alice_pdf
    assert b"Cara Cole" in pdf_text(ceo, "weekly-report-2026-W46.pdf")

    # every copy is an export in the audit log, under its recipient and role
    async with db.tenant(tenant) as conn:
        audited = await conn.fetch("SELECT subject, role, outcome, resource FROM audit_log WHERE action = 'export' "
                                   "ORDER BY seq")
        log = await conn.fetch("SELECT recipient, status, period FROM report_deliveries ORDER BY delivery_id")
    assert [(a["subject"], a["role"], a["outcome"]) for a in audited] == [
        ("ceo@example.com", "executive", "success"), ("lead-t1@example.com", "manager", "success"),
        ("alice@example.com", "agent", "success")]
    assert audited[2]["resource"]["period"] == "2026-W46" and "roi.monthly" in audited[2]["resource"]["left_out"]
    assert [(r["recipient"], r["status"], r["period"]) for r in log] == [
        ("ceo@example.com", "sent", "2026-W46"), ("lead-t1@example.com", "sent", "2026-W46"),
        ("alice@example.com", "sent", "2026-W46")]


async def test_due_reports_are_sent_once_and_a_missed_one_once_after_downtime(
        db: Database, tenant: str, smtp_sink: Sink) -> None:
    await put_schedule(db, tenant, ReportKind.DAILY, parse_schedule(
        {"at": "08:00", "recipients": [EXEC.model_dump(mode="json")]}))
    first, second = reporter(db, smtp_sink), reporter(db, smtp_sink)  # two replicas
    assert [s.ok for s in (await first.run_due(tenant, MONDAY))[ReportKind.DAILY]] == [True]
    assert await second.run_due(tenant, MONDAY) == {}
    assert await first.run_due(tenant, MONDAY + timedelta(hours=20)) == {}  # Tuesday 05:30: not due yet
    # down from Tuesday to Friday 09:00: only Friday's report (for Thursday) goes out, once
    friday = datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert list(await second.run_due(tenant, friday)) == [ReportKind.DAILY]
    assert await first.run_due(tenant, friday) == {}
    subjects = [m.message["Subject"] for m in smtp_sink.received]
    assert subjects == ["Daily operations report: Report Realty, 2026-11-15",
                        "Daily operations report: Report Realty, 2026-11-19"]


async def test_a_failing_mail_server_is_logged_and_audited_as_failed(db: Database, tenant: str) -> None:
    dead = Reporter(db, PolicyStore(), answers(db),
                    Mailer(Notifications(smtp_port=1, channel_timeout_s=1)))  # nothing listens on port 1
    due = latest_due(ReportKind.MONTHLY, time(9), UTC_ZONE, MONDAY)
    sent = await dead.send(tenant, ReportKind.MONTHLY, due.period, (EXEC,))
    assert [(s.ok, s.error) for s in sent] == [(False, "SMTPConnectError sending to the mail server")]
    async with db.tenant(tenant) as conn:
        row = await conn.fetchrow("SELECT outcome, status, reason FROM audit_log WHERE action = 'export'")
    assert (row["outcome"], row["status"]) == ("error", 502)


async def test_on_demand_report_is_written_to_a_directory(db: Database, tenant: str, tmp_path: Path) -> None:
    """What `success-metrics report --tenant T --kind weekly --out DIR` does, with an agent's masking."""
    reports = Reporter(db, PolicyStore(), answers(db), Mailer(Notifications()))
    written = {p.name for p in await reports.to_directory(tenant, ReportKind.WEEKLY, AGENT, tmp_path, MONDAY)}
    assert {"report.html", "agent-rankings.csv", "weekly-report-2026-W46.pdf"} <= written
    page = (tmp_path / "report.html").read_text()
    assert "cid:" not in page and "Alice Able" in page and "Bob Baker" not in page
    with pytest.raises(AlertingError, match="No tenant 'nobody'"):
        await reports.to_directory("nobody", ReportKind.DAILY, AGENT, tmp_path, MONDAY)
    async with db.tenant(tenant) as conn:
        via = await conn.fetchval("SELECT resource->>'via' FROM audit_log WHERE action = 'export'")
    assert via == "file"


def test_bad_schedules_say_what_to_fix() -> None:
    with pytest.raises(ChannelInvalid, match="recipients/0/role"):
        parse_schedule({"recipients": [{"email": "x@example.com", "role": "boss"}]})
    with pytest.raises(ChannelInvalid, match="recipients/0/email"):
        parse_schedule({"recipients": [{"email": "nobody", "role": "agent"}]})



async def test_a_sender_that_died_mid_run_is_taken_over_without_resending(
        db: Database, tenant: str, smtp_sink: Sink) -> None:
    await put_schedule(db, tenant, ReportKind.WEEKLY, parse_schedule(
        {"recipients": [EXEC.model_dump(mode="json"), AGENT.model_dump(mode="json")]}))
    # a replica claimed week 46 an hour ago, mailed the executive, and died before the agent
    async with db.tenant(tenant) as conn:
        await conn.execute("UPDATE report_schedules SET last_period = '2026-W46', "
                           "claimed_at = now() - interval '1 hour' WHERE kind = 'weekly'")
        await conn.execute("""INSERT INTO report_deliveries (tenant_id, kind, period, recipient, role, status)
                              VALUES ($1, 'weekly', '2026-W46', 'ceo@example.com', 'executive', 'sent')""", tenant)
    sent = await reporter(db, smtp_sink).run_due(tenant, MONDAY)
    assert [s.recipient for s in sent[ReportKind.WEEKLY]] == ["alice@example.com"]
    assert [r.recipients for r in smtp_sink.received] == [["alice@example.com"]]
    # finished: the claim is released, and the next tick finds nothing to do
    assert await reporter(db, smtp_sink).run_due(tenant, MONDAY) == {}


async def test_a_live_claim_is_not_taken_over(db: Database, tenant: str, smtp_sink: Sink) -> None:
    await put_schedule(db, tenant, ReportKind.WEEKLY, parse_schedule({"recipients": [EXEC.model_dump(mode="json")]}))
    async with db.tenant(tenant) as conn:
        await conn.execute("UPDATE report_schedules SET last_period = '2026-W46', claimed_at = now() "
                           "WHERE kind = 'weekly'")
    assert await reporter(db, smtp_sink).run_due(tenant, MONDAY) == {}
    assert smtp_sink.received == []
