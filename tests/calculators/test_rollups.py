"""Rollups: a long range read from rollups plus the raw tail equals the same figure over raw events.

The comparisons are against plain SQL over ``events`` (what a Grafana PostgreSQL user would write), for a
tenant in Asia/Kolkata (UTC+05:30), whose local days do not start on a UTC hour, over a range whose edges
fall inside hours, so every part of the plan (raw edges, hourly, daily rollups) is exercised.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from success_metrics.calculators import (
    Dimension,
    Filter,
    MetricName,
    MetricQuery,
    Operator,
    RowScope,
    ScopedQuery,
    TenantId,
    explain,
    rollups,
)
from success_metrics.calculators.events import EventType, IngestedEvent
from success_metrics.calculators.sketches import RELATIVE_ERROR
from success_metrics.storage import migrate
from success_metrics.storage.pool import Database
from tests.calculators.fixture import by, col, ev, load, migrated_before, run

START = datetime(2026, 9, 1, tzinfo=UTC)
LO, HI = START + timedelta(hours=7, minutes=17), START + timedelta(days=40, hours=19, minutes=41)
TZ = "Asia/Kolkata"


def random_events(seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(900):
        at = START + timedelta(seconds=rng.randrange(0, 45 * 86400))
        kind = rng.choice(["call", "call", "call", "lead", "contact", "deal", "activity"])
        if kind == "call":
            ok = rng.random() > 0.1
            out.append(ev(f"c{i}", "component.call", at, component=rng.choice(["crm_sync", "sms_gateway"]),
                          service=rng.choice(["twilio", "gohighlevel"]), latency_ms=round(rng.lognormvariate(5, 1), 3),
                          ok=ok, **({} if ok else {"error_category": rng.choice(["timeout", "network"])})))
        elif kind == "lead":
            out.append(ev(f"l{i}", "lead.created", at, f"L{i}", source=rng.choice(["website_form", "referral"])))
        elif kind == "contact":
            out.append(ev(f"k{i}", "contact.attempted", at, f"L{i}", channel=rng.choice(["sms", "email", "phone"]),
                          outcome=rng.choice(["replied", "no_answer"]), consent=True, automated=rng.random() < .5))
        elif kind == "deal":
            out.append(ev(f"d{i}", "deal.closed", at, f"L{i}", value=round(rng.uniform(100, 5000), 2),
                          attribution_class=rng.choice(["direct", "assisted", "influenced"])))
        else:
            out.append(ev(f"a{i}", "agent.activity", at, agent=f"ag{i % 4}", selling_minutes=rng.randrange(0, 300),
                          admin_minutes=rng.randrange(0, 100), followup_minutes=rng.randrange(0, 100)))
    return out


@pytest.fixture(scope="module")
async def tenant(db: Database) -> str:
    import os

    tid = f"roll-{os.getpid()}"
    await load(db, tid, random_events(), {"timezone": TZ})
    return tid


async def raw(db: Database, tenant: str, sql: str, *args: object) -> list[asyncpg.Record]:
    async with db.system() as conn:
        return await conn.fetch(sql, tenant, LO, HI, *args)


async def test_component_totals_and_p95(db: Database, tenant: str) -> None:
    f = await run(db, tenant, "components.health", LO, HI)
    assert f.meta["percentiles"] == "sketch"
    rows = by(f, "component")
    expected = await raw(db, tenant, """
        SELECT payload->>'component' AS c, count(*) AS n, avg((payload->>'ok')::boolean::int) * 100 AS ok,
               avg((payload->>'latency_ms')::float8) AS avg,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY (payload->>'latency_ms')::float8) AS p95
        FROM events WHERE tenant_id = $1 AND type = 'component.call' AND occurred_at >= $2 AND occurred_at < $3
        GROUP BY 1""")
    assert len(expected) == 2
    for e in expected:
        got = rows[e["c"]]
        assert got["volume"] == e["n"]
        assert got["success_rate"] == pytest.approx(float(e["ok"]))
        assert got["latency_ms"] == pytest.approx(e["avg"])
        assert abs(got["p95_ms"] - e["p95"]) <= RELATIVE_ERROR * e["p95"]


async def test_daily_series_in_local_days(db: Database, tenant: str) -> None:
    f = await run(db, tenant, "pipeline.throughput", LO, HI, options=(("granularity", "day"),))
    expected = await raw(db, tenant, """
        SELECT (date_trunc('day', occurred_at AT TIME ZONE $4) AT TIME ZONE $4) AS day, count(*) AS n
        FROM events WHERE tenant_id = $1 AND type = 'lead.created' AND occurred_at >= $2 AND occurred_at < $3
        GROUP BY 1""", TZ)
    got = dict(zip(col(f, "time"), col(f, "leads"), strict=True))
    assert {int(e["day"].timestamp() * 1000): e["n"] for e in expected} == {t: n for t, n in got.items() if n}
    assert sum(got.values()) == sum(e["n"] for e in expected)


async def test_money_and_contacts(db: Database, tenant: str) -> None:
    weighted = by(await run(db, tenant, "attribution.weighted", LO, HI), "class")
    for e in await raw(db, tenant, """
            SELECT payload->>'attribution_class' AS c, count(*) AS n, sum((payload->>'value')::numeric) AS v
            FROM events WHERE tenant_id = $1 AND type = 'deal.closed' AND occurred_at >= $2 AND occurred_at < $3
            GROUP BY 1"""):
        assert weighted[e["c"]]["deals"] == e["n"]
        assert weighted[e["c"]]["revenue"] == pytest.approx(float(e["v"]), abs=0.001)
    channels = by(await run(db, tenant, "behavior.channel_performance", LO, HI), "channel")
    for e in await raw(db, tenant, """
            SELECT payload->>'channel' AS c, count(*) AS n, count(*) FILTER (WHERE payload->>'outcome' = 'replied') AS r
            FROM events WHERE tenant_id = $1 AND type = 'contact.attempted' AND occurred_at >= $2
            AND occurred_at < $3 GROUP BY 1"""):
        assert (channels[e["c"]]["attempts"], channels[e["c"]]["responses"]) == (e["n"], e["r"])
    minutes = by(await run(db, tenant, "agents.time_allocation", LO, HI), "activity")
    (e,) = await raw(db, tenant, """
        SELECT sum((payload->>'selling_minutes')::numeric) AS s, sum((payload->>'admin_minutes')::numeric) AS a
        FROM events WHERE tenant_id = $1 AND type = 'agent.activity' AND occurred_at >= $2 AND occurred_at < $3""")
    assert (minutes["selling"]["minutes"], minutes["admin"]["minutes"]) == (float(e["s"]), float(e["a"]))


async def test_rebuild_reproduces_incremental_rollups(db: Database, tenant: str) -> None:
    query = ("SELECT grain, type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist FROM rollups WHERE tenant_id = $1 "
             "ORDER BY 1, 2, 3, 4, 5, 6")
    async with db.tenant(tenant) as conn:
        before = [dict(r) for r in await conn.fetch(query, tenant)]
        await rollups.rebuild(conn, tenant, START - timedelta(days=1), START + timedelta(days=60))
        after = [dict(r) for r in await conn.fetch(query, tenant)]
    assert before == after and len(before) > 100


async def test_rollups_of_one_tenant_are_invisible_to_another(db: Database, tenant: str, tenant_a: str) -> None:
    async with db.tenant(tenant_a) as conn:
        assert await conn.fetchval("SELECT count(*) FROM rollups WHERE tenant_id = $1", tenant) == 0


async def test_latency_series_from_sketches(db: Database, tenant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from success_metrics.calculators import calls

    monkeypatch.setattr(calls, "EXACT_SERIES_CALLS", 0)  # force the histogram path for this small data set
    f = await run(db, tenant, "components.latency", LO, HI, options=(("granularity", "day"),),
                  filters=(Filter(Dimension.COMPONENT, Operator.EQ, ("crm_sync",)),))
    assert f.meta["percentiles"] == "sketch"
    got = dict(zip(col(f, "time"), col(f, "crm_sync p95"), strict=True))
    expected = await raw(db, tenant, """
        SELECT (date_trunc('day', occurred_at AT TIME ZONE $4) AT TIME ZONE $4) AS day,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY (payload->>'latency_ms')::float8) AS p95
        FROM events WHERE tenant_id = $1 AND type = 'component.call' AND occurred_at >= $2 AND occurred_at < $3
        AND payload->>'component' = 'crm_sync' GROUP BY 1""", TZ)
    assert len(expected) > 30
    for e in expected:
        assert abs(got[int(e["day"].timestamp() * 1000)] - e["p95"]) <= RELATIVE_ERROR * e["p95"] * (1 + 1e-9)


async def test_monthly_rows_sum_the_local_month(db: Database) -> None:
    """Three calls in Kolkata (UTC+05:30): 31 Jan 18:00 UTC is still January there, 19:00 UTC is 1 Feb 00:30."""
    import os

    tid = f"month-{os.getpid()}"
    call = {"component": "crm_sync", "service": "twilio"}
    await load(db, tid, [
        ev("m1", "component.call", datetime(2026, 1, 31, 18, tzinfo=UTC), **call, latency_ms=100, ok=True),
        ev("m2", "component.call", datetime(2026, 1, 31, 19, tzinfo=UTC), **call, latency_ms=200, ok=False,
           error_category="timeout"),
        ev("m3", "component.call", datetime(2026, 2, 20, 9, tzinfo=UTC), **call, latency_ms=300, ok=True),
    ], {"timezone": TZ})
    async with db.tenant(tid) as conn:
        rows = [tuple(r) for r in await conn.fetch(
            "SELECT bucket, k3, n, s1, s2, mx FROM rollups WHERE tenant_id = $1 AND grain = 'month' ORDER BY 1, 2",
            tid)]
    jan, feb = datetime(2025, 12, 31, 18, 30, tzinfo=UTC), datetime(2026, 1, 31, 18, 30, tzinfo=UTC)
    assert rows == [(jan, "", 1, 1, 100, 100), (feb, "", 1, 1, 300, 300), (feb, "timeout", 1, 0, 200, 200)]


async def test_a_long_range_reads_whole_months_from_monthly_rows(db: Database, tenant: str) -> None:
    """20 Aug to 20 Oct holds all the events and the whole local September: its totals come from one row per key
    of the month, and still equal the raw events'."""
    lo, hi = datetime(2026, 8, 20, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)
    sq = ScopedQuery(TenantId(tenant), MetricQuery(MetricName("behavior.channel_performance"), lo, hi), RowScope())
    async with db.tenant(tenant) as conn:
        frame, statements = await explain(conn, sq)
    assert any("grain = 'month'" in sql for sql, _ in statements)
    channels = by(frame, "channel")
    expected = await raw_range(db, tenant, lo, hi, """
        SELECT payload->>'channel' AS c, count(*) AS n, count(*) FILTER (WHERE payload->>'outcome' = 'replied') AS r
        FROM events WHERE tenant_id = $1 AND type = 'contact.attempted' AND occurred_at >= $2 AND occurred_at < $3
        GROUP BY 1""")
    assert {e["c"]: (e["n"], e["r"]) for e in expected} == {
        c: (row["attempts"], row["responses"]) for c, row in channels.items()}
    health = by(await run(db, tenant, "components.health", lo, hi), "component")
    for e in await raw_range(db, tenant, lo, hi, """
            SELECT payload->>'component' AS c, count(*) AS n, avg((payload->>'latency_ms')::float8) AS avg,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY (payload->>'latency_ms')::float8) AS p95
            FROM events WHERE tenant_id = $1 AND type = 'component.call' AND occurred_at >= $2 AND occurred_at < $3
            GROUP BY 1"""):
        assert (health[e["c"]]["volume"], health[e["c"]]["latency_ms"]) == (e["n"], pytest.approx(e["avg"]))
        assert abs(health[e["c"]]["p95_ms"] - e["p95"]) <= RELATIVE_ERROR * e["p95"]


