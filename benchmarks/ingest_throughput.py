"""Ingest throughput into a database that already holds a 24-month history, against PostgreSQL's COPY ceiling.

    python benchmarks/ingest_throughput.py [--events 100000] [--batch-size 5000] [--senders 2] [--rounds 1]
                                           [--months 24] [--history-tenants 8 --history-scale 2.0] [--data-dir DIR]

1. The history: ``benchmarks/dataset.py``'s data set (built once under --data-dir, here at a modest scale by
   default; its size is printed), so every insert lands in tables and indexes of realistic size.
2. The events: demo events of one more tenant over the last --months (24: a backfill, where almost every event
   opens a rollup row of its own; 1: a busy month, as a live sender's), as NDJSON batches (not timed).
3. Each round, measured back to back on the same machine (so compare the ratios, not absolute figures):
   - COPY: ``copy_records_to_table`` of the same events into ``events`` under a second tenant id, one
     committed COPY per batch (records built beforehand);
   - COPY + parse: the same, with each batch's NDJSON parsed into records inside the timing;
   - the service: ``success-metrics serve`` as its own process, the batches POSTed to /api/ingest/events
     by --senders concurrent clients with an ingest key; each answer is sent after its batch committed;
   - the service again, the same batches (all duplicates: the idempotent path).
   The bench tenants' rows are deleted after each round, so the history stays as it was.

The server runs with the cache warmer, the dashboard self-check and the ingest rate limit off: this measures
ingest, not the background work beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dataset import DatasetInfo, bench_database, ensure_dataset
from benchmarks.service_process import embedded_dsn, free_port, start_server, wait_ready
from success_metrics.rbac import keys
from success_metrics.storage import tenants as tenant_store
from success_metrics.tools import demo

SENT = "ingest-bench"  # the tenant the service ingests for
COPIED = "ingest-copy"  # the tenant id the COPY baseline stores the same events under
# every table ingest writes a tenant's rows to; emptied of the bench tenants after each round
INGEST_TABLES = ("events", "event_ids", "leads", "rollups", "component_calls", "contact_attempts", "agents", "teams",
                 "locations", "ingest_batches", "ingest_tallies")
COLUMNS = ("tenant_id", "occurred_at", "event_id", "type", "lead_id", "agent_id", "payload")


@dataclass
class Phase:
    rate: float  # events/s, wall clock
    python_ms: float  # CPU ms per 1,000 events of the service process (for COPY: the client's)
    postgres_ms: float  # CPU ms per 1,000 events of PostgreSQL's processes

    @property
    def ms_per_1000(self) -> float:
        return self.python_ms + self.postgres_ms


@dataclass
class Round:
    copy: Phase
    copy_parse: Phase
    service: Phase
    resend: Phase


class CpuMeter:
    """CPU seconds (user + system) of the service process and of PostgreSQL's processes: on a machine shared with
    other work, a cost that the others move far less than they move wall-clock rates. Backends that exit between
    two samples are lost, so COPY's connection is sampled before it closes."""

    def __init__(self, server: int, postmaster: int | None) -> None:
        self.server, self.postmaster = server, postmaster

    def sample(self) -> dict[int, float]:
        procs = [psutil.Process(self.server)]
        if self.postmaster is not None:
            procs += psutil.Process(self.postmaster).children()
        seconds = {}
        for proc in procs:
            try:
                t = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            seconds[proc.pid] = t.user + t.system
        return seconds

    def since(self, before: dict[int, float]) -> tuple[float, float]:
        """(the service's, PostgreSQL's) CPU seconds since ``before``."""
        spent = {pid: t - before.get(pid, 0.0) for pid, t in self.sample().items()}
        service = spent.pop(self.server, 0.0)
        return service, sum(spent.values())


def postmaster_pid(data_dir: Path) -> int | None:
    pidfile = data_dir / "postgres" / "postmaster.pid"
    return None if os.environ.get("DATABASE_URL") or not pidfile.exists() else int(pidfile.read_text().split()[0])


