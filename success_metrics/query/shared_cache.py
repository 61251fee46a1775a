"""The layer every replica shares behind each one's in-process cache: encoded frames in the frame_cache table.

A key is the ScopedQuery as canonical text (tenant first) and its sha256; the table row keeps both, so a hash
never answers another key, and row-level security keeps a tenant to its own rows. Single-flight across replicas:
the replica that computes a cold key holds a session advisory lock on it, on a connection of its own outside the
pool (so the lock goes when the replica dies); another replica asking for the same key meanwhile polls, a growing
interval apart, until the row is there or the lock is free, and computes itself only after ``wait_s`` or once the
holder is gone without writing. Without that connection (a service that does not listen to the other replicas)
each replica computes on its own, as before. Any failure of the table or the lock connection is a miss: the
frame is computed as without the shared layer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime

import asyncpg

from success_metrics.calculators import ScopedQuery
from success_metrics.storage import Database, StorageError
from success_metrics.storage import frame_cache as table

log = logging.getLogger(__name__)

WAIT_S = 30.0  # longest wait for another replica's computation of the same key
POLL_S = (0.02, 0.05, 0.1, 0.2, 0.5)  # between looks while waiting; the last repeats
SWEEP_EVERY_S = 60.0  # expired rows are deleted at most this often, ``SWEEP_ROWS`` at a time
SWEEP_ROWS = 1000
_LOCK_SPACE = 0x534D4643  # "SMFC": the first half of every frame lock, apart from other advisory locks
# what a lost or broken connection raises (InternalClientError: the driver lost track of a reply cut off mid-way)
_FAILED = (StorageError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError,
           asyncio.TimeoutError)

Connect = Callable[[], Awaitable[asyncpg.Connection]]


def key_text(key: ScopedQuery) -> str:
    """The whole ScopedQuery as canonical JSON, the tenant first: equal keys, equal text, in every replica."""
    fields = dataclasses.asdict(key)
    tenant = fields.pop("tenant_id")
    return json.dumps([tenant, fields], sort_keys=True, separators=(",", ":"), default=str)


@dataclasses.dataclass(frozen=True, slots=True)
class Turn:
    """What a cold key's computer learns first: the frame if it is in the table (at once or after waiting for
    another replica), else when its computation begins (for ``SharedFrames.store``)."""

    found: table.Stored | None
    since: datetime | None


class _Locks:
    """Session advisory locks on one connection of our own, one statement at a time."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._conn: asyncpg.Connection | None = None
        self._mutex = asyncio.Lock()

    async def try_lock(self, n: int) -> asyncpg.Connection | bool | None:
        """The connection holding the lock on ``n``; False: another session holds it; None: no lock to be had.
        A connection found broken (the database restarted) is replaced once, at once."""
        async with self._mutex:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.is_closed():
                        self._conn = await asyncio.wait_for(self._connect(), 5.0)
                    taken = await self._conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", _LOCK_SPACE, n,
                                                      timeout=5.0)
                except _FAILED as exc:
                    self._drop()
                    if attempt == 2:
                        log.warning("frame lock connection failed (%s); computing without it", exc.__class__.__name__)
                else:
                    return self._conn if taken else False
            return None

    async def unlock(self, holder: asyncpg.Connection, n: int) -> None:
        async with self._mutex:
            if holder is not self._conn:
                return  # that connection is gone, and its locks with it
            try:
                await holder.fetchval("SELECT pg_advisory_unlock($1, $2)", _LOCK_SPACE, n, timeout=5.0)
            except _FAILED:
                self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
        self._conn = None

    async def close(self) -> None:
        async with self._mutex:
            if self._conn is not None:
                with suppress(*_FAILED):
                    await asyncio.wait_for(self._conn.close(), 1.0)
            self._drop()


class SharedFrames:
    def __init__(self, db: Database, *, wait_s: float = WAIT_S, poll_s: tuple[float, ...] = POLL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._clock = clock
        self._locks: _Locks | None = None
        self._next_sweep = clock() + SWEEP_EVERY_S
        self.waited = 0  # cold keys another replica was computing when asked (its frame was then awaited)
        self.waiting = 0  # callers waiting for another replica's computation now

    def lock_with(self, connect: Connect) -> None:
        """Take part in single-flight across replicas, holding locks on connections from ``connect``."""
        self._locks = _Locks(connect)

    async def close(self) -> None:
        if self._locks is not None:
            await self._locks.close()

    async def lookup(self, key: ScopedQuery) -> Turn:
        text = key_text(key)
        try:
            async with self.db.tenant(key.tenant_id) as conn:
                at, found = await table.read(conn, key.tenant_id, _digest(text), text)
        except _FAILED as exc:
            log.warning("shared frame cache unreadable (%s): computing", exc.__class__.__name__)
            return Turn(None, None)
        return Turn(found, at)

    @asynccontextmanager
    async def turn(self, key: ScopedQuery) -> AsyncIterator[Turn]:
        """The key's row if there is one; otherwise this replica's turn to compute it (the lock is held until the
        block ends, after ``store``), once no other replica is computing it or after ``wait_s``."""
        first = await self.lookup(key)
        if first.found is not None or self._locks is None:
            yield first
            return
        n = int.from_bytes(hashlib.sha256(key_text(key).encode()).digest()[:4], "big", signed=True)
        deadline = self._clock() + self.wait_s
        waited = 0
        holder = await self._locks.try_lock(n)
        if holder is False:
            self.waited += 1
            self.waiting += 1
            try:
                while holder is False and self._clock() < deadline:
                    await asyncio.sleep(self.poll_s[min(waited, len(self.poll_s) - 1)])
                    waited += 1
                    holder = await self._locks.try_lock(n)
            finally:
                self.waiting -= 1
        try:
            # a replica that held the lock may have written the frame meanwhile
            yield await self.lookup(key) if waited else first
        finally:
            if not isinstance(holder, bool) and holder is not None:
                await self._locks.unlock(holder, n)

    async def store(self, key: ScopedQuery, body: bytes, ttl_s: float, since: datetime) -> None:
        text = key_text(key)
        try:
            async with self.db.tenant(key.tenant_id) as conn:
                await table.write(conn, key.tenant_id, _digest(text), text, body, ttl_s, since)
            if self._clock() >= self._next_sweep:
                self._next_sweep = self._clock() + SWEEP_EVERY_S
                async with self.db.system() as conn:
                    await table.sweep(conn, SWEEP_ROWS)
        except _FAILED as exc:
            log.warning("shared frame cache unwritable (%s); the frame is kept here only", exc.__class__.__name__)

    async def invalidate(self, tenant_id: str) -> int:
        """Delete the tenant's shared frames and tell every replica (their listeners drop their own copies)."""
        async with self.db.tenant(tenant_id) as conn:
            return await table.invalidate(conn, tenant_id)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
