"""Backups, restore and the restore drill, end to end on the real PostgreSQL of the test session.

Each test works in a database of its own on the session's server (made, migrated and dropped here), so a restore
replaces nothing another test reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from typer.testing import CliRunner

from success_metrics.rbac import audit
from success_metrics.storage import backup, backup_schedule, migrate, partitions
from success_metrics.storage.errors import BackupFailed
from success_metrics.storage.pool import Database
from success_metrics.tools import cli

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def on_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture
async def own_db(db: Database) -> AsyncIterator[Database]:
    """A fresh, migrated database on the session's server, holding one tenant's three events and two audit rows."""
    assert db.dsn is not None
    name = f"sm_bk_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(db.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    own = await Database.connect(on_database(db.dsn, name), min_size=1, max_size=3)
    try:
        async with own.system() as conn:
            await migrate.migrate(conn)
            await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ('acme', 'Acme')")
            await partitions.ensure_months(conn, [T])
            await conn.executemany(
                "INSERT INTO events (tenant_id, occurred_at, event_id, type, payload) "
                "VALUES ('acme', $1, $2, 'component.call', '{}')", [(T, f"e{i}") for i in range(3)])
        for i in range(2):
            async with own.tenant("acme") as conn:
                await audit.append(conn, audit.AuditRecord.model_validate(
                    {"tenant_id": "acme", "action": "query", "outcome": "success", "status": 200,
                     "subject": f"user{i}"}))
        yield own
    finally:
        await own.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def clock() -> datetime:
    return T


async def count(db: Database, table: str) -> int:
    async with db.system() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))


async def test_a_backup_restores_in_the_drill_with_its_rows_and_audit_chain(own_db: Database, tmp_path: Path) -> None:
    assert own_db.dsn is not None
    plan = backup_schedule.Plan(tmp_path, keep=3, verify=True)
    report = await backup_schedule.round_(own_db, own_db.dsn, plan, clock)
    assert report is not None
    assert report.ok, report.summary()
    dump = tmp_path / "success-metrics-20261120T120000Z.dump"
    manifest = backup.Manifest.read(dump)
    # worked out by hand from the fixture: three events, two audit rows, one tenant
    assert manifest.tables["events_y2026m11"] == 3 and manifest.tables["audit_log"] == 2
    assert manifest.tables["tenants"] == 1 and manifest.audit_heads["acme"]["seq"] == 2
    assert dump.stat().st_mode & 0o777 == 0o600
    async with own_db.system() as conn:
        runs = [tuple(r) for r in await conn.fetch("SELECT kind, ok, file FROM backup_runs ORDER BY id")]
    assert runs == [("backup", True, dump.name), ("verify", True, dump.name)]


async def test_the_drill_catches_a_damaged_dump_missing_rows_and_a_broken_chain(own_db: Database,
                                                                                tmp_path: Path) -> None:
    assert own_db.dsn is not None
    manifest = await backup.take(own_db, own_db.dsn, tmp_path, T)
    dump = tmp_path / manifest.file
    # the manifest says one more event and another chain head than the dump holds
    doc = json.loads(backup.manifest_path(dump).read_text())
    doc["tables"]["events_y2026m11"] = 4
    doc["audit_heads"]["acme"]["seq"] = 3
    backup.manifest_path(dump).write_text(json.dumps(doc))
    report = await backup.drill(own_db.dsn, dump)
    assert report.problems == ["table events_y2026m11: 3 row(s) restored, 4 backed up",
                               "audit chain of acme ends at row 2, backed up at row 3"]
    # an audit row edited before the backup is restored edited: the restored chain says where
    async with own_db.system() as conn, conn.transaction():
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit_log SET subject = 'mallory' WHERE tenant_id = 'acme' AND seq = 1")
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    edited = await backup.take(own_db, own_db.dsn, tmp_path, T + timedelta(seconds=1))
    report = await backup.drill(own_db.dsn, tmp_path / edited.file)
    assert len(report.problems) == 1 and report.problems[0].startswith("audit chain tenant acme: row 1:")
    # a flipped byte in the dump is found before anything is restored
    raw = bytearray(dump.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    dump.write_bytes(bytes(raw))
    report = await backup.drill(own_db.dsn, dump)
    assert not report.ok and "is damaged: its SHA-256 differs" in report.problems[0]


async def test_restore_brings_back_the_backed_up_rows_in_one_transaction(own_db: Database, tmp_path: Path) -> None:
    assert own_db.dsn is not None
    manifest = await backup.take(own_db, own_db.dsn, tmp_path, T)
    async with own_db.system() as conn:
        await conn.execute("DELETE FROM events WHERE event_id = 'e0'")
        await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ('later', 'Added after the backup')")
    await own_db.close()
    await backup.restore(own_db.dsn, tmp_path / manifest.file, clock)
    conn = await asyncpg.connect(own_db.dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM events") == 3
        assert [r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM tenants")] == ["acme"]
        assert [tuple(r) for r in await conn.fetch("SELECT kind, ok FROM backup_runs")] == [("restore", True)]
    finally:
        await conn.close()


async def test_backups_beyond_keep_are_deleted_oldest_first(own_db: Database, tmp_path: Path) -> None:
    assert own_db.dsn is not None
    plan = backup_schedule.Plan(tmp_path, keep=2, verify=False)
    taken = [T, T + timedelta(hours=1), T + timedelta(hours=2)]
    for at in taken:
        await backup_schedule.take(own_db, own_db.dsn, plan, lambda at=at: at)  # type: ignore[misc]
    assert [p.name for p in backup.backups(tmp_path)] == ["success-metrics-20261120T130000Z.dump",
                                                         "success-metrics-20261120T140000Z.dump"]
    assert sorted(await asyncio.to_thread(os.listdir, tmp_path)) == [
        "success-metrics-20261120T130000Z.dump", "success-metrics-20261120T130000Z.json",
        "success-metrics-20261120T140000Z.dump", "success-metrics-20261120T140000Z.json"]


async def test_a_failed_backup_is_recorded_and_says_why(own_db: Database, tmp_path: Path) -> None:
    assert own_db.dsn is not None
    plan = backup_schedule.Plan(tmp_path, keep=2, verify=False, bin_dir=tmp_path / "nowhere")
    with pytest.raises(BackupFailed, match=r"pg_dump is not in .*nowhere: set backup\.pg_bin_dir"):
        await backup_schedule.take(own_db, own_db.dsn, plan, clock)
    async with own_db.system() as conn:
        row = await conn.fetchrow("SELECT kind, ok, detail FROM backup_runs")
    assert row is not None
    assert (row["kind"], row["ok"]) == ("backup", False) and "pg_dump is not in" in row["detail"]
    assert backup.backups(tmp_path) == []


async def test_the_loop_takes_a_backup_at_once_when_there_is_none(own_db: Database, tmp_path: Path) -> None:
    assert own_db.dsn is not None
    loop = backup_schedule.BackupLoop(own_db, own_db.dsn, backup_schedule.Plan(tmp_path, keep=2, verify=False),
                                      clock)
    await loop.round()
    assert len(backup.backups(tmp_path)) == 1
    assert await count(own_db, "backup_runs WHERE kind = 'backup' AND ok") == 1
    assert loop.wait() == backup_schedule.CHECK_S  # next look in 5 minutes, not 24 h: another replica may change it
    await loop.round()  # not due again: the last good backup is not a day old
    assert len(backup.backups(tmp_path)) == 1


async def test_two_replicas_take_one_backup_between_them(own_db: Database, tmp_path: Path) -> None:
    """Two services on one database run the backup round at the same moment: the one that holds the lock backs
    up, the other finds it taken (or, after it, done) and takes none."""
    assert own_db.dsn is not None
    plan = backup_schedule.Plan(tmp_path, keep=5, verify=False)
    first = backup_schedule.BackupLoop(own_db, own_db.dsn, plan, clock)
    second = backup_schedule.BackupLoop(own_db, own_db.dsn, plan, clock)
    await asyncio.gather(first.round(), second.round())
    assert await count(own_db, "backup_runs WHERE kind = 'backup'") == 1
    assert len(backup.backups(tmp_path)) == 1


def test_when_the_next_backup_is_due() -> None:
    day = timedelta(hours=24)
    assert backup_schedule.wait_s(None, T, day) == 0
    assert backup_schedule.wait_s(T - timedelta(hours=20), T, day) == 4 * 3600
    assert backup_schedule.wait_s(T - timedelta(hours=30), T, day) == 0


def test_a_password_goes_to_the_environment_not_the_command_line() -> None:
    url, env = backup.libpq("postgresql://sm:s%40cret@db.example:5432/success_metrics?sslmode=require", "scratch")
    assert url == "postgresql://sm@db.example:5432/scratch?sslmode=require" and env == {"PGPASSWORD": "s@cret"}
    url, env = backup.libpq("postgresql://postgres:@/success_metrics?host=/tmp/pg")
    assert url == "postgresql://postgres@/success_metrics?host=/tmp/pg" and env == {}


def test_the_cli_backs_up_drills_lists_and_restores_only_when_confirmed(own_db: Database, tmp_path: Path) -> None:
    assert own_db.dsn is not None
    env = {"DATABASE_URL": own_db.dsn, "SM_DATA_DIR": str(tmp_path), "SM_CONFIG": ""}
    runner = CliRunner()
    took = runner.invoke(cli.app, ["backup", "--verify"], env=env)
    assert took.exit_code == 0, took.output
    dump = backup.latest(tmp_path / "backups")
    assert f"{dump} (" in took.stdout and "restore verified" in took.stdout
    drilled = runner.invoke(cli.app, ["backup", "verify"], env=env)
    assert drilled.exit_code == 0 and "restore verified: success-metrics-" in drilled.stdout
    listed = runner.invoke(cli.app, ["backup", "list"], env=env)
    assert listed.exit_code == 0 and str(dump) in listed.stdout
    unconfirmed = runner.invoke(cli.app, ["restore", str(dump)], env=env)
    assert unconfirmed.exit_code == 2 and "add --yes" in unconfirmed.stderr
    busy = runner.invoke(cli.app, ["restore", str(dump), "--yes"], env=env)  # own_db's pool is connected
    assert busy.exit_code == 1 and "other session(s) use the database" in busy.stderr