def make_batches(tenant: str, end: datetime, wanted: int, batch_size: int, months: int) -> list[bytes]:
    """``wanted`` demo events over the last ``months``, as NDJSON bodies of ``batch_size`` events."""
    profile = demo.profile(tenant)
    scale = wanted / 50_000 * 24 / months  # one tenant at scale 1 gives ~60-70k events in 24 months: some to spare
    lines: list[bytes] = []
    for day in demo.generate(profile, seed=11, months=months, end=end, scale=scale):
        lines.extend(json.dumps(event, separators=(",", ":")).encode() for event in day)
        if len(lines) >= wanted:
            break
    lines = lines[:wanted]
    return [b"\n".join(lines[i:i + batch_size]) + b"\n" for i in range(0, len(lines), batch_size)]


def records(body: bytes, tenant: str) -> list[tuple[Any, ...]]:
    """A batch's NDJSON as rows of ``events`` (payload: the event's data, as the service stores it)."""
    rows = []
    for line in body.splitlines():
        e = json.loads(line)
        rows.append((tenant, datetime.fromisoformat(e["occurred_at"]), e["id"], e["type"], e.get("lead_id"),
                     e.get("agent_id"), json.dumps(e["data"], separators=(",", ":"))))
    return rows


async def copy_rate(dsn: str, batches: list[bytes], meter: CpuMeter, *, parse: bool) -> Phase:
    """COPY the batches one committed COPY each; CPU: this process's (parsing, encoding) and PostgreSQL's."""
    conn = await asyncpg.connect(dsn)
    try:
        prepared = None if parse else [records(b, COPIED) for b in batches]
        count = 0
        cpu_before, client_before = meter.sample(), time.process_time()
        started = time.perf_counter()
        for i, body in enumerate(batches):
            rows = records(body, COPIED) if prepared is None else prepared[i]
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=rows, columns=COLUMNS)
            count += len(rows)
        seconds = time.perf_counter() - started
        _, postgres = meter.since(cpu_before)
        return Phase(count / seconds, (time.process_time() - client_before) / count * 1e6, postgres / count * 1e6)
    finally:
        await conn.close()


async def send_rate(client: aiohttp.ClientSession, secret: str, batches: list[bytes], senders: int,
                    expect: str, meter: CpuMeter) -> Phase:
    """POST every batch (``senders`` at a time); each must be answered 200 with all events ``expect``-ed."""
    queue = list(reversed(batches))
    counted = {"accepted": 0, "duplicates": 0}
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}

    async def sender() -> None:
        while queue:
            body = queue.pop()
            async with client.post("/api/ingest/events", data=body, headers=headers) as response:
                answer = await response.json()
                if response.status != 200:
                    raise SystemExit(f"ingest answered {response.status}: {answer}")
                for k in counted:
                    counted[k] += answer[k]

    cpu_before = meter.sample()
    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    seconds = time.perf_counter() - started
    service, postgres = meter.since(cpu_before)
    total = sum(b.count(b"\n") for b in batches)
    if counted[expect] != total:
        raise SystemExit(f"expected {total} {expect}, the service said {counted}")
    return Phase(total / seconds, service / total * 1e6, postgres / total * 1e6)


