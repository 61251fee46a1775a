"""The asyncpg pool, the tenant transaction, and the mapping of asyncpg errors to storage errors.

``Database.tenant(t)`` is how the service reads and writes tenant data: one transaction, running as the
non-owner role ``sm_app`` with ``app.tenant_id`` set locally, so row-level security confines every
statement to that tenant. ``Database.system()`` runs as the connecting (owner) role and is for
migrations, partition upkeep and cross-tenant key look-ups only.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from datasource.storage.errors import DatabaseUnavailable, UnstorableValue

APP_ROLE = "sm_app"

# asyncpg errors meaning "the server is not there right now", as opposed to a bad statement
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
)


# values the caller sent that PostgreSQL cannot hold or compare (never a fault of our statements)
_UNSTORABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.UntranslatableCharacterError,  # \u0000 in jsonb
    asyncpg.exceptions.CharacterNotInRepertoireError,  # NUL in text
    asyncpg.exceptions.DatetimeFieldOverflowError,
)


def _unstorable(exc: asyncpg.exceptions.DataError) -> bool:
    # asyncpg raises the bare DataError for an argument it cannot encode, e.g. a datetime past year 9999 in UTC
    return isinstance(exc, _UNSTORABLE) or (type(exc) is asyncpg.exceptions.DataError
                                             and str(exc).startswith("invalid input for query argument"))


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Database:
    def __init__(self, pool: asyncpg.Pool, dsn: str | None = None) -> None:
        self.pool = pool
        self.dsn = dsn  # for a connection of its own outside the pool (the settings listener's LISTEN)

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 10) -> Database:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"Cannot connect to PostgreSQL: {exc.__class__.__name__}: {exc}") from exc
        assert pool is not None
        return cls(pool, dsn)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def tenant(self, tenant_id: str) -> AsyncIterator[asyncpg.Connection]:
        """One transaction confined to ``tenant_id`` by row-level security."""
        async with self._acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true)", APP_ROLE, tenant_id
            )
            yield conn

    @asynccontextmanager
    async def system(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection as the owner role, outside any tenant: maintenance and key look-ups only."""
        async with self._acquire() as conn:
            yield conn

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"PostgreSQL is unavailable: {exc.__class__.__name__}") from exc
        except asyncpg.exceptions.DataError as exc:
            if not _unstorable(exc):
                raise
            reason = str(exc).splitlines()[0]
            raise UnstorableValue(f"A value in this request cannot be stored or compared ({reason}); remove NUL "
                                  "characters (\\u0000) and keep dates between the years 1 and 9999.") from None

    async def ping(self) -> bool:
        try:
            async with self._acquire() as conn:
                return bool(await conn.fetchval("SELECT 1"))
        except DatabaseUnavailable:
            return False
