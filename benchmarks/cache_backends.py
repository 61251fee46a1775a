"""The shared frame store, two ways: a PostgreSQL UNLOGGED table against Redis, same frames, same client machine.

    python benchmarks/cache_backends.py [--database-url URL] [--seconds 2] [--sizes 1000 20000 200000]

PostgreSQL: ``frame_cache(key text primary key, tenant_id text not null, expires_at timestamptz not null,
body bytea not null)``, UNLOGGED (a cache: no WAL, emptied by a crash, which is what a cache may lose), written
with ``INSERT … ON CONFLICT (key) DO UPDATE`` and read by key where not expired, through an asyncpg pool of 16 —
on a fresh embedded server in a temp dir, or in scratch tables on DATABASE_URL (dropped at the end); twice, with
the body stored as PostgreSQL stores a bytea by default (TOAST compresses it past ~2 KB) and with STORAGE EXTERNAL
(out of line, never compressed: a frame is written far more often than its bytes would save). Redis: SET
with EX and GET through redis-py's asyncio client (pool of 16), on Debian's ``redis-server`` started here on a
free loopback port in a temp dir with persistence off, and shut down at the end; without ``redis-server`` (or
redis-py, the ``bench`` extra) only PostgreSQL is measured, and the script says so.

Frames: a computed frame serialized as the compact column JSON a shared store would hold (epoch-ms times and
measured values, random so that PostgreSQL's TOAST compression gets no easier ride than a real frame gives it),
of 1 KB (a stat panel), 20 KB (a 30-day series or a table) and 200 KB (a 2-year series by agent). For each size
and concurrency (1 and 16 concurrent clients), gets and puts for ``--seconds`` each per store, the stores taking
turns of half a second so all see the same load on the shared machine: p50 / p95 latency and operations per
second, and the ratios.

Bounded: every measurement runs for a fixed time; the servers started here are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the benchmarks package of this checkout

from benchmarks.load import pct  # noqa: E402  (after the path is set)
from benchmarks.service_process import free_port  # noqa: E402

TTL = timedelta(minutes=15)  # an analytics frame's lifetime: until the next quarter hour's keys
KEYS = {1_000: 2_000, 20_000: 1_000, 200_000: 200}  # keys per frame size: a working set of ~2-40 MB
# scratch names (the service's own frame_cache, if any, is left alone), and the body's storage: TOAST's default
# (compressed past ~2 KB) and EXTERNAL (out of line, never compressed)
VARIANTS = (("frame_cache_bench", ""), ("frame_cache_bench_external", "EXTERNAL"))
LABELS = {1: "1 client", 16: "16 clients"}
SLICE_S = 0.5  # the stores take turns this long each


def frame_body(size: int, rng: random.Random) -> bytes:
    """About ``size`` bytes of a serialized time-series frame: epoch-ms times and measured values."""
    points = max(1, size // 24)
    body = b""
    for _ in range(3):  # the points that make ``size`` bytes, found by proportion
        frame = {"fields": [{"name": "time", "type": "time"}, {"name": "value", "type": "number", "unit": "s"}],
                 "values": [[1_700_000_000_000 + i * 3_600_000 for i in range(points)],
                            [round(rng.lognormvariate(3, 1), 2) for _ in range(points)]]}
        body = json.dumps(frame, separators=(",", ":")).encode()
        points = max(1, round(points * size / len(body)))
    return body


class Store(Protocol):
    name: str

    async def put(self, key: str, tenant: str, body: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None: ...


class PostgresStore:
    def __init__(self, pool: asyncpg.Pool, table: str, name: str) -> None:
        self.pool, self.table, self.name = pool, table, name

    async def put(self, key: str, tenant: str, body: bytes) -> None:
        await self.pool.execute(
            f"INSERT INTO {self.table} (key, tenant_id, expires_at, body) VALUES ($1, $2, now() + $3, $4) "
            "ON CONFLICT (key) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, expires_at = EXCLUDED.expires_at, "
            "body = EXCLUDED.body", key, tenant, TTL, body)

    async def get(self, key: str) -> bytes | None:
        body: bytes | None = await self.pool.fetchval(
            f"SELECT body FROM {self.table} WHERE key = $1 AND expires_at > now()", key)
        return body


class RedisStore:
    name = "Redis"

    def __init__(self, client: Any) -> None:
        self.client = client

    async def put(self, key: str, tenant: str, body: bytes) -> None:
        await self.client.set(key, body, ex=int(TTL.total_seconds()))

    async def get(self, key: str) -> bytes | None:
        body: bytes | None = await self.client.get(key)
        return body


@dataclass
class Figures:
    latencies: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


async def run(op: Callable[[random.Random], Awaitable[object]], clients: int, seconds: float) -> Figures:
    """``clients`` loops calling ``op`` with no pause for ``seconds``: every call's latency."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds
    started = time.perf_counter()

    async def client(i: int) -> None:
        rng = random.Random(i)
        while time.monotonic() < stop:
            t = time.perf_counter()
            await op(rng)
            latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return Figures(latencies, time.perf_counter() - started)