async def forget(dsn: str) -> None:
    """Delete the bench tenants' rows, so the next round (and run) inserts into the same history."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for table in INGEST_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE tenant_id = ANY($1::text[])", [SENT, COPIED])
    finally:
        await conn.close()


async def prepare(dsn: str) -> str:
    """The two bench tenants and a fresh ingest key for the one the service ingests for."""
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    try:
        for tenant in (SENT, COPIED):
            await tenant_store.upsert(conn, demo.profile(tenant).config())
        _, secret = await keys.create_key(conn, SENT, keys.KeyKind.INGEST, "ingest benchmark")
        return secret
    finally:
        await conn.close()


@asynccontextmanager
async def service(data_dir: Path) -> AsyncIterator[tuple[aiohttp.ClientSession, int]]:
    """``success-metrics serve`` on the data set, measuring ingest alone (no warmer, self-check or rate limit)."""
    config = {"cache_warm": False, "dashboard_check": False,
              "limits": {"ingest_requests_per_tenant": 1_000_000, "max_batch_events": 100_000,
                         "max_body_bytes": 1 << 30}}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as cfg:
        yaml.safe_dump(config, cfg)
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"sm-ingest-{port}.log"
    server = start_server(data_dir, os.environ.get("DATABASE_URL"), port, Path(cfg.name), log)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}",
                                         timeout=aiohttp.ClientTimeout(total=300)) as client:
            await wait_ready(client, server)
            yield client, server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        os.unlink(cfg.name)


async def history(data_dir: Path, tenants: int, scale: float) -> DatasetInfo:
    async with bench_database(data_dir) as db:
        info = await ensure_dataset(db, tenants=tenants, scale=scale, directory=data_dir,
                                    progress=lambda line: print(line, flush=True))
        async with db.system() as conn:
            size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('events')::bigint + "
                                       "coalesce((SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                                       "WHERE inhparent = 'events'::regclass), 0)::bigint)")
    print(f"history: {info.total_events:,} events of {len(info.tenants)} tenants over {info.months} months "
          f"(events table and indexes {size})", flush=True)
    return info


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    info = await history(data_dir, args.history_tenants, args.history_scale)
    batches = make_batches(SENT, info.end_time, args.events, args.batch_size, args.months)
    events = sum(b.count(b"\n") for b in batches)
    print(f"sending {events:,} events of the last {args.months} month(s) ({sum(map(len, batches)) / 1e6:.1f} MB "
          f"NDJSON) in {len(batches)} batches of {args.batch_size}, {args.senders} sender(s)", flush=True)
    rounds: list[Round] = []
    async with service(data_dir) as (client, server_pid):
        dsn = os.environ.get("DATABASE_URL") or embedded_dsn(data_dir)
        meter = CpuMeter(server_pid, postmaster_pid(data_dir))
        await forget(dsn)
        secret = await prepare(dsn)
        for n in range(args.rounds):
            copy = await copy_rate(dsn, batches, meter, parse=False)
            sent = await send_rate(client, secret, batches, args.senders, "accepted", meter)
            resend = await send_rate(client, secret, batches, args.senders, "duplicates", meter)
            await forget(dsn)
            copy_parse = await copy_rate(dsn, batches, meter, parse=True)
            await forget(dsn)
            rounds.append(Round(copy, copy_parse, sent, resend))
            print(f"round {n + 1}: {_figures(rounds[-1])}", flush=True)
    if len(rounds) > 1:
        middle = Round(*(Phase(*(statistics.median(getattr(getattr(r, f), m) for r in rounds)
                                 for m in ("rate", "python_ms", "postgres_ms")))
                         for f in ("copy", "copy_parse", "service", "resend")))
        print(f"median of {len(rounds)} (ratios of medians): {_figures(middle)}")


def _figures(r: Round) -> str:
    return (f"COPY {r.copy.rate:,.0f}/s, COPY+parse {r.copy_parse.rate:,.0f}/s, service {r.service.rate:,.0f}/s "
            f"({r.service.rate / r.copy.rate:.1%} of COPY, {r.service.rate / r.copy_parse.rate:.1%} of COPY+parse), "
            f"resend {r.resend.rate:,.0f}/s; CPU ms per 1,000 events: COPY {r.copy.ms_per_1000:.0f}, "
            f"COPY+parse {r.copy_parse.ms_per_1000:.0f}, service {r.service.ms_per_1000:.0f} "
            f"(Python {r.service.python_ms:.0f} + PostgreSQL {r.service.postgres_ms:.0f}) "
            f"(COPY's CPU / the service's {r.copy.ms_per_1000 / r.service.ms_per_1000:.1%}), "
            f"resend {r.resend.ms_per_1000:.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--senders", type=int, default=2, help="concurrent HTTP clients")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--months", type=int, default=24, choices=range(1, 25), metavar="1..24",
                        help="the events' span: 24 is a backfill (about one rollup row per event), 1 a busy month")
    parser.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "sm-ingest-bench"),
                        help="where the history and its embedded PostgreSQL live")
    parser.add_argument("--history-tenants", type=int, default=8)
    parser.add_argument("--history-scale", type=float, default=2.0)
    asyncio.run(main(parser.parse_args()))
