"""Load test: simulated Grafana users on the shipped dashboards against a real uvicorn socket (127.0.0.1), with the
hard moments of a user's day, and the service's saturation against a competent raw-SQL baseline in the same run.

    python benchmarks/load.py --data-dir DIR [--database-url URL] [--users 20 50] [--seconds 90]
        [--closed-seconds 45] [--startup-seconds 60] [--morning-seconds 60] [--idle-night-minutes 0]
        [--saturation-seconds 15] [--quarter wait|any]

DIR is the SM_DATA_DIR holding the data set (benchmarks/dataset.py; the embedded PostgreSQL lives there unless
--database-url is given). The script starts ``success-metrics serve`` on a free loopback port with the dev issuer
enabled and mints one token per simulated user: role i % 5 of executive, manager, agent, admin, auditor over
tenant (i // 5) % tenants first, so the first 5 × tenants users hold every role of every tenant (managers a real
team, agents a real agent id). A user (benchmarks/views.py) opens their role's dashboard at its default range,
keeps each view 20-90 s, refreshing it at the dashboard's own ``refresh`` (30 s to 5 min), then moves on: another
dashboard or range (the default, a quick range, a past quarter, a custom 45 days, a drag-zoom), variables set to
their team, themselves or any value the service offers. A load times the variable queries and then every panel
and annotation query at once, as Grafana sends them. Phases, each of fixed length:

1. start-up: the service launched, users (the smaller N) arriving over 20 s from ready while it warms.
2. closed ranges: the smaller N paging through past quarters and custom 45 days (5-15 s a view): first loads.
3. each N users (default 20, 50); the largest N runs across the turn of a quarter hour (``--quarter wait``,
   the default, runs the other phases meanwhile and waits for the rest; ``any`` never waits).
4. the baseline's totals checked against the service's for a sample of panels (mismatches printed), then
   saturation: loads with no pause from ``--workers`` loops, the baseline (benchmarks/baseline.py) and the
   service interleaved, on users' own dashboards and on a random mix; the ratio service / baseline.
5. the first morning: the service restarted (its in-memory state gone, as after a night's restart) and the
   largest N arriving within 15 s of ready, as at 9:00. ``--idle-night-minutes M`` waits for warm and M minutes
   more first (M ≥ 30 reproduces a night in which the warmer's rounds warm nobody: its frames are then past
   the quarter hour's fallback).

First loads (a view's first load) are reported apart from refreshes, each percentile with its n, with HTTP and
panel errors (0 expected) and the server's RSS. The phases take about 8 minutes by default, plus the service's
first warm-up (at most ``--warm-timeout``) and the wait for the quarter hour when it falls badly; scale up with
the flags. Everything stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from success_metrics.rbac import dev_issuer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the benchmarks package of this checkout

from benchmarks.service_process import busy_lanes, embedded_dsn, rss_mb, serving  # noqa: E402  (path set)
from benchmarks.views import (  # noqa: E402
    Dashboard,
    View,
    home_view,
    load_dashboards,
    next_view,
    pick_value,
)

__all__ = ["Dashboard", "Tally", "User", "load_dashboards", "make_users", "pct", "saturate", "simulate"]

ROLES = ("executive", "manager", "agent", "admin", "auditor")
DWELL = (20.0, 90.0)  # seconds a person keeps a view open
CLOSED_DWELL = (5.0, 15.0)  # paging through past periods
DEV = ("success-metrics-dev", "success-metrics")


# --- users ----------------------------------------------------------------------------------------------

@dataclass
class User:
    token: str
    role: str
    tenant: str
    agent_id: str | None = None
    team: str | None = None


async def make_users(dsn: str, data_dir: Path, count: int, rng: random.Random,
                     dev: tuple[str, str] = DEV) -> list[User]:
    """User i: role i % 5 in tenant (i // 5) % tenants; managers hold a real team, agents a real agent id."""
    people = await _people(dsn)
    tenants = sorted(people)
    users = []
    for i in range(count):
        tenant, role = tenants[(i // len(ROLES)) % len(tenants)], ROLES[i % len(ROLES)]
        agents = people[tenant]
        agent_id = team = None
        claims: dict[str, Any] = {}
        if role in ("agent", "manager") and agents:
            agent_id, team = rng.choice(agents)
            claims = {"agent_id": agent_id} if role == "agent" else {"teams": [team]}
        token = dev_issuer.mint(data_dir, tenant, role, subject=f"load-{i}@{tenant}", issuer=dev[0],
                                audience=dev[1], **claims)
        users.append(User(token, role, tenant, agent_id if role == "agent" else None, team))
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
    by_range: dict[str, list[float]] = field(default_factory=dict)  # the same latencies by the view's range kind
    closed: list[float] = field(default_factory=list)  # loads of ranges wholly in the past
    stamps: list[tuple[float, float]] = field(default_factory=list)  # (wall time the load began, latency)
    http_errors: int = 0
    broken_loads: int = 0  # loads with at least one failed request: a dashboard the user saw broken
    panel_errors: int = 0
    refused: int = 0  # panels the role may not see (expected: the policy at work)
    samples: list[str] = field(default_factory=list)

    def add(self, view: View, began: datetime, elapsed: float) -> None:
        self.latencies.append(elapsed)
        self.by_range.setdefault(view.rng.kind, []).append(elapsed)
        if view.rng.closed(began):
            self.closed.append(elapsed)
        self.stamps.append((began.timestamp(), elapsed))

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

    def fail(self, exc: BaseException) -> None:
        self.http_errors += 1
        self._sample(repr(exc)[:200])

    def _sample(self, text: str) -> None:
        if len(self.samples) < 5:
            self.samples.append(text)


def body(targets: Any, view: View, now: datetime, max_points: int) -> dict[str, Any]:
    start, end = view.rng.bounds(now)
    interval_ms = max(1000, int((end - start).total_seconds() * 1000 / max_points))
    raw = {"from": view.rng.raw, "to": "now"} if view.rng.raw else {"from": start.isoformat(), "to": end.isoformat()}
    return {"range": {"from": start.isoformat(), "to": end.isoformat(), "raw": raw},
            "interval": f"{interval_ms // 1000}s", "intervalMs": interval_ms, "maxDataPoints": max_points,
            "targets": [{**t, "payload": view.payload(t.get("payload"))} for t in targets], "adhocFilters": []}


async def post(client: aiohttp.ClientSession, path: str, payload: dict[str, Any], token: str) -> tuple[int, bytes]:
    async with client.post(path, json=payload, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.read()


async def load_view(client: aiohttp.ClientSession, user: User, view: View, tally: Tally, rng: random.Random) -> float:
    """One whole-dashboard load as Grafana does it: the variable queries, then every panel and annotation query
    at once. Records the load in ``tally`` and returns its seconds."""
    now = datetime.now(UTC)
    start, end = view.rng.bounds(now)
    began, errors = time.perf_counter(), tally.http_errors
    names = view.dashboard.variables
    answers = await asyncio.gather(*(post(client, "/variable", {"payload": {"target": n}, "range": {
        "from": start.isoformat(), "to": end.isoformat()}}, user.token) for n in names), return_exceptions=True)
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, BaseException):
            tally.fail(answer)
        elif answer[0] != 200:
            tally.count(*answer)
        elif name in view.wants and name not in view.values:
            view.values[name] = pick_value(view.wants[name], json.loads(answer[1]), (user.agent_id, user.team), name,
                                           rng)
    board = view.dashboard
    calls = [post(client, "/query", body(targets, view, now, points), user.token) for targets, points in board.panels]
    if board.annotations:
        calls.append(post(client, "/query", body(board.annotations, view, now, 1000), user.token))
    responses = await asyncio.gather(*calls, return_exceptions=True)
    elapsed = time.perf_counter() - began
    for r in responses:
        if isinstance(r, BaseException):
            tally.fail(r)
        else:
            tally.count(*r)
    tally.broken_loads += tally.http_errors > errors
    tally.add(view, now, elapsed)
    return elapsed


async def simulate(client: aiohttp.ClientSession, users: list[User], dashboards: dict[str, Dashboard], seconds: float,
                   seed: int, *, arrive_over: float = 2.0, closed_only: bool = False,
                   dwell: tuple[float, float] = DWELL) -> tuple[Tally, Tally]:
    """Each user arrives within ``arrive_over`` s and goes from view to view (benchmarks/views.py), refreshing each
    at its dashboard's interval while it is open: (first loads, refreshes)."""
    first, refreshes = Tally(), Tally()
    stop = time.monotonic() + seconds

    async def one(i: int, user: User) -> None:
        rng = random.Random(seed * 1000 + i)
        await asyncio.sleep(rng.random() * arrive_over)  # users do not all open at the same instant
        view = home_view(user.role, dashboards, rng)
        if closed_only:
            view = next_view(user.role, view, dashboards, datetime.now(UTC), rng, closed_only=True)
        while time.monotonic() < stop:
            leave = min(stop, time.monotonic() + rng.uniform(*dwell))
            tally = first
            while True:
                tick = time.monotonic()
                await load_view(client, user, view, tally, rng)
                tally = refreshes
                if tick + view.dashboard.refresh_s >= leave:
                    break
                await asyncio.sleep(max(0.0, tick + view.dashboard.refresh_s - time.monotonic()))
            await asyncio.sleep(max(0.0, leave - time.monotonic()))
            view = next_view(user.role, view, dashboards, datetime.now(UTC), rng, closed_only)

    await asyncio.gather(*(one(i, u) for i, u in enumerate(users)))
    return first, refreshes


LoadOne = Callable[[User, View, random.Random], Awaitable[object]]


async def saturate(users: list[User], dashboards: dict[str, Dashboard], seconds: float, workers: int, seed: int,
                   load_one: LoadOne, *, own: bool = False) -> tuple[int, float]:
    """Dashboard loads with no pause from ``workers`` concurrent loops for ``seconds``: (loads, elapsed s).

    ``own``: each load is a random user's own view (their role's dashboard at its default range, their
    variables), as the users keep them open; otherwise any view of the simulation (another dashboard, quick,
    closed or zoomed range, variables): mostly cold, the worst case for a cache."""
    loads = 0
    stop = time.monotonic() + seconds
    started = time.perf_counter()

    async def worker(i: int) -> None:
        nonlocal loads
        rng = random.Random(seed + i)
        while time.monotonic() < stop:
            index = rng.randrange(len(users))
            user = users[index]
            mine = random.Random(seed * 1000 + index)
            view = home_view(user.role, dashboards, mine)
            if not own:
                view = next_view(user.role, view, dashboards, datetime.now(UTC), rng)
            await load_one(user, view, mine if own else rng)
            loads += 1

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return loads, time.perf_counter() - started


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of seconds, in ms (nearest rank); nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def stats(values: list[float]) -> str:
    return (f"n={len(values)} p50 {pct(values, 50):.0f} / p95 {pct(values, 95):.0f} / p99 {pct(values, 99):.0f} ms"
            if values else "n=0")


def report(label: str, first: Tally, refreshes: Tally, server: Any, began: float, ended: float) -> None:
    """A phase's figures: first loads apart from refreshes, closed ranges, errors, RSS, the quarter's turn."""
    every = first.latencies + refreshes.latencies
    print(f"{label}:\n    all loads     {stats(every)}\n    first loads   {stats(first.latencies)}\n"
          f"    refreshes     {stats(refreshes.latencies)}\n    closed ranges (first loads) {stats(first.closed)}")
    print("    first loads by range: " + "; ".join(f"{k} {stats(v)}" for k, v in sorted(first.by_range.items())))
    print(f"    errors: http {first.http_errors + refreshes.http_errors}  panel "
          f"{first.panel_errors + refreshes.panel_errors}  (refused by policy {first.refused + refreshes.refused})"
          f"  server RSS {rss_mb(server):.0f} MB")
    turn = (began // 900 + 1) * 900
    if turn < ended:
        def after(t: Tally) -> list[float]:
            return [lat for at, lat in t.stamps if turn <= at < turn + 120]
        print(f"    across the quarter hour {datetime.fromtimestamp(turn, UTC):%H:%M}: first 2 min after it: first "
              f"loads {stats(after(first))}; refreshes {stats(after(refreshes))}")
    for sample in (first.samples + refreshes.samples)[:5]:
        print(f"    e.g. {sample}")


# --- phases ---------------------------------------------------------------------------------------------

async def watch_warm(client: aiohttp.ClientSession, started: float) -> None:
    """Print when the service's /readyz first says warm (the start-up phase runs meanwhile)."""
    while True:
        try:
            async with client.get("/readyz") as response:
                if response.status == 200 and (await response.json()).get("warm") in (True, None):
                    print(f"    (cache warm {time.monotonic() - started:.0f} s after ready)", flush=True)
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(1)


async def phase(label: str, client: aiohttp.ClientSession, server: Any, users: list[User],
                dashboards: dict[str, Dashboard], seconds: float, seed: int, **kw: Any) -> None:
    began = time.time()
    first, refreshes = await simulate(client, users, dashboards, seconds, seed, **kw)
    report(label, first, refreshes, server, began, time.time())


async def saturation(client: aiohttp.ClientSession, server: Any, dsn: str, users: list[User],
                     dashboards: dict[str, Dashboard], args: argparse.Namespace) -> None:
    """The baseline's totals against the service's, then service and baseline saturated in turns (two halves
    each, interleaved, so both see the same machine), on users' own dashboards and on the random mix."""
    from benchmarks.baseline import check_totals, ensure_indexes, raw_sql_load

    busy = 0.0
    for _ in range(int(args.settle_seconds)):  # the users' phases leave computations queued: let them drain
        if not (busy := await busy_lanes(client)):
            break
        await asyncio.sleep(1)
    print(f"saturation: {busy:.0f} users' computations still running or queued on the service", flush=True)
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=args.workers)
    assert pool is not None
    try:
        made = await ensure_indexes(pool)
        print(f"baseline: indexes it needs {'all present' if not made else 'created: ' + ', '.join(made)}")
        await check_totals(client, pool, {u.tenant: u.token for u in users if u.role == "admin"})
        baseline = raw_sql_load(pool)

        async def service(user: User, view: View, rng: random.Random) -> float:
            return await load_view(client, user, view, Tally(), rng)

        sides: dict[str, Any] = {"baseline": baseline, "service": service}
        await saturate(users, dashboards, 5, args.workers, args.seed + 1, baseline, own=True)  # unmeasured: warm
        for own, mix in ((True, "users' own dashboards"), (False, "random mix")):
            done = {name: [0, 0.0] for name in sides}
            for half in range(2):
                for name, side in sides.items():
                    loads, took = await saturate(users, dashboards, args.saturation_seconds / 2, args.workers,
                                                 args.seed + half, side, own=own)
                    done[name][0] += loads
                    done[name][1] += took
            rate = {name: n / s for name, (n, s) in done.items()}
            print(f"saturation, {mix} ({args.workers} loops, no pause): service {rate['service']:.1f} loads/s "
                  f"(n={done['service'][0]}), baseline {rate['baseline']:.1f} loads/s (n={done['baseline'][0]}); "
                  f"ratio {rate['service'] / rate['baseline'] if rate['baseline'] else float('inf'):.1f}x  "
                  f"server RSS {rss_mb(server):.0f} MB", flush=True)
    finally:
        await pool.close()


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    dashboards = load_dashboards()
    print("dashboards: " + ", ".join(f"{d.name} ({len(d.panels)} panels, refresh {d.refresh_s:.0f} s)"
                                     for d in dashboards.values()))
    small, large = min(args.users), max(args.users)
    launched = time.monotonic()
    async with serving(data_dir, args.database_url, wait_warm=False) as (server, client):
        ready = time.monotonic()
        print(f"start-up: ready {ready - launched:.0f} s after launch", flush=True)
        dsn = args.database_url or embedded_dsn(data_dir)
        users = await make_users(dsn, data_dir, large, random.Random(args.seed))
        print(f"users: {large} over {len({u.tenant for u in users})} tenants, every role of each tenant in the first "
              f"{5 * len({u.tenant for u in users})}", flush=True)
        warm = asyncio.create_task(watch_warm(client, ready))
        await phase(f"start-up, {small} users arriving over 20 s from ready", client, server, users[:small],
                    dashboards, args.startup_seconds, args.seed, arrive_over=20.0)
        try:
            await asyncio.wait_for(asyncio.shield(warm), max(0.0, ready + args.warm_timeout - time.monotonic()))
        except TimeoutError:
            print(f"    (not warm {args.warm_timeout:.0f} s after ready: the phases below run while it warms)")

        async def steady(n: int) -> None:
            await phase(f"{n} users", client, server, users[:n], dashboards, args.seconds, args.seed + n)

        async def closed() -> None:
            await phase(f"closed past ranges, {small} users", client, server, users[:small], dashboards,
                        args.closed_seconds, args.seed + 1, closed_only=True, dwell=CLOSED_DWELL)

        async def rest() -> None:
            await saturation(client, server, dsn, users, dashboards, args)

        fillers = [(closed, args.closed_seconds + 5), *[(lambda n=n: steady(n), args.seconds + 10)
                   for n in sorted(set(args.users)) if n != large],
                   (rest, 2 * args.saturation_seconds + args.settle_seconds + 40)]
        # the largest N starts a third of its phase before the next quarter hour
        turn: float | None = ((time.time() + args.seconds / 3) // 900 + 1) * 900 - args.seconds / 3
        for run, takes in fillers:
            if turn is not None and args.quarter == "wait" and time.time() + takes > turn:
                await _until(turn)
                await steady(large)
                turn = None
            await run()
        if turn is not None:
            await _until(turn if args.quarter == "wait" else time.time())
            await steady(large)
        warm.cancel()
    print("first morning: the service restarted", flush=True)
    async with serving(data_dir, args.database_url, wait_warm=args.idle_night_minutes > 0) as (server, client):
        if args.idle_night_minutes > 0:
            print(f"    (idle for {args.idle_night_minutes:.0f} min, as a night)", flush=True)
            await asyncio.sleep(args.idle_night_minutes * 60)
        await phase(f"first morning, {large} users arriving within 15 s", client, server, users, dashboards,
                    args.morning_seconds, args.seed + 2, arrive_over=15.0)


async def _until(moment: float) -> None:
    wait = moment - time.time()
    if wait > 0:
        print(f"    (waiting {wait:.0f} s, so the largest N's phase spans the turn of a quarter hour)", flush=True)
        await asyncio.sleep(wait)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="SM_DATA_DIR of the data set (benchmarks/dataset.py)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--users", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seconds", type=float, default=90.0, help="length of each N users' phase")
    parser.add_argument("--closed-seconds", type=float, default=45.0, help="closed past ranges' phase")
    parser.add_argument("--startup-seconds", type=float, default=60.0, help="start-up phase, from ready")
    parser.add_argument("--morning-seconds", type=float, default=60.0, help="first morning's phase")
    parser.add_argument("--idle-night-minutes", type=float, default=0.0,
                        help="before the first morning: wait for warm, then this long (30+: the real 9:00)")
    parser.add_argument("--warm-timeout", type=float, default=900.0,
                        help="after start-up, wait at most this long (from ready) for the cache to be warm")
    parser.add_argument("--settle-seconds", type=float, default=60.0,
                        help="before saturating, wait at most this long for the users' computations to drain")
    parser.add_argument("--saturation-seconds", type=float, default=15.0, help="per side and mix")
    parser.add_argument("--workers", type=int, default=16,
                        help="concurrent dashboard loads when saturating (both sides)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quarter", choices=("wait", "any"), default="wait",
                        help="wait: the largest N's phase spans the turn of a quarter hour; any: run it in turn")
    asyncio.run(main(parser.parse_args()))
