"""Audit log: the chain, append-only enforcement in the database, tamper detection, checkpoints."""

from __future__ import annotations

import hashlib
import json
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from success_metrics.storage.pool import Database
from success_metrics.rbac import AuditUnavailable, AuthMethod, Principal, Role, audit, audit_verify
from success_metrics.calculators.vocabulary import TenantId

KEY = b"k" * 32


def record(tenant: str, n: int) -> audit.AuditRecord:
    return audit.AuditRecord(tenant_id=tenant, action="query", outcome="success", status=200, subject=f"user-{n}",
                             role="agent", resource={"metrics": ["uptime.system"], "n": n}, rows_returned=n,
                             latency_ms=1.5, masked_fields=("agent",), at=datetime(2026, 1, 1, 0, 0, n, tzinfo=UTC))


async def chain(db: Database, tenant: str, n: int) -> list[tuple[int, str]]:
    out = []
    for i in range(1, n + 1):
        async with db.tenant(tenant) as conn:
            out.append(await audit.append(conn, record(tenant, i)))
    return out


@asynccontextmanager
async def tampering(db: Database) -> Any:
    """What someone with the owner's rights could do: switch the guard trigger off for one transaction."""
    async with db.system() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
        yield conn
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")


async def verify(db: Database, tenant: str, path: Path | None = None) -> audit_verify.VerifyReport:
    async with db.system() as conn:
        return await audit_verify.verify(conn, tenant, checkpoints=path, key=KEY)


