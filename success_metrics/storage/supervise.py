"""The database supervisor: notices that PostgreSQL went away and brings the service back when it can.

Every ``interval_s`` it looks whether the embedded server's postmaster still runs (a process check, no query);
if it died, it starts it again. Whenever the last use of the database failed (``Database.health``, set by
requests, /readyz and this loop alike), it probes with one ``SELECT 1`` until one succeeds. While something is
wrong, the pace backs off from ``interval_s`` to ``backoff_max_s``, and every failed attempt is logged with the
next one's delay. The pool itself reconnects a connection at a time; this loop adds the embedded restart, the
logs, and a ``health`` that follows the server back up even when no request arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from success_metrics.storage.embedded import EmbeddedPostgres
from success_metrics.storage.errors import DatabaseUnavailable
from success_metrics.storage.pool import Database

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, db: Database, embedded: EmbeddedPostgres | None, *, interval_s: float = 1.0,
                 backoff_max_s: float = 30.0) -> None:
        self.db = db
        self.embedded = embedded
        self.interval_s = interval_s
        self.backoff_max_s = backoff_max_s
        self.restarts = 0  # times the embedded server was started again
        self._attempts = 0  # failed attempts since the database was last fine
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="database supervisor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check(self) -> bool:
        """One round: revive a dead embedded server, probe a database that failed. True when all is well."""
        embedded = self.embedded
        if embedded is not None and embedded.started and not embedded.running():
            self.db.health.failed(f"the embedded PostgreSQL (pid {embedded.postmaster_pid}) is not running")
            if not self._attempts:
                log.error("the embedded PostgreSQL (pid %s) is not running; starting it again",
                          embedded.postmaster_pid)
            started = time.monotonic()
            try:
                revived = await asyncio.to_thread(embedded.revive)
            except DatabaseUnavailable as exc:
                self.db.health.failed(exc.message)
                return self._failed(exc.message)
            if revived:
                self.restarts += 1
                log.warning("the embedded PostgreSQL runs again (pid %s); starting it took %.1f s",
                            embedded.postmaster_pid, time.monotonic() - started)
        if self.db.health.up:
            self._attempts = 0
            return True
        down_since = self.db.health.since
        if await self.db.ping():
            log.warning("PostgreSQL answers again, %.1f s after it was found unreachable", time.monotonic() - down_since)
            self._attempts = 0
            return True
        return self._failed(self.db.health.reason or "unreachable")

    def _failed(self, reason: str) -> bool:
        self._attempts += 1
        log.error("database unavailable (attempt %d): %s; next attempt in %.1f s", self._attempts, reason,
                  self.delay())
        return False

    def delay(self) -> float:
        """Seconds to the next round: the interval while all is well, doubling per failed attempt up to the cap."""
        return min(self.interval_s * 2 ** self._attempts, self.backoff_max_s)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.delay())
            try:
                await self.check()
            except Exception:  # the loop must outlive one failed round; the next round retries
                log.exception("database supervision round failed")
