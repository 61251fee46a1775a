"""Replicas share computed frames (success_metrics/query/shared_cache.py, storage/frame_cache.py): a frame computed
by one is served by another without computing; a cold key asked on two at once is computed once; invalidation
reaches every replica's in-process layer (also from an ingest outside any service, as the CLI's); a corrupt or
expired row is computed anew; a row never answers another tenant's key. All on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from success_metrics.calculators import (
    Column,
    ColumnType,
    Dimension,
    Frame,
    Kind,
    MetricName,
    MetricQuery,
    RowScope,
    ScopedQuery,
    TenantId,
)
from success_metrics.ingest.intake import ingest
from success_metrics.ingest.writer import Source
from success_metrics.query import frame_codec
from success_metrics.query.cache import ResultCache
from success_metrics.query.shared_cache import SharedFrames, key_text
from success_metrics.server.app import create_app
from success_metrics.server.services import Services
from success_metrics.settings import Settings, TenantConfig
from success_metrics.storage import frame_cache, tenants
from success_metrics.storage.pool import Database
from tests.datasource.grafana_shapes import fixture

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEADLINE_S = 5.0  # generous: a notice arrives in milliseconds, but the machine is shared


def key(tenant: str, metric: str = "leads.volume") -> ScopedQuery:
    end = NOW - timedelta(days=30)  # a closed period
    return ScopedQuery(TenantId(tenant), MetricQuery(metric=MetricName(metric), start=end - timedelta(days=1), end=end))


def frame(value: float) -> Frame:
    return Frame("f", Kind.TIMESERIES, (Column("v", ColumnType.NUMBER, (value, value + 1)),))


class Compute:
    """A computation that counts its calls and, when ``gate`` is given, waits for it."""

    def __init__(self, value: float, gate: asyncio.Event | None = None) -> None:
        self.value, self.gate, self.calls = value, gate, 0
        self.started = asyncio.Event()

    async def __call__(self) -> Frame:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return frame(self.value)


async def never() -> Frame:
    raise AssertionError("computed, though another replica's frame was there")


@pytest.fixture
async def replica(db: Database) -> AsyncIterator[Callable[[], ResultCache]]:
    """``replica()``: the result cache of one more replica on the session database, taking part in single-flight."""
    made: list[SharedFrames] = []

    def make() -> ResultCache:
        shared = SharedFrames(db, poll_s=(0.01,))
        dsn = db.dsn
        assert dsn is not None
        shared.lock_with(lambda: asyncpg.connect(dsn))
        made.append(shared)
        return ResultCache(ttl_live_s=15, ttl_closed_s=900, now=lambda: NOW, shared=shared)

    yield make
    for shared in made:
        await shared.close()


async def within(check: Callable[[], bool]) -> None:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < DEADLINE_S, f"not seen within {DEADLINE_S} s"
        await asyncio.sleep(0.01)


def test_the_key_is_the_whole_query_as_text_tenant_first() -> None:
    assert key_text(key("acme")) == key_text(key("acme"))  # equal keys built apart: equal text
    assert key_text(key("acme")).startswith('["acme",')
    assert len({key_text(key("acme")), key_text(key("acme2")), key_text(key("acme", "roi.monthly"))}) == 3


async def test_a_frame_computed_by_one_replica_is_served_by_another(replica: Callable[[], ResultCache],
                                                                     new_tenant_id: Any) -> None:
    a, b = replica(), replica()
    k = key(new_tenant_id("shared"))
    computed = await a.get_or_compute(k, Compute(7.0))
    served = await b.get_or_compute(k, never)
    assert served == computed == frame(7.0)
    assert (b.stats.shared, b.stats.misses) == (1, 1)
    assert await b.get_or_compute(k, never) == served and b.stats.hits == 1  # now in B's own layer


async def test_cold_requests_on_two_replicas_at_once_compute_once(replica: Callable[[], ResultCache],
                                                                  new_tenant_id: Any) -> None:
    a, b = replica(), replica()
    k = key(new_tenant_id("flight"))
    gate = asyncio.Event()
    on_a = Compute(3.0, gate)
    first = asyncio.create_task(a.get_or_compute(k, on_a))
    await asyncio.wait_for(on_a.started.wait(), DEADLINE_S)  # A computes, holding the key's lock
    second = asyncio.create_task(b.get_or_compute(k, never))
    assert b.shared is not None
    await within(lambda: b.shared is not None and b.shared.waiting == 1)  # B waits for A's frame
    gate.set()
    assert await first == await second == frame(3.0)
    assert on_a.calls == 1 and b.stats.shared == 1 and b.shared.waited == 1


async def test_a_lock_connection_cut_by_the_server_is_replaced(replica: Callable[[], ResultCache], db: Database,
                                                                new_tenant_id: Any) -> None:
    a, b = replica(), replica()
    tid = new_tenant_id("cut")
    await a.get_or_compute(key(tid, "roi.monthly"), Compute(1.0))  # A's lock connection is open
    assert a.shared is not None and a.shared._locks is not None and a.shared._locks._conn is not None
    pid = a.shared._locks._conn.get_server_pid()
    async with db.system() as conn:
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", pid) == 0
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid, timeout=DEADLINE_S)  # as a restart does
    gate = asyncio.Event()
    on_a = Compute(3.0, gate)
    first = asyncio.create_task(a.get_or_compute(key(tid), on_a))
    await asyncio.wait_for(on_a.started.wait(), 30.0)  # a reconnection: slow on a loaded machine
    second = asyncio.create_task(b.get_or_compute(key(tid), never))
    await within(lambda: b.shared is not None and b.shared.waiting == 1)  # A holds the lock on a new connection
    gate.set()
    assert await first == await second == frame(3.0)


async def test_the_waiter_computes_itself_when_the_holder_fails(replica: Callable[[], ResultCache],
                                                                new_tenant_id: Any) -> None:
    a, b = replica(), replica()
    k = key(new_tenant_id("failed"))
    gate, started = asyncio.Event(), asyncio.Event()

    async def failing() -> Frame:
        started.set()
        await gate.wait()
        raise RuntimeError("the computation failed")

    first = asyncio.create_task(a.get_or_compute(k, failing))
    await asyncio.wait_for(started.wait(), DEADLINE_S)  # A computes, holding the key's lock
    on_b = Compute(4.0)
    second = asyncio.create_task(b.get_or_compute(k, on_b))
    await within(lambda: b.shared is not None and b.shared.waiting == 1)
    gate.set()
    with pytest.raises(RuntimeError):
        await first
    assert await second == frame(4.0) and on_b.calls == 1


async def test_a_corrupt_or_expired_row_is_computed_anew(replica: Callable[[], ResultCache], db: Database,
                                                         new_tenant_id: Any) -> None:
    a, b, c = replica(), replica(), replica()
    tid = new_tenant_id("corrupt")
    k = key(tid)
    await a.get_or_compute(k, Compute(1.0))
    async with db.tenant(tid) as conn:
        await conn.execute("UPDATE frame_cache SET body = $1", b"\x80\x04pickled?")
    again = Compute(2.0)
    assert await b.get_or_compute(k, again) == frame(2.0)
    assert again.calls == 1 and b.stats.corrupt == 1 and b.stats.shared == 0
    async with db.tenant(tid) as conn:  # ... and the recomputed frame replaced the corrupt row
        body = await conn.fetchval("SELECT body FROM frame_cache")
        assert frame_codec.decode(body) == frame(2.0)
        await conn.execute("UPDATE frame_cache SET expires_at = now() - interval '1 second'")
    late = Compute(5.0)
    assert await c.get_or_compute(k, late) == frame(5.0) and late.calls == 1


async def test_a_row_never_answers_another_tenants_key(replica: Callable[[], ResultCache], db: Database,
                                                       new_tenant_id: Any) -> None:
    a, b = replica(), replica()
    mine, theirs = new_tenant_id("mine"), new_tenant_id("theirs")
    await a.get_or_compute(key(mine), Compute(9.0))
    async with db.system() as conn:
        body = await conn.fetchval("SELECT body FROM frame_cache WHERE tenant_id = $1", mine)
        other = key_text(key(theirs))
        # filed under my tenant with their key and hash; and under theirs with their hash but my full key
        await conn.execute("INSERT INTO frame_cache VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'), $2, "
                           "now() + interval '1 hour', $3)", mine, other, body)
        await conn.execute("INSERT INTO frame_cache VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'), $3, "
                           "now() + interval '1 hour', $4)", theirs, other, key_text(key(mine)), body)
    own = Compute(8.0)
    assert await b.get_or_compute(key(theirs), own) == frame(8.0)
    assert own.calls == 1 and b.stats.shared == 0


async def test_expired_rows_are_swept_a_bounded_batch_at_a_time(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("sweep")
    async with db.system() as conn:
        for i, age in enumerate(("-1 hour", "-1 hour", "-1 hour", "+1 hour")):
            await conn.execute(f"INSERT INTO frame_cache VALUES ($1, $2, $2, now() + interval '{age}', '')", tid,
                               f"k{i}")
        assert await frame_cache.sweep(conn, 1) == 1
        while await frame_cache.sweep(conn, 1000):
            pass
        left = await conn.fetch("SELECT key FROM frame_cache WHERE tenant_id = $1", tid)
    assert [r["key"] for r in left] == ["k3"]


async def test_a_frame_computed_after_an_invalidation_began_is_not_written(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("race")
    async with db.tenant(tid) as conn:
        since = await conn.fetchval("SELECT now()")
    async with db.tenant(tid) as conn:
        await frame_cache.invalidate(conn, tid)
    async with db.tenant(tid) as conn:
        assert not await frame_cache.write(conn, tid, "k", "k", b"old", 60, since)
        assert await frame_cache.write(conn, tid, "k", "k", b"new", 60, await conn.fetchval("SELECT now()"))


# ---- whole services: two apps on one database, each with its own listener --------------------------------------

Replica = tuple[httpx.AsyncClient, Services]


@pytest.fixture
async def services(db: Database, base_settings: Settings) -> AsyncIterator[Callable[..., Awaitable[Replica]]]:
    started: list[Replica] = []

    async def start(tenant: TenantConfig, **overrides: Any) -> Replica:
        settings = base_settings.model_copy(update={"tenants": (tenant,), **overrides})
        app = create_app(settings, database=db)
        svc = await Services.start(settings, db, listen=True)
        async with db.system() as conn:
            await tenants.upsert(conn, tenant)
        app.state.services = svc
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        started.append((client, svc))
        return client, svc

    yield start
    for client, svc in started:
        await client.aclose()
        await svc.stop()


def query_body() -> dict[str, Any]:
    body: dict[str, Any] = fixture("table_panel")
    body["targets"][0]["target"] = "sources.performance"
    return body


async def test_replicas_share_frames_and_an_ingest_into_a_closed_day_reaches_every_replica(
        services: Callable[..., Awaitable[Replica]], new_tenant_id: Any, token_for: Any) -> None:
    tid = new_tenant_id("svc")
    tenant = TenantConfig(id=tid, name="Svc")
    (a, sa), (b, sb) = await services(tenant), await services(tenant)
    headers = {"Authorization": f"Bearer {token_for(tid, 'executive')}"}
    first = await a.post("/query", json=query_body(), headers=headers)
    second = await b.post("/query", json=query_body(), headers=headers)
    assert first.status_code == second.status_code == 200 and first.json() == second.json()
    assert sb.cache.stats.shared == 1 and len(sb.cache) == 1  # B served A's frame, and keeps it
    # events of today leave the frames alone (closed periods they touch are recomputed within cache_ttl_closed_s)
    now = datetime.now(UTC).isoformat()
    event = {"id": "now-1", "type": "lead.enriched", "occurred_at": now, "lead_id": "L", "data": {"ok": True}}
    assert (await ingest(sa.db, tid, [event], source=Source.API)).accepted == 1
    async with sa.db.tenant(tid) as conn:
        assert await conn.fetchval("SELECT count(*) FROM frame_cache") == 1
    # an ingest outside both services (as the CLI backfill runs) into a closed day: every replica forgets the tenant
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    event = {"id": "late-1", "type": "lead.enriched", "occurred_at": yesterday, "lead_id": "L", "data": {"ok": True}}
    assert (await ingest(sa.db, tid, [event], source=Source.CLI)).accepted == 1
    await within(lambda: len(sa.cache) == 0 and len(sb.cache) == 0)
    async with sa.db.tenant(tid) as conn:
        assert await conn.fetchval("SELECT count(*) FROM frame_cache") == 0


async def test_a_backfill_shows_its_new_values_in_every_replicas_variables_at_once(
        services: Callable[..., Awaitable[Replica]], new_tenant_id: Any) -> None:
    tid = new_tenant_id("dims")
    tenant = TenantConfig(id=tid, name="Dims")
    (_, sa), (_, sb) = await services(tenant), await services(tenant)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    def created(event_id: str, source: str) -> dict[str, Any]:
        return {"id": event_id, "type": "lead.created", "occurred_at": yesterday, "lead_id": event_id,
                "data": {"source": source}}

    async def listed() -> list[str]:
        return [v for v, _ in await sb.answers.dimensions.get(tid, Dimension.SOURCE, RowScope())]

    assert (await ingest(sa.db, tid, [created("d-1", "referral")], source=Source.CLI)).accepted == 1
    assert await listed() == ["referral"]
    # kept for a live frame's lifetime (15 s), but a backfill into a closed day tells every replica to forget them
    assert (await ingest(sa.db, tid, [created("d-2", "website_form")], source=Source.CLI)).accepted == 1
    for _ in range(200):  # 10 s, well inside the 15 s the values are otherwise kept
        if await listed() == ["referral", "website_form"]:
            break
        await asyncio.sleep(0.05)
    assert await listed() == ["referral", "website_form"]


async def test_invalidating_on_one_replica_drops_the_others_frames(services: Callable[..., Awaitable[Replica]],
                                                                    new_tenant_id: Any) -> None:
    tid, other = new_tenant_id("inv"), new_tenant_id("inv-other")
    tenant = TenantConfig(id=tid, name="Inv")
    (_, sa), (_, sb) = await services(tenant), await services(tenant)
    await sa.cache.get_or_compute(key(tid), Compute(1.0))
    await sb.cache.get_or_compute(key(tid), never)
    await sb.cache.get_or_compute(key(other), Compute(2.0))
    assert key(tid) in sb.cache
    await sa.cache.invalidate(tid)
    await within(lambda: key(tid) not in sb.cache)
    assert key(other) in sb.cache  # another tenant's frames stay


async def test_without_the_shared_layer_each_replica_computes_its_own(services: Callable[..., Awaitable[Replica]],
                                                                        new_tenant_id: Any) -> None:
    tid = new_tenant_id("off")
    (_, sa), (_, sb) = (await services(TenantConfig(id=tid, name="Off"), shared_cache=False),
                        await services(TenantConfig(id=tid, name="Off"), shared_cache=False))
    assert sa.cache.shared is None
    await sa.cache.get_or_compute(key(tid), Compute(1.0))
    own = Compute(2.0)
    assert await sb.cache.get_or_compute(key(tid), own) == frame(2.0) and own.calls == 1


async def test_a_tenant_whose_configured_settings_changed_is_reported_so(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("conf")
    async with db.system() as conn:
        assert await tenants.upsert(conn, TenantConfig(id=tid, name="Conf"))  # new
        assert not await tenants.upsert(conn, TenantConfig(id=tid, name="Conf"))  # as it was: frames stay
        changed = TenantConfig.model_validate({"id": tid, "name": "Conf", "settings": {"hourly_rate": 99}})
        assert await tenants.upsert(conn, changed)  # open_database then invalidates its frames
