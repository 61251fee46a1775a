"""The lead entity's declaration (success_metrics/calculators/entities.py) covers every leads column, and migration 0012 runs
the SQL it generates: the winning lead.created, lead.scored and lead.routed (their event ids and the values they
decide), recomputed from the stored events where the stored time is the winner's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from success_metrics.calculators import entities
from success_metrics.storage import migrate, partitions
from success_metrics.storage.pool import Database
from tests.calculators.fixture import migrated_before

T = datetime(2025, 7, 1, 9, tzinfo=UTC)
WINNER_IDS = ["created_event_id", "scored_event_id", "routed_event_id"]
WINNER_GROUPS = [c for i in WINNER_IDS for c in entities.group(i)]


async def test_every_lead_column_is_declared_once(db: Database) -> None:
    async with db.system() as conn:
        columns = {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'leads'")}
    declared = [a.column for a in entities.LEAD]
    assert len(declared) == len(set(declared))
    assert set(declared) == columns - {"tenant_id", "lead_id", "updated_at"}


def test_migration_0012_runs_the_generated_recompute() -> None:
    [m] = [m for m in migrate.available() if m.version == 12]
    assert entities.recompute_sql(WINNER_GROUPS) + ";" in m.sql


@pytest.fixture
async def before_0012(database_url: str | None, data_dir: Path, db: Database,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Connection]:
    async with migrated_before(12, database_url, data_dir, db, monkeypatch) as conn:
        yield conn


async def test_migration_0012_keeps_the_winners_event_ids(before_0012: asyncpg.Connection) -> None:
    conn = before_0012
    await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ('m', 'm')")
    await partitions.ensure_months(conn, {partitions.month_start(T)})
    events = [("c-2", "lead.created", T, {"source": "referral"}),
              ("c-1", "lead.created", T + timedelta(seconds=5), {"source": "other"}),
              ("s-a", "lead.scored", T + timedelta(hours=1), {"score": 30}),
              ("s-b", "lead.scored", T + timedelta(hours=1), {"score": 70}),
              ("s-0", "lead.scored", T + timedelta(minutes=1), {"score": 10}),
              ("r-a", "lead.routed", T + timedelta(hours=2), {"team_id": "tA"})]
    await conn.executemany(
        "INSERT INTO events (tenant_id, occurred_at, event_id, type, lead_id, payload) VALUES ('m', $1, $2, $3, 'L', $4)",
        [(at, i, etype, json.dumps(data)) for i, etype, at, data in events])
    # as the writer kept it then; the routing it holds came from an event no longer stored (retention)
    await conn.execute(
        """INSERT INTO leads (tenant_id, lead_id, created_at, source, score, scored_at, routed_at, team_id)
           VALUES ('m', 'L', $1, 'referral', 30, $2, $3, 'tZ')""",
        T, T + timedelta(hours=1), T + timedelta(hours=3))
    assert [m.version for m in await migrate.migrate(conn)][0] == 12
    lead = await conn.fetchrow("SELECT * FROM leads WHERE lead_id = 'L'")
    # the earliest creation is c-2 (by time); of the two scores at one hour the latest by id is s-b; the stored
    # routing (3 h) is no stored event's, so it stays as it was, its id unknown
    assert [lead[c] for c in WINNER_IDS] == ["c-2", "s-b", None]
    assert (lead["source"], lead["score"], lead["team_id"]) == ("referral", 70, "tZ")
