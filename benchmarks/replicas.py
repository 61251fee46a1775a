"""Replicas on one PostgreSQL: 1 against 3 ``success-metrics serve`` processes behind a round-robin balancer.

    python benchmarks/replicas.py --data-dir DIR [--database-url URL] [--replicas 1 3] [--users 50] [--seconds 40]

DIR is the SM_DATA_DIR of a data set (benchmarks/dataset.py; a small one is enough). Once per data set, one
replica first runs on the data set's own database until warm, so its models are fitted and stored, as on a
deployment that has been running. Each phase then runs on a fresh copy of that database (``CREATE DATABASE …
TEMPLATE``, dropped afterwards) in which what the service shares between processes is emptied (every UNLOGGED
table, and --reset-tables such as the warm leases), so every phase warms from the same cold state, and
pg_stat_database counts that phase alone. The embedded server under DIR is started here (and stopped at the
end) unless --database-url names a server, whose user may then create databases; nothing else may be connected
to the data set's database.
The replicas all get the copy's DATABASE_URL and share DIR (the dev issuer's keys: one token works on every one).
For N replicas (1, then 3):

a. Warm-up: the N processes are started together, and the database work until every one reports its cache warm
   (/readyz) is read from pg_stat_database (transactions, rows read, blocks, active time) and from the embedded
   server's CPU time; beside it the replicas' own CPU, and the computations each replica ran (result cache misses
   from GET /prometheus). One replica's work is the goal for three.
b. Users: ``--users`` simulated Grafana users (benchmarks/load.py's simulation: each opens their role's
   dashboard, refreshes it at the dashboard's own interval and moves on to other views) through the balancer,
   which sends each request to the next replica in turn, as a round-robin load balancer does: whole-dashboard
   p50 / p95, first loads and refreshes apart.
c. With N > 1, the same users again while one replica is killed (SIGKILL) a third of the way in: dashboard loads
   served against lost. The balancer retries a request once on another replica when the connection to its
   replica fails (refused, or dropped mid-request) and then leaves that replica out for a few seconds.

Every phase starts where no cache-warmer round (just after each quarter hour) falls within it. The machine is
shared, so compare the ratios printed at the end (measured in one run) rather than the absolute figures.
Bounded: every loop runs for a fixed time, readiness waits are capped; the replicas and the balancer are stopped
(SIGTERM, then SIGKILL) and the copies dropped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import psutil
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the benchmarks package of this checkout

from benchmarks.load import (  # noqa: E402  (after the path is set)
    Dashboard,
    Tally,
    User,
    load_dashboards,
    make_users,
    pct,
    simulate,
)
from benchmarks.service_process import free_port, quiet, rss_mb, start_server, wait_ready  # noqa: E402

STATS_PATH = "/_balancer"
DOWN_S = 5.0  # a replica whose connection failed is left out this long (a health check's interval)
FORWARDED = ("authorization", "content-type", "accept", "x-request-id")
COUNTERS = ("xact_commit", "tup_returned", "tup_fetched", "tup_written", "blks_hit", "blks_read", "active_time")
DEV = ("success-metrics-dev", "success-metrics")  # the dev issuer's issuer and audience (as load.py mints)


# --- the balancer: a process of its own, so the load generator and the proxying do not share one core ------

def balancer_app(backends: list[str]) -> web.Application:
    """Round robin over ``backends``; a request whose connection fails is sent once more, to another replica."""
    stats = {"forwarded": 0, "retried": 0, "failed": 0}
    down: dict[str, float] = {}
    turn = itertools.count()
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def session(app: web.Application) -> AsyncIterator[None]:
        app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=400, keepalive_timeout=4.0),
                                               timeout=aiohttp.ClientTimeout(total=60))
        yield
        await app["session"].close()

    def pick(avoid: str | None) -> str:
        now = time.monotonic()
        up = [b for b in backends if b != avoid and down.get(b, 0.0) <= now] or [b for b in backends if b != avoid]
        return (up or backends)[next(turn) % len(up or backends)]

    async def forward(request: web.Request) -> web.StreamResponse:
        if request.path == STATS_PATH:
            return web.json_response(stats)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        tried: str | None = None
        for attempt in range(2):
            backend = pick(tried)
            try:
                async with request.app["session"].request(request.method, backend + request.path_qs, data=body,
                                                          headers=headers) as r:
                    payload = await r.read()
                    stats["forwarded"] += 1
                    kept = {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "retry-after")}
                    return web.Response(status=r.status, body=payload, headers=kept)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError):  # refused, or cut
                down[backend] = time.monotonic() + DOWN_S
                tried = backend
                stats["retried"] += attempt == 0
        stats["failed"] += 1
        return web.json_response({"title": "Bad Gateway", "status": 502, "message": "no replica answered"},
                                 status=502, content_type="application/problem+json")

    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


@contextlib.contextmanager
def balancer(backends: list[str]) -> Iterator[str]:
    """The balancer in a child process on a free loopback port: its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--balance", str(port), *backends])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 30 s; and its children (a replica's model-fitting process outlived a replica
    killed outright, and a killed replica's children are no longer listed under it)."""
    children: list[psutil.Process] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        children = psutil.Process(proc.pid).children(recursive=True)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


