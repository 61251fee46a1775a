"""The model store and its trainer: a kind is refitted only when the tenant's data changed, stored per tenant
under row-level security, and fitted in the background, never in a user's request."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import psutil

from success_metrics.calculators import TenantSettings, models
from success_metrics.ingest import intake
from success_metrics.ingest.writer import Source
from success_metrics.query.cache import ResultCache
from success_metrics.query.trainer import ModelTrainer, fitting_pool
from success_metrics.storage.pool import Database
from tests.datasource import seed

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def counting_kind(fits: list[str]) -> models.Trainer:
    """A kind whose fit is the number of leads it read, recording each fit."""

    async def load(conn: asyncpg.Connection, tenant: str, s: TenantSettings, now: datetime) -> Any:
        return tenant, await conn.fetchval("SELECT count(*) FROM leads WHERE tenant_id = $1", tenant)

    def fit(data: Any) -> dict[str, bytes]:
        tenant, leads = data
        fits.append(tenant)
        return {"leads": str(leads).encode()}

    return models.Trainer("test.count", load, fit)


def trainer(db: Database, fits: list[str]) -> ModelTrainer:
    return ModelTrainer(db, ResultCache(15, 900), clock=lambda: NOW, kinds=[counting_kind(fits)])


async def stored(db: Database, tenant: str) -> models.Stored | None:
    async with db.tenant(tenant) as conn:
        return await models.read(conn, tenant, "test.count", "leads")


async def test_refits_only_when_the_tenants_data_changed(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tenant = new_tenant_id("model")
    await seed.load(db, tenant)
    fits: list[str] = []
    t = trainer(db, fits)

    first = await t.round(NOW, [tenant])
    assert (first.fitted, first.unchanged, fits) == (1, 0, [tenant])
    row = await stored(db, tenant)
    assert row is not None and row.payload == b"5" and row.fitted_at == NOW  # the seed day has 5 leads

    again = await t.round(NOW, [tenant])  # nothing arrived: nothing is fitted
    assert (again.fitted, again.unchanged, fits) == (0, 1, [tenant])

    await intake.ingest(db, tenant, [{"id": "c-L6", "type": "lead.created", "occurred_at": "2026-03-02T07:00:00Z",
                                      "lead_id": "L6", "data": {"source": "referral"}}], source=Source("api"))
    after = await t.round(NOW, [tenant])
    assert (after.fitted, fits) == (1, [tenant, tenant])
    row = await stored(db, tenant)
    assert row is not None and row.payload == b"6"


async def test_a_new_week_refits_without_new_data(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tenant = new_tenant_id("model")
    await seed.load(db, tenant)
    fits: list[str] = []
    t = trainer(db, fits)
    await t.round(NOW, [tenant])
    await t.round(datetime(2026, 3, 17, 12, tzinfo=UTC), [tenant])  # the forecast origin moved on
    assert fits == [tenant, tenant]


async def test_one_tenants_models_are_invisible_to_another(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    a, b = new_tenant_id("model"), new_tenant_id("model")
    await seed.load(db, a)
    await seed.load(db, b)
    await trainer(db, []).round(NOW, [a])
    assert await stored(db, a) is not None
    assert await stored(db, b) is None
    async with db.tenant(b) as conn:  # row-level security: even without a tenant filter, b sees none of a's rows
        assert await conn.fetchval("SELECT count(*) FROM fitted_models") == 0
        assert await models.read(conn, a, "test.count", "leads") is None


async def test_a_kind_of_complete_weeks_ignores_the_running_week_but_not_a_backfill(
        db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tenant = new_tenant_id("model")
    await seed.load(db, tenant)  # 2026-03-02, a Monday
    fits: list[str] = []
    weekly = replace(counting_kind(fits), period="week")
    t = ModelTrainer(db, ResultCache(15, 900), clock=lambda: NOW, kinds=[weekly])
    await t.round(NOW, [tenant])  # NOW: Tuesday 10 March, so the week began on the 9th

    async def send(lead: str, at: str) -> None:
        await intake.ingest(db, tenant, [{"id": f"c-{lead}", "type": "lead.created", "occurred_at": at,
                                          "lead_id": lead, "data": {"source": "referral"}}], source=Source("api"))

    await send("L7", "2026-03-10T08:00:00Z")  # this week: a complete-weeks fit has nothing new
    assert (await t.round(NOW, [tenant])).unchanged == 1
    await send("L8", "2026-03-04T08:00:00Z")  # last week, late: refit
    assert (await t.round(NOW, [tenant])).fitted == 1
    assert fits == [tenant, tenant]


def where_fitted(data: Any) -> dict[str, bytes]:
    """A fit that says where it ran: its process and that process's CPU priority (module level, so it pickles)."""
    return {"pid": str(os.getpid()).encode(), "nice": str(os.nice(0)).encode()}


async def test_fits_run_in_a_process_of_their_own_at_a_lower_priority(
        db: Database, new_tenant_id: Callable[[str], str]) -> None:
    """A fit is CPU-bound Python: in a thread of the service it would hold the GIL the request handlers need."""
    tenant = new_tenant_id("pool")
    await seed.load(db, tenant)

    async def load(conn: asyncpg.Connection, tenant: str, s: TenantSettings, now: datetime) -> Any:
        return tenant

    t = ModelTrainer(db, ResultCache(15, 900), clock=lambda: NOW, pool=fitting_pool,
                     kinds=[models.Trainer("test.where", load, where_fitted)])
    assert (await t.round(NOW, [tenant])).fitted == 1
    async with db.tenant(tenant) as conn:
        pid = await models.read(conn, tenant, "test.where", "pid")
        nice = await models.read(conn, tenant, "test.where", "nice")
    assert pid is not None and int(pid.payload) != os.getpid()
    # the worker lives for the round only: its memory goes back to the system until a round fits again
    assert not psutil.pid_exists(int(pid.payload))
    assert nice is not None and int(nice.payload) == min(19, os.nice(0) + 10)  # niceness stops at 19
