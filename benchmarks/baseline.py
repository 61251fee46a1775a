"""The competent raw-SQL baseline of benchmarks/load.py: each dashboard load answered as a Grafana PostgreSQL data
source would answer it, one SQL statement per panel (benchmarks/metrics_latency.py: RAW per family of metrics,
on ``leads``, the typed call and contact tables and ``events`` by its index), and a variable's options by a
small DISTINCT, with no rollups and no cache. Before it is timed, the indexes those statements need are checked
(and a missing one created, said so), and its totals are compared with the service's for a sample of panels
over a closed quarter, so both sides are known to compute the same figures.

Kinder to the baseline than to the service: no role masking or row scope, template variables not applied as
filters, and panels with no SQL counterpart (models, checks) cost it nothing.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg

from benchmarks.metrics_latency import INDEXES, RAW, family
from benchmarks.views import MAX_POINTS, View, quarter

# a variable's options as a Grafana PostgreSQL user would list them ($1 tenant, $2/$3 the range)
VARIABLES = {
    "team": "SELECT team_id FROM teams WHERE tenant_id = $1",
    "agent": "SELECT agent_id FROM agents WHERE tenant_id = $1",
    "location": "SELECT location_id FROM locations WHERE tenant_id = $1",
    "source": "SELECT DISTINCT source FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3",
    "channel": "SELECT DISTINCT channel FROM contact_attempts WHERE tenant_id = $1 AND occurred_at >= $2 "
               "AND occurred_at < $3",
}
# (metric, the service's table column or None for the sum of a series, baseline family, its column)
CHECKS = (
    ("sources.performance", "volume", "funnel", "leads"),
    ("sources.performance", "total_revenue", "funnel", "revenue"),
    ("agents.scorecard", "leads_assigned", "agents", "leads"),
    ("pipeline.throughput", None, "leads_series", "count"),
    ("components.health", "volume", "calls", "calls"),
    ("behavior.channel_performance", "attempts", "contacts", "attempts"),
    ("behavior.channel_performance", "responses", "contacts", "responses"),
)


async def ensure_indexes(pool: asyncpg.Pool) -> list[str]:
    """The indexes RAW needs, as (table, leading columns); any missing one is created. Returns what was made."""
    made = []
    async with pool.acquire() as conn:
        for table, columns in INDEXES:
            defs = [r["indexdef"] for r in await conn.fetch(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1", table)]
            if not any(f"({columns}" in d for d in defs):
                name = f"baseline_{table}_{columns.replace(', ', '_')}"
                await conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
                made.append(f"{name} ON {table} ({columns})")
    return made


def raw_sql_load(pool: asyncpg.Pool) -> Any:
    """A dashboard load of ``View`` by raw SQL: every variable's options, then every panel's statement at once."""

    async def statement(sql: str, params: list[Any]) -> None:
        async with pool.acquire() as conn:
            await conn.fetch(sql, *params)

    def params(sql: str, tenant: str, view: View, now: datetime) -> list[Any]:
        return arguments(sql, tenant, *view.rng.bounds(now))

    async def load_one(user: Any, view: View, _: random.Random) -> None:
        now = datetime.now(UTC)
        board = view.dashboard
        await asyncio.gather(*(statement(VARIABLES[n], params(VARIABLES[n], user.tenant, view, now))
                               for n in board.variables if n in VARIABLES))
        sqls = [RAW[f] for targets, _ in board.panels for t in targets if (f := family(t["target"])) is not None]
        await asyncio.gather(*(statement(sql, params(sql, user.tenant, view, now)) for sql in sqls))

    return load_one


def arguments(sql: str, tenant: str, start: datetime, end: datetime) -> list[Any]:
    """The statement's $1 … $n of: tenant, range start, range end, bucket width."""
    values: list[Any] = [tenant, start, end, (end - start) / MAX_POINTS]
    return values[:max((int(n) for n in re.findall(r"\$(\d)", sql)), default=0)]


def service_total(payload: bytes, column: str | None) -> float:
    """The sum of a table column, or of a series' points, in the first item of a /query answer."""
    item = json.loads(payload)[0]
    if column is None:
        return sum(p[0] or 0 for p in item.get("datapoints", []))
    names = [c.get("text") for c in item.get("columns", [])]
    if column not in names:
        raise KeyError(f"no column {column!r} among {names}")
    at = names.index(column)
    return sum(row[at] or 0 for row in item.get("rows", []))


async def check_totals(client: aiohttp.ClientSession, pool: asyncpg.Pool, admins: dict[str, str]) -> int:
    """Service and baseline totals over the last complete quarter, per tenant (an admin's token each) and per
    CHECKS line; prints each mismatch and returns how many there were."""
    now = datetime.now(UTC)
    span = quarter(now, 1)
    start, end = span.bounds(now)
    mismatches = checked = 0
    for tenant, token in sorted(admins.items()):
        for metric, column, fam, raw_column in CHECKS:
            request = {"range": {"from": start.isoformat(), "to": end.isoformat()}, "maxDataPoints": MAX_POINTS,
                       "intervalMs": (end - start).total_seconds() * 1000 / MAX_POINTS,
                       "targets": [{"refId": "A", "target": metric, "payload": {},
                                    "type": "timeserie" if column is None else "table"}]}
            async with client.post("/query", json=request, headers={"Authorization": f"Bearer {token}"}) as r:
                payload = await r.read()
            async with pool.acquire() as conn:
                rows = await conn.fetch(RAW[fam], *arguments(RAW[fam], tenant, start, end))
            baseline = float(sum(row[raw_column] or 0 for row in rows))
            try:
                service = float(service_total(payload, column))
            except (KeyError, IndexError, ValueError) as exc:
                print(f"    MISMATCH {tenant} {metric}: service answer unreadable ({exc}): {payload[:160]!r}")
                mismatches += 1
                continue
            checked += 1
            if not math.isclose(service, baseline, rel_tol=1e-6, abs_tol=0.01):
                mismatches += 1
                print(f"    MISMATCH {tenant} {metric} {column or 'points'}: service {service:,.2f}, "
                      f"baseline {baseline:,.2f}")
    print(f"    totals checked: {checked} (tenant, panel) pairs over {start:%Y-%m-%d} – {end:%Y-%m-%d}, "
          f"{mismatches} mismatches")
    return mismatches
