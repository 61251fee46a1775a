"""Signing-key lifetime: the provider's Cache-Control max-age is honoured within a configured bound, a key the
provider dropped is refused once its keys are refetched (by age, or at once through the admin API), and an outage
is not a removal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from success_metrics.storage.pool import Database
from success_metrics.rbac import Unauthenticated
from success_metrics.rbac.jwks import max_age
from success_metrics.rbac.principal import Role
from tests.conftest import TestIdP
from tests.rbac.test_identity import Clock, ident, make


def publish(provider: TestIdP, cache_control: str | None) -> None:
    """Serve the provider's current keys with this Cache-Control header."""
    headers = {"Cache-Control": cache_control} if cache_control else {}
    provider.jwks_route.mock(side_effect=lambda request: httpx.Response(
        200, json={"keys": [provider.public_jwk(k) for k in provider.keys]}, headers=headers))


def two_keys(idp: Any) -> tuple[TestIdP, str, str]:
    """A provider publishing k1 and k2; returns it with both kids."""
    provider = idp()
    old = provider.kid
    return provider, old, provider.rotate()


@pytest.mark.parametrize(("cache_control", "fresh_for"), [
    ("public, max-age=60", 60),  # the provider's word
    (None, 300),  # no word: the configured bound
    ("max-age=86400", 300),  # never past the bound
    ("no-store", 30),  # never under the cooldown: no fetch per request
])
async def test_a_dropped_key_is_refused_once_the_keys_are_stale(idp: Any, cache_control: str | None,
                                                                fresh_for: int) -> None:
    provider, old, _ = two_keys(idp)
    publish(provider, cache_control)
    clock = Clock()
    identifier = make(provider, provider.tenant("acme"), clock=clock)
    token = provider.sign({"groups": ["sm-admin"]}, kid=old)
    assert (await ident(identifier, token)).role is Role.ADMIN
    del provider.keys[old]  # the provider stops publishing it (e.g. it leaked)
    clock.now += fresh_for - 1
    assert (await ident(identifier, token)).role is Role.ADMIN  # still fresh: no fetch
    assert provider.jwks_route.call_count == 1
    clock.now += 1
    with pytest.raises(Unauthenticated, match="does not publish"):
        await ident(identifier, token)  # the remembered verification is not trusted past the keys' freshness
    assert provider.jwks_route.call_count == 2


async def test_an_outage_after_max_age_keeps_the_cached_keys(idp: Any) -> None:
    provider, old, _ = two_keys(idp)
    publish(provider, "max-age=60")
    clock = Clock()
    identifier = make(provider, provider.tenant("acme"), clock=clock)
    token = provider.sign({"groups": ["sm-agent"]}, kid=old)
    await ident(identifier, token)
    provider.jwks_route.mock(side_effect=httpx.ConnectError("down"))
    for _ in range(3):
        clock.now += 61
        assert (await ident(identifier, token)).role is Role.AGENT
    assert provider.jwks_route.call_count == 4


def test_max_age_reads_cache_control_and_age() -> None:
    assert max_age(httpx.Headers({"Cache-Control": "public, max-age=120"})) == 120
    assert max_age(httpx.Headers({"Cache-Control": "max-age=120", "Age": "100"})) == 20
    assert max_age(httpx.Headers({"Cache-Control": "s-maxage=5, max-age=90, must-revalidate"})) == 90
    assert max_age(httpx.Headers({"Cache-Control": "no-cache"})) == 0
    assert max_age(httpx.Headers({"Cache-Control": "private"})) is None
    assert max_age(httpx.Headers({})) is None


async def actions(db: Database, tenant: str) -> list[tuple[str, str, int]]:
    async with db.system() as conn:
        rows = await conn.fetch("SELECT action, outcome, status FROM audit_log WHERE tenant_id = $1 AND action LIKE "
                                "'identity.%' ORDER BY seq", tenant)
    return [(r["action"], r["outcome"], r["status"]) for r in rows]


async def test_an_admin_can_force_a_refresh_that_drops_a_key_at_once(idp: Any, make_client: Any, new_tenant_id: Any,
                                                                     db: Database) -> None:
    provider, old, new = two_keys(idp)
    tid = new_tenant_id("jwks")
    client = await make_client(provider.tenant(tid))
    admin = {"Authorization": f"Bearer {provider.sign({'groups': ['sm-admin']}, kid=new)}"}
    victim = {"Authorization": f"Bearer {provider.sign({'groups': ['sm-admin'], 'sub': 'mallory'}, kid=old)}"}
    assert (await client.get("/api/admin/policy", headers=victim)).status_code == 200
    provider.jwks_route.mock(side_effect=httpx.ConnectError("down"))
    r = await client.post("/api/admin/identity/jwks/refresh", headers=admin)
    assert r.status_code == 502 and "cached keys stay in use" in r.json()["message"]
    assert (await client.get("/api/admin/policy", headers=victim)).status_code == 200  # an outage is no removal
    del provider.keys[old]
    publish(provider, None)
    assert (await client.get("/api/admin/policy", headers=victim)).status_code == 200  # cached for minutes
    r = await client.post("/api/admin/identity/jwks/refresh", headers=admin)
    assert r.status_code == 200 and r.json() == {"issuer": provider.issuer, "key_ids": [new]}
    r = await client.get("/api/admin/policy", headers=victim)
    assert r.status_code == 401 and "does not publish" in r.json()["message"]
    assert await actions(db, tid) == [("identity.jwks_refresh", "error", 502),
                                      ("identity.jwks_refresh", "success", 200)]


async def test_only_admins_refresh_keys_and_only_of_a_provider(idp: Any, make_client: Any, new_tenant_id: Any,
                                                               token_for: Any) -> None:
    provider = idp()
    tid = new_tenant_id("jwks")
    client = await make_client(provider.tenant(tid))
    r = await client.post("/api/admin/identity/jwks/refresh",
                          headers={"Authorization": f"Bearer {provider.sign({'groups': ['sm-executive']})}"})
    assert r.status_code == 403
    other = new_tenant_id("jwks")  # a tenant signed in through the dev issuer has no provider of its own
    r = await client.post("/api/admin/identity/jwks/refresh",
                          headers={"Authorization": f"Bearer {token_for(other, 'admin')}"})
    assert r.status_code == 404 and "PUT /api/admin/identity" in r.json()["message"]
