"""Migration 0009 recomputes what earlier versions stored under the old definitions, from the stored events.

One lead, stored as the writer stored it before 0009: its first response was one an agent sent by hand, its
first contact an automated SMS, and its deal the later of two deal.closed; the lead.responded rollups had no
automated / manual key.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from success_metrics.calculators import rollups
from success_metrics.calculators.sql import fetch_one
from success_metrics.storage import migrate, partitions
from success_metrics.storage.pool import Database
from tests.calculators.fixture import migrated_before

T = datetime(2025, 6, 2, 9, tzinfo=UTC)
EVENTS = [
    ("c", "lead.created", T, {"source": "referral"}),
    ("hand", "lead.responded", T + timedelta(seconds=50), {"channel": "email", "ok": True, "automated": False}),
    ("auto", "lead.responded", T + timedelta(seconds=70), {"channel": "sms", "ok": True}),
    ("sms", "contact.attempted", T + timedelta(minutes=30), {"channel": "sms", "outcome": "delivered",
                                                            "automated": True, "consent": True}),
    ("call", "contact.attempted", T + timedelta(hours=3), {"channel": "phone", "outcome": "answered",
                                                          "automated": False, "consent": True}),
    ("d-b", "deal.closed", T + timedelta(days=12), {"value": 1500, "attribution_class": "assisted"}),
    ("d-a", "deal.closed", T + timedelta(days=10), {"value": 1000, "attribution_class": "direct"}),
]


@pytest.fixture
async def before_0009(database_url: str | None, data_dir: Path, db: Database,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Connection]:
    async with migrated_before(9, database_url, data_dir, db, monkeypatch) as conn:
        yield conn


async def test_lead_state_and_response_rollups_follow_the_new_definitions(before_0009: asyncpg.Connection) -> None:
    conn = before_0009
    await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ('m', 'm')")
    await partitions.ensure_months(conn, {partitions.month_start(T)})
    await conn.executemany(
        "INSERT INTO events (tenant_id, occurred_at, event_id, type, lead_id, payload) "
        "VALUES ('m', $1, $2, $3, 'L', $4)",
        [(at, i, etype, json.dumps(data)) for i, etype, at, data in EVENTS])
    # the state the writer kept then: first response = the earliest ok one, first contact = the earliest attempt,
    # the deal = the latest
    await conn.execute(
        """INSERT INTO leads (tenant_id, lead_id, created_at, first_response_at, response_ok, first_contact_at,
                              touches, closed_at, deal_value, attribution_class)
           VALUES ('m', 'L', $1, $2, true, $3, 2, $4, 1500, 'assisted')""",
        T, T + timedelta(seconds=50), T + timedelta(minutes=30), T + timedelta(days=12))
    # the rollups the writer kept then (hours and days: monthly rows came with 0022)
    await conn.execute(rollups._upsert(rollups._STORED, "('hour'), ('day')"), "m", "UTC",
                       T - timedelta(days=1), T + timedelta(days=30))
    unkeyed = await conn.fetchval("SELECT count(*) FROM rollups WHERE type = 'lead.responded' AND k3 = ''")
    assert unkeyed == 4  # 2 responses × (hour, day)

    assert (await migrate.migrate(conn))[0].version == 9

    lead = await fetch_one(conn, "SELECT * FROM leads WHERE lead_id = 'L'")
    # the automation's first response: 70 s; the agent's first contact: the response sent by hand at 50 s (the
    # automated SMS at 30 min never counts); the deal: the earliest, d-a on day 10
    assert (lead["first_response_at"], lead["response_ok"], lead["first_contact_at"]) == (
        T + timedelta(seconds=70), True, T + timedelta(seconds=50))
    assert (lead["closed_at"], lead["deal_value"], lead["attribution_class"], lead["deal_event_id"]) == (
        T + timedelta(days=10), Decimal("1000.00"), "direct", "d-a")
    for grain in ("hour", "day"):
        rows = await conn.fetch("SELECT k1, k3, n, s1 FROM rollups WHERE type = 'lead.responded' AND grain = $1 "
                                "ORDER BY k1", grain)
        assert [tuple(r) for r in rows] == [("email", "manual", 1, 1), ("sms", "auto", 1, 1)]
