"""Annotation kinds computed on hand-countable data (tests/datasource/seed.py plus a few rows per kind)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from success_metrics.calculators import UnknownMetric, MetricName, MetricQuery, RowScope, ScopedQuery, ScopeKind, TenantId, TenantSettings, annotations
from success_metrics.storage import tenants
from success_metrics.ingest import intake
from success_metrics.ingest.writer import Source
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource import seed

DAY = datetime(2026, 3, 2, tzinfo=UTC)
H = timedelta(hours=1)


async def rows(db: Database, tenant: str, kind: str, start: datetime, end: datetime,
               settings: TenantSettings | None = None, scope: RowScope | None = None) -> list[tuple[Any, ...]]:
    found = annotations.kind(kind)
    sq = ScopedQuery(TenantId(tenant), MetricQuery(MetricName(found.name), start, end), scope or RowScope())
    async with db.tenant(tenant) as conn:
        frame = await annotations.compute(conn, sq, settings or TenantSettings())
    assert [c.name for c in frame.columns] == ["time", "timeEnd", "title", "text", "tags"]
    return frame.rows()


def ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


@pytest.fixture
async def tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    tid = new_tenant_id("anno")
    await seed.load(db, tid)
    return tid


async def test_outages_and_degradations_from_failure_bursts(db: Database, tenant: str) -> None:
    # 10:00-11:00: 8 of 10 crm_sync calls failed (80 % >= 50 %: outage); 12:00-13:00: 2 of 10 (20 %: degradation);
    # 13:00-14:00: 0 of 10 (nothing)
    assert await rows(db, tenant, "outages", DAY, DAY + 24 * H) == [
        (ms(DAY + 10 * H), ms(DAY + 11 * H), "Outage: crm_sync", "8 of 10 calls failed (80 %)", ("outage", "crm_sync"))]
    assert await rows(db, tenant, "degradations", DAY, DAY + 24 * H) == [
        (ms(DAY + 12 * H), ms(DAY + 13 * H), "Degraded: crm_sync", "2 of 10 calls failed (20 %)",
         ("degradation", "crm_sync"))]
    # a range that ends before the burst shows nothing
    assert await rows(db, tenant, "outages", DAY, DAY + 10 * H) == []


async def test_consecutive_failing_hours_merge_into_one_region(db: Database, new_tenant_id: Callable[[str], str]
                                                               ) -> None:
    tid = new_tenant_id("anno")
    calls = [{"id": f"k{h}-{i}", "type": "component.call", "occurred_at": f"2026-03-02T{h:02d}:{i:02d}:00Z",
              "data": {"component": "sms_gateway", "latency_ms": 50, "ok": False, "error_category": "network"}}
             for h in (4, 5, 6) for i in range(5)]
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=tid, name="Anno"))
    await intake.ingest(db, tid, calls, source=Source("api"))
    # 04:00, 05:00 and 06:00 each 5 of 5 failed: one region 04:00-07:00, 15 of 15
    assert await rows(db, tid, "outages", DAY, DAY + 24 * H) == [
        (ms(DAY + 4 * H), ms(DAY + 7 * H), "Outage: sms_gateway", "15 of 15 calls failed (100 %)",
         ("outage", "sms_gateway"))]


async def test_alert_firings(db: Database, tenant: str) -> None:
    async with db.tenant(tenant) as conn:
        await conn.execute(
            """INSERT INTO alert_events (tenant_id, rule_id, family, severity, state, started_at, resolved_at, title,
                                         summary) VALUES
               ($1, 'error_rate', 'performance', 'warning', 'resolved', $2, $3, 'Error rate high', '12 % > 5 %'),
               ($1, 'uptime', 'critical', 'critical', 'firing', $4, NULL, 'Uptime low', '97 % < 99 %')""",
            tenant, DAY + 14 * H, DAY + 15 * H, DAY + 20 * H)
    assert await rows(db, tenant, "alerts", DAY, DAY + 24 * H) == [
        (ms(DAY + 14 * H), ms(DAY + 15 * H), "Alert resolved: Error rate high", "12 % > 5 %",
         ("alert", "warning", "performance")),
        (ms(DAY + 20 * H), None, "Alert firing: Uptime low", "97 % < 99 %", ("alert", "critical", "critical"))]


async def test_security_alerts_are_a_kind_of_their_own(db: Database, tenant: str) -> None:
    # the default auth-failure rule, and a custom rule on audit events stored by an admin, are security alerts;
    # a downtime alert is not
    async with db.tenant(tenant) as conn:
        await conn.execute(
            """INSERT INTO alert_rules (tenant_id, rule_id, definition, updated_by)
               VALUES ($1, 'denials', '{"condition": {"kind": "audit_events", "actions": ["access.denied"]}}', 'x')""",
            tenant)
        await conn.execute(
            """INSERT INTO alert_events (tenant_id, rule_id, family, severity, state, started_at, title, summary)
               VALUES ($1, 'critical.auth_failures', 'critical', 'critical', 'firing', $2, 'Auth burst', '25 >= 20'),
                      ($1, 'denials', 'critical', 'warning', 'firing', $3, 'Denials', '7 >= 5'),
                      ($1, 'critical.downtime', 'critical', 'critical', 'firing', $4, 'Down', 'crm_sync')""",
            tenant, DAY + 1 * H, DAY + 2 * H, DAY + 3 * H)
    assert [r[2] for r in await rows(db, tenant, "alerts", DAY, DAY + 24 * H)] == ["Alert firing: Down"]
    assert [r[2] for r in await rows(db, tenant, "security_alerts", DAY, DAY + 24 * H)] == [
        "Alert firing: Auth burst", "Alert firing: Denials"]


async def test_conversion_drop(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = new_tenant_id("anno")
    events: list[dict[str, Any]] = []
    # seven days (2026-02-23 … 03-01) of 10 leads with 5 appointments (50 %); 2026-03-02: 10 leads, 2 appointments
    for d in range(8):
        day = (DAY - timedelta(days=7 - d)).strftime("%Y-%m-%d")
        appointments = 2 if d == 7 else 5
        for i in range(10):
            lead = f"L{d}-{i}"
            events.append({"id": f"c-{lead}", "type": "lead.created", "occurred_at": f"{day}T09:{i:02d}:00Z",
                           "lead_id": lead, "data": {"source": "referral"}})
            if i < appointments:
                events.append({"id": f"a-{lead}", "type": "appointment.scheduled", "lead_id": lead,
                               "occurred_at": f"{day}T10:{i:02d}:00Z", "data": {"scheduled_for": f"{day}T16:00:00Z"}})
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=tid, name="Anno"))
    report = await intake.ingest(db, tid, events, source=Source("api"))
    assert not report.rejected
    # 2026-03-02: 2 / 10 = 20 % against 35 / 70 = 50 % over the seven days before: 20 < 50 × 0.9 → a drop.
    # The days before are at 50 % = their baseline: no drop.
    assert await rows(db, tid, "conversion_drops", DAY - timedelta(days=7), DAY + 24 * H) == [
        (ms(DAY), ms(DAY + 24 * H), "Conversion drop",
         "lead→appointment 20.0 % (2 of 10 leads) vs 50.0 % over the previous 7 days", ("conversion", "drop"))]


async def test_target_misses_follow_goals_and_scope(db: Database, tenant: str) -> None:
    # March 2026: team north closed L1 (1000), team south closed L3 (500). Goals: north 2000, south 400.
    goals = TenantSettings(team_goals={"north": 2000, "south": 400})
    march, april = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    expected = (ms(march), ms(april), "Revenue goal missed: team north", "1,000 of 2,000 (50 %)", ("target", "team"))
    assert await rows(db, tenant, "target_misses", march, april, goals) == [expected]
    south = RowScope(kind=ScopeKind.TEAM, teams=("south",))
    assert await rows(db, tenant, "target_misses", march, april, goals, south) == []
    me = RowScope(kind=ScopeKind.SELF, agent_id="a1")
    assert await rows(db, tenant, "target_misses", march, april, goals, me) == []  # agents see agent goals only


async def test_backfills(db: Database, tenant: str) -> None:
    # the seed was sent through the API long after it happened (2026-03-02 01:10 … 13:45): one backfill run
    [(start, end, title, text, tags)] = await rows(db, tenant, "backfills", DAY, DAY + 24 * H)
    assert (start, end, title, tags) == (ms(DAY + H + timedelta(minutes=10)), ms(DAY + 13 * H + timedelta(minutes=45)),
                                         "Data backfill (api)", ("backfill", "api"))
    assert text.startswith(f"{len(seed.events())} events loaded ")


async def test_unknown_kind_suggests_the_known_ones() -> None:
    with pytest.raises(UnknownMetric, match="Did you mean: .*outages"):
        annotations.kind("outage-ish")


def test_only_security_roles_may_see_security_alerts() -> None:
    from success_metrics.rbac import AuthMethod, Principal, Role, policy

    rules = policy.default_policy()
    kinds = {k: annotations.kind(k) for k in ("alerts", "security_alerts")}
    for role, sees_security in ((Role.AGENT, False), (Role.MANAGER, False), (Role.EXECUTIVE, False),
                                (Role.AUDITOR, True), (Role.ADMIN, True)):
        who = Principal(TenantId("t"), "s", role, AuthMethod.JWT, agent_id="a1", teams=("north",))
        assert policy.allowed(who, kinds["security_alerts"], rules) is sees_security, role
