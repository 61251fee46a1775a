"""access.record: concurrent audit appends of a tenant share transactions (group commit), chain intact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from datasource import access
from datasource.storage.pool import Database
from rbac import AuditUnavailable, audit, audit_verify


def record(tenant: str, n: int) -> audit.AuditRecord:
    return audit.AuditRecord(tenant_id=tenant, action="query", outcome="success", status=200, subject=f"user-{n}",
                             role="agent", resource={"n": n}, at=datetime(2026, 1, 1, 0, 0, n % 60, tzinfo=UTC))


async def test_concurrent_records_of_two_tenants_are_all_written_in_fewer_rounds(
        db: Database, new_tenant_id: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = new_tenant_id("grp"), new_tenant_id("grp")
    rounds: list[int] = []
    real = audit.append_many

    async def counting(conn: Any, records: list[audit.AuditRecord]) -> list[tuple[int, str]]:
        rounds.append(len(records))
        return await real(conn, records)

    monkeypatch.setattr(audit, "append_many", counting)
    await asyncio.gather(*(access.record(db, record(a if i % 2 else b, i)) for i in range(40)))
    # 40 records, 20 per tenant: the first of each tenant opens a round alone, the other 19 queue behind it
    assert sum(rounds) == 40 and len(rounds) < 40
    async with db.system() as conn:
        for tenant, ns in ((a, set(range(1, 40, 2))), (b, set(range(0, 40, 2)))):
            rows = await conn.fetch("SELECT seq, resource FROM audit_log WHERE tenant_id = $1 ORDER BY seq", tenant)
            assert [r["seq"] for r in rows] == list(range(1, 21))  # no gap, no duplicate
            assert {r["resource"]["n"] for r in rows} == ns
            assert (await audit_verify.verify(conn, tenant)).intact


async def test_a_failed_round_fails_every_request_in_it_and_the_next_round_works(
        db: Database, new_tenant_id: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tid = new_tenant_id("grp")
    monkeypatch.setattr(audit, "LOCK_TIMEOUT", "100ms")
    async with db.system() as holder, holder.transaction():
        await holder.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        outcomes = await asyncio.gather(*(access.record(db, record(tid, i)) for i in range(5)),
                                        return_exceptions=True)
    assert all(isinstance(o, AuditUnavailable) for o in outcomes), outcomes
    await access.record(db, record(tid, 7))
    async with db.system() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1", tid) == 1
