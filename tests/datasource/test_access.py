"""audit_writer.record: concurrent audit appends of a tenant share transactions (group commit), chain intact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from success_metrics.guard import audit_writer
from success_metrics.storage.pool import Database
from success_metrics.rbac import AuditUnavailable, audit, audit_verify


def record(tenant: str, n: int) -> audit.AuditRecord:
    return audit.AuditRecord(tenant_id=tenant, action="query", outcome="success", status=200, subject=f"user-{n}",
                             role="agent", resource={"n": n}, at=datetime(2026, 1, 1, 0, 0, n % 60, tzinfo=UTC))


async def test_concurrent_records_of_two_tenants_are_all_written_in_fewer_rounds(
        db: Database, new_tenant_id: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = new_tenant_id("grp"), new_tenant_id("grp")
    rounds: list[int] = []
    real = audit.append_many

    async def counting(conn: Any, records: list[audit.AuditRecord], head: Any = None) -> list[tuple[int, str]]:
        rounds.append(len(records))
        return await real(conn, records, head)

    monkeypatch.setattr(audit, "append_many", counting)
    await asyncio.gather(*(audit_writer.record(db, record(a if i % 2 else b, i)) for i in range(40)))
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
        outcomes = await asyncio.gather(*(audit_writer.record(db, record(tid, i)) for i in range(5)),
                                        return_exceptions=True)
    assert all(isinstance(o, AuditUnavailable) for o in outcomes), outcomes
    await audit_writer.record(db, record(tid, 7))
    async with db.system() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1", tid) == 1


async def test_a_round_in_the_steady_state_is_one_statement_on_a_kept_connection(
        db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("grp")
    writer = audit_writer.GroupCommit(db)
    await writer.append(record(tid, 0))  # the first round asks for the head, then appends
    kept = writer._idle[-1]
    statements: list[str] = []

    def log(q: Any) -> None:
        statements.append(q.query)

    kept.add_query_logger(log)
    try:
        for i in range(1, 6):
            await writer.append(record(tid, i))
        await asyncio.sleep(0)  # query loggers are called soon after, not during
    finally:
        kept.remove_query_logger(log)
    assert statements == [audit._APPEND] * 5  # no BEGIN/COMMIT, no lock or head statements, no pool reset
    assert writer._idle == [kept]
    await writer.aclose()
    assert writer._idle == []
    async with db.system() as conn:
        assert (await audit_verify.verify(conn, tid)).rows == {tid: 6}


async def test_two_replicas_and_the_cli_append_to_one_chain_at_once(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("grp")
    replicas = [audit_writer.GroupCommit(db), audit_writer.GroupCommit(db)]  # each with its own heads and connections

    async def cli(n: int) -> None:  # a writer that keeps no head, e.g. `success-metrics` admin commands
        async with db.system() as conn:
            await audit.append(conn, record(tid, n))

    n = 0
    for _wave in range(5):  # each wave leaves both replicas' remembered heads stale for the next
        jobs = []
        for _ in range(12):
            jobs.append(replicas[n % 2].append(record(tid, n)))
            n += 1
        jobs.append(cli(n))
        n += 1
        await asyncio.gather(*jobs)
    for r in replicas:
        await r.aclose()
    async with db.system() as conn:
        rows = await conn.fetch("SELECT seq, resource FROM audit_log WHERE tenant_id = $1 ORDER BY seq", tid)
        assert [r["seq"] for r in rows] == list(range(1, n + 1))
        assert sorted(r["resource"]["n"] for r in rows) == list(range(n))
        report = await audit_verify.verify(conn, tid)
    assert report.intact and report.rows == {tid: n}


async def test_kept_connections_go_back_to_the_pool(db: Database, new_tenant_id: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_writer, "IDLE_RELEASE_S", 0.05)
    writer = audit_writer.GroupCommit(db)
    writer.keep = 1
    tenants = [new_tenant_id("grp") for _ in range(3)]
    await asyncio.gather(*(writer.append(record(t, i)) for i in range(4) for t in tenants))
    assert len(writer._idle) == 1  # three rounds ran at once; two connections went straight back
    await asyncio.sleep(0.2)
    assert writer._idle == [] and not writer._releases
    # a failed round's connection goes back to the pool (which resets it) rather than being kept
    monkeypatch.setattr(audit, "LOCK_TIMEOUT", "100ms")
    async with db.system() as holder, holder.transaction():
        await holder.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", audit.LOCK_CLASS, tenants[0])
        with pytest.raises(AuditUnavailable):
            await writer.append(record(tenants[0], 9))
    assert writer._idle == []
    await writer.append(record(tenants[0], 9))
    await writer.aclose()
    async with db.system() as conn:
        for t in tenants:
            assert (await audit_verify.verify(conn, t)).intact
