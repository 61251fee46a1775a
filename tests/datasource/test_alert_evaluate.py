"""Rule evaluation on a hand-built fixture gives exactly the alerts worked out by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from success_metrics.calculators import TenantSettings
from success_metrics.notify.alerts.evaluate import evaluate_tenant, summary
from success_metrics.notify.alerts.rules import Family, Rule, Severity
from success_metrics.notify.alerts.state import Transition
from success_metrics.query.answer import Answerer
from success_metrics.query.cache import ResultCache
from success_metrics.settings import TenantConfig
from success_metrics.storage import partitions, tenants
from success_metrics.storage.pool import Database

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def answers(db: Database) -> Answerer:
    """The answer path over ``db`` with a cache that keeps nothing: each evaluation reads the data as it is."""
    return Answerer(db, ResultCache(0, 0), lambda tenant: b"k" * 32)


async def make_tenant(db: Database, tenant_id: str, **settings: Any) -> None:
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=tenant_id, name=tenant_id, settings=TenantSettings(**settings)))
        await partitions.ensure_months(conn, [T - timedelta(days=40), T])


async def add_calls(db: Database, tenant_id: str, component: str, at: datetime,
                    calls: list[tuple[bool, float]]) -> None:
    async with db.system() as conn:
        await conn.executemany(
            "INSERT INTO events (tenant_id, occurred_at, event_id, type, payload) "
            "VALUES ($1, $2, $3, 'component.call', $4)",
            [(tenant_id, at, f"{component}-{at.isoformat()}-{i}",
              {"component": component, "ok": ok, "latency_ms": ms}) for i, (ok, ms) in enumerate(calls)],
        )


async def add_lead(db: Database, tenant_id: str, lead_id: str, created: datetime, *, priority: str = "normal",
                   contacted: datetime | None = None, appointment: datetime | None = None,
                   closed: datetime | None = None, value: float | None = None) -> None:
    async with db.system() as conn:
        await conn.execute(
            """INSERT INTO leads (tenant_id, lead_id, created_at, priority, first_contact_at, appointment_at,
                   closed_at, deal_value) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            tenant_id, lead_id, created, priority, contacted, appointment, closed, value)


async def add_auth_failures(db: Database, tenant_id: str, at: datetime, n: int) -> None:
    async with db.system() as conn:
        await conn.executemany(
            """INSERT INTO audit_log (tenant_id, seq, at, action, outcome, status, prev_hash, hash)
               VALUES ($1, $2, $3, 'auth.failure', 'denied', 401, 'x', 'x')""",
            [(tenant_id, seq, at) for seq in range(1, n + 1)])


def by_rule(changes: list[Any]) -> dict[str, Transition]:
    return {c.rule_id: c.transition for c in changes}


async def states(db: Database, tenant_id: str) -> dict[str, str]:
    async with db.tenant(tenant_id) as conn:
        return {r["rule_id"]: r["state"] for r in await conn.fetch("SELECT rule_id, state FROM alert_state")}


@pytest.fixture
async def fixture_tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    tid = new_tenant_id("alerts")
    await make_tenant(db, tid, targets={"revenue": 10_000})
    # crm_sync: 10 calls, 1 failed, latencies 100..1000 ms; sms_gateway: 6 calls, all failed, 3000 ms each
    await add_calls(db, tid, "crm_sync", T - 2 * MIN, [(i != 0, 100.0 * (i + 1)) for i in range(10)])
    await add_calls(db, tid, "sms_gateway", T - 2 * MIN, [(False, 3000.0)] * 6)
    await add_auth_failures(db, tid, T - MIN, 20)
    h = timedelta(hours=1)
    d = timedelta(days=1)
    # this week (created in [T-7d, T)): L1..L4 and L6; only L6 has an appointment
    await add_lead(db, tid, "L1", T - 3 * h, priority="high")                      # waiting 3 h: counts
    await add_lead(db, tid, "L2", T - 1 * h, priority="high")                      # waiting 1 h: not yet
    await add_lead(db, tid, "L3", T - 5 * h, priority="high", contacted=T - 4 * h)  # contacted
    await add_lead(db, tid, "L4", T - 4 * h)                                       # normal priority
    await add_lead(db, tid, "L6", T - 2 * d, appointment=T - 2 * d + h, closed=T - d, value=3000)
    # the week before ([T-14d, T-7d)): L5 and L7 with appointments, L8 and L9 without
    await add_lead(db, tid, "L5", T - 10 * d, priority="high", appointment=T - 9 * d)
    await add_lead(db, tid, "L7", T - 9 * d, appointment=T - 8 * d)
    await add_lead(db, tid, "L8", T - 8 * d)
    await add_lead(db, tid, "L9", T - 12 * d)
    return tid


