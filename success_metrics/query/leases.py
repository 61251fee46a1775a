"""One warm-up per tenant and quarter hour across replicas: a lease per tenant in ``tenant_warmups`` (migration 0018).

A replica's warmer ``claim``s a tenant for the quarter hour its round warms. The claim is one atomic upsert that
succeeds unless the row already names this quarter hour (or a later one) and a holder that is still alive; the
holder is this replica's lease connection, named by its pid and start time as ``pg_stat_activity`` shows them. So a
lease holds while its replica's connection lives, whether the warm-up is running or finished, and frees itself when
the replica dies or restarts, without any clock to tune. A replica that cannot claim a tenant skips it this round:
another one warms (or has warmed) it. ``release`` gives a claim back after a warm-up failed half-way.

Liveness needs the replicas to connect as one role (PostgreSQL hides other roles' sessions' start time): under
different roles a holder reads as dead and tenants are warmed twice, never not at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import asyncpg

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]

# the lease connection is gone (terminated, the server restarted): so are its leases
_BROKEN = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.AdminShutdownError)

_CLAIM = """
INSERT INTO tenant_warmups AS w (tenant_id, warmed_for, holder_pid, holder_started)
SELECT $1, $2, pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()
ON CONFLICT (tenant_id) DO UPDATE SET warmed_for = EXCLUDED.warmed_for, holder_pid = EXCLUDED.holder_pid,
    holder_started = EXCLUDED.holder_started
WHERE w.warmed_for < EXCLUDED.warmed_for
   OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.holder_pid AND a.backend_start = w.holder_started)
RETURNING true"""


class WarmLeases:
    """This replica's warm-up leases, anchored on a connection of its own (``connect``), opened on first use and
    again after it broke (which frees every lease it held)."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the one connection

    async def claim(self, tenant_id: str, quarter: datetime) -> bool:
        """Whether this replica now holds ``tenant_id``'s lease for the round warming ``quarter``."""
        async with self._lock:
            try:
                return bool(await (await self._connection()).fetchval(_CLAIM, tenant_id, quarter))
            except _BROKEN:  # the connection went (and its leases with it): once more on a new one
                if self._conn is not None:
                    self._conn.terminate()
                    self._conn = None
                return bool(await (await self._connection()).fetchval(_CLAIM, tenant_id, quarter))

    async def release(self, tenant_id: str, quarter: datetime) -> None:
        """Give back a claim whose warm-up did not finish, so another replica (or the next round) warms the tenant."""
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():  # else the lease went with its connection
                await self._conn.execute("DELETE FROM tenant_warmups WHERE tenant_id = $1 AND warmed_for = $2 "
                                         "AND holder_pid = pg_backend_pid()", tenant_id, quarter)

    async def close(self) -> None:
        """Close the lease connection: every lease it held is free."""
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await self._connect()
        return self._conn