async def measure(stores: list[Store], size: int, clients: int, seconds: float) -> dict[tuple[str, str], Figures]:
    """Gets then puts of ``size``-byte frames, store after store for each operation (so they share the moment)."""
    rng = random.Random(size)
    keys = [f"bench:{size}:{i}" for i in range(KEYS[size])]
    bodies = [frame_body(size, rng) for _ in range(8)]
    for store in stores:  # the working set, stored once before the gets
        for start in range(0, len(keys), 64):
            await asyncio.gather(*(store.put(k, f"t{i % 20}", bodies[i % 8])
                                   for i, k in enumerate(keys[start:start + 64], start)))
    found: dict[tuple[str, str], Figures] = {}
    for op in ("get", "put"):
        async def one(r: random.Random, store: Store, op: str = op) -> None:
            i = r.randrange(len(keys))
            if op == "get":
                if await store.get(keys[i]) is None:
                    raise SystemExit(f"{store.name}: a stored frame was not found")
            else:
                await store.put(keys[i], f"t{i % 20}", bodies[r.randrange(8)])

        for store in stores:
            found[(store.name, op)] = Figures([], 0.0)
        for _ in range(max(1, round(seconds / SLICE_S))):  # in turns, so the machine's ups and downs hit every store
            for store in stores:
                f = await run(functools.partial(one, store=store), clients, SLICE_S)
                found[(store.name, op)].latencies.extend(f.latencies)
                found[(store.name, op)].seconds += f.seconds
    return found


@asynccontextmanager
async def postgres(url: str | None) -> AsyncIterator[list[PostgresStore]]:
    """The scratch UNLOGGED tables on DATABASE_URL, or on a fresh embedded server in a temp dir: the body as
    PostgreSQL stores a bytea by default (compressed by TOAST past ~2 KB), and stored as it is (STORAGE EXTERNAL)."""
    embedded = None
    with tempfile.TemporaryDirectory(prefix="sm-cache-bench-") as tmp:
        if url is None:
            from success_metrics.storage.embedded import EmbeddedPostgres

            embedded = EmbeddedPostgres(Path(tmp))
            embedded.start()
            url = embedded.admin_dsn
        try:
            pool = await asyncpg.create_pool(url, min_size=16, max_size=16)
            try:
                for table, storage in VARIANTS:
                    await pool.execute(f"CREATE UNLOGGED TABLE {table} (key text PRIMARY KEY, tenant_id text NOT "
                                       "NULL, expires_at timestamptz NOT NULL, body bytea NOT NULL)")
                    if storage:
                        await pool.execute(f"ALTER TABLE {table} ALTER COLUMN body SET STORAGE {storage}")
                yield [PostgresStore(pool, table, f"PG UNLOGGED {storage or 'default'}") for table, storage in VARIANTS]
            finally:
                for table, _ in VARIANTS:
                    await pool.execute(f"DROP TABLE IF EXISTS {table}")
                await pool.close()
        finally:
            if embedded is not None:
                embedded.stop()


def start_redis(exe: str, port: int, directory: str) -> subprocess.Popen[bytes]:
    """A cache's Redis: no snapshots, no append-only file."""
    return subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
                             "--appendonly", "no", "--maxmemory", "1gb"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@asynccontextmanager
async def redis_server() -> AsyncIterator[RedisStore | None]:
    """Debian's redis-server on a free loopback port in a temp dir (no persistence), or None when it or redis-py
    is missing."""
    exe = shutil.which("redis-server")
    try:
        import redis.asyncio as aioredis
    except ImportError:
        print("Redis skipped: redis-py is not installed (pip install -e '.[bench]')")
        yield None
        return
    if exe is None:
        print("Redis skipped: redis-server is not installed (Debian: apt-get install -y redis-server)")
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sm-redis-bench-") as tmp:
        server = start_redis(exe, port, tmp)
        client = aioredis.Redis(host="127.0.0.1", port=port,
                                connection_pool=aioredis.BlockingConnectionPool(host="127.0.0.1", port=port,
                                                                                max_connections=16))
        try:
            for _ in range(100):
                try:
                    await client.ping()
                    break
                except aioredis.ConnectionError:
                    await asyncio.sleep(0.1)
            else:
                raise SystemExit("redis-server did not answer in 10 s")
            version = (await client.info("server"))["redis_version"]
            print(f"redis-server {version} on 127.0.0.1:{port} (started here, persistence off)")
            yield RedisStore(client)
        finally:
            await client.aclose()
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def line(name: str, op: str, f: Figures) -> str:
    return (f"    {name:<24} {op}  p50 {pct(f.latencies, 50):7.2f} ms  p95 {pct(f.latencies, 95):7.2f} ms  "
            f"{f.rate:8.0f} ops/s")


async def main(args: argparse.Namespace) -> None:
    async with postgres(args.database_url) as pgs, redis_server() as rd:
        version = await pgs[0].pool.fetchval("SHOW server_version")
        print(f"PostgreSQL {version} ({'DATABASE_URL' if args.database_url else 'embedded, fresh temp dir'}); "
              f"{args.seconds:.0f} s a measurement; figures from one run on a shared machine: compare the ratios")
        stores: list[Store] = [*pgs] if rd is None else [*pgs, rd]
        for size in args.sizes:
            for clients in (1, 16):
                found = await measure(stores, size, clients, args.seconds)
                print(f"{size / 1000:g} KB frames, {LABELS[clients]}:")
                for op in ("get", "put"):
                    for store in stores:
                        print(line(store.name, op, found[(store.name, op)]))
                    if rd is not None:
                        r = found[(rd.name, op)]
                        print(f"    Redis / PostgreSQL {op}: " + ", ".join(
                            f"{r.rate / p.rate if p.rate else float('inf'):.2f}x the throughput of {pg.name}, p95 "
                            f"{pct(r.latencies, 95) / pct(p.latencies, 95):.2f}x"
                            for pg in pgs for p in [found[(pg.name, op)]]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(KEYS), choices=sorted(KEYS))
    asyncio.run(main(parser.parse_args()))
