"""The service under load, as a process of its own: started on a loopback port, watched until its cache is
warm, and measured phases placed between (or, on request, across) the cache warmer's quarter-hour rounds.
Used by benchmarks/load.py and benchmarks/soak.py."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil
import yaml

PROMETHEUS_TOKEN = secrets.token_urlsafe(24)  # this run's, to read the service's lanes (busy_lanes)


def embedded_dsn(data_dir: Path) -> str:
    """Attach to the embedded server the service started under data_dir (for the look-ups and the baseline)."""
    from success_metrics.storage.embedded import EmbeddedPostgres

    return EmbeddedPostgres(data_dir).start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, dsn: str | None, port: int, config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SM_DATA_DIR": str(data_dir), "SM_CONFIG": str(config), "SM_LOG_LEVEL": "WARNING"}
    if dsn:
        env["DATABASE_URL"] = dsn
    exe = Path(sys.executable).with_name("success-metrics")
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would stall the server mid-run
        return subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=out)


async def wait_ready(client: aiohttp.ClientSession, server: subprocess.Popen[bytes], timeout: float = 1200,
                     warm: bool = True) -> None:
    """Until the service answers and (``warm``) its cache warmer has done its first round: users arrive on a
    running service, whose warmer has long since computed the dashboards (success_metrics/query/warmer.py)."""
    started = time.monotonic()
    ready = None
    while time.monotonic() < started + timeout:
        if server.poll() is not None:
            raise SystemExit("the server exited; see its log")
        try:
            async with client.get("/readyz") as response:
                if response.status == 200:
                    ready = ready or time.monotonic()
                    if not warm:
                        return
                    if (await response.json()).get("warm") in (True, None):
                        print(f"ready after {ready - started:.0f} s; cache warmed after {time.monotonic() - ready:.0f}"
                              " s more", flush=True)
                        return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit("server not ready in time")


async def quiet(client: aiohttp.ClientSession, seconds: float) -> None:
    """Start a measured phase only where no cache-warmer round falls within it (a round runs just after each
    quarter hour, ~75 s for 20 tenants): every phase, the raw-SQL one included, then runs on an otherwise idle
    machine, and the figures compare like with like. The rounds' own cost is reported by the server's log."""
    from success_metrics.query.warmer import next_round_in

    if next_round_in(datetime.now(UTC)) < seconds + 15:
        wait = next_round_in(datetime.now(UTC)) + 1
        print(f"        (waiting {wait:.0f} s for the quarter hour's warmer round, then for it to finish)", flush=True)
        await asyncio.sleep(wait)
    while True:
        async with client.get("/readyz") as response:
            if not (await response.json()).get("warming"):
                return
        await asyncio.sleep(1)


async def before_quarter(lead: float) -> None:
    """Wait until ``lead`` seconds before the next quarter hour (--across-quarter)."""
    from success_metrics.query.warmer import AFTER_STEP_S, next_round_in

    wait = next_round_in(datetime.now(UTC)) - AFTER_STEP_S - lead
    wait = wait if wait >= 0 else wait + 900
    print(f"        (waiting {wait:.0f} s, so the phase spans the turn of the quarter hour)", flush=True)
    await asyncio.sleep(wait)


async def busy_lanes(client: aiohttp.ClientSession) -> float:
    """Users' computations running or queued (the analytics and operational lanes), from /prometheus."""
    async with client.get("/prometheus", headers={"Authorization": f"Bearer {PROMETHEUS_TOKEN}"}) as response:
        text = await response.text()
    lanes = ("sm_compute_lane_running{", "sm_compute_lane_waiting{")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(lanes) and "background" not in line)


def rss_mb(server: subprocess.Popen[bytes]) -> float:
    proc = psutil.Process(server.pid)
    service = [proc, *[c for c in proc.children(recursive=True) if "postgres" not in c.name()]]
    return sum(p.memory_info().rss for p in service) / 1e6


@asynccontextmanager
async def serving(data_dir: Path, dsn: str | None, *, wait_warm: bool = True
                  ) -> AsyncIterator[tuple[subprocess.Popen[bytes], aiohttp.ClientSession]]:
    """``success-metrics serve`` on a free loopback port with the dev issuer enabled, ready and (``wait_warm``)
    warm, and a client for it; stopped (SIGTERM, then kill) on the way out."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as cfg:
        yaml.safe_dump({"dev_issuer_enabled": True, "prometheus_token": PROMETHEUS_TOKEN}, cfg)
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"sm-load-{port}.log"
    print(f"server log: {log}")
    server = start_server(data_dir, dsn, port, Path(cfg.name), log)
    # aiohttp, not httpx: on these 2 cores httpx spent a whole core generating the load (measured), a cost real
    # Grafana users put on their own machines. Idle connections are dropped before uvicorn's 5 s keep-alive
    # closes them, so no request races a close.
    connector = aiohttp.TCPConnector(limit=400, keepalive_timeout=4.0)
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=60)) as client:
            await wait_ready(client, server, warm=wait_warm)
            yield server, client
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        os.unlink(cfg.name)
