"""The asyncpg pool, the tenant transaction, and the mapping of asyncpg errors to storage errors.

``Database.tenant(t)`` is how the service reads and writes tenant data: one transaction, running as the
non-owner role ``sm_app`` with ``app.tenant_id`` set locally, so row-level security confines every
statement to that tenant. ``Database.system()`` runs as the connecting (owner) role and is for
migrations, partition upkeep and cross-tenant key look-ups only.

A connection goes back to the pool only in a known state: after success or after an error the server answered
(the pool's reset then rolls back and clears the session). After a failure that leaves its protocol state
unknown - the link broke, the server is shutting down, the driver lost track, the operation was cancelled or
timed out - it is terminated instead, so no later request inherits a half-read reply. Those failures answer
503 (DatabaseUnavailable). ``Database.health`` remembers whether the last attempt reached the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from success_metrics.calculators import runtime
from success_metrics.storage.errors import DatabaseUnavailable, UnstorableValue

log = logging.getLogger(__name__)

APP_ROLE = "sm_app"
_CONFINE = "SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true)"
_CONFINE_GENERIC = _CONFINE + ", set_config('plan_cache_mode', 'force_generic_plan', true)"

# asyncpg errors meaning "the server is not there right now", as opposed to a bad statement
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,  # the driver lost track of the protocol (a reply cut off mid-way)
)

# connecting: the server is away, or refuses the login (unknown role, wrong password, no such database)
_CONNECT_FAILED: tuple[type[BaseException], ...] = (*_UNAVAILABLE, asyncpg.PostgresError)

# errors the server sends as it drops the connection: after them the session is gone whatever the protocol says
_SERVER_LEAVING: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.IdleSessionTimeoutError,
    asyncpg.exceptions.DatabaseDroppedError,
)

RESET_TIMEOUT_S = 5.0  # the pool's reset of a returned connection; past it the connection is terminated
PING_TIMEOUT_S = 3.0


def state_unknown(failure: BaseException) -> bool:
    """Whether a connection that saw ``failure`` may be in the middle of a reply: anything but an error the server
    answered (it then waits for the next statement) or an error our own code raised between statements."""
    if isinstance(failure, asyncpg.PostgresError):
        return isinstance(failure, _SERVER_LEAVING)
    if not isinstance(failure, Exception):  # cancelled (or interrupted) while a statement may be in flight
        return True
    return isinstance(failure, asyncpg.InterfaceError | asyncpg.InternalClientError | OSError)


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


@dataclass
class Health:
    """Whether the last attempt to use the database reached it; ``since`` is a time.monotonic() reading."""

    up: bool = True
    since: float = 0.0
    reason: str | None = None

    def reached(self) -> None:
        if not self.up:
            self.up, self.since, self.reason = True, time.monotonic(), None

    def failed(self, reason: str) -> None:
        if self.up:
            self.up, self.since = False, time.monotonic()
        self.reason = reason


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Database:
    def __init__(self, pool: asyncpg.Pool, dsn: str | None = None) -> None:
        self.pool = pool
        self.dsn = dsn  # for a connection of its own outside the pool (the settings listener's LISTEN)
        # the audit writer that groups this database's appends (guard.audit_writer); owned here, dies with it
        self.audit_writer: object | None = None
        self.health = Health(since=time.monotonic())
        self.waiting = 0  # callers waiting for a connection of the pool now

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 10) -> Database:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
        except _CONNECT_FAILED as exc:
            raise DatabaseUnavailable(f"Cannot connect to PostgreSQL: {exc.__class__.__name__}: {exc}") from exc
        assert pool is not None
        return cls(pool, dsn)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def tenant(self, tenant_id: str, *, generic_plans: bool = False) -> AsyncIterator[asyncpg.Connection]:
        """One transaction confined to ``tenant_id`` by row-level security. With ``generic_plans`` its statements
        run on PostgreSQL's generic plan of each (made once per pooled connection), set in the same round trip."""
        async with self._acquire() as conn, conn.transaction():
            await conn.execute(_CONFINE_GENERIC if generic_plans else _CONFINE, APP_ROLE, tenant_id)
            yield conn

    @asynccontextmanager
    async def system(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection as the owner role, outside any tenant: maintenance and key look-ups only."""
        async with self._acquire() as conn:
            yield conn

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await self.take()
            failure: BaseException | None = None
            try:
                yield conn
            except BaseException as exc:
                failure = exc
                raise
            finally:
                await self.hand_back(conn, failure)
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        except asyncpg.exceptions.DataError as exc:
            if not _unstorable(exc):
                raise
            reason = str(exc).splitlines()[0]
            raise UnstorableValue(f"A value in this request cannot be stored or compared ({reason}); remove NUL "
                                  "characters (\\u0000) and keep dates between the years 1 and 9999.") from None

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        reason = f"PostgreSQL is unavailable: {exc.__class__.__name__}"
        self.health.failed(reason)
        return DatabaseUnavailable(reason)

    async def take(self) -> asyncpg.Connection:
        """A connection of the pool, for a caller that hands it back itself (``hand_back``); DatabaseUnavailable
        when none can be had."""
        self.waiting += 1
        try:
            # the pool hands out a proxy that forwards every call to its connection; the code types it as one
            conn = cast(asyncpg.Connection, await self.pool.acquire())
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        finally:
            self.waiting -= 1
        self.health.reached()
        return conn

    async def hand_back(self, conn: asyncpg.Connection, failure: BaseException | None = None) -> None:
        """Return a connection taken with ``take``: terminated if ``failure`` leaves its state unknown, else released
        to the pool. Never raises but for cancellation: a reset that fails terminates the connection, and the
        work done in it stands or failed on its own."""
        if failure is not None and state_unknown(failure):
            self.discard(conn)
            return
        try:
            await self.pool.release(cast(PoolConnectionProxy, conn), timeout=RESET_TIMEOUT_S)
        except Exception as exc:  # asyncpg has terminated it; nothing is handed back
            log.warning("a database connection could not be reset and was closed: %s", exc.__class__.__name__)

    def stats(self) -> runtime.PoolStats:
        """The pool's occupancy now (System Health's database.pool)."""
        size, idle = self.pool.get_size(), self.pool.get_idle_size()
        return runtime.PoolStats(size=size, max_size=self.pool.get_max_size(), in_use=size - idle, idle=idle,
                         waiting=self.waiting)

    async def link(self) -> tuple[str, str]:
        """Whether this pool's connections are encrypted: yes (TLS), local (a Unix socket) or no, with how."""
        async with self._acquire() as conn:
            row = await conn.fetchrow("SELECT s.ssl, s.version, s.cipher, inet_server_addr() IS NULL AS local "
                                      "FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()")
        assert row is not None  # every backend has its pg_stat_ssl row
        if row["ssl"]:
            return "yes", f"TLS ({row['version']}, {row['cipher']})"
        if row["local"]:
            return "local", "a Unix socket on this host (the embedded PostgreSQL's): never on the network"
        return "no", "plain TCP: add sslmode=verify-full to DATABASE_URL and enable TLS on the server"

    @staticmethod
    def discard(conn: asyncpg.Connection) -> None:
        """Terminate a connection taken with ``take`` (its slot goes back to the pool, to be reconnected)."""
        with contextlib.suppress(asyncpg.InterfaceError):  # the pool took it back already, when it closed
            conn.terminate()

    @staticmethod
    def usable(conn: asyncpg.Connection) -> bool:
        """Whether a connection kept out of the pool between uses is still open and still ours: when a connection
        closes (the server went away), asyncpg gives its slot back to the pool by itself and detaches the object
        the keeper holds, every method of which then raises InterfaceError."""
        try:
            return not conn.is_closed()
        except asyncpg.InterfaceError:
            return False

    async def ping(self, timeout: float = PING_TIMEOUT_S) -> bool:
        """Whether the database answers a trivial statement within ``timeout`` seconds (``health`` follows)."""
        try:
            async with asyncio.timeout(timeout), self._acquire() as conn:
                return bool(await conn.fetchval("SELECT 1"))
        except DatabaseUnavailable:
            return False
        except TimeoutError:
            self.health.failed(f"PostgreSQL did not answer within {timeout:g} s")
            return False