async def test_rows_link_by_hash_from_the_genesis(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("aud")
    heads = await chain(db, tid, 3)
    assert [s for s, _ in heads] == [1, 2, 3]
    async with db.system() as conn:
        rows = [dict(r) for r in await conn.fetch("SELECT * FROM audit_log WHERE tenant_id = $1 ORDER BY seq", tid)]
    assert rows[0]["prev_hash"] == "0" * 64 and rows[1]["prev_hash"] == rows[0]["hash"]
    # row 1 by hand: sha256("000…0\n" + the canonical JSON of its content columns)
    content = {"tenant_id": tid, "seq": 1, "at": "2026-01-01T00:00:01.000000+00:00", "subject": "user-1",
               "role": "agent", "action": "query", "resource": {"metrics": ["uptime.system"], "n": 1},
               "outcome": "success", "status": 200, "masked_fields": ["agent"], "rows_returned": 1,
               "latency_ms": 1.5, "request_id": None, "client_addr": None, "user_agent": None, "auth_method": None,
               "reason": None}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    assert rows[0]["hash"] == hashlib.sha256(b"0" * 64 + b"\n" + canonical).hexdigest()
    report = await verify(db, tid)
    assert report.intact and report.rows == {tid: 3}
    assert report.summary() == "intact: 3 row(s) in 1 chain(s)"


async def test_the_service_role_cannot_change_history_and_the_owner_is_stopped_by_triggers(
        db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("aud")
    await chain(db, tid, 1)
    for statement in ("UPDATE audit_log SET outcome = 'denied'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with db.tenant(tid) as conn:
                await conn.execute(statement)
    with pytest.raises(asyncpg.PostgresError, match="append-only: UPDATE"):
        async with db.system() as conn:
            await conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE tenant_id = $1", tid)
    with pytest.raises(asyncpg.PostgresError, match="append-only: TRUNCATE"):
        async with db.system() as conn, conn.transaction():
            await conn.execute("TRUNCATE audit_log")
    assert (await verify(db, tid)).intact


async def test_an_edited_row_is_found(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("aud")
    await chain(db, tid, 4)
    async with tampering(db) as conn:
        await conn.execute("UPDATE audit_log SET subject = 'someone-else' WHERE tenant_id = $1 AND seq = 3", tid)
    report = await verify(db, tid)
    assert [str(b) for b in report.breaks] == [f"tenant {tid}: row 3: its content was changed after it was written"]


async def test_an_edit_that_recomputes_its_own_hash_breaks_the_next_link(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("aud")
    await chain(db, tid, 3)
    async with tampering(db) as conn:
        row = dict(await conn.fetchrow("SELECT * FROM audit_log WHERE tenant_id = $1 AND seq = 2", tid))
        row["outcome"] = "denied"
        await conn.execute("UPDATE audit_log SET outcome = 'denied', hash = $2 WHERE tenant_id = $1 AND seq = 2",
                           tid, audit.chain_hash(row["prev_hash"], row))
    report = await verify(db, tid)
    assert [(b.seq, b.problem) for b in report.breaks] == [(3, "its link to the previous row is broken")]


async def test_a_deleted_row_is_found(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("aud")
    await chain(db, tid, 4)
    async with tampering(db) as conn:
        await conn.execute("DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 2", tid)
    report = await verify(db, tid)
    assert [(b.seq, b.problem) for b in report.breaks] == [(2, "missing (rows 2..2 were deleted)")]


async def test_a_truncated_tail_is_found_against_the_signed_checkpoint(db: Database, new_tenant_id: Any,
                                                                      tmp_path: Path) -> None:
    tid = new_tenant_id("aud")
    path = tmp_path / "checkpoints.json"
    heads = await chain(db, tid, 5)
    async with db.system() as conn:
        written = await audit_verify.checkpoint(conn, path, KEY)
    assert written[tid] == {"seq": 5, "hash": heads[-1][1]}
    assert path.stat().st_mode & 0o777 == 0o600
    async with tampering(db) as conn:
        await conn.execute("DELETE FROM audit_log WHERE tenant_id = $1 AND seq >= 4", tid)
    report = await verify(db, tid, path)
    assert [(b.seq, b.problem) for b in report.breaks] == [
        (4, "missing: the chain ends at row 3 but a checkpoint recorded row 5 (the tail was truncated)")]
    assert (await verify(db, tid)).intact  # without the checkpoint the shortened chain looks whole
    async with db.system() as conn:  # a later checkpoint does not bless the truncation
        after = await audit_verify.checkpoint(conn, path, KEY)
    assert after[tid]["seq"] == 5
    doc = json.loads(path.read_text())
    doc["heads"][tid]["seq"] = 3
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="invalid signature"):
        await verify(db, tid, path)


async def test_an_append_that_cannot_be_written_raises_audit_unavailable(db: Database, new_tenant_id: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    tid = new_tenant_id("aud")
    monkeypatch.setattr(audit, "LOCK_TIMEOUT", "100ms")
    async with db.system() as holder, holder.transaction():
        await holder.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        with pytest.raises(AuditUnavailable, match="not served"):
            async with db.tenant(tid) as conn:
                await audit.append(conn, record(tid, 1))


def test_records_carry_no_tokens_or_secrets() -> None:
    who = Principal(TenantId("acme"), "u1", Role.AGENT, AuthMethod.JWT)
    rec = audit.AuditRecord.of(who, "auth.failure", "denied", 401,
                               reason="bad Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln and smk_0123456789abcdef_x",
                               resource={"q": ["eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"]})
    assert "eyJ" not in rec.model_dump_json() and "smk_0123" not in rec.model_dump_json()
    assert rec.reason == "bad [redacted] and [redacted]"
    with pytest.raises(ValueError):
        audit.AuditRecord(tenant_id="acme", action="query", outcome="success", status=200,
                          token="x")  # type: ignore[call-arg]


async def test_the_service_writes_a_last_checkpoint_on_shutdown(db: Database, new_tenant_id: Any,
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from success_metrics.guard import audit_checkpoints
    from success_metrics.settings import Settings

    tid = new_tenant_id("aud")
    settings = Settings(data_dir=tmp_path)
    monkeypatch.setattr(audit_checkpoints, "CHECKPOINT_INTERVAL_S", 3600.0)  # only the shutdown round will run
    task = asyncio.create_task(audit_checkpoints.checkpoint_loop(db, settings, b"s" * 32))
    heads = await chain(db, tid, 2)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    key = audit_verify.checkpoint_key(b"s" * 32)
    assert audit_verify.read_checkpoints(audit_checkpoints.checkpoint_path(settings), key)[tid] == {"seq": 2, "hash": heads[-1][1]}


async def test_a_record_never_fails_on_its_own_content(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("aud")
    rec = audit.AuditRecord(tenant_id=tid, action="query", outcome="error", status=400, subject="s" * 5000,
                            user_agent="ua\x00", resource={"filters": ["a\x00b"], "k\x00": 1})
    assert len(rec.subject or "") == 512 and rec.user_agent == "ua" and rec.resource == {"filters": ["ab"], "k": 1}
    big = audit.AuditRecord(tenant_id=tid, action="query", outcome="error", status=400,
                            resource={"regex": "x" * 100_000, "metric": "m"})
    assert big.resource == {"truncated": True, "keys": ["metric", "regex"]}
    async with db.tenant(tid) as conn:
        await audit.append(conn, rec)
        await audit.append(conn, big)
    assert (await verify(db, tid)).intact
