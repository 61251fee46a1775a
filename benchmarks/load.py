"""Load test: simulated Grafana users loading whole dashboards against a real uvicorn socket (127.0.0.1).

    python benchmarks/load.py --data-dir DIR [--database-url URL] [--users 20 50] [--seconds 40]

DIR is the SM_DATA_DIR holding the data set (benchmarks/dataset.py builds the 24-month, 20-tenant one; the
embedded PostgreSQL lives there unless --database-url is given). The script starts ``success-metrics serve``
on a free loopback port with the dev issuer enabled, mints one token per simulated user (own tenant, role,
agent id or teams), and then, for each N:

1. N users each open a dashboard over a range (each user's own pick among the dashboards and 6 h … 24
   months), loading every panel's POST /query and the dashboard's annotation query at once, as Grafana
   does, then refresh it every 10 s (Grafana's fastest auto-refresh); latency of each whole-dashboard load
   (all, first loads, refreshes), HTTP and per-panel errors, the server's RSS. N=50 follows N=20 on the
   same server, as users would arrive on a running service.
2. Saturation: dashboard loads with no pause from a fixed pool of workers, first for the raw-SQL baseline
   (each target answered by the raw-events SQL of benchmarks/metrics_latency.py, as a Grafana PostgreSQL panel
   would: no rollups, no cache), then for the service (a random user's own dashboard and range each time,
   then a random dashboard and range too), in the same run on the same database.

Every measured phase starts where no cache-warmer round (just after each quarter hour) falls within it;
``--across-quarter`` instead runs the users' phase over the turn of a quarter hour, to see what it costs.

Bounded: every loop runs for a fixed time; everything stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from success_metrics.rbac import dev_issuer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the benchmarks package of this checkout

from benchmarks.service_process import (  # noqa: E402  (after the path is set)
    before_quarter,
    embedded_dsn,
    quiet,
    rss_mb,
    serving,
)

DASHBOARDS = ROOT / "dashboards"
RANGES = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "90d": timedelta(days=90), "12mo": timedelta(days=365), "24mo": timedelta(days=730)}
REFRESH_S = 10.0
MAX_POINTS = 1000  # a panel that does not fix its maxDataPoints: a typical width in pixels
ROLE_MIX = ("executive", "executive", "manager", "manager", "manager", "agent", "agent", "agent", "admin", "auditor")
AUDITOR_DASHBOARDS = ("system-health", "access-audit")
MIXES = {True: "users' own dashboards", False: "random dashboards and ranges"}


# --- dashboards -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dashboard:
    name: str
    panels: tuple[tuple[tuple[dict[str, Any], ...], int], ...]  # each panel's targets and maxDataPoints
    annotations: tuple[dict[str, Any], ...]


def _walk(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in panels:
        out.append(p)
        out.extend(_walk(p.get("panels", [])))
    return out


def _all(value: Any) -> Any:
    """Template variables at "All", as Grafana sends them (the dashboards' allValue is "*")."""
    if isinstance(value, str) and value.startswith("$"):
        return "*"
    return value


def load_dashboards() -> dict[str, Dashboard]:
    found = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        doc = json.loads(path.read_text())
        panels = []
        for panel in _walk(doc.get("panels", [])):
            targets = [{**t, "payload": {k: _all(v) for k, v in (t.get("payload") or {}).items()}}
                       for t in panel.get("targets", []) if t.get("target")]
            if targets:
                panels.append((tuple(targets), int(panel.get("maxDataPoints") or MAX_POINTS)))
        annotations = tuple(a["target"] for a in doc.get("annotations", {}).get("list", [])
                            if isinstance(a.get("target"), dict) and a["target"].get("target"))
        found[path.stem] = Dashboard(path.stem, tuple(panels), annotations)
    return found


def body(targets: Any, span: timedelta, now: datetime, max_points: int = MAX_POINTS) -> dict[str, Any]:
    start = now - span
    interval_ms = max(1000, int(span.total_seconds() * 1000 / max_points))
    return {"range": {"from": start.isoformat(), "to": now.isoformat(), "raw": {"from": "now-x", "to": "now"}},
            "interval": f"{interval_ms // 1000}s", "intervalMs": interval_ms, "maxDataPoints": max_points,
            "targets": list(targets), "adhocFilters": []}


# --- users ----------------------------------------------------------------------------------------------

@dataclass
class User:
    token: str
    role: str
    tenant: str


async def make_users(dsn: str, data_dir: Path, count: int, rng: random.Random,
                     dev: tuple[str, str]) -> list[User]:
    """One user per slot: tenant round-robin, role from ROLE_MIX, a real agent id / team for agents / managers."""
    people = await _people(dsn)
    tenants = sorted(people)
    users = []
    for i in range(count):
        tenant, role = tenants[i % len(tenants)], ROLE_MIX[i % len(ROLE_MIX)]
        agents = people[tenant]
        claims: dict[str, Any] = {}
        if role == "agent" and agents:
            claims["agent_id"] = rng.choice(agents)[0]
        if role == "manager" and agents:
            claims["teams"] = [rng.choice(agents)[1]]
        token = dev_issuer.mint(data_dir, tenant, role, subject=f"load-{i}@{tenant}", issuer=dev[0],
                                audience=dev[1], **claims)
        users.append(User(token, role, tenant))
    return users


async def _people(dsn: str) -> dict[str, list[tuple[str, str]]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT t.tenant_id, a.agent_id, coalesce(a.team_id, '') AS team FROM tenants t "
                                "LEFT JOIN agents a USING (tenant_id) WHERE t.tenant_id NOT LIKE '\\_%' "
                                "ORDER BY 1, 2")
    finally:
        await conn.close()
    people: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        people.setdefault(r["tenant_id"], [])
        if r["agent_id"]:
            people[r["tenant_id"]].append((r["agent_id"], r["team"]))
    return people


# --- loads ----------------------------------------------------------------------------------------------

@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    by_range: dict[str, list[float]] = field(default_factory=dict)  # the same latencies by the range of the load
    http_errors: int = 0
    panel_errors: int = 0
    refused: int = 0  # panels the role may not see (expected: the policy at work)
    samples: list[str] = field(default_factory=list)

    def count(self, status: int, payload: bytes) -> None:
        if status != 200:
            self.http_errors += 1
            self._sample(f"{status} {payload[:200].decode(errors='replace')}")
            return
        if b'"error"' not in payload:  # no error notice: spare the load generator parsing a 24-month series
            return
        for item in json.loads(payload):
            for notice in (item.get("meta") or {}).get("notices", []):
                if notice.get("severity") == "error":
                    if notice["text"].startswith("Role "):
                        self.refused += 1
                    else:
                        self.panel_errors += 1
                        self._sample(notice["text"][:200])

    def _sample(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text)


def choose(user: User, dashboards: dict[str, Dashboard], rng: random.Random) -> tuple[Dashboard, timedelta]:
    names = [n for n in dashboards if (n in AUDITOR_DASHBOARDS) == (user.role == "auditor")] or list(dashboards)
    return dashboards[rng.choice(names)], RANGES[rng.choice(list(RANGES))]


async def post(client: aiohttp.ClientSession, payload: dict[str, Any], token: str) -> tuple[int, bytes]:
    async with client.post("/query", json=payload, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.read()


async def load_dashboard(client: aiohttp.ClientSession, user: User, dashboard: Dashboard, span: timedelta,
                         tally: Tally) -> float:
    now = datetime.now(UTC)
    calls = [post(client, body(targets, span, now, points), user.token) for targets, points in dashboard.panels]
    if dashboard.annotations:
        calls.append(post(client, body(dashboard.annotations, span, now), user.token))
    started = time.perf_counter()
    responses = await asyncio.gather(*calls, return_exceptions=True)
    elapsed = time.perf_counter() - started
    for r in responses:
        if isinstance(r, BaseException):
            tally.http_errors += 1
            tally._sample(repr(r)[:200])
        else:
            tally.count(*r)
    return elapsed


def own_pick(i: int, user: User, dashboards: dict[str, Dashboard], seed: int) -> tuple[Dashboard, timedelta]:
    """The dashboard and range user ``i`` keeps open."""
    return choose(user, dashboards, random.Random(seed * 1000 + i))


async def simulate(client: aiohttp.ClientSession, users: list[User], dashboards: dict[str, Dashboard], seconds: float,
                   seed: int) -> tuple[Tally, Tally]:
    """Each user opens one dashboard over one range (their own pick) and refreshes it every 10 s, as Grafana's
    auto-refresh does: (first loads, refreshes)."""
    first, refreshes = Tally(), Tally()
    stop = time.monotonic() + seconds

    async def one(i: int, user: User) -> None:
        dashboard, span = own_pick(i, user, dashboards, seed)
        await asyncio.sleep(random.Random(seed + i).random() * 2)  # users do not all open at the same instant
        tally = first
        while time.monotonic() < stop:
            tick = time.monotonic()
            elapsed = await load_dashboard(client, user, dashboard, span, tally)
            tally.latencies.append(elapsed)
            tally.by_range.setdefault(next(k for k, v in RANGES.items() if v == span), []).append(elapsed)
            tally = refreshes
            await asyncio.sleep(max(0.0, min(tick + REFRESH_S, stop) - time.monotonic()))

    await asyncio.gather(*(one(i, u) for i, u in enumerate(users)))
    return first, refreshes


LoadOne = Callable[[User, Dashboard, timedelta], Awaitable[object]]


async def saturate(users: list[User], dashboards: dict[str, Dashboard], seconds: float, workers: int, seed: int,
                   load_one: LoadOne, *, own: bool = False) -> tuple[int, float]:
    """Dashboard loads with no pause from ``workers`` concurrent loops for ``seconds``: (loads, elapsed s).

    ``own``: each load is a random user's own dashboard and range (steady state, as the users above keep
    them open); otherwise a random dashboard and range too (mostly cold: the worst case for a cache)."""
    loads = 0
    stop = time.monotonic() + seconds
    started = time.perf_counter()

    async def worker(i: int) -> None:
        nonlocal loads
        rng = random.Random(seed + i)
        while time.monotonic() < stop:
            index = rng.randrange(len(users))
            user = users[index]
            dashboard, span = own_pick(index, user, dashboards, seed) if own else choose(user, dashboards, rng)
            await load_one(user, dashboard, span)
            loads += 1

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return loads, time.perf_counter() - started


def raw_sql_load(pool: asyncpg.Pool) -> LoadOne:
    """Dashboard loads answered the way a Grafana PostgreSQL panel would: each target by the raw-events SQL of
    the calculators benchmark (benchmarks/metrics_latency.py: RAW per metric family), no rollups, no cache."""
    from benchmarks.metrics_latency import RAW, family

    async def target(tenant: str, metric: str, span: timedelta) -> None:
        sql = RAW[family(metric)]
        now = datetime.now(UTC)
        params = ([tenant, now - span, now] + ([span / MAX_POINTS] if "$4" in sql else [])) if "$1" in sql else []
        async with pool.acquire() as conn:
            await conn.fetch(sql, *params)

    async def load_one(user: User, dashboard: Dashboard, span: timedelta) -> None:
        await asyncio.gather(*(target(user.tenant, t["target"], span) for targets, _ in dashboard.panels
                               for t in targets))

    return load_one


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    dashboards = load_dashboards()
    print(f"dashboards: {', '.join(f'{d.name} ({len(d.panels)} panels)' for d in dashboards.values())}")
    async with serving(data_dir, args.database_url) as (server, client):
        dsn = args.database_url or embedded_dsn(data_dir)
        rng = random.Random(args.seed)
        users = await make_users(dsn, data_dir, max(args.users), rng,
                                 ("success-metrics-dev", "success-metrics"))
        print(f"users: {len(users)} over {len({u.tenant for u in users})} tenants; roles "
              f"{statistics.multimode([u.role for u in users])} most common; refresh every {REFRESH_S:.0f} s")
        for n in args.users:
            await (before_quarter(args.seconds / 4) if args.across_quarter else quiet(client, args.seconds + 5))
            first, refreshes = await simulate(client, users[:n], dashboards, args.seconds, args.seed)
            every = first.latencies + refreshes.latencies
            print(f"N={n:>3}: {len(every)} dashboard loads  p50 {pct(every, 50):.0f} ms  p95 {pct(every, 95):.0f} ms  "
                  f"p99 {pct(every, 99):.0f} ms  (first loads p50 {pct(first.latencies, 50):.0f} / p95 "
                  f"{pct(first.latencies, 95):.0f} ms; refreshes p50 {pct(refreshes.latencies, 50):.0f} / p95 "
                  f"{pct(refreshes.latencies, 95):.0f} ms)")
            print(f"        http errors {first.http_errors + refreshes.http_errors}  panel errors "
                  f"{first.panel_errors + refreshes.panel_errors}  refused by policy "
                  f"{first.refused + refreshes.refused}  server RSS {rss_mb(server):.0f} MB")
            print("        p95 by range (first loads / refreshes): " + "  ".join(
                f"{label} {pct(first.by_range.get(label, []), 95):.0f}/{pct(refreshes.by_range.get(label, []), 95):.0f}"
                for label in RANGES))
            for sample in (first.samples + refreshes.samples)[:5]:
                print(f"        e.g. {sample}")
        # the baseline first, while the service is idle: the random mix below leaves computations queued
        # that would still be running beside it
        await quiet(client, args.saturation_seconds * 1.5 + 10)
        pool = await asyncpg.create_pool(dsn, min_size=args.workers, max_size=args.workers)
        assert pool is not None
        try:
            # unmeasured first: the service's phases ran on caches the warmer and the users had warmed, so the
            # baseline gets the same (measured cold, it read 3.3-3.5 loads/s; after the service, 4.1-4.3)
            await saturate(users, dashboards, args.saturation_seconds / 2, args.workers, args.seed + 1,
                           raw_sql_load(pool), own=True)
            loads, took = await saturate(users, dashboards, args.saturation_seconds, args.workers, args.seed,
                                         raw_sql_load(pool), own=True)
        finally:
            await pool.close()
        raw_rate = loads / took
        print(f"saturation (raw-SQL baseline, {args.workers} connections, users' own dashboards): "
              f"{raw_rate:.2f} dashboard loads/s ({loads} in {took:.0f} s)")
        rates: dict[bool, float] = {}
        for own in (True, False):
            await quiet(client, args.saturation_seconds)
            loads, took = await saturate(users, dashboards, args.saturation_seconds, args.workers, args.seed,
                                         lambda u, d, span: load_dashboard(client, u, d, span, Tally()), own=own)
            rates[own] = loads / took
            print(f"saturation (service, {args.workers} workers, no pause, {MIXES[own]}): {rates[own]:.1f} "
                  f"dashboard loads/s ({loads} in {took:.0f} s)  server RSS {rss_mb(server):.0f} MB")
        for own in (True, False):
            print(f"ratio service / raw-SQL ({MIXES[own]}): {rates[own] / raw_rate if raw_rate else float('inf'):.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="SM_DATA_DIR of the data set (benchmarks/dataset.py)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--users", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seconds", type=float, default=40.0, help="simulated time per N")
    parser.add_argument("--saturation-seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=16, help="concurrent dashboard loads when saturating (both sides)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--across-quarter", action="store_true",
                        help="run each users' phase over the turn of a quarter hour (when every analytics range's "
                             "cache key moves on and the warmer runs) instead of between two")
    asyncio.run(main(parser.parse_args()))
