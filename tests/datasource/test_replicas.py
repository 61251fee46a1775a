"""Replicas on one database: identity and policy changed through one replica's admin API are enforced by another
within a second (LISTEN/NOTIFY, success_metrics/storage/replicas.py), also after the listener's connection was cut."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from success_metrics.rbac import policy
from success_metrics.server.app import create_app
from success_metrics.server.services import Services
from success_metrics.settings import Settings, TenantConfig
from success_metrics.storage.pool import Database

DEADLINE_S = 1.0

Replica = tuple[httpx.AsyncClient, Services]


@pytest.fixture
async def replicas(db: Database, base_settings: Settings) -> AsyncIterator[Callable[..., Awaitable[Replica]]]:
    """``replica(*tenants)``: an app on the session database with its own settings listener, as a process has."""
    started: list[Replica] = []

    async def replica(*tenants: TenantConfig) -> Replica:
        settings = base_settings.model_copy(update={"tenants": tuple(tenants)})
        app = create_app(settings, database=db)
        services = await Services.start(settings, db, listen=True)
        app.state.services = services
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        started.append((client, services))
        return client, services

    yield replica
    for client, services in started:
        await client.aclose()
        if services.listener is not None:
            await services.listener.stop()


async def within(deadline_s: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until ``check`` holds, polling; fails when a check asked after ``deadline_s`` still does not hold.
    A check is a whole request, which a loaded machine can make last long: one asked before the deadline that
    answers after it saw the state of when it was asked, so it proves nothing late."""
    started = time.monotonic()
    while True:
        asked = time.monotonic() - started
        if await check():
            return asked
        assert asked < deadline_s, f"not seen within {deadline_s} s"
        await asyncio.sleep(0.02)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def without_agents() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(dict(policy.default_document())))
    del doc["roles"]["agent"]
    return doc


async def test_a_policy_change_on_one_replica_is_enforced_by_another_within_a_second(
        replicas: Callable[..., Awaitable[Replica]], new_tenant_id: Any, token_for: Any) -> None:
    tid = new_tenant_id("repl")
    tenant = TenantConfig(id=tid, name="Repl")
    (a, _), (b, _) = await replicas(tenant), await replicas(tenant)
    agent = bearer(token_for(tid, "agent"))

    async def agent_sees_metrics() -> bool:
        r = await b.post("/search", json={"target": ""}, headers=agent)
        assert r.status_code == 200, r.text
        return bool(r.json())

    assert await agent_sees_metrics()  # B now remembers the policy in force (for 5 s without a notice)
    admin = bearer(token_for(tid, "admin"))
    r = await a.put("/api/admin/policy", json={"document": without_agents()}, headers=admin)
    assert r.status_code == 200
    await within(DEADLINE_S, lambda: _not(agent_sees_metrics))
    r = await a.post("/api/admin/policy/rollback", json={"version": 0}, headers=admin)
    assert r.status_code == 200
    await within(DEADLINE_S, agent_sees_metrics)


async def _not(check: Callable[[], Awaitable[bool]]) -> bool:
    return not await check()


async def test_identity_settings_changed_on_one_replica_apply_on_another(
        replicas: Callable[..., Awaitable[Replica]], new_tenant_id: Any, token_for: Any, idp: Any) -> None:
    provider = idp()
    tid = new_tenant_id("repl")
    tenant = provider.tenant(tid)
    (a, _), (b, b_services) = await replicas(tenant), await replicas(tenant)
    token = bearer(provider.sign({"groups": ["sm-admin"]}))
    assert (await b.get("/api/admin/policy", headers=token)).status_code == 200  # verified and remembered on B
    demoted = {**tenant.identity, "role_map": {"sm-admin": "agent"}}
    r = await a.put("/api/admin/identity", json=demoted, headers=token)
    assert r.status_code == 200

    async def refused_on_b() -> bool:
        return (await b.get("/api/admin/policy", headers=token)).status_code == 403

    await within(DEADLINE_S, refused_on_b)
    assert b_services.identifier.providers[tid].role_map == {"sm-admin": "agent"}


async def test_a_cut_listener_reconnects_and_catches_up_on_what_it_missed(
        replicas: Callable[..., Awaitable[Replica]], new_tenant_id: Any, token_for: Any, db: Database) -> None:
    tid = new_tenant_id("repl")
    tenant = TenantConfig(id=tid, name="Repl")
    (a, _), (b, b_services) = await replicas(tenant), await replicas(tenant)
    listener = b_services.listener
    assert listener is not None and listener.conn is not None
    listener.retry_s = (0.3,)  # long enough that the change below is made while B is not listening
    agent = bearer(token_for(tid, "agent"))

    async def agent_sees_metrics() -> bool:
        return bool((await b.post("/search", json={"target": ""}, headers=agent)).json())

    assert await agent_sees_metrics()
    async with db.system() as conn:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", listener.conn.get_server_pid())
    await within(DEADLINE_S, lambda: _is(listener.conn is None))
    r = await a.put("/api/admin/policy", json={"document": without_agents()}, headers=bearer(token_for(tid, "admin")))
    assert r.status_code == 200  # announced while B was not listening: B hears nothing of it
    await within(DEADLINE_S, lambda: _not(agent_sees_metrics))
    assert listener.connections == 2


async def _is(value: bool) -> bool:
    return value



async def test_a_forced_key_refresh_on_one_replica_drops_the_key_on_another(
        replicas: Callable[..., Awaitable[Replica]], new_tenant_id: Any, idp: Any) -> None:
    provider = idp()
    old = provider.kid
    new = provider.rotate()
    tid = new_tenant_id("repl")
    tenant = provider.tenant(tid)
    (a, _), (b, _) = await replicas(tenant), await replicas(tenant)
    admin = bearer(provider.sign({"groups": ["sm-admin"]}, kid=new))
    victim = bearer(provider.sign({"groups": ["sm-admin"], "sub": "mallory"}, kid=old))
    assert (await b.get("/api/admin/policy", headers=victim)).status_code == 200
    del provider.keys[old]
    assert (await a.post("/api/admin/identity/jwks/refresh", headers=admin)).status_code == 200

    async def refused_on_b() -> bool:
        return (await b.get("/api/admin/policy", headers=victim)).status_code == 401

    await within(DEADLINE_S, refused_on_b)