async def test_fixture_fires_exactly_the_alerts_worked_out_by_hand(db: Database, fixture_tenant: str) -> None:
    tid = fixture_tenant
    changes = await evaluate_tenant(answers(db), tid, T, retention_months=24)
    # Fire at once (for 0):
    #   auth failures: 20 in the last 5 min >= 20
    #   high-priority waiting: only L1 (high, created 3 h ago > 2 h, never contacted) -> 1 > 0
    #   target at risk: 3000 closed in Nov by day 19.5 of 30 -> 3000 * 30 / 19.5 = 4615.38; / 10000 = 0.4615 < 0.9
    assert by_rule(changes) == {
        "critical.auth_failures": Transition.FIRING,
        "business.high_priority_waiting": Transition.FIRING,
        "business.target_at_risk": Transition.FIRING,
    }
    values = {c.rule_id: c.value for c in changes}
    assert values["critical.auth_failures"] == 20
    assert values["business.high_priority_waiting"] == 1
    assert values["business.target_at_risk"] == pytest.approx(3000 * 30 / 19.5 / 10_000)
    # Pending (their "for" has not elapsed):
    #   downtime: sms_gateway failed 6 of 6 = 1.0 >= 0.9 (crm 1/10 = 0.1), for 2 min
    #   error rate: 7 failed / 16 calls = 0.4375 > 0.05, for 5 min
    #   latency p95: sms 3000 ms (crm: 900 + 0.55 * 100 = 955) -> max 3000 > 2000, for 5 min
    #   conversion: this week 1/5 = 0.2, week before 2/4 = 0.5 -> (0.2 - 0.5) / 0.5 = -0.6 < -0.10, for 60 min
    # Inactive: SLA (no component has 20 calls in the hour -> no data), database size, retention headroom,
    # dashboard self-check (no run -> no data), data quality (no rollups or tallies: the events were inserted
    # directly; every lead created before it was contacted, booked or closed; no agents -> 0 issues), backup
    # age (no backup before T, and the tenant was created after T: 0 h)
    assert await states(db, tid) == {
        "critical.downtime": "pending", "critical.auth_failures": "firing",
        "performance.sla": "inactive", "performance.error_rate": "pending", "performance.latency_p95": "pending",
        "business.conversion_drop": "pending", "business.high_priority_waiting": "firing",
        "business.target_at_risk": "firing", "maintenance.database_growth": "inactive",
        "maintenance.retention": "inactive", "maintenance.dashboard_check": "inactive",
        "maintenance.data_quality": "inactive", "maintenance.backup_age": "inactive",
    }

    # two minutes later the downtime has held for its 2 min; error rate and latency need 5
    changes = await evaluate_tenant(answers(db), tid, T + 2 * MIN, retention_months=24)
    assert by_rule(changes) == {"critical.downtime": Transition.FIRING}
    assert changes[0].value == 1.0

    # five minutes after T: error rate (window 15 min still holds all 16 calls) and latency fire; the auth
    # burst at T-1m has left the 5-minute window [T, T+5m): 0 < 20 resolves it. Downtime's window [T, T+5m)
    # has no calls: no data keeps it firing rather than resolving it on silence
    changes = await evaluate_tenant(answers(db), tid, T + 5 * MIN, retention_months=24)
    assert by_rule(changes) == {"performance.error_rate": Transition.FIRING,
                                "performance.latency_p95": Transition.FIRING,
                                "critical.auth_failures": Transition.RESOLVED}
    assert {c.rule_id: c.value for c in changes} == {"performance.error_rate": 7 / 16,
                                                    "performance.latency_p95": 3000.0,
                                                    "critical.auth_failures": 0.0}

    # somebody calls L1: the high-priority alert resolves
    async with db.system() as conn:
        await conn.execute("UPDATE leads SET first_contact_at = $3 WHERE tenant_id = $1 AND lead_id = $2",
                           tid, "L1", T + 5 * MIN)
    changes = await evaluate_tenant(answers(db), tid, T + 6 * MIN, retention_months=24)
    assert by_rule(changes) == {"business.high_priority_waiting": Transition.RESOLVED}

    async with db.tenant(tid) as conn:
        events = await conn.fetch("SELECT rule_id, state, started_at, resolved_at FROM alert_events ORDER BY event_id")
    assert [(e["rule_id"], e["state"]) for e in events] == [
        ("critical.auth_failures", "resolved"), ("business.high_priority_waiting", "resolved"),
        ("business.target_at_risk", "firing"), ("critical.downtime", "firing"),
        ("performance.error_rate", "firing"), ("performance.latency_p95", "firing"),
    ]
    assert events[1]["started_at"] == T and events[1]["resolved_at"] == T + 6 * MIN


