"""Access Audit metrics over a hand-written audit log: rows, counts, order, cap, tenant isolation, and who may ask."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from success_metrics.calculators.buckets import epoch_ms
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from success_metrics.rbac import audit
from success_metrics.rbac.audit import AuditRecord
from tests.calculators.fixture import col, create_tenant, run

AT = datetime(2026, 2, 9, 10, tzinfo=UTC)
DAY = (AT - timedelta(hours=10), AT + timedelta(hours=14))  # 2026-02-09 00:00 .. 24:00 UTC
M = timedelta(minutes=1)


def rec(tenant: str, at: datetime, action: str, outcome: str, status: int, subject: str | None = None,
        role: str | None = None, **kw: Any) -> AuditRecord:
    return AuditRecord(tenant_id=tenant, at=at, action=action, outcome=outcome, status=status, subject=subject,
                       role=role, **kw)


async def _write(db: Database, tenant: str, records: list[AuditRecord]) -> None:
    await create_tenant(db, tenant, {"timezone": "UTC"})
    async with db.tenant(tenant) as conn:
        await audit.append_many(conn, records)


async def _log(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    """Tenant T's log (9 records, 8 of them on 2026-02-09) and another tenant's log on the same day."""
    t, other = new_tenant_id("audit-t"), new_tenant_id("audit-o")
    await _write(db, t, [
        rec(t, AT - timedelta(days=1), "export", "success", 200, "u1", "auditor",  # the day before: out of range
            resource={"what": "audit_log", "format": "ndjson"}, rows_returned=7),
        rec(t, AT, "auth.success", "success", 200, "u1", "auditor"),
        rec(t, AT + 1 * M, "auth.failure", "denied", 401, reason="bad signature"),
        rec(t, AT + 2 * M, "query", "success", 200, "u1", "auditor",
            resource={"route": "/query", "metrics": ["audit.access_log", "uptime.system"]},
            masked_fields=("agent",), rows_returned=3, latency_ms=12.5),
        rec(t, AT + 3 * M, "access.denied", "denied", 403, "u2", "agent", resource={"route": "GET /api/audit/events"}),
        rec(t, AT + 4 * M, "export", "success", 200, "u1", "auditor",
            resource={"what": "audit_log", "format": "csv", "filter": {}}, rows_returned=42),
        rec(t, AT + 5 * M, "export", "error", 502, "u3", "executive",
            resource={"report": "weekly", "period": "2026-W06", "via": "email"}),
        rec(t, AT + 90 * M, "auth.failure", "denied", 401),
        rec(t, AT + 91 * M, "query", "denied", 403, "u2", "agent", resource={"metrics": ["roi.monthly"]}),
    ])
    await _write(db, other, [
        rec(other, AT, "auth.failure", "denied", 401, "spy", "admin"),
        rec(other, AT + 6 * M, "export", "success", 200, "spy", "admin", resource={"format": "csv"}, rows_returned=9),
        rec(other, AT + 7 * M, "access.denied", "denied", 403, "spy", "agent"),
    ])
    return t


async def test_access_log_rows_newest_first_in_range_and_own_tenant_only(
        db: Database, new_tenant_id: Callable[[str], str]) -> None:
    t = await _log(db, new_tenant_id)
    frame = await run(db, t, "audit.access_log", *DAY)
    # 8 of T's 9 records fall on the day; newest first: 11:31, 11:30, 10:05, 10:04, 10:03, 10:02, 10:01, 10:00
    assert col(frame, "time") == [epoch_ms(AT + m * M) for m in (91, 90, 5, 4, 3, 2, 1, 0)]
    assert col(frame, "action") == ["query", "auth.failure", "export", "export", "access.denied", "query",
                                    "auth.failure", "auth.success"]
    assert "spy" not in col(frame, "subject") and frame.notices == ()
    q = frame.rows()[5]
    names = [c.name for c in frame.columns]
    assert dict(zip(names, q, strict=True)) == {
        "time": epoch_ms(AT + 2 * M), "subject": "u1", "role": "auditor", "action": "query",
        "resource": "audit.access_log, uptime.system", "outcome": "success", "status": 200,
        "masked_fields": "agent", "rows_returned": 3, "latency_ms": 12.5}
    assert col(frame, "resource")[4] == "GET /api/audit/events"  # no metrics: the route
    assert col(frame, "status")[:2] == [403, 401] and col(frame, "subject")[1] is None


async def test_failures_by_action_per_bucket(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    t = await _log(db, new_tenant_id)
    daily = await run(db, t, "audit.failures", *DAY, interval_ms=86_400_000)
    # auth.failure 10:01 and 11:30 = 2; access.denied 10:03 = 1; the query refused at 11:31 = 1;
    # the failed report export (outcome error) is not a refusal; the other tenant's 2 refusals never count
    assert (col(daily, "auth.failure"), col(daily, "access.denied"), col(daily, "query")) == ([2], [1], [1])
    assert [c.name for c in daily.columns] == ["time", "auth.failure", "access.denied", "query"]
    hourly = await run(db, t, "audit.failures", *DAY, interval_ms=3_600_000)
    assert len(col(hourly, "time")) == 24
    # hour 10: auth.failure 1 + access.denied 1; hour 11: auth.failure 1 + query 1; every other hour 0
    assert col(hourly, "auth.failure") == [0] * 10 + [1, 1] + [0] * 12
    assert col(hourly, "access.denied") == [0] * 10 + [1] + [0] * 13
    assert col(hourly, "query") == [0] * 11 + [1] + [0] * 12


async def test_exports_in_range(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    t = await _log(db, new_tenant_id)
    frame = await run(db, t, "audit.exports", *DAY)
    # the day's two exports of T, newest first; the day-before export and the other tenant's are not listed
    assert [c.name for c in frame.columns] == ["time", "subject", "role", "resource", "format", "outcome", "rows"]
    assert frame.rows() == [
        (epoch_ms(AT + 5 * M), "u3", "executive", "weekly 2026-W06", "email", "error", None),
        (epoch_ms(AT + 4 * M), "u1", "auditor", "audit_log", "csv", "success", 42),
    ]
    empty = await run(db, t, "audit.exports", AT + 6 * M, AT + 89 * M)
    assert empty.rows() == []


async def test_access_log_is_capped_with_a_notice(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    t = new_tenant_id("audit-cap")
    await _write(db, t, [rec(t, AT + timedelta(seconds=i), "query", "success", 200, f"u{i}") for i in range(502)])
    frame = await run(db, t, "audit.access_log", *DAY)
    # 502 records, newest (u501) first; 500 kept: u501 .. u2
    subjects = col(frame, "subject")
    assert len(subjects) == 500 and subjects[0] == "u501" and subjects[-1] == "u2"
    assert len(frame.notices) == 1 and "newest 500" in frame.notices[0]


async def test_auditors_and_admins_get_rows_others_are_refused(
        db: Database, new_tenant_id: Callable[[str], str], make_client: Any, token_for: Callable[..., str]) -> None:
    t = await _log(db, new_tenant_id)
    client = await make_client(TenantConfig(id=t, name="Audit"))
    body = {"range": {"from": "2026-02-09T00:00:00Z", "to": "2026-02-10T00:00:00Z"}, "interval": "1d",
            "intervalMs": 86_400_000, "maxDataPoints": 100,
            "targets": [{"refId": "L", "target": "audit.access_log"}, {"refId": "E", "target": "audit.exports"}]}
    for role in ("auditor", "admin"):
        r = await client.post("/query", json=body, headers={"Authorization": f"Bearer {token_for(t, role)}"})
        assert r.status_code == 200, r.text
        got = {i["refId"]: i for i in r.json()}
        names = [c["text"] for c in got["L"]["columns"]]
        log = [dict(zip(names, row, strict=True)) for row in got["L"]["rows"]]
        assert len(log) == 8 and log[0]["subject"] == "u2" and log[5]["subject"] == "u1", role  # subject shown
        assert [row[1] for row in got["E"]["rows"]] == ["u3", "u1"], role
    for role in ("executive", "manager", "agent"):
        r = await client.post("/query", json=body, headers={"Authorization": f"Bearer {token_for(t, role)}"})
        assert r.status_code == 200, r.text
        for item in r.json():
            assert item.get("rows", []) == [], role
            assert [n["severity"] for n in item["meta"]["notices"]] == ["error"], role
