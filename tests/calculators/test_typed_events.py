"""The typed copies of component calls and contact attempts (migration 0007) hold exactly the stored events.

Checked after ingest (duplicates included), after ``rollups.rebuild``, after the migration's backfill of
events stored before it (on a database of its own, migrated step by step), and after retention. The raw
reads over them (``sql.TYPED_RAW``) must give sm_rollup_key's row for every event, and MTTR over them the
figure of the window query over ``events`` it replaced.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from success_metrics.calculators import rollups
from success_metrics.calculators.sql import TYPED_RAW
from success_metrics.ingest import validate, writer
from success_metrics.storage import migrate, partitions
from success_metrics.storage.pool import Database
from tests.calculators.fixture import NOW, col, create_tenant, ev, migrated_before, run

START = datetime(2026, 10, 1, tzinfo=UTC)

# what each typed table holds, read from events as the metrics read the payload (the event's data)
CALLS_FROM_EVENTS = """
    SELECT tenant_id, occurred_at, event_id, payload->>'component' AS component, payload->>'service' AS service,
           (payload->>'ok')::boolean AS ok, payload->>'error_category' AS error_category,
           (payload->>'latency_ms')::numeric AS latency_ms
    FROM events WHERE tenant_id = $1 AND type = 'component.call' ORDER BY occurred_at, event_id"""
CALLS = """SELECT tenant_id, occurred_at, event_id, component, service, ok, error_category, latency_ms
           FROM component_calls WHERE tenant_id = $1 ORDER BY occurred_at, event_id"""
CONTACTS_FROM_EVENTS = """
    SELECT tenant_id, occurred_at, event_id, lead_id, payload->>'channel' AS channel, payload->>'outcome' AS outcome,
           NOT (payload->>'automated')::boolean AS manual, (payload->>'consent')::boolean AS consent,
           payload->>'recipient_local_time' AS recipient_local_time
    FROM events WHERE tenant_id = $1 AND type = 'contact.attempted' ORDER BY occurred_at, event_id"""
CONTACTS = """SELECT tenant_id, occurred_at, event_id, lead_id, channel, outcome, manual, consent, recipient_local_time
              FROM contact_attempts WHERE tenant_id = $1 ORDER BY occurred_at, event_id"""

# the MTTR statement over events that errors.mttr ran before migration 0007: the reference definition
MTTR_OVER_EVENTS = """
    WITH c AS (SELECT e.payload->>'component' AS comp, e.occurred_at AS at, e.event_id,
                      (e.payload->>'ok')::boolean AS ok FROM events e
               WHERE e.tenant_id = $1 AND e.type = 'component.call' AND e.occurred_at >= $2 AND e.occurred_at < $3),
         m AS (SELECT comp, at, ok, sum(ok::int) OVER (PARTITION BY comp ORDER BY at, event_id) AS grp FROM c),
         runs AS (SELECT comp, grp, min(at) AS started FROM m WHERE NOT ok GROUP BY comp, grp)
    SELECT avg(extract(epoch FROM m.at - runs.started) * 1000)
    FROM runs JOIN m ON m.comp = runs.comp AND m.ok AND m.grp = runs.grp + 1"""

# the contact-attempt counts compliance.checks read from events before migration 0007: the reference
COMPLIANCE_OVER_EVENTS = """
    WITH c AS (SELECT e.occurred_at, e.lead_id, e.payload AS d FROM events e WHERE e.tenant_id = $1
               AND e.type = 'contact.attempted' AND e.occurred_at >= $2 AND e.occurred_at < $3)
    SELECT count(*) FILTER (WHERE d->>'channel' = 'sms') AS sms_consent,
           count(*) FILTER (WHERE d->>'channel' = 'sms' AND NOT coalesce((d->>'consent')::boolean, false)) AS no_consent,
           count(*) FILTER (WHERE d->>'channel' = 'sms' AND (lpad(d->>'recipient_local_time', 5, '0') < '08:00'
               OR lpad(d->>'recipient_local_time', 5, '0') >= '21:00')) AS quiet,
           count(*) FILTER (WHERE d->>'channel' = 'email') AS unsubscribe_honoured,
           count(*) FILTER (WHERE d->>'channel' = 'email' AND EXISTS (
               SELECT 1 FROM leads l WHERE l.tenant_id = $1 AND l.lead_id = c.lead_id
               AND l.unsubscribed_at < c.occurred_at)) AS after_unsubscribe
    FROM c"""


def same_rows_as_rollup_key(etype: str) -> str:
    """Events of the type whose typed row, read through TYPED_RAW, differs from sm_rollup_key (expected: none)."""
    typed = TYPED_RAW[etype]
    return f"""
        SELECT e.event_id FROM events e
        JOIN {typed.table} c USING (tenant_id, occurred_at, event_id)
        CROSS JOIN LATERAL sm_rollup_key(e.type, e.payload, e.agent_id) r
        CROSS JOIN LATERAL (SELECT {typed.row}, {typed.bin} AS h) t
        WHERE e.tenant_id = $1 AND e.type = '{etype}'
        AND (r.k1, r.k2, r.k3, r.n, r.s1, r.s2, r.s3, r.mx, r.h) IS DISTINCT FROM
            (t.k1, t.k2, t.k3, t.n, t.s1, t.s2, t.s3, t.mx, t.h)"""


def random_events(seed: int, n: int = 600) -> list[dict]:
    """Calls of three components on the hour (so that failures come in runs and calls share a time: the event id
    orders them), and contact attempts."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        at = START + timedelta(hours=rng.randrange(0, 20 * 24))
        if rng.random() < 0.75:
            ok = rng.random() > 0.3
            out.append(ev(f"c{i}", "component.call", at, component=rng.choice(["crm_sync", "sms_gateway", "enrich"]),
                          latency_ms=rng.choice([0, 0.5, 12.25, round(rng.lognormvariate(5, 1), 3)]), ok=ok,
                          **({"service": rng.choice(["twilio", "gohighlevel"])} if rng.random() < 0.8 else {}),
                          **({} if ok else {"error_category": rng.choice(["timeout", "network"])})))
        else:
            out.append(ev(f"k{i}", "contact.attempted", at, f"L{i % 40}", channel=rng.choice(["sms", "email"]),
                          outcome=rng.choice(["replied", "no_answer", "unsubscribed"]), consent=rng.random() < 0.8,
                          automated=rng.random() < 0.5,
                          **({"recipient_local_time": f"{rng.randrange(24):02d}:{rng.randrange(60):02d}"}
                             if rng.random() < 0.9 else {})))
    return out


