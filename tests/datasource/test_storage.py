"""Migrations, partitions and retention against the session's real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg

import pytest

from success_metrics.storage import migrate, partitions
from success_metrics.storage.errors import RetentionRefused, UnstorableValue
from success_metrics.storage.pool import Database


async def test_migrations_applied_once_and_again_changes_nothing(db: Database) -> None:
    async with db.system() as conn:
        before = await conn.fetch("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in before] == [m.version for m in migrate.available()]
        assert await migrate.migrate(conn) == []
        after = await conn.fetch("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY version")
    assert before == after


async def test_failed_migration_rolls_back_whole(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = migrate.Migration(9999, "broken", "CREATE TABLE half_done (x int); SELECT no_such_function();")
    monkeypatch.setattr(migrate, "available", lambda: [bad])
    async with db.system() as conn:
        with pytest.raises(migrate.MigrationFailed, match="9999_broken"):
            await migrate.migrate(conn)
        assert await conn.fetchval("SELECT to_regclass('public.half_done')") is None
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999") == 0


async def test_partitions_ahead_and_for_out_of_range_months(db: Database) -> None:
    async with db.system() as conn:
        have = await partitions.existing_months(conn)
        this_month = partitions.month_start(datetime.now(UTC))
        # the window: from the retention horizon to three months ahead
        assert partitions.add_months(this_month, 3) in have
        assert partitions.add_months(this_month, -24) in have
        far = date(2031, 7, 1)
        assert await partitions.ensure_months(conn, [far, far]) == [far]
        assert await partitions.ensure_months(conn, [far]) == []
        await conn.execute(
            "INSERT INTO events (tenant_id, occurred_at, event_id, type, payload) VALUES ('x', $1, 'e', 't', '{}')",
            datetime(2031, 7, 31, 23, 59, tzinfo=UTC),
        )
        name = await conn.fetchval("SELECT tableoid::regclass::text FROM events WHERE tenant_id = 'x'")
        assert name == "events_y2031m07"
        await conn.execute("DELETE FROM events WHERE tenant_id = 'x'")


async def test_retention_drops_whole_old_partitions_only(db: Database) -> None:
    async with db.system() as conn:
        old = date(2001, 1, 1)
        await partitions.ensure_months(conn, [old, date(2001, 2, 1)])
        await conn.execute(
            "INSERT INTO event_ids (tenant_id, event_id, occurred_at) VALUES ('x', 'old', '2001-01-15Z')"
        )
        with pytest.raises(RetentionRefused, match="24 months"):
            await partitions.apply_retention(conn, 12)
        dropped = await partitions.apply_retention(conn, 24, now=datetime(2003, 2, 10, tzinfo=UTC))
        # cut-off is 2001-02: January goes, February stays
        assert dropped == ["events_y2001m01"]
        months = await partitions.existing_months(conn)
        assert old not in months and date(2001, 2, 1) in months
        assert await conn.fetchval("SELECT count(*) FROM event_ids WHERE event_id = 'old'") == 0
        await conn.execute("DROP TABLE events_y2001m02")


async def test_tenant_transaction_sees_only_its_tenant(db: Database) -> None:
    async with db.system() as conn:
        await conn.execute(
            "INSERT INTO tenants (tenant_id, name) VALUES ('rls-a', 'A'), ('rls-b', 'B') ON CONFLICT DO NOTHING"
        )
    async with db.tenant("rls-a") as conn:
        # no WHERE clause: row-level security alone confines the query
        assert [r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM tenants")] == ["rls-a"]
        assert await conn.fetchval("SELECT current_user") == "sm_app"


@pytest.mark.parametrize(("sql", "value", "says"), [
    ("SELECT $1::text", "a\x00b", "0x00"),
    ("SELECT $1::jsonb", {"name": "a\x00b"}, "unsupported Unicode escape sequence"),
    ("SELECT $1::timestamptz", datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), "date value out of range"),
])
async def test_values_postgresql_cannot_hold_are_the_callers_to_fix(db: Database, sql: str, value: object,
                                                                      says: str) -> None:
    for connection in (db.system, lambda: db.tenant("rls-a")):
        with pytest.raises(UnstorableValue, match="remove NUL characters") as caught:
            async with connection() as conn:
                await conn.fetchval(sql, value)
        assert says in caught.value.message


async def test_our_own_data_errors_stay_ours(db: Database) -> None:
    # a division by zero is a fault of the statement, not of the caller's values: it is not re-labelled
    with pytest.raises(asyncpg.exceptions.DivisionByZeroError):
        async with db.system() as conn:
            await conn.fetchval("SELECT 1 / $1::int", 0)