async def test_a_firing_records_what_its_rule_read(db: Database, fixture_tenant: str) -> None:
    """An alert's lineage is what its rule read (the catalog metrics, and the targets it compared with), so
    masking shows its title and summary only to roles that may see all of that."""
    await evaluate_tenant(answers(db), fixture_tenant, T, retention_months=24)
    async with db.tenant(fixture_tenant) as conn:
        inputs = {r["rule_id"]: r["inputs"] for r in await conn.fetch("SELECT rule_id, inputs FROM alert_events")}
    assert inputs == {
        "critical.auth_failures": ["security.audit_actions"],
        "business.high_priority_waiting": ["alerts.high_priority_waiting"],
        "business.target_at_risk": ["alerts.month_projection", "money_targets", "nonmoney_targets"],
    }


async def test_pending_that_stops_holding_never_fires(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = new_tenant_id("alerts")
    await make_tenant(db, tid)
    await add_calls(db, tid, "sms_gateway", T - MIN, [(False, 10.0)] * 5)
    assert await evaluate_tenant(answers(db), tid, T, retention_months=24) == []       # downtime pending (5/5 failed)
    await add_calls(db, tid, "sms_gateway", T + MIN, [(True, 10.0)] * 5)
    # at T+2m the window [T-3m, T+2m) holds 5 failed of 10 = 0.5 < 0.9: back to inactive, nothing sent
    assert await evaluate_tenant(answers(db), tid, T + 2 * MIN, retention_months=24) == []
    assert (await states(db, tid))["critical.downtime"] == "inactive"


async def test_tenants_see_only_their_own_alerts(db: Database, fixture_tenant: str,
                                                 new_tenant_id: Callable[[str], str]) -> None:
    other = new_tenant_id("alerts")
    await make_tenant(db, other)
    await evaluate_tenant(answers(db), fixture_tenant, T, retention_months=24)
    # the other tenant has no calls, leads or audit rows of its own: nothing fires for it
    assert await evaluate_tenant(answers(db), other, T, retention_months=24) == []
    async with db.tenant(other) as conn:
        assert await conn.fetchval("SELECT count(*) FROM alert_events") == 0


async def test_changed_rule_is_used_and_a_disabled_firing_rule_resolves(db: Database, fixture_tenant: str) -> None:
    from success_metrics.notify.alerts import rules

    tid = fixture_tenant
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    async with db.tenant(tid) as conn:
        waiting = (await rules.get(conn, "business.high_priority_waiting")).document()
        await rules.put(conn, tid, waiting["id"], waiting | {"enabled": False}, "admin@example.com")
        # a stricter downtime threshold: 1.0 is still >= 1.0, and no "for": fires at once
        downtime = (await rules.get(conn, "critical.downtime")).document()
        await rules.put(conn, tid, downtime["id"], downtime | {"threshold": 1.0, "for_minutes": 0}, "admin@example.com")
        stored = await conn.fetchval("SELECT definition FROM alert_rules WHERE rule_id = 'critical.downtime'")
    assert stored["threshold"] == 1.0
    changes = await evaluate_tenant(answers(db), tid, T + MIN, retention_months=24)
    assert by_rule(changes) == {"business.high_priority_waiting": Transition.RESOLVED,
                                "critical.downtime": Transition.FIRING}


async def test_a_rule_on_a_catalog_metric(db: Database, fixture_tenant: str) -> None:
    from success_metrics.notify.alerts import rules

    tid = fixture_tenant
    metric_rule = {"family": "business", "severity": "warning", "op": "<", "window_minutes": 7 * 24 * 60,
                   "for_minutes": 0}
    async with db.tenant(tid) as conn:
        await rules.put(conn, tid, "custom.appointment_change", metric_rule | {
            "id": "custom.appointment_change", "title": "Appointments fell",
            "condition": {"kind": "metric", "metric": "conversion.lead_to_appointment", "measure": "change"},
            "threshold": -0.5}, "admin@example.com")
        await rules.put(conn, tid, "custom.appointment_rate", metric_rule | {
            "id": "custom.appointment_rate", "title": "Appointment rate under 25 %",
            "condition": {"kind": "metric", "metric": "conversion.lead_to_appointment"}, "threshold": 25},
            "admin@example.com")
    changes = {c.rule_id: c.value for c in await evaluate_tenant(answers(db), tid, T, retention_months=24)}
    # the metric's range is the rule's week: 1 appointment of 5 leads = 20 %; the week before 2 of 4 = 50 %;
    # change (20 - 50) / 50 = -0.6 < -0.5 fires, and 20 < 25 fires
    assert changes["custom.appointment_change"] == pytest.approx(-0.6)
    assert changes["custom.appointment_rate"] == pytest.approx(20.0)


@pytest.mark.parametrize(("metric", "says"), [
    ("revenue.monthly_trend", "is a timeseries; an alert needs a single-value (stat) metric"),
    ("conversion.lead_to_apointment", "Did you mean: conversion.lead_to_appointment"),
])
def test_a_metric_rule_must_name_a_stat_metric(metric: str, says: str) -> None:
    from success_metrics.notify.alerts.rules import parse
    from success_metrics.notify.errors import RuleInvalid

    with pytest.raises(RuleInvalid, match=re.escape(says)) as caught:
        parse({"id": "x.y", "family": "business", "severity": "info", "title": "t", "op": ">", "threshold": 1,
               "condition": {"kind": "metric", "metric": metric}})
    assert caught.value.errors[0]["pointer"] == "/condition/metric"


def test_an_alert_summary_reads_as_a_sentence_beside_its_title() -> None:
    """The title is shown beside the summary (reports, notifications): the summary says what was measured."""
    latency = Rule("performance.latency", Family.PERFORMANCE, Severity.WARNING, "Latency p95 over 2 s",
                   {"kind": "latency_p95"}, ">", 2000, window_minutes=15)
    assert summary(latency, 2348) == "2348 > 2000: latency p95 over the last 15 minutes"
    week = Rule("business.conversion", Family.BUSINESS, Severity.WARNING, "Conversion dropped",
                {"kind": "conversion_change"}, "<", -0.1, window_minutes=10080)
    assert summary(week, -0.1556) == "-0.1556 < -0.1: conversion change over the last 7 days"
    assert summary(week, None).startswith("no data < -0.1")
