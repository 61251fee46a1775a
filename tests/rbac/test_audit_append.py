"""audit.append_many through audit_append (migration 0006): one statement when the head is known, the head
checked under the chain's lock, values read back exactly as hashed, rows that break the chain refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from success_metrics.storage.pool import Database
from success_metrics.rbac import AuditUnavailable, audit, audit_verify


def record(tenant: str, n: int, **fields: Any) -> audit.AuditRecord:
    base = {"subject": f"user-{n}", "resource": {"n": n}, "at": datetime(2026, 1, 1, 0, 0, n % 60, tzinfo=UTC)}
    return audit.AuditRecord(tenant_id=tenant, action="query", outcome="success", status=200, **{**base, **fields})


async def rows_of(db: Database, tenant: str) -> list[dict[str, Any]]:
    async with db.system() as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM audit_log WHERE tenant_id = $1 ORDER BY seq", tenant)]


@asynccontextmanager
async def logged(db: Database) -> AsyncIterator[tuple[asyncpg.Connection, list[str]]]:
    """A connection and the statements it runs; the logger is removed before the pool takes the connection back."""
    statements: list[str] = []

    def log(q: Any) -> None:
        statements.append(q.query)

    async with db.system() as conn:
        conn.add_query_logger(log)
        try:
            yield conn, statements
        finally:
            conn.remove_query_logger(log)


async def intact(db: Database, tenant: str) -> int:
    async with db.system() as conn:
        report = await audit_verify.verify(conn, tenant)
    assert report.intact, report.summary()
    return report.rows.get(tenant, 0)


async def test_values_read_back_exactly_as_their_hash_saw_them(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("app")
    tricky = [
        record(tid, 1, at=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=5, minutes=30))),
               latency_ms=0.1 + 0.2, rows_returned=2**62, masked_fields=("agent", "a,b", "{x}", '"q"', "NULL", "",
                                                                         "back\\slash", "é 🙂"),
               resource={"z": [1, 2.5, None, True, "x"], "a": {"nested": "é\n\t\"'"}, "big": 2**70, "f": 1e-7,
                         "float_int": 1.0, "large": 1e16, "neg_zero": -0.0, "huge": 1.5e300, "empty": {}},
               role="agent", auth_method="jwt", request_id="r-1", client_addr="::1", user_agent="ua/1 (x; y)",
               reason="naïve \\ reason"),
        record(tid, 2, at=datetime(1, 1, 1, tzinfo=UTC), latency_ms=5e-324, resource={}),
        record(tid, 3, at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), latency_ms=1.7976931348623157e308),
        record(tid, 4, latency_ms=float("inf"), resource={"nan": float("nan"), "inf": float("-inf")}),
        record(tid, 5, latency_ms=-0.0),
        record(tid, 6, subject=None, latency_ms=None, rows_returned=None, masked_fields=()),
        record(tid, 7, subject="lone \ud800 surrogate", resource={"k\udfff": "v\ud83d"}),
    ]
    async with db.system() as conn:
        written = await audit.append_many(conn, tricky)
    assert [s for s, _ in written] == list(range(1, 8))
    rows = await rows_of(db, tid)
    assert [r["hash"] for r in rows] == [h for _, h in written]
    assert rows[0]["at"] == datetime(2026, 3, 3, 23, 36, 7, 891011, tzinfo=UTC)
    assert rows[0]["latency_ms"] == 0.30000000000000004 and rows[0]["rows_returned"] == 2**62
    assert rows[0]["masked_fields"] == ["agent", "a,b", "{x}", '"q"', "NULL", "", "back\\slash", "é 🙂"]
    assert rows[1]["latency_ms"] == 5e-324 and rows[2]["latency_ms"] == 1.7976931348623157e308
    assert rows[3]["latency_ms"] == float("inf") and rows[3]["resource"] == {"nan": "nan", "inf": "-inf"}
    assert str(rows[4]["latency_ms"]) == "-0.0"
    assert rows[5]["subject"] is None and rows[5]["latency_ms"] is None and rows[5]["masked_fields"] == []
    for row, rec in zip(rows, tricky, strict=True):  # what the record said is what the row says
        assert {k: row[k] for k in audit.COLUMNS if k != "seq"} == {
            **{k: v for k, v in rec.model_dump().items()}, "masked_fields": list(rec.masked_fields)}
    assert await intact(db, tid) == 7


def test_resource_values_are_kept_as_jsonb_gives_them_back() -> None:
    # jsonb keeps numbers as numeric: 1e16 reads back as the integer, -0.0 as 0.0; NaN and infinities have no
    # JSON form; a lone surrogate has no UTF-8 form. Hashing anything else would break `audit verify`.
    rec = audit.AuditRecord(tenant_id="t", action="query", outcome="success", status=200,
                            resource={"large": 1e16, "neg": -0.0, "nan": float("nan"), "x": [2.5e20, 0.5],
                                      "at": datetime(2026, 1, 1, tzinfo=UTC), "s\ud800": "a\udfffb"})
    assert rec.resource == {"large": 10**16, "neg": 0.0, "nan": "nan", "x": [250000000000000000000, 0.5],
                            "at": "2026-01-01 00:00:00+00:00", "s?": "a?b"}
    assert rec.model_copy().resource == rec.resource
    assert json.dumps(rec.resource["neg"]) == "0.0"


async def test_a_known_head_appends_in_one_statement(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("app")
    async with logged(db) as (conn, statements):
        first = await audit.append_many(conn, [record(tid, 1)])  # head unknown: asked, then appended
        await asyncio.sleep(0)  # query loggers are called soon after, not during
        assert statements == [audit._APPEND, audit._APPEND]
        second = await audit.append_many(conn, [record(tid, i) for i in range(2, 19)], head=first[-1])
        await asyncio.sleep(0)
        assert statements == [audit._APPEND] * 3
    assert [s for s, _ in second] == list(range(2, 19)) and await intact(db, tid) == 18


@pytest.mark.parametrize("stale", ["behind", "ahead", "forged", "unknown"])
async def test_a_wrong_head_is_corrected_not_written_over(db: Database, new_tenant_id: Any, stale: str) -> None:
    tid = new_tenant_id("app")
    async with db.system() as conn:
        heads = await audit.append_many(conn, [record(tid, i) for i in range(1, 4)])
        guess = {"behind": heads[0], "ahead": (9, heads[-1][1]), "forged": (3, "f" * 64), "unknown": None}[stale]
        written = await audit.append_many(conn, [record(tid, 4), record(tid, 5)], head=guess)
    assert [s for s, _ in written] == [4, 5]
    rows = await rows_of(db, tid)
    assert rows[3]["prev_hash"] == heads[-1][1] and await intact(db, tid) == 5


async def test_after_refusals_the_append_holds_the_lock_from_read_to_insert(
        db: Database, new_tenant_id: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tid = new_tenant_id("app")
    monkeypatch.setattr(audit, "OPTIMISTIC_CALLS", 1)  # one refusal is then enough to take the locked path
    async with logged(db) as (conn, statements):
        heads = await audit.append_many(conn, [record(tid, 1), record(tid, 2)])
        await asyncio.sleep(0)
        statements.clear()
        written = await audit.append_many(conn, [record(tid, 3)], head=heads[0])
        await asyncio.sleep(0)
        assert statements == [audit._APPEND, "BEGIN;", audit._APPEND, audit._APPEND, "COMMIT;"]
    assert written[0][0] == 3 and await intact(db, tid) == 3


async def test_appends_wait_for_the_lock_other_writers_take(db: Database, new_tenant_id: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # writers still on the statements before migration 0006 (a replica mid-upgrade) lock the chain this way
    tid = new_tenant_id("app")
    monkeypatch.setattr(audit, "LOCK_TIMEOUT", "100ms")
    async with db.system() as holder, holder.transaction():
        await holder.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", audit.LOCK_CLASS, tid)
        with pytest.raises(AuditUnavailable, match="LockNotAvailableError"):
            async with db.system() as conn:
                await audit.append_many(conn, [record(tid, 1)], head=(0, audit.GENESIS))
    async with db.system() as conn:
        await audit.append_many(conn, [record(tid, 1)], head=(0, audit.GENESIS))
    assert await intact(db, tid) == 1


async def test_the_database_refuses_rows_that_do_not_continue_the_chain(db: Database, new_tenant_id: Any) -> None:
    tid, other = new_tenant_id("app"), new_tenant_id("app")
    good = [r.model_dump() for r in (record(tid, 1), record(tid, 2))]
    bad_tenant = audit._chained([record(other, 1).model_dump()], (0, audit.GENESIS))
    bad_tenant[0]["tenant_id"] = other
    gap = audit._chained(good, (0, audit.GENESIS))
    gap[1]["seq"] = 3
    broken_link = audit._chained(good, (0, audit.GENESIS))
    broken_link[1]["prev_hash"] = "e" * 64
    for rows in (bad_tenant, gap, broken_link):
        async with db.system() as conn:
            with pytest.raises(asyncpg.InvalidParameterValueError, match="do not continue its chain"):
                await conn.fetchrow(audit._APPEND, tid, 0, audit.GENESIS, audit._wire(rows), "1s")
    assert await rows_of(db, tid) == [] and await rows_of(db, other) == []


async def test_the_function_writes_as_sm_app_confined_to_the_tenant(db: Database, new_tenant_id: Any) -> None:
    mine, theirs = new_tenant_id("app"), new_tenant_id("app")
    async with db.system() as conn:
        grantees = await conn.fetch("""SELECT coalesce(r.rolname, 'PUBLIC') AS who, a.privilege_type
                                       FROM pg_proc p, aclexplode(p.proacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
                                       WHERE p.proname = 'audit_append'""")
        assert {(g["who"], g["privilege_type"]) for g in grantees} >= {("sm_app", "EXECUTE")}
        assert ("PUBLIC", "EXECUTE") not in {(g["who"], g["privilege_type"]) for g in grantees}
        assert await conn.fetchval("SELECT prosecdef FROM pg_proc WHERE proname = 'audit_append'") is False
        owner = await conn.fetchval("SELECT current_user")
        # called by the owner, it has only sm_app's rights: without INSERT for sm_app it cannot append
        with pytest.raises(AuditUnavailable, match="InsufficientPrivilegeError"):
            async with conn.transaction():
                await conn.execute("REVOKE INSERT ON audit_log FROM sm_app")
                await audit.append_many(conn, [record(mine, 1)], head=(0, audit.GENESIS))
        async with conn.transaction():
            await audit.append_many(conn, [record(mine, 1)], head=(0, audit.GENESIS))
            assert await conn.fetchval("SELECT current_user") == owner  # the caller's role is back
    # inside a tenant transaction it appends to that tenant only
    async with db.tenant(mine) as conn:
        await audit.append_many(conn, [record(mine, 2)])
    with pytest.raises(AuditUnavailable, match="InsufficientPrivilegeError"):
        async with db.tenant(mine) as conn:
            await audit.append_many(conn, [record(theirs, 1)])
    assert await intact(db, mine) == 2 and await rows_of(db, theirs) == []