# --- the database: a copy per phase, and what it did --------------------------------------------------------

def with_database(dsn: str, name: str) -> str:
    return urlsplit(dsn)._replace(path=f"/{name}").geturl()


async def work(admin: asyncpg.Connection, database: str, postmaster: int | None) -> dict[str, float]:
    """The database's cumulative counters, and the server's CPU seconds (its exited backends' included) when it
    runs here (the embedded one)."""
    row = await admin.fetchrow(
        "SELECT xact_commit, tup_returned, tup_fetched, tup_inserted + tup_updated + tup_deleted AS tup_written, "
        "blks_hit, blks_read, active_time FROM pg_stat_database WHERE datname = $1", database)
    found = {k: float(row[k] or 0) if row else 0.0 for k in COUNTERS}
    if postmaster is not None:
        main = psutil.Process(postmaster)
        cpu = main.cpu_times()
        seconds = cpu.user + cpu.system + cpu.children_user + cpu.children_system
        for child in main.children():
            with contextlib.suppress(psutil.NoSuchProcess):
                c = child.cpu_times()
                seconds += c.user + c.system
        found["postgres_cpu_s"] = seconds
    return found


# --- one phase ----------------------------------------------------------------------------------------------

@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    url: str
    client: aiohttp.ClientSession


@dataclass
class Phase:
    replicas: int
    warm_s: float = 0.0
    work: dict[str, float] = field(default_factory=dict)
    computed: list[dict[str, float]] = field(default_factory=list)  # per replica: cache lookups by result
    service_cpu_s: float = 0.0
    first: Tally = field(default_factory=Tally)
    refreshes: Tally = field(default_factory=Tally)
    rss_mb: float = 0.0
    load_cost: dict[str, float] = field(default_factory=dict)  # the users' phase: its work and CPU
    served: int = 0  # the kill phase's dashboard loads
    lost: int = 0
    balancer: dict[str, int] = field(default_factory=dict)


@asynccontextmanager
async def fleet(n: int, data_dir: Path, dsn: str, token: str) -> AsyncIterator[list[Replica]]:
    """``n`` replicas on ``dsn``, started together and stopped on the way out."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as cfg:
        yaml.safe_dump({"dev_issuer_enabled": True}, cfg)
    os.environ["SM_PROMETHEUS_TOKEN"] = token  # start_server hands the environment on
    replicas: list[Replica] = []
    try:
        for _ in range(n):
            port = free_port()
            log = Path(tempfile.gettempdir()) / f"sm-replica-{port}.log"
            proc = start_server(data_dir, dsn, port, Path(cfg.name), log)
            url = f"http://127.0.0.1:{port}"
            client = aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=50, keepalive_timeout=4.0),
                                           timeout=aiohttp.ClientTimeout(total=60))
            replicas.append(Replica(proc, url, client))
            print(f"  replica {len(replicas)}: {url}, log {log}", flush=True)
        yield replicas
    finally:
        for r in replicas:
            stop(r.proc)
            await r.client.close()
        os.unlink(cfg.name)


async def lookups(replica: Replica, token: str) -> dict[str, float]:
    """The replica's result cache lookups by result (a miss is a computation this replica ran)."""
    async with replica.client.get("/prometheus", headers={"Authorization": f"Bearer {token}"}) as response:
        text = await response.text()
    return {s.labels["result"]: s.value for family in text_string_to_metric_families(text)
            if family.name == "sm_cache_lookups" for s in family.samples if s.name.endswith("_total")}


