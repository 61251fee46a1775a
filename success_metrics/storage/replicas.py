"""Keeping this replica's in-memory identity and policy in step with changes made by other replicas (or the CLI).

A change is announced in its own transaction (success_metrics/rbac/changes.py). Each service process listens on a connection of
its own, outside the pool, and on a notice reloads that tenant's identity override, forgets its remembered policy
(and with it nothing else: masking reads the policy per request), or refetches its provider's keys. When the
connection is lost it reconnects with backoff and then reloads everything, since notices sent meanwhile are lost.
A silent network failure is found by a ping every ``ping_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from success_metrics.rbac import changes
from success_metrics.rbac import What

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[asyncpg.Connection]]
Apply = Callable[[str, What], Awaitable[None]]
ReloadAll = Callable[[], Awaitable[None]]

RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # between reconnection attempts; the last repeats
PING_S = 10.0
_LOST = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError)


class SettingsListener:
    def __init__(self, connect: Connect, apply: Apply, reload_all: ReloadAll, *, ping_s: float = PING_S,
                 retry_s: tuple[float, ...] = RETRY_S) -> None:
        self._connect = connect
        self._apply = apply
        self._reload_all = reload_all
        self.ping_s = ping_s
        self.retry_s = retry_s
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.connections = 0  # successful LISTENs so far (a test sees a reconnection by it)
        self.conn: asyncpg.Connection | None = None

    async def start(self, timeout_s: float = 5.0) -> None:
        """Run in the background; return once the first LISTEN is in place (or after ``timeout_s``, retrying on)."""
        self._task = asyncio.create_task(self._run(), name="settings-listener")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                conn = await self._connect()
            except _LOST as exc:
                failures += 1
                delay = self.retry_s[min(failures, len(self.retry_s)) - 1]
                log.warning("settings listener cannot connect (%s); retrying in %.1f s", exc.__class__.__name__, delay)
                await asyncio.sleep(delay)
                continue
            try:
                await self._listen(conn)
            except _LOST as exc:
                log.warning("settings listener lost its connection (%s); reconnecting", exc.__class__.__name__)
            except Exception:  # a fault of ours must not end the listening for good
                log.exception("settings listener failed; reconnecting")
            finally:
                self._listening.clear()
                self.conn = None
                with contextlib.suppress(*_LOST):
                    await asyncio.wait_for(conn.close(), 1.0)
                conn.terminate()  # does nothing once closed
            failures = 1
            await asyncio.sleep(self.retry_s[0])

    async def _listen(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        await conn.add_listener(changes.CHANNEL, self._heard)
        self.conn = conn
        self.connections += 1
        if self.connections > 1:
            log.info("settings listener reconnected; reloading every tenant's settings")
            try:
                await self._reload_all()  # notices sent while it was away are lost
            except Exception as exc:  # the database is not back yet: reconnect and reload again
                raise ConnectionResetError(f"reloading after reconnection failed: {exc.__class__.__name__}") from exc
        self._listening.set()
        heard: asyncio.Future[str] | None = None
        try:
            while not lost.is_set():
                heard = heard or asyncio.ensure_future(self._queue.get())
                gone = asyncio.ensure_future(lost.wait())
                either: set[asyncio.Future[Any]] = {heard, gone}
                done, _ = await asyncio.wait(either, timeout=self.ping_s, return_when=asyncio.FIRST_COMPLETED)
                gone.cancel()
                if heard in done:
                    payload, heard = heard.result(), None
                    await self._handle(payload)
                elif not done:  # quiet for ping_s: is the connection still there?
                    await conn.fetchval("SELECT 1", timeout=self.ping_s)
        finally:
            if heard is not None:
                heard.cancel()
        raise ConnectionResetError("the connection closed")

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._queue.put_nowait(payload)

    async def _handle(self, payload: str) -> None:
        notice = changes.parse(payload)
        if notice is None:
            log.warning("settings listener ignored a notice it does not understand")
            return
        try:
            await self._apply(*notice)
        except Exception:  # one failed reload must not stop the listener; the next notice or reconnect retries
            log.exception("reloading %s of tenant %s failed", notice[1], notice[0])
