"""The service while its database goes away: every answer is a success or a 503 with Retry-After, the embedded
server is started again when it dies, and no server outlives a killed service.

These tests run their own embedded PostgreSQL (a data dir of their own), so killing it disturbs no other test.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from success_metrics.guard import audit_writer
from success_metrics.server.app import create_app
from success_metrics.server.services import Services
from success_metrics.settings import Settings, TenantConfig
from success_metrics.storage.embedded import EmbeddedPostgres
from success_metrics.rbac import audit, dev_issuer, keys
from tests.datasource.event_samples import one_of_each
from tests.datasource.grafana_shapes import fixture

TENANT = "faults"


@dataclass
class Own:
    services: Services
    client: httpx.AsyncClient
    ingest_key: str
    token: str

    @property
    def embedded(self) -> EmbeddedPostgres:
        assert self.services.embedded is not None
        return self.services.embedded


@pytest.fixture(scope="module")
async def own() -> AsyncIterator[Own]:
    """The service on an embedded PostgreSQL of its own, as `success-metrics serve` runs it (it owns the database)."""
    with tempfile.TemporaryDirectory(prefix="sm-faults-") as tmp:
        settings = Settings(data_dir=Path(tmp), dev_issuer_enabled=True, cache_warm=False,
                            tenants=(TenantConfig(id=TENANT, name="Faults"),))
        services = await Services.start(settings)
        app = create_app(settings, database=services.db)
        app.state.services = services
        async with services.db.tenant(TENANT) as conn:
            _, secret = await keys.create_key(conn, TENANT, "ingest", "engine")
        token = dev_issuer.mint(settings.data_dir, TENANT, "executive", issuer=settings.dev_issuer,
                                audience=settings.dev_audience)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60)
        try:
            yield Own(services, client, secret, token)
        finally:
            await client.aclose()
            await services.stop()


async def until(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        await asyncio.sleep(0.05)


async def ready(own: Own) -> bool:
    return (await own.client.get("/readyz")).status_code == 200


def query_body() -> dict[str, Any]:
    """A stat panel over a range no other request asks for, so it is computed (it reads the database)."""
    body = fixture("stat_panel")
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=random.randrange(500_000))
    body["range"] = {"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}
    return body


async def terminate_backends(own: Own) -> int:
    """What an operator's pg_terminate_backend or a failover does to every connection of the service."""
    admin = await asyncpg.connect(own.embedded.admin_dsn)
    try:
        return int(await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"))
    finally:
        await admin.close()


async def test_every_answer_is_a_success_or_503_while_the_database_restarts(own: Own) -> None:
    statuses: Counter[tuple[str, int]] = Counter()
    without_retry_after: list[str] = []
    accepted: set[str] = set()
    running = True

    async def send(path: str, what: str, **kw: Any) -> httpx.Response:
        r = await own.client.post(path, **kw)
        statuses[(what, r.status_code)] += 1
        if r.status_code == 503 and "retry-after" not in r.headers:
            without_retry_after.append(r.text)
        # a refused connection fails without waiting on anything, so a request can end without yielding to the
        # event loop; the pause (a client's Retry-After, scaled down) lets the rest of the test run
        await asyncio.sleep(0.01 if r.status_code == 503 else 0)
        return r

    async def ingester(worker: int) -> None:
        n = 0
        while running:
            n += 1
            events = one_of_each(f"w{worker}-{n}", lead=f"lead-{worker}-{n}")
            r = await send("/api/ingest/events", "ingest", json=events,
                           headers={"Authorization": f"Bearer {own.ingest_key}"})
            if r.status_code in (200, 207):
                accepted.update(e["id"] for e in events)

    async def querier() -> None:
        while running:
            await send("/query", "query", json=query_body(), headers={"Authorization": f"Bearer {own.token}"})

    load = [asyncio.create_task(ingester(i)) for i in range(3)] + [asyncio.create_task(querier()) for _ in range(3)]
    try:
        for _ in range(2):
            await asyncio.sleep(0.4)
            assert await terminate_backends(own) > 0
        await asyncio.sleep(0.4)
        await asyncio.to_thread(own.embedded.stop)  # the server goes away under load, and comes back
        await asyncio.sleep(0.3)
        await asyncio.to_thread(own.embedded.start)
        await asyncio.sleep(0.4)
    finally:
        running = False
        await asyncio.gather(*load)

    assert {status for _, status in statuses} <= {200, 207, 503}, statuses
    assert not without_retry_after
    assert statuses[("ingest", 503)] + statuses[("query", 503)] > 0, f"the faults were not felt: {statuses}"
    assert statuses[("ingest", 200)] > 0 and statuses[("query", 200)] > 0, statuses

    await until(lambda: ready(own), 15, "ready again")
    r = await own.client.post("/api/ingest/events", json=one_of_each("after", lead="lead-after"),
                              headers={"Authorization": f"Bearer {own.ingest_key}"})
    assert r.status_code == 200, r.text
    r = await own.client.post("/query", json=query_body(), headers={"Authorization": f"Bearer {own.token}"})
    assert r.status_code == 200, r.text
    async with own.services.db.tenant(TENANT) as conn:
        stored = {row["event_id"] for row in await conn.fetch("SELECT event_id FROM events")}
    assert accepted and not accepted - stored, f"{len(accepted - stored)} accepted events were lost"


async def test_a_kept_audit_connection_that_the_server_closed_is_not_used(own: Own) -> None:
    """The audit writer keeps connections between rounds; when the server closes one, asyncpg takes it back into
    the pool by itself, and the writer must notice rather than call into the detached object."""
    db = own.services.db
    rec = audit.AuditRecord(tenant_id=TENANT, action="test.kept", outcome="success", status=200)
    await audit_writer.record(db, rec)  # the round's connection is now kept by the writer
    writer = audit_writer._writers[db]
    assert writer._idle, "the writer keeps its connection between rounds"
    kept = writer._idle[-1]
    closed = asyncio.Event()
    kept.add_termination_listener(lambda _: closed.set())
    admin = await asyncpg.connect(own.embedded.admin_dsn)
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", kept.get_server_pid())
    finally:
        await admin.close()
    await asyncio.wait_for(closed.wait(), 5)  # asyncpg has seen the connection close (and taken it back)
    await audit_writer.record(db, rec)  # a fresh connection; before, InterfaceError: released back to the pool


async def _async(value: bool) -> bool:
    return value


async def test_a_killed_embedded_postmaster_is_started_again(own: Own) -> None:
    supervisor = getattr(own.services, "supervisor", None)
    if supervisor is not None:
        supervisor.interval_s = 0.05  # instead of every second
    restarts = supervisor.restarts if supervisor is not None else 0
    await until(lambda: ready(own), 15, "ready before")
    old = _postmaster(own.services.settings.data_dir)
    assert old is not None
    old.send_signal(signal.SIGKILL)

    healthz: list[tuple[int, str]] = []

    async def down() -> bool:
        r = await own.client.get("/readyz")
        if r.status_code == 503:
            assert r.headers["retry-after"] and r.json()["database"] == "down"
            h = await own.client.get("/healthz")
            healthz.append((h.status_code, h.json()["database"]))
        return r.status_code == 503

    await until(down, 10, "readyz 503 once the server is gone")
    await until(lambda: ready(own), 30, "readyz 200 again")
    # the server accepts connections a moment before the wheel's start returns to the supervisor
    assert supervisor is not None
    await until(lambda: _async(supervisor.restarts == restarts + 1), 10, "the supervisor counts one restart")
    new = _postmaster(own.services.settings.data_dir)
    assert new is not None and new.pid != old.pid
    assert healthz and healthz[0][0] == 200, "liveness stays 200: restarting the service would not help"
    assert ("down" in {db for _, db in healthz}) or (await own.client.get("/healthz")).json()["database"] == "up"
    r = await own.client.post("/query", json=query_body(), headers={"Authorization": f"Bearer {own.token}"})
    assert r.status_code == 200, r.text
    assert (await own.client.get("/healthz")).json() == {"status": "ok", "detail": None, "warm": None,
                                                         "warming": None, "database": "up"}
    supervisor.interval_s = 1.0


async def test_with_database_url_the_service_follows_the_server_down_and_back_up(own: Own) -> None:
    """A service on DATABASE_URL (the embedded server of ``own`` stands in for a server of its own) answers 503 while
    the server is away and is ready again once it is back, with no request needed to find out."""
    with tempfile.TemporaryDirectory(prefix="sm-url-") as tmp:
        settings = Settings(database_url=own.embedded.dsn, data_dir=Path(tmp), cache_warm=False)
        services = await Services.start(settings)
        supervisor = getattr(services, "supervisor", None)
        if supervisor is not None:
            supervisor.interval_s, supervisor.backoff_max_s = 0.05, 0.2
        app = create_app(settings, database=services.db)
        app.state.services = services
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        try:
            assert (await client.get("/readyz")).status_code == 200
            await asyncio.to_thread(own.embedded.stop)
            down = await client.get("/readyz")
            assert down.status_code == 503 and down.headers["retry-after"]
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["database"] == "down"
            assert health.json()["status"] == "degraded"
            await asyncio.to_thread(own.embedded.start)
            # no request: the supervisor's probe finds the server back
            await until(lambda: _async(services.db.health.up), 15, "the probe reaches the server again")
            assert (await client.get("/healthz")).json()["database"] == "up"
            assert (await client.get("/readyz")).status_code == 200
        finally:
            await client.aclose()
            await services.stop()
    await until(lambda: ready(own), 15, "the owning service is ready again too")


def test_supervisor_backs_off_to_its_cap() -> None:
    from success_metrics.storage.supervise import Supervisor

    supervisor = Supervisor(db=None, embedded=None, interval_s=0.5, backoff_max_s=10)  # type: ignore[arg-type]
    delays = []
    for attempts in range(7):
        supervisor._attempts = attempts
        delays.append(supervisor.delay())
    assert delays == [0.5, 1, 2, 4, 8, 10, 10]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postmaster(data_dir: Path) -> psutil.Process | None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        proc = psutil.Process(int(pid_file.read_text().split()[0]))
    except psutil.NoSuchProcess:
        return None
    return proc if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE else None


def test_a_server_left_by_a_killed_service_is_stopped_by_the_next_clean_stop() -> None:
    # not pytest's tmp_path: another pytest session of the same user makes its parent 0700 again, and the server
    # runs as another user when the tests run as root (as conftest's data_dir does)
    with tempfile.TemporaryDirectory(prefix="sm-killed-") as tmp:
        _killed_service_then_clean_stop(Path(tmp))


def _killed_service_then_clean_stop(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "SM_DATA_DIR": str(tmp_path), "SM_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    exe = Path(sys.executable).with_name("success-metrics")
    log = (tmp_path / "serve.log").open("wb")
    service = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=log)
    left: psutil.Process | None = None
    try:
        deadline = time.monotonic() + 60
        while True:
            assert service.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.1)
        service.send_signal(signal.SIGKILL)
        service.wait(10)
        left = _postmaster(tmp_path)
        assert left is not None, "the killed service's PostgreSQL is still running (the premise)"

        again = EmbeddedPostgres(tmp_path)
        again.start()
        adopted = _postmaster(tmp_path)
        assert adopted is not None and adopted.pid == left.pid  # not a second server on the same data
        again.stop()
        left.wait(10)  # raises TimeoutExpired if the stop left it running
        assert _postmaster(tmp_path) is None
    finally:
        log.close()
        if service.poll() is None:
            service.kill()
            service.wait()
        if left is not None and left.is_running() and left.status() != psutil.STATUS_ZOMBIE:
            left.terminate()  # what the test started; never leak it
