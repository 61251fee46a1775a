"""One PostgreSQL per test session (embedded, or a fresh database on DATABASE_URL), migrated once.

Tests isolate themselves by tenant: ``new_tenant()`` gives a tenant id no other test uses, so row
counts are exact without truncating shared tables.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from success_metrics.server.app import create_app
from success_metrics.server.services import Services, open_database
from success_metrics.settings import Settings, TenantConfig
from success_metrics.storage.pool import Database

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def data_dir() -> Any:
    with tempfile.TemporaryDirectory(prefix="sm-test-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session")
async def database_url(data_dir: Path) -> AsyncIterator[str | None]:
    """None → embedded server under data_dir; otherwise a throw-away database on DATABASE_URL's server."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        yield None
        return
    name = f"sm_test_{os.getpid()}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield base.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(base)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
def base_settings(data_dir: Path, database_url: str | None) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, dev_issuer_enabled=True, cache_warm=False)


@pytest.fixture(scope="session")
async def db(base_settings: Settings) -> AsyncIterator[Database]:
    database, embedded = await open_database(base_settings)
    yield database
    await database.close()
    if embedded is not None:
        embedded.stop()


@pytest.fixture
def new_tenant_id() -> Callable[[str], str]:
    """A tenant id unique to this test session and call."""
    return lambda prefix="t": f"{prefix}-{os.getpid() % 10000}-{next(_counter)}"


@pytest.fixture
async def make_client(
    db: Database, base_settings: Settings
) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """Build the real app on the session database with extra settings; call it through ASGI."""
    clients: list[httpx.AsyncClient] = []

    async def factory(*tenants: TenantConfig, **overrides: Any) -> httpx.AsyncClient:
        settings = base_settings.model_copy(update={"tenants": tuple(tenants), **overrides})
        app = create_app(settings, database=db)
        services = await Services.start(settings, db)
        async with db.system() as conn:
            from success_metrics.storage import tenants as tenant_store

            for t in tenants:
                await tenant_store.upsert(conn, t)
        app.state.services = services
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(client)
        return client

    yield factory
    for c in clients:
        await c.aclose()


@pytest.fixture
def token_for(base_settings: Settings) -> Callable[..., str]:
    """A dev-issuer token (real ES256 signature) for a tenant and role; claims: subject, agent_id, teams, any other."""
    from success_metrics.rbac import dev_issuer

    def mint(tenant_id: str, role: str, **claims: Any) -> str:
        return dev_issuer.mint(base_settings.data_dir, tenant_id, role, issuer=base_settings.dev_issuer,
                               audience=base_settings.dev_audience, **claims)

    return mint


class TestIdP:
    """An identity provider for tests: an RSA key whose JWKS (and OIDC discovery) is served through respx."""

    __test__ = False

    def __init__(self, router: Any, name: str) -> None:
        self.router = router
        self.issuer = f"https://idp.test/realms/{name}"
        self.jwks_uri = f"{self.issuer}/protocol/openid-connect/certs"
        self.keys: dict[str, Any] = {}
        self.kid = self.rotate()
        self.jwks_route = router.get(self.jwks_uri).mock(side_effect=lambda request: httpx.Response(
            200, json={"keys": [self.public_jwk(k) for k in self.keys]}))
        router.get(f"{self.issuer}/.well-known/openid-configuration").mock(return_value=httpx.Response(
            200, json={"issuer": self.issuer, "jwks_uri": self.jwks_uri}))

    def rotate(self) -> str:
        """Publish a new signing key (the old one stays published) and sign with it from now on."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        kid = f"k{len(self.keys) + 1}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        return kid

    def public_jwk(self, kid: str) -> dict[str, Any]:
        import json

        from jwt.algorithms import RSAAlgorithm

        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        jwk.update(kid=kid, use="sig", alg="RS256")
        return jwk

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, headers: dict[str, Any] | None = None,
             **overrides: Any) -> str:
        import time

        import jwt

        now = int(time.time())
        payload = {"iss": self.issuer, "aud": "grafana", "sub": "user-1", "iat": now, "exp": now + 300, **claims}
        payload.update(overrides)
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, self.keys[kid or self.kid], algorithm="RS256",
                          headers={"kid": kid or self.kid, **(headers or {})})

    def tenant(self, tenant_id: str, **identity: Any) -> TenantConfig:
        """A TenantConfig whose identity trusts this provider: groups claim, role map sm-<role> → role."""
        config = {"issuer": self.issuer, "audiences": ["grafana"], "jwks_uri": self.jwks_uri,
                  "role_map": {f"sm-{r}": r for r in ("executive", "manager", "agent", "admin", "auditor")}}
        config.update(identity)
        return TenantConfig(id=tenant_id, name=tenant_id.title(), identity=config)


@pytest.fixture
def idp() -> Any:
    """``idp(name)`` → a TestIdP; the respx router passes every other host through (the ASGI app is not HTTP)."""
    import respx

    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        made = itertools.count(1)
        yield lambda name=None: TestIdP(router, name or f"realm{os.getpid()}-{next(_counter)}-{next(made)}")
