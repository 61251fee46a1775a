"""System health metrics against hand-worked figures (fixture tenant A)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from success_metrics.calculators import all_metrics
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, JAN, by, col, run

AT = datetime(2026, 2, 9, 10, tzinfo=UTC)


async def test_apis_health(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "apis.health", *FEB), "service")
    ghl = rows["gohighlevel"]  # crm_sync calls: 4 of 5 ok in the 10:00 hour
    assert ghl["status"] == "down" and ghl["error_rate"] == pytest.approx(20)
    assert ghl["sla_compliance"] == 0 and ghl["rate_limit_used"] is None
    twilio = rows["twilio"]  # 2 of 2 ok; api.usage peaks at 0.41
    assert twilio["status"] == "healthy" and twilio["rate_limit_used"] == pytest.approx(41)
    assert twilio["sla_compliance"] == pytest.approx(100) and twilio["latency_ms"] == pytest.approx(60)


async def _audit(db: Database, tenant: str, rows: list[tuple[timedelta, str, str | None, list[str]]]) -> None:
    async with db.system() as conn:
        for seq, (offset, action, subject, metrics) in enumerate(rows, start=1):
            await conn.execute(
                "INSERT INTO audit_log (tenant_id, seq, at, subject, role, action, resource, outcome, status, "
                "prev_hash, hash) VALUES ($1, $2, $3, $4, 'manager', $5, $6, 'success', 200, 'x', 'y')",
                tenant, seq, AT + offset, subject, action, {"metrics": metrics})


async def test_auth_events_and_adoption(db: Database, new_tenant_id) -> None:
    from tests.calculators.fixture import create_tenant

    tenant = new_tenant_id("audit")
    await create_tenant(db, tenant, {"timezone": "UTC"})
    m = timedelta(minutes=1)
    await _audit(db, tenant, [
        (0 * m, "auth.success", "u1", []), (1 * m, "auth.failure", None, []), (2 * m, "auth.success", "u2", []),
        # u1: queries at 10:00 and 10:10 (one 10-minute session), again at 10:50 (a new session: gap > 30 min)
        (0 * m, "query", "u1", ["roi.monthly"]), (10 * m, "query", "u1", ["agents.scorecard"]),
        (50 * m, "query", "u1", ["roi.monthly"]), (60 * m, "query", "u2", ["roi.monthly", "not.a_metric"]),
    ])
    day = (AT - timedelta(hours=10), AT + timedelta(hours=14))
    auth = await run(db, tenant, "security.auth_events", *day, interval_ms=86_400_000)
    assert col(auth, "success") == [2] and col(auth, "failure") == [1]
    rows = by(await run(db, tenant, "adoption.usage", *day), "figure")
    assert rows["active_users"]["value"] == 2 and rows["queries"]["value"] == 4
    assert rows["sessions"]["value"] == 3 and rows["avg_session_minutes"]["value"] == pytest.approx(10 / 3)
    assert rows["metrics_used"]["value"] == 2
    # of the dashboard metrics, as the description says (alert conditions are catalog entries on no dashboard)
    assert rows["metrics_used_share"]["value"] == pytest.approx(100 * 2 / len([m for m in all_metrics() if m.dashboard]))


async def _records(db: Database, tenant: str, rows: list[tuple[timedelta, str, str | None, str | None, dict]]
                   ) -> None:
    """Audit rows as the service writes them: (offset from AT, action, subject, auth_method, resource)."""
    async with db.system() as conn:
        for seq, (offset, action, subject, method, resource) in enumerate(rows, start=1):
            await conn.execute(
                "INSERT INTO audit_log (tenant_id, seq, at, subject, role, auth_method, action, resource, outcome, "
                "status, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'success', 200, 'x', 'y')",
                tenant, seq, AT + offset, subject, "admin" if subject else None, method, action, resource)


async def test_auth_events_count_every_request_record_by_its_authentication(db: Database, new_tenant_id) -> None:
    """One record per request: a success is any record of an authenticated caller, whatever its action."""
    from tests.calculators.fixture import create_tenant

    tenant, other = new_tenant_id("authev"), new_tenant_id("authev")
    for t in (tenant, other):
        await create_tenant(db, t, {"timezone": "UTC"})
    m, day = timedelta(minutes=1), timedelta(days=1)
    ok, jwt = {"authentication": "ok"}, "jwt"
    await _records(db, tenant, [
        # day 1: 3 queries and 1 admin change (authenticated: 4), 2 failures and 1 limited (3)
        (0 * m, "query", "u1", jwt, {"metrics": ["roi.monthly"], **ok}), (1 * m, "query", "u1", jwt, ok),
        (2 * m, "query", "u2", jwt, ok), (3 * m, "policy.change", "u2", jwt, {"version": 2, **ok}),
        (4 * m, "auth.failure", None, None, {"authentication": "failed: the token has expired"}),
        (5 * m, "auth.failure", None, None, {"authentication": "failed"}),
        (6 * m, "auth.limited", None, None, {"authentication": "not checked"}),
        # neither: a request without credentials, and a report the scheduler sent (no request authenticated)
        (7 * m, "request", None, None, {"authentication": "none"}),
        (8 * m, "export", "boss@example.com", "service_key", {"report": "weekly"}),
        # day 2: an auth.success from before requests had one record each
        (day, "auth.success", "u1", jwt, {}),
    ])
    await _records(db, other, [(0 * m, "query", "x", jwt, ok), (1 * m, "auth.failure", None, None, {})])
    auth = await run(db, tenant, "security.auth_events", AT - timedelta(hours=10), AT + timedelta(hours=38),
                     interval_ms=86_400_000)
    assert (col(auth, "success"), col(auth, "failure")) == ([4, 1], [3, 0])


async def test_compliance(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "compliance.checks", *FEB), "check")
    # SMS: L2 (consent, 10:00) and L4-auto (no consent, 21:30)
    assert (rows["sms_consent"]["checked"], rows["sms_consent"]["violations"]) == (2, 1)
    assert rows["sms_quiet_hours"]["violations"] == 1 and rows["sms_quiet_hours"]["status"] == "fail"
    # emails: L3's manual email unsubscribed; the automated one a day later violates CAN-SPAM
    assert (rows["unsubscribe_honoured"]["checked"], rows["unsubscribe_honoured"]["violations"]) == (2, 1)
    assert rows["erased_contact_data"]["status"] == "pass" and rows["retention_24_months"]["violations"] == 0
    both = by(await run(db, tenant_a, "compliance.checks", JAN[0], FEB[1]), "check")
    # L0's erasure requested 25 Jan, completed 28 Feb: 34 days > 30
    assert (both["erasure_within_30_days"]["checked"], both["erasure_within_30_days"]["violations"]) == (1, 1)
