"""Ingest's staging path: a batch's new events are copied into a temporary table of the connection, and every
statement after reads them from there. Each event is stored once whatever repeats inside a batch or against
stored events; text that COPY would read as an escape is stored as sent; a batch that fails part-way leaves
nothing behind, not even in the next batch of another tenant on the same connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from success_metrics.calculators import rollups
from success_metrics.ingest.intake import ingest
from success_metrics.ingest.writer import Source
from success_metrics.settings import TenantConfig
from success_metrics.storage import tenants as tenant_store
from success_metrics.storage.pool import Database
from tests.datasource.event_samples import iso

HOUR = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
TABLES = ("events", "event_ids", "leads", "rollups", "contact_attempts", "ingest_batches", "ingest_tallies")


def attempt(i: int, lead: str = "L1") -> dict[str, Any]:
    """A manual phone attempt at minute ``i`` of HOUR, with consent."""
    return {"id": f"try-{i}", "type": "contact.attempted", "occurred_at": iso(HOUR + timedelta(minutes=i)),
            "lead_id": lead, "agent_id": "agent-1",
            "data": {"channel": "phone", "outcome": "answered", "automated": False, "consent": True,
                     "recipient_local_time": "10:30", "recipient_timezone": "America/Chicago"}}


async def _tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    tid = new_tenant_id("stage")
    async with db.system() as conn:
        await tenant_store.upsert(conn, TenantConfig(id=tid, name=tid))
    return tid


async def _counts(db: Database, tid: str) -> dict[str, int]:
    async with db.tenant(tid) as conn:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


async def _attempt_rollups(db: Database, tid: str) -> list[tuple[str, int, int]]:
    """(grain, n, consent sum) of the phone/answered/manual attempts' rollup rows."""
    async with db.tenant(tid) as conn:
        rows = await conn.fetch("SELECT grain, n, s1 FROM rollups WHERE type = 'contact.attempted' "
                                "AND (k1, k2, k3) = ('phone', 'answered', 'manual') ORDER BY grain")
    return [(r["grain"], r["n"], int(r["s1"])) for r in rows]


async def test_a_batch_repeating_itself_and_stored_events_stores_each_event_once(
    db: Database, new_tenant_id: Callable[[str], str]
) -> None:
    tid = await _tenant(db, new_tenant_id)
    first = await ingest(db, tid, [attempt(0), attempt(1), attempt(2)], source=Source.API)
    assert (first.accepted, first.duplicates) == (3, 0)
    # 1 and 2 are stored already, 3 comes twice: 3 and 4 are new
    second = await ingest(db, tid, [attempt(1), attempt(3), attempt(3), attempt(4), attempt(2)], source=Source.API)
    assert (second.accepted, second.duplicates) == (2, 3)
    counts = await _counts(db, tid)
    assert (counts["events"], counts["event_ids"], counts["contact_attempts"], counts["leads"]) == (5, 5, 5, 1)
    # five attempts, all in one hour (and one UTC day and month): each grain has one row counting 5, 5 with consent
    assert await _attempt_rollups(db, tid) == [("day", 5, 5), ("hour", 5, 5), ("month", 5, 5)]
    async with db.tenant(tid) as conn:
        assert await conn.fetchval("SELECT touches FROM leads WHERE lead_id = 'L1'") == 5
        assert await conn.fetchval("SELECT first_contact_at FROM leads WHERE lead_id = 'L1'") == HOUR


async def test_text_that_copy_reads_as_escapes_is_stored_as_sent(
    db: Database, new_tenant_id: Callable[[str], str]
) -> None:
    tid = await _tenant(db, new_tenant_id)
    # a backslash in ids, an id that is COPY's NULL marker, a tab and a newline and a backslash in the data
    event = {"id": "a\\b", "type": "lead.created", "occurred_at": iso(HOUR), "lead_id": "\\N", "agent_id": "x\\t",
             "data": {"source": "referral", "location_id": "loc\\1", "location_name": "Line\nbreak\ttab \\N",
                      "priority": "high"}}
    assert (await ingest(db, tid, [event], source=Source.API)).accepted == 1
    async with db.tenant(tid) as conn:
        row = await conn.fetchrow("SELECT event_id, lead_id, agent_id, payload FROM events")
        lead = await conn.fetchrow("SELECT lead_id, source, location_id FROM leads")
        name = await conn.fetchval("SELECT name FROM locations WHERE location_id = $1", "loc\\1")
    assert row is not None and lead is not None
    assert (row["event_id"], row["lead_id"], row["agent_id"]) == ("a\\b", "\\N", "x\\t")
    assert row["payload"] == event["data"]
    assert (lead["lead_id"], lead["source"], lead["location_id"]) == ("\\N", "referral", "loc\\1")
    assert name == "Line\nbreak\ttab \\N"


async def test_a_batch_failing_part_way_leaves_nothing_even_on_the_same_connection(
    db: Database, new_tenant_id: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert db.dsn is not None
    one = await Database.connect(db.dsn, min_size=1, max_size=1)  # every transaction on the same connection
    try:
        first, other = await _tenant(one, new_tenant_id), await _tenant(one, new_tenant_id)
        original = rollups.apply_events

        async def fails_last(*args: Any) -> None:  # everything else of the batch is written by then
            await original(*args)
            raise RuntimeError("the server went away")

        monkeypatch.setattr(rollups, "apply_events", fails_last)
        with pytest.raises(RuntimeError, match="went away"):
            await ingest(one, first, [attempt(0), attempt(1), attempt(2)], source=Source.API)
        assert await _counts(one, first) == dict.fromkeys(TABLES, 0)
        monkeypatch.setattr(rollups, "apply_events", original)

        # the next batch on that connection, another tenant's, counts its own two events only
        assert (await ingest(one, other, [attempt(5), attempt(6)], source=Source.API)).accepted == 2
        assert await _attempt_rollups(one, other) == [("day", 2, 2), ("hour", 2, 2), ("month", 2, 2)]
        assert (await _counts(one, other))["contact_attempts"] == 2
        # and the failed batch, sent again, is stored whole
        assert (await ingest(one, first, [attempt(0), attempt(1), attempt(2)], source=Source.API)).accepted == 3
        assert await _attempt_rollups(one, first) == [("day", 3, 3), ("hour", 3, 3), ("month", 3, 3)]
        counts = await _counts(one, first)
        assert (counts["events"], counts["event_ids"], counts["contact_attempts"], counts["leads"]) == (3, 3, 3, 1)
    finally:
        await one.close()
