"""Template variables' options kept briefly per tenant and row scope (query/dimension_cache.py): a dashboard refresh
does not read them again, while a scope, a role, a tenant and the passing of ``cache_ttl_live_s`` each get what is
theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from success_metrics.calculators import Dimension, RowScope, ScopeKind
from success_metrics.ingest import intake
from success_metrics.ingest.writer import Source
from success_metrics.query.dimension_cache import DimensionValues
from success_metrics.storage.pool import Database
from tests.datasource import seed
from tests.datasource.seed import client, tenant  # noqa: F401  (fixtures)
from tests.datasource.test_pipeline import bearer, services_of

AGENTS = {"payload": {"target": "agents"}}


def count_transactions(monkeypatch: pytest.MonkeyPatch, db: Database, tenant_id: str) -> list[str]:
    """Every tenant transaction of ``tenant_id`` opened from now on."""
    opened: list[str] = []
    real = db.tenant

    @asynccontextmanager
    async def counted(tid: str) -> AsyncIterator[Any]:
        if tid == tenant_id:
            opened.append(tid)
        async with real(tid) as conn:
            yield conn

    monkeypatch.setattr(db, "tenant", counted)
    return opened


async def test_a_refresh_reads_no_variable_options_again(client: httpx.AsyncClient, db: Database, tenant: str,
                                                         token_for: Callable[..., str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    manager = bearer(token_for(tenant, "manager", teams=["north"]))
    first = await client.post("/variable", json=AGENTS, headers=manager)
    opened = count_transactions(monkeypatch, db, tenant)
    again = await client.post("/variable", json=AGENTS, headers=manager)
    assert opened == []  # neither the options nor the policy (read by the first request) were read again
    assert first.json() == again.json() == [{"__text": "Alice North", "__value": "a1"}]


async def test_each_scope_role_and_tenant_gets_its_own_options(client: httpx.AsyncClient, db: Database,
                                                              tenant: str, new_tenant_id: Callable[[str], str],
                                                              token_for: Callable[..., str]) -> None:
    other = new_tenant_id("dims")
    await seed.load(db, other)
    routed = {"id": "r-L9", "type": "lead.routed", "occurred_at": f"{seed.DAY}T07:00:00Z", "lead_id": "L5",
              "agent_id": "a9", "data": {"team_id": "north", "agent_name": "Nina Ninth"}}
    assert not (await intake.ingest(db, other, [routed], source=Source("api"))).rejected

    async def agents(tenant_id: str, role: str, **claims: Any) -> list[str]:
        r = await client.post("/variable", json=AGENTS, headers=bearer(token_for(tenant_id, role, **claims)))
        return [v["__text"] for v in r.json()]

    for _ in range(2):  # the second pass answers from what the first kept
        assert await agents(tenant, "executive") == ["Alice North", "Bob South"]
        assert await agents(tenant, "manager", teams=["north"]) == ["Alice North"]
        assert await agents(tenant, "manager", teams=["south"]) == ["Bob South"]
        assert await agents(other, "executive") == ["Alice North", "Bob South", "Nina Ninth"]
        assert await agents(tenant, "agent", agent_id="a2") == ["Bob South"]
        assert await agents(tenant, "agent", agent_id="a1") == ["Alice North"]


async def test_new_values_show_once_the_live_lifetime_passes(client: httpx.AsyncClient, db: Database,
                                                             tenant: str) -> None:
    now = [0.0]
    values = DimensionValues(db, ttl_s=15.0, clock=lambda: now[0])
    everyone = RowScope(ScopeKind.TENANT)
    before = await values.get(tenant, Dimension.AGENT, everyone)
    routed = {"id": "r-new", "type": "lead.routed", "occurred_at": f"{seed.DAY}T07:00:00Z", "lead_id": "L5",
              "agent_id": "a3", "data": {"team_id": "south", "agent_name": "Cleo Third"}}
    assert not (await intake.ingest(db, tenant, [routed], source=Source("api"))).rejected
    now[0] = 14.9
    assert await values.get(tenant, Dimension.AGENT, everyone) == before == (("a1", "Alice North"),
                                                                             ("a2", "Bob South"))
    now[0] = 15.1
    assert [v for v, _ in await values.get(tenant, Dimension.AGENT, everyone)] == ["a1", "a2", "a3"]
    # the service's own lives as long as a live frame
    assert services_of(client).answers.dimensions.ttl_s == services_of(client).settings.cache_ttl_live_s


async def test_invalidating_a_tenant_forgets_its_values(db: Database, tenant: str) -> None:
    values = DimensionValues(db, ttl_s=900.0, clock=lambda: 0.0)
    assert [v for v, _ in await values.get(tenant, Dimension.SOURCE, RowScope())] == ["referral", "website_form"]
    created = {"id": "c-new", "type": "lead.created", "occurred_at": f"{seed.DAY}T07:00:00Z", "lead_id": "L7",
               "data": {"source": "other", "location_id": "downtown"}}
    assert not (await intake.ingest(db, tenant, [created], source=Source("api"))).rejected
    assert [v for v, _ in await values.get(tenant, Dimension.SOURCE, RowScope())] == ["referral", "website_form"]
    values.invalidate_tenant(tenant)
    assert [v for v, _ in await values.get(tenant, Dimension.SOURCE, RowScope())] == ["other", "referral",
                                                                                       "website_form"]
