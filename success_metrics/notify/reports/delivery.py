"""Report schedules per tenant, rendering a report for each recipient, sending it, and recording it.

Each report sent is an export: one audit record per recipient (subject = recipient, their role, the
report, period, sections, masked fields, rows) and one ``report_deliveries`` row. Due reports are claimed
by moving ``last_period`` forward in one UPDATE, so of N replicas exactly one sends a period's report, and a
service back from downtime sends only the latest missed period, once. ``claimed_at`` is cleared when the
run finishes; a claim left set by a sender that died is taken over after CLAIM_LEASE.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field

from success_metrics.guard import audit_writer
from success_metrics.storage import tenants
from success_metrics.notify.errors import AlertingError, validated
from success_metrics.notify.mailer import Mailer
from success_metrics.query.answer import Answerer
from success_metrics.notify.reports import content, render
from success_metrics.notify.reports.content import Recipient, Report
from success_metrics.notify.reports.render import Rendered
from success_metrics.notify.reports.schedule import DEFAULT_TIMES, Period, ReportKind, latest_due
from success_metrics.storage import Database
from success_metrics.rbac import audit
from success_metrics.rbac import PolicyStore

log = logging.getLogger(__name__)

# a claim whose sender died (claimed_at still set after this long) is taken over; recipients already
# sent to for the period are skipped, so a crash costs no one their report and no one gets two
CLAIM_LEASE = timedelta(minutes=30)


# PUT /api/admin/report-schedules/{kind} bodies (shown in /docs; a test PUTs each)
SCHEDULE_EXAMPLES: dict[str, dict[str, Any]] = {
    "recipients": {"summary": "Three recipients, each with the copy their role may see", "value": {
        "enabled": True, "at": "07:30", "recipients": [
            {"email": "ceo@acme.example", "role": "executive"},
            {"email": "north.manager@acme.example", "role": "manager", "teams": ["north"]},
            {"email": "alice@acme.example", "role": "agent", "agent_id": "a1"}]}},
    "off": {"summary": "Stop sending this report", "value": {"enabled": False}},
}


class ScheduleConfig(BaseModel):
    """A tenant's schedule for one kind of report, as an admin writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"examples": [e["value"] for e in SCHEDULE_EXAMPLES.values()]})
    enabled: bool = True
    at: time | None = Field(None, description="local time of day; default 08:00 daily, 09:00 weekly and monthly")
    recipients: tuple[Recipient, ...] = Field((), max_length=200)


def parse_schedule(document: Any) -> ScheduleConfig:
    return validated(ScheduleConfig, document, "report schedule")


@dataclass(frozen=True, slots=True)
class Sent:
    recipient: str
    role: str
    ok: bool
    error: str | None
    attachments: tuple[str, ...]