async def ingest(db: Database, tenant: str, events: list[dict]) -> writer.WriteResult:
    checked = validate.check(events, now=NOW)
    assert not checked.rejected, checked.rejected
    return await writer.write(db, tenant, checked.valid, source=writer.Source.API)


@pytest.fixture(scope="module")
async def tenant(db: Database) -> str:
    """Events ingested in three batches that overlap: resent events and a resent id must not count twice."""
    tid = f"typed-{os.getpid()}"
    await create_tenant(db, tid, {"timezone": "America/New_York"})
    events = random_events(11)
    first = await ingest(db, tid, events[:400] + events[:10])  # an id twice in one batch
    assert (first.accepted, first.duplicates) == (400, 10)
    moved = dict(events[5], occurred_at=(START + timedelta(days=30)).isoformat())  # same id, another time
    again = await ingest(db, tid, events[300:] + [moved])
    assert (again.accepted, again.duplicates) == (200, 101)
    return tid


async def fetch(db: Database, tenant: str, sql: str, *args: object) -> list[dict]:
    async with db.tenant(tenant) as conn:
        return [dict(r) for r in await conn.fetch(sql, tenant, *args)]


async def test_typed_rows_are_the_stored_events_once(db: Database, tenant: str) -> None:
    calls, contacts = await fetch(db, tenant, CALLS), await fetch(db, tenant, CONTACTS)
    assert calls == await fetch(db, tenant, CALLS_FROM_EVENTS) and len(calls) > 400
    assert contacts == await fetch(db, tenant, CONTACTS_FROM_EVENTS) and len(contacts) > 100
    assert any(r["service"] is None for r in calls) and any(r["recipient_local_time"] is None for r in contacts)
    for etype in TYPED_RAW:
        assert await fetch(db, tenant, same_rows_as_rollup_key(etype)) == []


async def test_rebuild_reproduces_typed_rows(db: Database, tenant: str) -> None:
    before = await fetch(db, tenant, CALLS), await fetch(db, tenant, CONTACTS)
    async with db.tenant(tenant) as conn:
        await rollups.rebuild(conn, tenant, START - timedelta(days=1), START + timedelta(days=40))
    assert (await fetch(db, tenant, CALLS), await fetch(db, tenant, CONTACTS)) == before


@pytest.mark.parametrize("days", [(0, 20), (3, 11), (7, 8)])
async def test_mttr_equals_the_window_query_over_events(db: Database, tenant: str, days: tuple[int, int]) -> None:
    lo, hi = START + timedelta(days=days[0], hours=5), START + timedelta(days=days[1], hours=17)
    (expected,) = await fetch(db, tenant, MTTR_OVER_EVENTS, lo, hi)
    assert expected["avg"] is not None
    got = col(await run(db, tenant, "errors.mttr", lo, hi), "value")
    assert got == [float(expected["avg"])]  # the same runs, to the millisecond's last digit


async def test_compliance_counts_equal_the_query_over_events(db: Database, tenant: str) -> None:
    lo, hi = START + timedelta(days=2, hours=3), START + timedelta(days=17)
    (e,) = await fetch(db, tenant, COMPLIANCE_OVER_EVENTS, lo, hi)
    assert e["after_unsubscribe"] > 0 and e["quiet"] > 0  # the random events exercise every count
    rows = {r[1]: r for r in (await run(db, tenant, "compliance.checks", lo, hi)).rows()}
    assert (rows["sms_consent"][2], rows["sms_consent"][3]) == (e["sms_consent"], e["no_consent"])
    assert (rows["sms_quiet_hours"][2], rows["sms_quiet_hours"][3]) == (e["sms_consent"], e["quiet"])
    assert (rows["unsubscribe_honoured"][2], rows["unsubscribe_honoured"][3]) == (
        e["unsubscribe_honoured"], e["after_unsubscribe"])


