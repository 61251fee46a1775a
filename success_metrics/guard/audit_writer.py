"""Audit writes on the right connection: appends of one tenant grouped into rounds (GroupCommit), and the
recording transaction in which a route appends its request's record beside the change it records."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from success_metrics.guard import audit_note, signals
from success_metrics.rbac import audit
from success_metrics.rbac import Principal
from success_metrics.storage import DatabaseUnavailable
from success_metrics.storage import Database

log = logging.getLogger(__name__)


async def record(db: Database, rec: audit.AuditRecord) -> None:
    """Append to the record's tenant chain, returning once it is committed (AuditUnavailable when it cannot be
    written). Records of one tenant arriving while its previous append runs are written together (GroupCommit)."""
    rec = audit_note.noted(rec)  # the request has its record now; a failed authentication is counted (rate limits)
    writer = _writers.get(db)
    if writer is None:
        writer = _writers[db] = GroupCommit(db)
    with signals.AUDIT_WRITE_SECONDS.time():
        await writer.append(rec)


MAX_BATCH = 256  # records of one tenant written in one round
IDLE_RELEASE_S = 1.0  # connections the writer kept go back to the pool after this long without a round


class GroupCommit:
    """Audit appends of one tenant share rounds: one writer per tenant drains its queue, each round one
    all-or-none append (the chain's advisory lock taken once, not once per request, and one connection per
    tenant instead of one per waiting request). Every caller awaits the commit of the round holding its
    record, so if a round fails, each of its requests fails (nothing is served) as a lone append would.

    A round is one statement, one round trip, in the steady state: the writer remembers the head it last wrote
    for each tenant, which audit.append_many checks under the chain's lock (another replica or the CLI may
    have appended since; then the rows are chained again from the real head), and it keeps up to ``keep``
    connections between rounds rather than returning each to the pool, whose reset on release would be a
    second round trip. There is nothing to reset: audit_append changes no session state (its lock, lock_timeout
    and tenant setting end with its own transaction). A failed round's connection is terminated, never kept or
    pooled (it may hold half a reply); a kept connection that closed meanwhile (asyncpg then gives its slot back
    to the pool by itself) is dropped before a round; kept connections go back after IDLE_RELEASE_S without a
    round, so an idle service holds none and closing the pool waits at most that long.

    The rounds take the pool's connections as they come (the owner role), not a tenant transaction, which would
    cost BEGIN, set_config and COMMIT: three more round trips. audit_append drops to sm_app confined to the
    round's tenant for its own statements (migration 0006), so the writer has the rights of a tenant
    transaction, no more."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queues: dict[str, list[tuple[audit.AuditRecord, asyncio.Future[None]]]] = {}  # tenant has a writer
        self._writers: set[asyncio.Task[None]] = set()
        self._heads: dict[str, audit.Head] = {}  # the last head written per tenant: a guess checked under the lock
        # at most a third of the pool is kept idle between rounds, so the rest of the service still finds some
        self.keep = max(1, db.pool.get_max_size() // 3)
        self._idle: list[asyncpg.Connection] = []
        self._last_round = 0.0
        self._trim_timer: asyncio.TimerHandle | None = None
        self._releases: set[asyncio.Task[None]] = set()

    async def append(self, rec: audit.AuditRecord) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(rec.tenant_id)
        if queue is None:
            queue = self._queues[rec.tenant_id] = []
            task = asyncio.ensure_future(self._drain(rec.tenant_id, queue))
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)
        queue.append((rec, done))
        await asyncio.shield(done)  # a caller going away does not cancel the others' round

    async def _drain(self, tenant: str, queue: list[tuple[audit.AuditRecord, asyncio.Future[None]]]) -> None:
        batch: list[tuple[audit.AuditRecord, asyncio.Future[None]]] = []
        try:
            while queue:
                batch = queue[:MAX_BATCH]
                del queue[:MAX_BATCH]
                try:
                    await self._write(tenant, [rec for rec, _ in batch])
                except Exception as exc:  # noqa: BLE001 (handed to every caller of the round, who raise it)
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
        finally:  # no await since the queue was last seen empty: nobody can have joined it meanwhile
            del self._queues[tenant]
            for _, done in (*batch, *queue):  # still pending only when this writer was cancelled (shutdown)
                done.cancel()

    async def _write(self, tenant: str, records: list[audit.AuditRecord]) -> None:
        conn = await self._connection()
        try:
            written = await audit.append_many(conn, records, self._heads.get(tenant))
        except BaseException:
            self._heads.pop(tenant, None)  # whether the head moved is unknown; the next round asks
            self.db.discard(conn)  # whether its last reply was read whole is unknown too: never kept or pooled
            raise
        self._heads[tenant] = written[-1]
        self._put_back(conn)

    async def _connection(self) -> asyncpg.Connection:
        while self._idle:
            kept = self._idle.pop()
            if self.db.usable(kept):
                return kept
            self.db.discard(kept)  # closed while kept (the server went away): its slot goes back to the pool
        try:
            return await self.db.take()
        except DatabaseUnavailable as exc:
            raise audit.unavailable(exc.message) from None

    def _put_back(self, conn: asyncpg.Connection) -> None:
        if len(self._idle) >= self.keep:
            self._release_later(conn)
            return
        self._idle.append(conn)
        loop = asyncio.get_running_loop()
        self._last_round = loop.time()
        if self._trim_timer is None:
            self._trim_timer = loop.call_later(IDLE_RELEASE_S, self._trim)

    def _trim(self) -> None:
        """Return the kept connections to the pool once no round used one for IDLE_RELEASE_S."""
        self._trim_timer = None
        if not self._idle:
            return
        loop = asyncio.get_running_loop()
        wait = self._last_round + IDLE_RELEASE_S - loop.time()
        if wait > 0:
            self._trim_timer = loop.call_later(wait, self._trim)
            return
        idle, self._idle = self._idle, []
        for conn in idle:
            self._release_later(conn)

    def _release_later(self, conn: asyncpg.Connection) -> None:
        """Hand a healthy connection back to the pool without making a round wait for its reset."""
        task = asyncio.ensure_future(self.db.hand_back(conn))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def aclose(self) -> None:
        """Hand the kept connections back now (a pool closes only once every connection is back)."""
        if self._trim_timer is not None:
            self._trim_timer.cancel()
            self._trim_timer = None
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self.db.hand_back(conn) for conn in idle), *self._releases, return_exceptions=True)


def _settle(batch: list[tuple[audit.AuditRecord, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, done in batch:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


_writers: weakref.WeakKeyDictionary[Database, GroupCommit] = weakref.WeakKeyDictionary()


async def close_writer(db: Database) -> None:
    """Before closing ``db``: let its audit writer hand back the connections it keeps between rounds."""
    writer = _writers.pop(db, None)
    if writer is not None:
        await writer.aclose()


@asynccontextmanager
async def recording(db: Database, who: Principal) -> AsyncIterator[asyncpg.Connection]:
    """A transaction of ``who``'s tenant in which a route appends its request's record (``append``) beside the
    change or read it records, both committed or neither: once it commits, that is the request's one record."""
    async with db.tenant(who.tenant_id) as conn:
        yield conn
    audit_note.written()


async def append(conn: asyncpg.Connection, rec: audit.AuditRecord) -> None:
    """Append a request's record inside a ``recording`` transaction, saying how its caller authenticated."""
    await audit.append(conn, audit_note.stamped(rec))


