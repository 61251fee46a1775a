"""The warmer across restarts and replicas: when users last came is kept in the database (a new process, or another
replica, warms the tenants in use, most recent first), and each tenant is warmed by one replica per quarter hour,
with a dead replica's lease taken over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx

from success_metrics.query.activity import Activity
from success_metrics.query.warmer import RANGES, Warmer, dashboard_requests, quarter_of, warm_order
from success_metrics.server.services import Services
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource import seed
from tests.datasource.test_pipeline import services_of

NOW = datetime(2026, 3, 3, 9, 7, 12, tzinfo=UTC)  # the day after the seed day


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def seeded(db: Database, new_tenant_id: Callable[[str], str], n: int) -> list[str]:
    ids = [new_tenant_id("warm") for _ in range(n)]
    for tenant in ids:
        await seed.load(db, tenant)
    return ids


async def replica(make_client: Callable[..., Awaitable[httpx.AsyncClient]], *tenants: str) -> Services:
    """A service process of its own (its own cache and lease connection) on the shared database."""
    return services_of(await make_client(*(TenantConfig(id=t, name=t.title()) for t in tenants)))


async def test_notes_are_written_by_a_flush_not_by_each_request(db: Database,
                                                                new_tenant_id: Callable[[str], str]) -> None:
    [tenant] = await seeded(db, new_tenant_id, 1)
    clock = Clock(datetime(2026, 3, 6, 17, 0, tzinfo=UTC))
    activity = Activity(db, clock)
    for minute in range(30):  # thirty requests over half an hour
        clock.at = datetime(2026, 3, 6, 17, minute, tzinfo=UTC)
        activity.note(tenant)
    async with db.system() as conn:
        assert await conn.fetchval("SELECT count(*) FROM tenant_activity WHERE tenant_id = $1", tenant) == 0
        assert await activity.flush() == 1
        assert await conn.fetchval("SELECT last_asked FROM tenant_activity WHERE tenant_id = $1",
                                   tenant) == datetime(2026, 3, 6, 17, 29, tzinfo=UTC)
        # another replica that saw the tenant earlier flushes later: the later time stays
        other = Activity(db, Clock(datetime(2026, 3, 6, 16, 0, tzinfo=UTC)))
        other.note(tenant)
        await other.flush()
        assert await conn.fetchval("SELECT last_asked FROM tenant_activity WHERE tenant_id = $1",
                                   tenant) == datetime(2026, 3, 6, 17, 29, tzinfo=UTC)


async def test_after_a_restart_the_tenants_in_use_are_warmed_first_and_on_monday_too(
        db: Database, new_tenant_id: Callable[[str], str],
        make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    friday, monday = datetime(2026, 3, 6, 17, 0, tzinfo=UTC), datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    weekly, stale, never, friday_user = await seeded(db, new_tenant_id, 4)
    clock = Clock(friday - timedelta(days=9))
    before = Activity(db, clock)  # the process before the restart
    before.note(stale)
    clock.at = friday - timedelta(days=4)
    before.note(weekly)
    clock.at = friday
    before.note(friday_user)
    await before.flush()

    warmer = Warmer(await replica(make_client), among=[weekly, stale, never, friday_user])  # restarted: knows nobody
    # its first round: everyone, those whose users came most recently first, those never seen last
    assert await warmer.choose(monday) == [friday_user, weekly, stale, never]
    warmer.state.rounds = 1  # later rounds: the tenants seen within 8 days, so Monday 9:00 is warm after a weekend
    assert await warmer.choose(monday) == [friday_user, weekly]


def test_a_round_warms_what_the_dashboards_open_on_first() -> None:
    opening, rest = warm_order()
    first = opening[0]
    assert (first.span, first.targets[0]["target"]) == (timedelta(days=90), "roi.monthly")  # Executive Summary, top
    assert {w.span for w in opening} == {timedelta(days=90), timedelta(days=30), timedelta(days=7)}  # not 24 h
    every = {(w.span, str(w.targets), w.max_points) for w in opening + rest}
    assert len(every) == len(opening) + len(rest) == len(RANGES) * len(dashboard_requests())  # each once


async def test_two_replicas_warming_at_once_warm_each_tenant_once(
        db: Database, new_tenant_id: Callable[[str], str],
        make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    tenants = await seeded(db, new_tenant_id, 2)
    one, two = await replica(make_client, *tenants), await replica(make_client, *tenants)
    a, b = await asyncio.gather(Warmer(one).round(NOW, tenants), Warmer(two).round(NOW, tenants))
    by_one, by_two = {k.tenant_id for k in one.cache}, {k.tenant_id for k in two.cache}
    assert by_one.isdisjoint(by_two) and by_one | by_two == set(tenants)  # no tenant computed by both
    assert a.skipped + b.skipped == 2 and a.failed == b.failed == 0
    assert a.computed == len(one.cache) and b.computed == len(two.cache)  # nothing computed twice within one
    # the same quarter hour again: every tenant is warm on a live replica, nothing is computed
    again = await Warmer(two).round(NOW + timedelta(minutes=5), tenants)
    assert (again.computed, again.skipped) == (0, 2)
    for svc in (one, two):
        assert svc.leases is not None
        await svc.leases.close()


async def test_a_dead_replicas_lease_is_taken_over(db: Database, new_tenant_id: Callable[[str], str],
                                                   make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    [tenant] = await seeded(db, new_tenant_id, 1)
    one, two = await replica(make_client, tenant), await replica(make_client, tenant)
    assert one.leases is not None and two.leases is not None
    assert await one.leases.claim(tenant, quarter_of(NOW))  # replica one starts warming the tenant
    held = await Warmer(two).round(NOW, [tenant])
    assert (held.computed, held.skipped) == (0, 1)
    async with db.system() as conn:  # replica one dies: its connections go with it
        pid = await conn.fetchval("SELECT holder_pid FROM tenant_warmups WHERE tenant_id = $1", tenant)
        assert await conn.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
    taken = await Warmer(two).round(NOW, [tenant])
    assert taken.computed > 0 and taken.skipped == 0 and {k.tenant_id for k in two.cache} == {tenant}
    assert not await one.leases.claim(tenant, quarter_of(NOW))  # reconnected, it finds the tenant warmed
    assert await one.leases.claim(tenant, quarter_of(NOW + timedelta(minutes=15)))  # the next quarter hour is free
    await one.leases.close()
    await two.leases.close()
