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

from datasource.app import create_app
from datasource.services import Services, open_database
from datasource.settings import Settings, TenantConfig
from datasource.storage.pool import Database

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
    return Settings(database_url=database_url, data_dir=data_dir, dev_issuer_enabled=True)


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
            from datasource import tenants as tenant_store

            for t in tenants:
                await tenant_store.upsert(conn, t)
        app.state.services = services
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(client)
        return client

    yield factory
    for c in clients:
        await c.aclose()