@dataclass
class Reporter:
    db: Database
    policies: PolicyStore
    answers: Answerer
    mailer: Mailer

    async def render_for(self, tenant_id: str, kind: ReportKind, period: Period, recipient: Recipient,
                         now: datetime | None = None) -> tuple[Report, Rendered]:
        async with self.db.tenant(tenant_id) as conn:
            _, rules = await self.policies.current(conn, tenant_id)
        report = await content.build(self.answers, tenant_id, kind, period, recipient, rules, now)
        return report, await asyncio.to_thread(render.render, report)

    async def audit(self, report: Report, rendered: Rendered, ok: bool, how: str, error: str | None = None) -> None:
        """Record one delivered (or failed) report as an export of its recipient."""
        who = report.recipient.principal(report.tenant_id)
        await audit_writer.record(self.db, audit.AuditRecord.of(
            who, "export", "success" if ok else "error", 200 if ok else 502,
            resource={"report": report.kind.value, "period": report.period.key, "via": how,
                      "sections": [s.metric for s in report.sections if s.frame is not None],
                      "left_out": [s.metric for s in report.sections if s.frame is None],
                      "attachments": list(rendered.attachment_names)},
            masked_fields=report.masked_fields, rows_returned=report.rows, reason=error))

    async def send(self, tenant_id: str, kind: ReportKind, period: Period, recipients: tuple[Recipient, ...],
                   now: datetime | None = None) -> list[Sent]:
        """Render and mail the report to each recipient, each in their own role; one failure stops no other."""
        results = []
        for recipient in recipients:
            report, rendered = await self.render_for(tenant_id, kind, period, recipient, now)
            error = None
            try:
                await self.mailer.send(render.email(rendered, recipient.email, self.mailer.settings.mail_from))
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                error = f"{exc.__class__.__name__} sending to the mail server"
                log.warning("%s report for %s to %s failed: %s", kind.value, tenant_id, recipient.email, error)
            await self.audit(report, rendered, error is None, "email", error)
            async with self.db.tenant(tenant_id) as conn:
                await conn.execute(
                    """INSERT INTO report_deliveries (tenant_id, kind, period, recipient, role, status, error,
                           attachments) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                    tenant_id, kind.value, period.key, recipient.email, recipient.role.value,
                    "sent" if error is None else "failed", error, list(rendered.attachment_names))
            results.append(Sent(recipient.email, recipient.role.value, error is None, error,
                                rendered.attachment_names))
        return results

    async def to_directory(self, tenant_id: str, kind: ReportKind, recipient: Recipient, out: Path,
                           now: datetime) -> list[Path]:
        """Render the latest due period's report for ``recipient`` into ``out`` (audited as an export)."""
        async with self.db.tenant(tenant_id) as conn:
            if not await conn.fetchval("SELECT 1 FROM tenants WHERE tenant_id = $1", tenant_id):
                raise AlertingError(f"No tenant {tenant_id!r}; the tenants are those in SM_CONFIG.")
            zone = (await tenants.load_settings(conn, tenant_id)).zone
            at = await conn.fetchval("SELECT at_time FROM report_schedules WHERE kind = $1", kind.value)
        period = latest_due(kind, at or DEFAULT_TIMES[kind], zone, now).period
        report, rendered = await self.render_for(tenant_id, kind, period, recipient, now)
        written = await asyncio.to_thread(render.write, rendered, out)
        await self.audit(report, rendered, True, "file")
        return written

    async def run_due(self, tenant_id: str, now: datetime) -> dict[ReportKind, list[Sent]]:
        """Send each of the tenant's reports whose latest due moment has passed and was not sent yet."""
        async with self.db.tenant(tenant_id) as conn:
            zone = (await tenants.load_settings(conn, tenant_id)).zone
            rows = await conn.fetch("SELECT kind, at_time FROM report_schedules WHERE enabled")
        sent: dict[ReportKind, list[Sent]] = {}
        for row in rows:
            kind = ReportKind(row["kind"])
            due = latest_due(kind, row["at_time"], zone, now)
            async with self.db.tenant(tenant_id) as conn:
                recipients = await conn.fetchval(
                    """UPDATE report_schedules SET last_period = $2, claimed_at = now()
                       WHERE kind = $1 AND enabled AND (last_period IS NULL OR last_period < $2
                             OR (last_period = $2 AND claimed_at < now() - $3::interval))
                       RETURNING recipients""", kind.value, due.period.key, CLAIM_LEASE)
                if recipients is None:
                    continue  # sent already, or being sent, here or by another replica
                done = {r["recipient"] for r in await conn.fetch(
                    "SELECT recipient FROM report_deliveries WHERE kind = $1 AND period = $2 AND status = 'sent'",
                    kind.value, due.period.key)}
            people = tuple(p for p in map(Recipient.model_validate, recipients) if p.email not in done)
            sent[kind] = await self.send(tenant_id, kind, due.period, people, now)
            async with self.db.tenant(tenant_id) as conn:  # finished: a NULL claim is never taken over
                await conn.execute("UPDATE report_schedules SET claimed_at = NULL WHERE kind = $1 AND last_period = $2",
                                   kind.value, due.period.key)
        return sent


async def put_schedule(db: Database, tenant_id: str, kind: ReportKind, config: ScheduleConfig) -> None:
    async with db.tenant(tenant_id) as conn:
        await conn.execute(
            """INSERT INTO report_schedules (tenant_id, kind, enabled, at_time, recipients) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (tenant_id, kind) DO UPDATE SET enabled = EXCLUDED.enabled, at_time = EXCLUDED.at_time,
                   recipients = EXCLUDED.recipients, updated_at = now()""",
            tenant_id, kind.value, config.enabled, config.at or DEFAULT_TIMES[kind],
            [r.model_dump(mode="json") for r in config.recipients])


async def schedules(db: Database, tenant_id: str) -> list[dict[str, Any]]:
    async with db.tenant(tenant_id) as conn:
        rows = await conn.fetch("SELECT kind, enabled, at_time, recipients, last_period FROM report_schedules "
                                "ORDER BY kind")
    return [{"kind": r["kind"], "enabled": r["enabled"], "at": r["at_time"].isoformat(timespec="minutes"),
             "recipients": r["recipients"], "last_period": r["last_period"]} for r in rows]