async def avoid_round(seconds: float) -> None:
    """Wait past the next quarter hour's warmer round if it would fall within ``seconds`` from now."""
    from success_metrics.query.warmer import next_round_in

    wait = next_round_in(datetime.now(UTC))
    if wait < seconds:
        print(f"  (waiting {wait + 5:.0f} s: the quarter hour's warmer round would fall in the warm-up)", flush=True)
        await asyncio.sleep(wait + 5)


async def through_kill(client: aiohttp.ClientSession, users: list[User], dashboards: dict[str, Dashboard],
                       seconds: float, seed: int, victim: Replica) -> tuple[int, int]:
    """The users as in load.simulate, one replica killed a third of the way in: (loads served whole, loads with
    a request that failed even after the balancer's retry)."""
    orphans: list[psutil.Process] = []
    names: dict[int, str] = {}

    async def kill() -> None:
        await asyncio.sleep(seconds / 3)
        orphans.extend(psutil.Process(victim.proc.pid).children(recursive=True))
        names.update({c.pid: " ".join(c.cmdline()[-2:]) for c in orphans})
        victim.proc.kill()
        print(f"  killed replica {victim.url} (SIGKILL) at {seconds / 3:.0f} s", flush=True)

    _, (first, refreshes) = await asyncio.gather(kill(), simulate(client, users, dashboards, seconds, seed))
    left = [c for c in orphans if running(c)]
    print(f"  the killed replica's {len(orphans)} child processes: {len(left)} still running at the end "
          f"({', '.join(names[c.pid] for c in left) or 'none'})", flush=True)
    for child in left:  # outlived its replica (its model-fitting worker did before trainer.py set a death signal)
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    loads = len(first.latencies) + len(refreshes.latencies)
    lost = first.broken_loads + refreshes.broken_loads
    return loads - lost, lost


def running(process: psutil.Process) -> bool:
    """Alive, not a zombie waiting for its new parent to reap it."""
    with contextlib.suppress(psutil.NoSuchProcess):
        return process.status() != psutil.STATUS_ZOMBIE
    return False


async def prime(args: argparse.Namespace, source_dsn: str) -> None:
    """Once per data set: one replica on the data set's own database until warm, so its models are fitted and
    stored as on a deployment that has been running (a first fit takes minutes and is no part of a warm-up)."""
    marker = args.data_dir / "replicas-primed"
    if marker.exists():
        return
    print("priming: one replica on the data set's database until warm (its models fitted and stored); once", flush=True)
    async with fleet(1, args.data_dir, source_dsn, secrets.token_urlsafe(24)) as replicas:
        await wait_ready(replicas[0].client, replicas[0].proc, timeout=args.ready_timeout)
    marker.touch()


async def copy_database(admin: asyncpg.Connection, source: str, copy: str) -> None:
    await admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    for _ in range(30):  # a replica just stopped may hold its connections a moment longer
        try:
            await admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
            return
        except asyncpg.ObjectInUseError:
            await asyncio.sleep(1)
    raise SystemExit(f"the data set's database {source} is in use; stop what is connected to it")