async def test_typed_rows_of_one_tenant_are_invisible_to_another(db: Database, tenant: str, tenant_a: str) -> None:
    async with db.tenant(tenant_a) as conn:
        for table in ("component_calls", "contact_attempts"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant) == 0
            assert set(await conn.fetch(f"SELECT DISTINCT tenant_id FROM {table}")) <= {(tenant_a,)}
    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant(tenant_a) as conn:
            await conn.execute("INSERT INTO component_calls (tenant_id, occurred_at, event_id) VALUES ($1, now(), 'x')",
                               tenant)


# --- the migration path: events stored before 0007, then migrated -----------------------------------------

@pytest.fixture
async def premigrated(database_url: str | None, data_dir: Path, db: Database,
                      monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Connection]:
    """A database of its own on the session's server, migrated up to (not including) 0007."""
    async with migrated_before(7, database_url, data_dir, db, monkeypatch) as conn:
        yield conn


# payloads ingest would no longer accept but older stored events may hold: an envelope with "data", the older
# 'manual' spelling, missing fields (defaults of the rollup key apply when read)
ODD = [
    ("o1", "component.call", {"data": {"component": "crm_sync", "ok": False, "latency_ms": 7}}),
    ("o2", "component.call", {"component": "crm_sync", "ok": True}),
    ("o3", "component.call", {"service": "twilio", "latency_ms": 1e3}),
    ("o4", "contact.attempted", {"channel": "sms", "manual": True, "consent": True}),
    ("o5", "contact.attempted", {"data": {"channel": "email", "automated": True, "recipient_local_time": "7:45"}}),
    ("o6", "contact.attempted", {"outcome": "replied"}),
]


async def store_as_before(conn: asyncpg.Connection, tenant: str, rows: list[tuple[str, str, datetime, dict]]) -> None:
    """Events and their claimed ids as the writer stored them before 0007 (no typed rows)."""
    await partitions.ensure_months(conn, {partitions.month_start(at) for _, _, at, _ in rows})
    await conn.executemany(
        "INSERT INTO events (tenant_id, occurred_at, event_id, type, lead_id, payload) VALUES ($1, $2, $3, $4, 'L1', $5)",
        [(tenant, at, i, etype, json.dumps(payload)) for i, etype, at, payload in rows])
    await conn.executemany("INSERT INTO event_ids (tenant_id, event_id, occurred_at) VALUES ($1, $2, $3)",
                           [(tenant, i, at) for i, _, at, _ in rows])


async def test_migration_backfills_stored_events_then_retention_removes_them(premigrated: asyncpg.Connection) -> None:
    conn = premigrated
    stored = [(e["id"], e["type"], datetime.fromisoformat(e["occurred_at"]), e["data"]) for e in random_events(5, 300)]
    old = datetime(2024, 3, 10, tzinfo=UTC)
    stored += [(i, etype, old + timedelta(minutes=n), payload) for n, (i, etype, payload) in enumerate(ODD)]
    for tenant in ("m1", "m2"):
        await conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)", tenant)
        await store_as_before(conn, tenant, stored)
    assert 7 in [m.version for m in await migrate.migrate(conn)]

    for tenant in ("m1", "m2"):
        calls = [dict(r) for r in await conn.fetch(CALLS, tenant)]
        assert len(calls) == sum(1 for _, etype, _, _ in stored if etype == "component.call")
        assert [r["event_id"] for r in await conn.fetch(CONTACTS, tenant)] == [
            i for i, etype, _, _ in sorted(stored, key=lambda s: (s[2], s[0])) if etype == "contact.attempted"]
        for etype in TYPED_RAW:
            assert await conn.fetch(same_rows_as_rollup_key(etype), tenant) == []
    o1 = await conn.fetchrow("SELECT component, ok, latency_ms FROM component_calls WHERE event_id = 'o1'")
    assert tuple(o1) == ("crm_sync", False, 7)
    manual = {r["event_id"]: r["manual"] for r in await conn.fetch(
        "SELECT event_id, manual FROM contact_attempts WHERE tenant_id = 'm1' AND event_id LIKE 'o%'")}
    assert manual == {"o4": True, "o5": False, "o6": False}

    # retention: March 2024 is past 24 months at 2026-04; its partition and the typed rows of its events go
    dropped = await partitions.apply_retention(conn, 24, now=datetime(2026, 4, 2, tzinfo=UTC))
    assert dropped == ["events_y2024m03"]
    for table in ("component_calls", "contact_attempts"):
        assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE occurred_at < '2024-04-01Z'") == 0
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 2 * await conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE tenant_id = 'm1'") > 0
    assert await conn.fetchval("SELECT count(*) FROM component_calls") == await conn.fetchval(
        "SELECT count(*) FROM events WHERE type = 'component.call'")
