"""Identity: real RS256/ES256 signatures against a provider whose JWKS is served through respx.

Every attack of the table must end in Unauthenticated with a reason that does not echo the token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from success_metrics.storage import tenants
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from success_metrics.rbac import Unauthenticated, dev_issuer, keys
from success_metrics.rbac.errors import NoRole
from success_metrics.rbac.identity import Credentials, Identifier, parse_providers
from success_metrics.rbac.jwks import JwksCache
from success_metrics.rbac.principal import AuthMethod, Role
from tests.conftest import TestIdP


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def _no_db() -> Any:
    raise AssertionError("a JWT must not need the database")
    yield  # pragma: no cover


def make(idp: TestIdP, *tenants_: TenantConfig, clock: Clock | None = None, **kw: Any) -> Identifier:
    client = httpx.AsyncClient()
    jwks = JwksCache(client, clock=clock or Clock())
    return Identifier(parse_providers({t.id: t.identity for t in tenants_}), client, jwks=jwks, **kw)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])


async def ident(identifier: Identifier, token: str | None = None, id_token: str | None = None) -> Any:
    creds = Credentials.from_headers({**({"authorization": f"Bearer {token}"} if token else {}),
                                      **({"x-id-token": id_token} if id_token else {})})
    return await identifier.identify(creds, _no_db)


def claims(idp: TestIdP, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": idp.issuer, "aud": "grafana", "sub": "u1", "iat": now, "exp": now + 300,
            "groups": ["sm-manager"], **extra}


async def test_a_valid_token_becomes_a_principal_with_person_claims(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme"))
    token = provider.sign({"groups": ["sm-manager", "other"], "name": "Mia", "agent_id": "a7",
                           "teams": ["north", "south"], "locations": "berlin"})
    who = await ident(identifier, token)
    assert (who.tenant_id, who.subject, who.role, who.auth_method) == ("acme", "user-1", Role.MANAGER, AuthMethod.JWT)
    assert (who.name, who.agent_id, who.teams, who.locations) == ("Mia", "a7", ("north", "south"), ("berlin",))


def _attacks(p: TestIdP) -> dict[str, tuple[str, str]]:
    """name → (token, words the reason must contain)."""
    pub_pem = p.keys[p.kid].public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)
    good = claims(p)
    hs_header = {"alg": "HS256", "typ": "JWT", "kid": p.kid}
    signing_input = f"{b64(json.dumps(hs_header).encode())}.{b64(json.dumps(good).encode())}".encode()
    hs_signed = signing_input.decode() + "." + b64(hmac.new(pub_pem, signing_input, hashlib.sha256).digest())
    valid = p.sign(good)
    h, _, s = valid.split(".")
    tampered = f"{h}.{b64(json.dumps({**good, 'groups': ['sm-admin']}).encode())}.{s}"
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_jwk = json.loads(RSAAlgorithm.to_jwk(attacker.public_key()))
    now = int(time.time())
    return {
        "alg none": (forge({"alg": "none", "typ": "JWT"}, good), "'none' is not allowed"),
        "HS256 with the RSA public key": (hs_signed, "'HS256' is not allowed"),
        "wrong issuer": (p.sign(good, iss="https://evil.test/realms/x"), "not trusted"),
        "issuer prefix": (p.sign(good, iss=p.issuer + "-evil"), "not trusted"),
        "issuer shorter": (p.sign(good, iss=p.issuer[:-1]), "not trusted"),
        "wrong audience": (p.sign(good, aud="someone-else"), "audience"),
        "expired": (p.sign(good, iat=now - 4000, exp=now - 3600), "expired"),
        "not yet valid": (p.sign(good, nbf=now + 3600), "not valid yet"),
        "missing exp": (p.sign(good, exp=None), "'exp'"),
        "missing sub": (p.sign(good, sub=None), "'sub'"),
        "missing iat": (p.sign(good, iat=None), "'iat'"),
        "tampered payload": (tampered, "signature"),
        "unknown kid": (jwt.encode(good, attacker, "RS256", headers={"kid": "k999"}), "does not publish"),
        "jku injection": (jwt.encode(good, attacker, "RS256", headers={"kid": "evil", "jku": "https://evil.test/jwks"}),
                          "does not publish"),
        "embedded jwk with a known kid": (jwt.encode(good, attacker, "RS256", headers={"kid": p.kid,
                                                                                         "jwk": attacker_jwk}),
                                          "signature"),
        "oversized": (p.sign({**good, "pad": "x" * 20_000}), "larger than"),
        "oversized header": (jwt.encode(good, p.keys[p.kid], "RS256", headers={"kid": p.kid, "x": "y" * 2000}),
                             "header is larger"),
        "garbage": ("not-a-token-at-all", "not a JWT"),
        "garbage in three parts": ("abc.def.ghi", "not valid base64url JSON"),
        "header not an object": (b64(b"[1]") + ".e30.", "not a JSON object"),
    }


@pytest.mark.parametrize("attack", [
    "alg none", "HS256 with the RSA public key", "wrong issuer", "issuer prefix", "issuer shorter", "wrong audience",
    "expired", "not yet valid", "missing exp", "missing sub", "missing iat", "tampered payload", "unknown kid",
    "jku injection", "embedded jwk with a known kid", "oversized", "oversized header", "garbage",
    "garbage in three parts", "header not an object"])
async def test_attack_is_rejected_with_a_reason_that_does_not_echo_the_token(idp: Any, attack: str) -> None:
    provider = idp()
    evil = provider.router.get(url__startswith="https://evil.test").mock(return_value=httpx.Response(500))
    identifier = make(provider, provider.tenant("acme"))
    token, reason = _attacks(provider)[attack]
    with pytest.raises(Unauthenticated) as caught:
        await ident(identifier, token)
    assert reason in caught.value.message
    assert token not in caught.value.message and token[-20:] not in caught.value.message
    assert not evil.called  # jku/x5u are never followed


async def test_an_ec_token_cannot_use_an_rsa_key_and_typ_is_enforced_where_configured(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme", algorithms=["RS256", "ES256"], typ="at+jwt"))
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(Unauthenticated, match="does not match its signing key"):
        await ident(identifier, jwt.encode(claims(provider), ec_key, "ES256",
                                           headers={"kid": provider.kid, "typ": "at+jwt"}))
    with pytest.raises(Unauthenticated, match="typ must be 'at\\+jwt'"):
        await ident(identifier, provider.sign({"groups": ["sm-agent"]}))
    who = await ident(identifier, provider.sign({"groups": ["sm-agent"]}, headers={"typ": "at+jwt"}))
    assert who.role is Role.AGENT


async def test_a_flood_of_unknown_kids_costs_one_fetch_per_cooldown(idp: Any) -> None:
    provider = idp()
    clock = Clock()
    identifier = make(provider, provider.tenant("acme"), clock=clock)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    flood = [jwt.encode(claims(provider), attacker, "RS256", headers={"kid": f"x{i}"}) for i in range(40)]
    results = await asyncio.gather(*(ident(identifier, t) for t in flood), return_exceptions=True)
    assert all(isinstance(r, Unauthenticated) for r in results)
    assert provider.jwks_route.call_count == 1  # the first fetch; the other 39 unknown kids wait for the cooldown
    clock.now += 29
    await asyncio.gather(*(ident(identifier, t) for t in flood), return_exceptions=True)
    assert provider.jwks_route.call_count == 1
    clock.now += 2  # 31 s after the last fetch: one more is allowed
    await asyncio.gather(*(ident(identifier, t) for t in flood), return_exceptions=True)
    assert provider.jwks_route.call_count == 2


async def test_key_rotation_is_picked_up_and_old_tokens_keep_working(idp: Any) -> None:
    provider = idp()
    clock = Clock()
    identifier = make(provider, provider.tenant("acme"), clock=clock)
    old_token = provider.sign({"groups": ["sm-agent"]})
    assert (await ident(identifier, old_token)).role is Role.AGENT
    provider.rotate()
    clock.now += 31  # past the cooldown of the first fetch
    new_token = provider.sign({"groups": ["sm-executive"]})
    assert (await ident(identifier, new_token)).role is Role.EXECUTIVE
    assert (await ident(identifier, old_token)).role is Role.AGENT
    assert provider.jwks_route.call_count == 2


async def test_provider_outage_keeps_cached_keys_working_and_is_logged(idp: Any,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    provider = idp()
    clock = Clock()
    identifier = make(provider, provider.tenant("acme"), clock=clock)
    token = provider.sign({"groups": ["sm-agent"]})
    await ident(identifier, token)
    provider.jwks_route.mock(side_effect=httpx.ConnectError("down"))
    clock.now += 3600  # far past the TTL: a refresh is due and fails
    another = provider.sign({"groups": ["sm-agent"], "sid": "2"})  # not yet verified, so its key is looked up
    with caplog.at_level(logging.WARNING, logger="success_metrics.rbac.jwks"):
        assert (await ident(identifier, another)).role is Role.AGENT
    assert any("unavailable" in r.getMessage() and "1 cached key" in r.getMessage() for r in caplog.records)
    assert provider.jwks_route.call_count == 2


async def test_no_keys_ever_fetched_is_an_actionable_401(idp: Any) -> None:
    provider = idp()
    provider.jwks_route.mock(return_value=httpx.Response(503))
    identifier = make(provider, provider.tenant("acme"))
    with pytest.raises(Unauthenticated, match="cannot be fetched right now"):
        await ident(identifier, provider.sign({}))


async def test_jwks_by_oidc_discovery_and_no_redirects(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme", jwks_uri=None))
    assert (await ident(identifier, provider.sign({"groups": ["sm-admin"]}))).role is Role.ADMIN
    other = idp()
    other.jwks_route.mock(return_value=httpx.Response(302, headers={"Location": "https://evil.test/jwks"}))
    evil = other.router.get("https://evil.test/jwks").mock(return_value=httpx.Response(200, json={"keys": []}))
    with pytest.raises(Unauthenticated, match="cannot be fetched"):
        await ident(make(other, other.tenant("globex")), other.sign({}))
    assert not evil.called


async def test_groups_map_to_roles_by_dotted_path_and_no_role_is_403(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme", roles_claim="realm_access.roles"))
    token = provider.sign({"realm_access": {"roles": ["offline_access", "sm-agent", "sm-auditor"]}})
    assert (await ident(identifier, token)).role is Role.AUDITOR  # the more capable of the two
    with pytest.raises(NoRole, match="none of your groups \\(offline_access\\) maps to a role in tenant acme"):
        await ident(identifier, provider.sign({"realm_access": {"roles": ["offline_access"]}}))


async def test_tenants_sharing_an_issuer_are_told_apart_by_a_claim(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme", tenant_claim="org"),
                      provider.tenant("globex", tenant_claim="org", tenant_claim_value="globex-inc"))
    assert (await ident(identifier, provider.sign({"org": "acme", "groups": ["sm-agent"]}))).tenant_id == "acme"
    assert (await ident(identifier, provider.sign({"org": "globex-inc", "groups": ["sm-agent"]}))).tenant_id == "globex"
    with pytest.raises(Unauthenticated, match="matches no tenant"):
        await ident(identifier, provider.sign({"org": "initech"}))


async def test_id_token_is_used_when_the_tenant_accepts_only_id_tokens(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme", accept=["id"]))
    access = provider.sign({"groups": ["sm-admin"]}, aud="account")  # Keycloak-style access token for another API
    id_token = provider.sign({"groups": ["sm-agent"]}, aud="grafana")
    who = await ident(identifier, access, id_token)
    assert (who.role, who.auth_method) == (Role.AGENT, AuthMethod.ID_TOKEN)
    with pytest.raises(Unauthenticated, match="does not accept access tokens"):
        await ident(identifier, access)


async def test_dev_tokens_are_trusted_only_when_enabled(idp: Any, tmp_path: Any) -> None:
    provider = idp()
    token = dev_issuer.mint(tmp_path, "acme", "executive", subject="eve")
    with pytest.raises(Unauthenticated, match="not trusted"):
        await ident(make(provider, provider.tenant("acme")), token)
    who = await ident(make(provider, provider.tenant("acme"), dev_data_dir=tmp_path), token)
    assert (who.tenant_id, who.subject, who.role, who.auth_method) == ("acme", "eve", Role.EXECUTIVE, AuthMethod.DEV)
    assert (tmp_path / "keys" / dev_issuer.KEY_FILE).stat().st_mode & 0o777 == 0o600
    forged = dev_issuer.mint(tmp_path / "other", "acme", "admin")  # another key, same issuer name
    with pytest.raises(Unauthenticated, match="signature"):
        await ident(make(provider, dev_data_dir=tmp_path), forged)


async def test_opaque_tokens_are_introspected_and_cached(idp: Any) -> None:
    provider = idp()
    endpoint = f"{provider.issuer}/introspect"
    route = provider.router.post(endpoint).mock(side_effect=lambda request: httpx.Response(200, json=(
        {"active": True, "sub": "svc", "iss": provider.issuer, "aud": "grafana", "groups": ["sm-auditor"],
         "exp": int(time.time()) + 60}
        if b"token=good-opaque" in request.content else {"active": False})))
    identifier = make(provider, provider.tenant(
        "acme", introspection={"endpoint": endpoint, "client_id": "sm", "client_secret": "s3cret"}))
    for _ in range(3):
        who = await ident(identifier, "good-opaque")
        assert (who.subject, who.role, who.auth_method) == ("svc", Role.AUDITOR, AuthMethod.INTROSPECTION)
    assert route.call_count == 1
    assert route.calls[0].request.headers["authorization"].startswith("Basic ")
    for _ in range(3):  # an inactive token is remembered briefly: replays cost the provider one call
        with pytest.raises(Unauthenticated, match="not active"):
            await ident(identifier, "bad-opaque")
    assert route.call_count == 2


async def test_service_keys_identify_their_tenant_and_role(db: Database, new_tenant_id: Any) -> None:
    tid = new_tenant_id("svc")
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=tid, name="Svc"))
    async with db.tenant(tid) as conn:
        _, secret = await keys.create_key(conn, tid, "service", "grafana alerting", "auditor")
    identifier = Identifier({}, httpx.AsyncClient())
    who = await identifier.identify(Credentials.from_headers({"authorization": f"Bearer {secret}"}), db.system)
    assert (who.tenant_id, who.role, who.auth_method, who.subject) == (
        tid, Role.AUDITOR, AuthMethod.SERVICE_KEY, "service-key:grafana alerting")
    with pytest.raises(Unauthenticated):
        await identifier.identify(Credentials.from_headers({"authorization": f"Bearer {secret}x"}), db.system)


def test_credentials_come_only_from_authorization_and_x_id_token() -> None:
    creds = Credentials.from_headers({"x-grafana-user": "admin", "authorization": "Basic YWRtaW46YWRtaW4="})
    assert not creds.present
    assert "s3cr3t-value" not in repr(Credentials.from_headers({"authorization": "Bearer s3cr3t-value"}))


def test_invalid_identity_settings_name_the_tenant_and_key() -> None:
    with pytest.raises(ValueError, match=r"tenants\[acme\]\.identity: algorithms"):
        parse_providers({"acme": {"issuer": "https://x", "audiences": ["a"], "algorithms": ["HS256"]}})
    with pytest.raises(ValueError, match="role_map.x"):
        parse_providers({"acme": {"issuer": "https://x", "audiences": ["a"], "role_map": {"x": "boss"}}})


async def test_the_service_refuses_to_start_with_an_invalid_identity_block(db: Database, base_settings: Any) -> None:
    from success_metrics.server.services import Services
    from success_metrics.settings import ConfigError

    bad = TenantConfig(id="acme", name="Acme", identity={"issuer": "https://x", "audiences": ["g"],
                                                          "algorithms": ["none"]})
    with pytest.raises(ConfigError, match=r"tenants\[acme\]\.identity: algorithms: .*'none'"):
        await Services.start(base_settings.model_copy(update={"tenants": (bad,)}), db)