async def reset_shared(dsn: str, tables: list[str]) -> list[str]:
    """Empty what the service shares between processes (every UNLOGGED table: caches by definition; and
    ``tables``, such as warm leases), so each phase warms from cold: the names emptied."""
    conn = await asyncpg.connect(dsn)
    try:
        found = [r[0] for r in await conn.fetch(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relpersistence = 'u' AND c.relkind IN ('r', 'p') AND n.nspname = 'public'")]
        found += [t for t in tables if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", t)]
        if found:
            await conn.execute(f"TRUNCATE {', '.join(found)}")
        return found
    finally:
        await conn.close()


async def run_phase(n: int, args: argparse.Namespace, admin: asyncpg.Connection, source_dsn: str,
                    postmaster: int | None, dashboards: dict[str, Dashboard]) -> Phase:
    source = urlsplit(source_dsn).path.lstrip("/")
    copy = f"{source}_replicas_{n}"
    await copy_database(admin, source, copy)
    dsn, token, phase = with_database(source_dsn, copy), secrets.token_urlsafe(24), Phase(n)
    emptied = await reset_shared(dsn, args.reset_tables)
    print(f"\n{n} replica(s) on a fresh copy of the data set ({copy}; emptied: {', '.join(emptied) or 'nothing'})",
          flush=True)
    try:
        await avoid_round(args.warm_window)
        before = await work(admin, copy, postmaster)
        started = time.monotonic()
        async with fleet(n, args.data_dir, dsn, token) as replicas:
            await asyncio.gather(*(wait_ready(r.client, r.proc, timeout=args.ready_timeout) for r in replicas))
            phase.warm_s = time.monotonic() - started
            phase.service_cpu_s = cpu_s(replicas)
            phase.computed = [await lookups(r, token) for r in replicas]
            await asyncio.sleep(2)  # backends report their counters when idle, at most once a second
            after = await work(admin, copy, postmaster)
            phase.work = {k: after[k] - before[k] for k in after}
            report_warm(phase)

            users = await make_users(dsn, args.data_dir, args.users, random.Random(args.seed), DEV)
            with balancer([r.url for r in replicas]) as base:
                async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=400, keepalive_timeout=4),
                                                 timeout=aiohttp.ClientTimeout(total=60)) as client:
                    await answering(client)
                    for r in replicas:
                        await quiet(r.client, args.seconds + 5)
                    at, cpu_at = await work(admin, copy, postmaster), cpu_s(replicas)
                    phase.first, phase.refreshes = await simulate(client, users, dashboards, args.seconds, args.seed)
                    await asyncio.sleep(2)
                    done = await work(admin, copy, postmaster)
                    phase.load_cost = {k: done[k] - at[k] for k in done} | {"service_cpu_s": cpu_s(replicas) - cpu_at}
                    phase.rss_mb = sum(rss_mb(r.proc) for r in replicas)
                    report_users(phase)
                    if n > 1:
                        for r in replicas:
                            await quiet(r.client, args.seconds + 5)
                        before_kill = await balancer_stats(client)
                        phase.served, phase.lost = await through_kill(client, users, dashboards, args.seconds,
                                                                      args.seed + 1, replicas[-1])
                        after_kill = await balancer_stats(client)
                        phase.balancer = {k: after_kill[k] - before_kill[k] for k in after_kill}
                        print(f"  kill -9 of one of {n} under load: {phase.served} dashboard loads served, "
                              f"{phase.lost} lost; balancer: {phase.balancer['retried']} requests retried on "
                              f"another replica, {phase.balancer['failed']} failed after the retry", flush=True)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    return phase


def cpu_s(replicas: list[Replica]) -> float:
    """The replicas' CPU seconds so far (user and system; a dead one counts nothing)."""
    total = 0.0
    for r in replicas:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(psutil.Process(r.proc.pid).cpu_times()[:2])
    return total


async def answering(client: aiohttp.ClientSession) -> None:
    for _ in range(100):
        with contextlib.suppress(aiohttp.ClientError):
            await balancer_stats(client)
            return
        await asyncio.sleep(0.1)
    raise SystemExit("the balancer did not start")


async def balancer_stats(client: aiohttp.ClientSession) -> dict[str, int]:
    async with client.get(STATS_PATH) as response:
        stats: dict[str, int] = await response.json()
        return stats


# --- the figures ----------------------------------------------------------------------------------------------

def report_warm(p: Phase) -> None:
    w = p.work
    cpu = f"{w['postgres_cpu_s']:.1f} s" if "postgres_cpu_s" in w else "n/a (not the embedded server)"
    print(f"  warm-up: every replica warm after {p.warm_s:.0f} s; database: {w['xact_commit']:,.0f} transactions, "
          f"{w['tup_returned'] + w['tup_fetched']:,.0f} rows read, {w['tup_written']:,.0f} written, "
          f"{w['blks_hit'] + w['blks_read']:,.0f} blocks ({w['blks_read']:,.0f} read), active "
          f"{w['active_time'] / 1000:.1f} s, server CPU {cpu}; replicas' CPU {p.service_cpu_s:.1f} s", flush=True)
    for i, c in enumerate(p.computed, 1):
        print(f"    replica {i}: computations (cache misses) {c.get('miss', 0):.0f}; lookups "
              + ", ".join(f"{k} {v:.0f}" for k, v in sorted(c.items())), flush=True)


def report_users(p: Phase) -> None:
    every = p.first.latencies + p.refreshes.latencies
    errors = p.first.http_errors + p.refreshes.http_errors
    print(f"  {len(every)} dashboard loads: p50 {pct(every, 50):.0f} ms  p95 {pct(every, 95):.0f} ms  (first loads "
          f"p50 {pct(p.first.latencies, 50):.0f} / p95 {pct(p.first.latencies, 95):.0f} ms; refreshes p50 "
          f"{pct(p.refreshes.latencies, 50):.0f} / p95 {pct(p.refreshes.latencies, 95):.0f} ms); http errors "
          f"{errors}, panel errors {p.first.panel_errors + p.refreshes.panel_errors}; replicas' RSS "
          f"{p.rss_mb:.0f} MB", flush=True)
    loads, c = len(every), p.load_cost
    if loads:
        cpu = f", server CPU {c['postgres_cpu_s'] / loads * 1000:.1f} ms" if "postgres_cpu_s" in c else ""
        print(f"  per dashboard load: replicas' CPU {c['service_cpu_s'] / loads * 1000:.1f} ms, database active "
              f"{c['active_time'] / loads:.1f} ms{cpu}, {c['xact_commit'] / loads:.1f} transactions", flush=True)
    for sample in (p.first.samples + p.refreshes.samples)[:3]:
        print(f"    e.g. {sample}")


def summary(one: Phase, many: Phase) -> None:
    def ratio(a: float, b: float) -> str:
        return f"{b / a:.2f}x" if a else "n/a"

    n = many.replicas
    print(f"\n{n} replicas against 1 (same run, same data, each on a fresh copy of it):")
    for key, label in (("xact_commit", "transactions"), ("active_time", "active time"),
                       ("blks_hit", "blocks hit"), ("blks_read", "blocks read"), ("postgres_cpu_s", "server CPU")):
        if key in one.work:
            print(f"  warm-up {label}: {ratio(one.work[key], many.work[key])}")
    rows = ("tup_returned", "tup_fetched")
    print(f"  warm-up rows read: {ratio(sum(one.work[k] for k in rows), sum(many.work[k] for k in rows))}")
    computed = [sum(c.get("miss", 0) for c in p.computed) for p in (one, many)]
    print(f"  warm-up computations: {ratio(*computed)}  (the goal for the database work: 1.00x ± 10 %)")
    print(f"  replicas' CPU to warm: {ratio(one.service_cpu_s, many.service_cpu_s)}; time to warm: "
          f"{ratio(one.warm_s, many.warm_s)}")
    for label, a, b in (("all", one.first.latencies + one.refreshes.latencies,
                         many.first.latencies + many.refreshes.latencies),
                        ("first loads", one.first.latencies, many.first.latencies),
                        ("refreshes", one.refreshes.latencies, many.refreshes.latencies)):
        print(f"  {label}: p50 {pct(a, 50):.0f} → {pct(b, 50):.0f} ms, p95 {pct(a, 95):.0f} → {pct(b, 95):.0f} ms "
              f"({ratio(pct(a, 95), pct(b, 95))})")
    print(f"  kill -9 of one replica under load: {many.lost} of {many.served + many.lost} dashboard loads lost")


async def main(args: argparse.Namespace) -> None:
    args.data_dir = Path(args.data_dir).resolve()
    dashboards = load_dashboards()
    embedded = None
    if args.database_url:
        source_dsn, postmaster = args.database_url, None
    else:
        from success_metrics.storage.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(args.data_dir)
        source_dsn = embedded.start()
        postmaster = embedded.postmaster_pid
    try:
        await prime(args, source_dsn)
        admin = await asyncpg.connect(with_database(source_dsn, "postgres"))
        try:
            phases = [await run_phase(n, args, admin, source_dsn, postmaster, dashboards) for n in args.replicas]
        finally:
            await admin.close()
        for many in phases[1:]:
            summary(phases[0], many)
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--balance"]:  # the balancer's own process (see ``balancer``)
        web.run_app(balancer_app(sys.argv[3:]), host="127.0.0.1", port=int(sys.argv[2]), print=None)
        sys.exit()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="SM_DATA_DIR of the data set (benchmarks/dataset.py)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3], help="the first is the reference")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=40.0, help="simulated time of the users' phases")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warm-window", type=float, default=120.0,
                        help="start a warm-up only this many seconds or more before the next quarter hour's round")
    parser.add_argument("--reset-tables", nargs="*", default=["tenant_warmups"],
                        help="tables emptied in each phase's copy besides the UNLOGGED ones (if they exist)")
    parser.add_argument("--ready-timeout", type=float, default=2400.0, help="cap on a replica's start to warm")
    asyncio.run(main(parser.parse_args()))
