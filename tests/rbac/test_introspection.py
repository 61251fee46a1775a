"""Opaque tokens: an introspection answer passes the same claim checks as a JWT (success_metrics/rbac/claims.py), and neither the
introspection cache nor the verified-token memory outlives a token's exp or a change of the tenant's provider."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from success_metrics.settings import TenantConfig
from success_metrics.rbac import Unauthenticated
from success_metrics.rbac.identity import Credentials, Identifier
from success_metrics.rbac.principal import AuthMethod, Role
from tests.conftest import TestIdP
from tests.rbac.test_identity import _no_db, ident, make


def introspecting(provider: TestIdP, answer: dict[str, Any], **identity: Any) -> tuple[Identifier, Any]:
    """An Identifier for tenant acme whose provider answers ``answer`` for any opaque token."""
    endpoint = f"{provider.issuer}/introspect"
    # json.dumps, not httpx's encoder: a provider may send what Python's JSON writes and reads, Infinity included
    route = provider.router.post(endpoint).mock(side_effect=lambda request: httpx.Response(
        200, content=json.dumps(answer).encode(), headers={"Content-Type": "application/json"}))
    tenant = provider.tenant("acme", introspection={"endpoint": endpoint, "client_id": "sm", "client_secret": "s"},
                             **identity)
    return make(provider, tenant), route


def good(provider: TestIdP, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    answer = {"active": True, "iss": provider.issuer, "aud": "grafana", "sub": "svc", "iat": now,
              "exp": now + 300, "groups": ["sm-admin"], **changes}
    return {k: v for k, v in answer.items() if v is not None}


async def test_a_good_answer_gives_the_mapped_role(idp: Any) -> None:
    provider = idp()
    identifier, _ = introspecting(provider, good(provider, aud=["account", "grafana"]))
    who = await ident(identifier, "opaque-1")
    assert (who.tenant_id, who.subject, who.role, who.auth_method) == ("acme", "svc", Role.ADMIN,
                                                                       AuthMethod.INTROSPECTION)


def _bad_answers(p: TestIdP) -> dict[str, tuple[dict[str, Any], str]]:
    now = int(time.time())
    return {
        "another audience": (good(p, aud="other-api"), "audience is not accepted"),
        "another audience in a list": (good(p, aud=["other-api", "account"]), "audience is not accepted"),
        "no audience": (good(p, aud=None), "required claim 'aud'"),
        "another issuer": (good(p, iss="https://evil.test/realms/x"), "issuer is not this tenant's provider"),
        "expired beyond the leeway": (good(p, iat=now - 4000, exp=now - 31), "expired"),
        "no expiry": (good(p, exp=None), "required claim 'exp'"),
        "expiry not a number": (good(p, exp="tomorrow"), "'exp' claim is not a number"),
        # JSON parsers accept Infinity: an answer saying so must not make a token that never expires
        "expiry infinite": (good(p, exp=float("inf")), "'exp' claim is not a number"),
        "not valid yet": (good(p, nbf=now + 3600), "not valid yet"),
        "issued in the future": (good(p, iat=now + 3600), "not valid yet"),
        "no subject": (good(p, sub=None), "required claim 'sub'"),
        "active as a string": (good(p, active="true"), "not active"),
    }


@pytest.mark.parametrize("case", ["another audience", "another audience in a list", "no audience", "another issuer",
                                  "expired beyond the leeway", "no expiry", "expiry not a number", "expiry infinite",
                                  "not valid yet",
                                  "issued in the future", "no subject", "active as a string"])
async def test_an_answer_failing_a_jwt_check_is_refused(idp: Any, case: str) -> None:
    provider = idp()
    answer, reason = _bad_answers(provider)[case]
    identifier, _ = introspecting(provider, answer)
    for _ in range(2):  # the cached answer is checked again, not trusted
        with pytest.raises(Unauthenticated, match=reason):
            await ident(identifier, "opaque-1")


async def test_the_tenant_claim_is_checked_for_opaque_tokens(idp: Any) -> None:
    provider = idp()
    identifier, _ = introspecting(provider, good(provider, org="globex"), tenant_claim="org")
    with pytest.raises(Unauthenticated, match="tenant claim matches no tenant"):
        await ident(identifier, "opaque-1")
    identifier, _ = introspecting(provider, good(provider, org="acme"), tenant_claim="org")
    assert (await ident(identifier, "opaque-2")).tenant_id == "acme"


async def test_a_custom_subject_claim_must_be_present(idp: Any) -> None:
    provider = idp()
    identifier, _ = introspecting(provider, good(provider), subject_claim="preferred_username")
    with pytest.raises(Unauthenticated, match="lacks the subject claim 'preferred_username'"):
        await ident(identifier, "opaque-1")


async def test_an_opaque_token_for_another_api_gets_no_admin_access(idp: Any, make_client: Any,
                                                                    new_tenant_id: Any) -> None:
    provider = idp()
    tid = new_tenant_id("intro")
    endpoint = f"{provider.issuer}/introspect"
    provider.router.post(endpoint).mock(return_value=httpx.Response(200, json=good(provider, aud="other-api")))
    client = await make_client(provider.tenant(tid, introspection={"endpoint": endpoint, "client_id": "sm",
                                                                   "client_secret": "s"}))
    r = await client.get("/api/admin/policy", headers={"Authorization": "Bearer opaque-for-other-api"})
    assert r.status_code == 401 and "audience" in r.json()["message"]


async def test_the_introspection_cache_ends_at_the_tokens_exp(idp: Any) -> None:
    provider = idp()
    now = time.time()
    answer = good(provider, exp=int(now) + 100, iat=int(now))
    identifier, route = introspecting(provider, answer)
    clock = [now]
    identifier.introspector.clock = lambda: clock[0]
    await ident(identifier, "opaque-1")
    clock[0] = now + 29  # inside the 30 s cache: no call
    await ident(identifier, "opaque-1")
    assert route.call_count == 1
    answer["exp"] = int(now) + 40  # a token expiring within the cache time is cached only until its exp
    await ident(identifier, "opaque-2")
    clock[0] = now + 41
    await ident(identifier, "opaque-2")
    assert route.call_count == 3


async def test_changed_identity_settings_apply_to_cached_answers(idp: Any) -> None:
    provider = idp()
    identifier, route = introspecting(provider, good(provider))
    assert (await ident(identifier, "opaque-1")).role is Role.ADMIN
    config = identifier.providers["acme"]
    identifier.replace("acme", config.model_copy(update={"audiences": ("success-metrics",)}))
    with pytest.raises(Unauthenticated, match="audience"):
        await ident(identifier, "opaque-1")
    identifier.replace("acme", config.model_copy(update={"role_map": {"sm-admin": Role.AGENT}}))
    assert (await ident(identifier, "opaque-1")).role is Role.AGENT


async def test_a_tenants_change_forgets_only_its_verified_tokens(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme"), TenantConfig(id="globex", name="G", identity={
        **provider.tenant("globex").identity, "issuer": provider.issuer + "/globex"}))
    await ident(identifier, provider.sign({"groups": ["sm-agent"]}))
    assert len(identifier.verified) == 1
    identifier.replace("globex", None)
    assert len(identifier.verified) == 1
    identifier.replace("acme", identifier.providers["acme"])
    assert len(identifier.verified) == 0


async def test_an_opaque_token_is_shown_only_to_the_provider_of_the_tenant_it_names(idp: Any) -> None:
    """Several tenants introspect: asking each in turn would hand one tenant's tokens to another's provider
    (a tenant admin sets the endpoint), who could replay them. X-SM-Tenant names the one provider to ask."""
    evil, ours = idp(), idp()
    evil_route = evil.router.post(f"{evil.issuer}/introspect").mock(return_value=httpx.Response(
        200, json={"active": False}))
    our_route = ours.router.post(f"{ours.issuer}/introspect").mock(return_value=httpx.Response(200, json=good(ours)))
    spec = {"client_id": "sm", "client_secret": "s"}
    identifier = make(ours, evil.tenant("evil", introspection={**spec, "endpoint": f"{evil.issuer}/introspect"}),
                      ours.tenant("acme", introspection={**spec, "endpoint": f"{ours.issuer}/introspect"}))
    with pytest.raises(Unauthenticated, match="name yours in the X-SM-Tenant header"):
        await ident(identifier, "acme-opaque")
    with pytest.raises(Unauthenticated, match="'initech' does not introspect"):
        await identifier.identify(Credentials.from_headers({"authorization": "Bearer acme-opaque",
                                                            "x-sm-tenant": "initech"}), _no_db)
    who = await identifier.identify(Credentials.from_headers({"authorization": "Bearer acme-opaque",
                                                              "x-sm-tenant": "acme"}), _no_db)
    assert (who.tenant_id, who.role) == ("acme", Role.ADMIN)
    assert (evil_route.call_count, our_route.call_count) == (0, 1)
    with pytest.raises(Unauthenticated, match="not active"):  # a hint cannot make another tenant's provider vouch
        await identifier.identify(Credentials.from_headers({"authorization": "Bearer other-opaque",
                                                            "x-sm-tenant": "evil"}), _no_db)