async def raw_range(db: Database, tenant: str, lo: datetime, hi: datetime, sql: str) -> list[asyncpg.Record]:
    async with db.system() as conn:
        return await conn.fetch(sql, tenant, lo, hi)


async def test_migration_0022_partitions_by_grain_and_makes_the_monthly_rows_ingest_makes(
        db: Database, database_url: str | None, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a database whose rollups were written before 0022 (hours and days, one heap), the migration moves them into
    one partition per grain, keeps the views and their sums, and its monthly rows, made from the daily rows alone,
    are the ones ingest makes of the same events (histograms too)."""
    events = [IngestedEvent(e["id"], EventType(e["type"]), datetime.fromisoformat(e["occurred_at"]), e.get("lead_id"),
                            e.get("agent_id"), e["data"]) for e in random_events(11)]
    texts = [json.dumps(e.data) for e in events]
    months = ("SELECT type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist FROM rollups WHERE tenant_id = $1 "
              "AND grain = 'month' ORDER BY 1, 2, 3, 4, 5")
    views = "SELECT grain, count(*), sum(calls), sum(latency_ms_sum) FROM rollup_component_call GROUP BY 1 ORDER BY 1"
    async with migrated_before(22, database_url, data_dir, db, monkeypatch) as conn:
        for tid in ("before", "after"):
            await conn.execute("INSERT INTO tenants (tenant_id, name, settings) VALUES ($1, $1, $2::jsonb)", tid,
                               json.dumps({"timezone": TZ}))
        await conn.execute("""CREATE TEMP TABLE staged (event_id text, occurred_at timestamptz, type text,
                                                        lead_id text, agent_id text, payload jsonb)""")
        await conn.executemany("INSERT INTO staged VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                               [(e.event_id, e.occurred_at, e.type.value, e.lead_id, e.agent_id, t)
                                for e, t in zip(events, texts, strict=True)])
        await conn.execute(rollups._upsert(rollups._STAGED.format(stage="staged"), "('hour'), ('day')"), "before", TZ)
        kept = [tuple(r) for r in await conn.fetch(views)]
        await migrate.migrate(conn)
        assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'rollups'") == "p"
        assert [tuple(r) for r in await conn.fetch(views)][:2] == kept  # day, hour: as before
        await rollups.apply_events(conn, "after", events, "staged")
        backfilled, ingested = await conn.fetch(months, "before"), await conn.fetch(months, "after")
    assert [dict(r) for r in backfilled] == [dict(r) for r in ingested] and any(r["hist"] for r in ingested)
