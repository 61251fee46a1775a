"""Result cache of computed frames, keyed by the ScopedQuery (tenant, row scope, query): single-flight per key.

It holds UNMASKED frames: the key names a tenant and a row scope, never a principal, and masking runs
after every hit, per principal — so one principal's masked view is never served to another, and one
tenant's frames cannot answer another tenant's key. A range whose end is within ``LIVE_MARGIN`` of now
lives ``ttl_live_s`` (data still arriving) — unless it spans a week or more: such analytics ranges may lag
up to 15 minutes (the spec), so they live ``min(ttl_closed_s, 15 min)`` and freshness.align keeps their key
for the quarter hour; when the quarter hour turns, the previous key's frame answers (if still fresh) while the
new key's is computed (``get_or_compute``). A closed period lives ``ttl_closed_s`` (default 900 s, the spec's
lag bound), which is also how long a backfill into it or a change of the tenant's settings may go unseen:
nothing calls ``invalidate_tenant`` yet (a CLI backfill runs in another process and could not reach this cache
anyway). Computations run in lanes: analytics, operational, and one background lane (the warmer, catch-ups).

Bounded by bytes (``max_bytes``, each frame counted by ``sizes.frame_bytes``) and by entries: when either is
over, the least recently used entry goes; expired entries go at every insertion (cachetools' TLRUCache), so
keys that moved on (a minute-aligned live range, last quarter hour's analytics) do not linger until evicted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cachetools import TLRUCache

from success_metrics.calculators import Frame, ScopedQuery
from success_metrics.query.freshness import ANALYTICS_STEP, is_analytics
from success_metrics.query.sizes import frame_bytes

T = TypeVar("T")

# events for the last quarter hour may still be arriving (the spec lets analytics lag up to 15 minutes)
LIVE_MARGIN = timedelta(minutes=15)
ANALYTICS_LAG_S = 900.0  # the spec's bound on how far analytics may lag
# analytics-range computations at once: the warmer computes most of them (one at a time), users the rest; the
# pool has 10 connections (storage/pool.py)
MAX_COMPUTING = 2
# operational ranges (under a week: cheap, but recomputed every 15 s and every minute) have their own lane, so a
# refresh of them never queues behind cold 24-month computations. 2 + 3: five at once in all; on 2 cores more
# lost 10-15 % (measured with a cap of 8)
MAX_COMPUTING_OPERATIONAL = 3
# background work rests as long as it worked while users are about (a user's computation runs or waits, or a user
# asked within this many seconds); with nobody about (at start, at night) it runs at full duty
USERS_ABOUT_S = 30.0


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    joined: int = 0  # callers that waited on a computation already running for the same key
    previous: int = 0  # callers answered by the previous quarter hour's frame while theirs was computed
    too_large: int = 0  # frames larger than the whole byte budget: served, not kept


@dataclass
class LaneLoad:
    """Computations of one lane: running, and waiting for a place (the operator's queue)."""

    running: int = 0
    waiting: int = 0


class ResultCache:
    def __init__(self, ttl_live_s: float, ttl_closed_s: float, *, max_entries: int = 4096,
                 max_bytes: int = 256 * 2**20,
                 max_computing: int = MAX_COMPUTING, max_computing_operational: int = MAX_COMPUTING_OPERATIONAL,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.ttl_live_s = ttl_live_s
        self.ttl_closed_s = ttl_closed_s
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        # cold computations hold a pooled connection for long; capping them leaves connections free for the
        # short transactions every request needs (policy, audit), so a cache hit never queues behind them
        self._computing = asyncio.Semaphore(max_computing)
        self._computing_operational = asyncio.Semaphore(max_computing_operational)
        self._background = asyncio.Semaphore(1)  # work nobody waits for: one at a time, half the time (_fill)
        self._user_asked = float("-inf")  # clock() when a user last asked (users_about)
        self._clock = clock
        self._now = now
        # key -> (expires, frame, its size), least recently used first
        self._entries: TLRUCache[ScopedQuery, tuple[float, Frame, int]] = TLRUCache(
            max_bytes, ttu=lambda _key, entry, _now: entry[0], timer=clock, getsizeof=lambda entry: entry[2])
        self._inflight: dict[ScopedQuery, asyncio.Task[Frame]] = {}
        self._invalidated: dict[str, int] = {}  # tenant -> invalidate_tenant calls, so a stale result is not kept
        self.stats = CacheStats()
        self.lanes = {"analytics": LaneLoad(), "operational": LaneLoad(), "background": LaneLoad()}
        self._lane_names = {id(self._computing): "analytics", id(self._computing_operational): "operational",
                            id(self._background): "background"}

    def ttl_for(self, key: ScopedQuery) -> float:
        q = key.query
        if q.end < self._now() - LIVE_MARGIN:
            return self.ttl_closed_s  # a closed period
        if is_analytics(q.start, q.end):
            return min(self.ttl_closed_s, ANALYTICS_LAG_S)  # analytics touching now: may lag 15 minutes
        return self.ttl_live_s  # operational: near real time

    async def get_or_compute(self, key: ScopedQuery, compute: Callable[[], Awaitable[Frame]], *,
                             background: bool = False, keep: bool = True) -> Frame:
        """The cached frame for ``key``, or the result of ``compute`` — run once however many ask at once.

        An analytics range ending now whose quarter hour has just begun is answered, while its own frame is
        computed in the background, by the frame of the same range one quarter hour earlier if that frame is
        still fresh (computed under 15 minutes ago: the spec's lag bound holds), so the turn of each quarter
        hour, when every such key moves on (freshness.align), costs no one a cold dashboard.

        ``background`` (the warmer) and those catch-up computations run in a lane of their own, one at a time,
        so they never hold up a computation someone is waiting for. ``keep=False``: the frame is not kept (a key
        nobody will ask for again must not push out the dashboards' entries)."""
        if not background:
            self._user_asked = self._clock()
        cached = self._fresh(key)
        if cached is not None:
            self.stats.hits += 1
            return cached
        earlier = self._fresh(self._quarter_before(key)) if self._rolls_over(key) else None
        task = self._inflight.get(key)
        if task is None:
            self.stats.misses += 1
            lane = self._background if background or earlier is not None else self._lane(key)
            task = asyncio.ensure_future(
                self._fill(key, compute, self._invalidated.get(key.tenant_id, 0), lane, keep=keep))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        else:
            self.stats.joined += 1
        if earlier is not None:
            self.stats.previous += 1
            return earlier
        # shield: one caller going away (client disconnect) must not cancel the others' computation
        return await asyncio.shield(task)

    def _lane(self, key: ScopedQuery) -> asyncio.Semaphore:
        q = key.query
        return self._computing if is_analytics(q.start, q.end) else self._computing_operational

    def _rolls_over(self, key: ScopedQuery) -> bool:
        """An analytics range ending now: its key moves on every quarter hour."""
        q = key.query
        return is_analytics(q.start, q.end) and q.end >= self._now() - LIVE_MARGIN

    @staticmethod
    def _quarter_before(key: ScopedQuery) -> ScopedQuery:
        q = key.query
        return replace(key, query=replace(q, start=q.start - ANALYTICS_STEP, end=q.end - ANALYTICS_STEP))

    def invalidate_tenant(self, tenant_id: str) -> int:
        """Drop every entry of one tenant (after its past changed); returns how many. A computation already
        running read the old data: its callers still get its frame, but it is not kept, and later callers
        compute anew rather than join it."""
        self._invalidated[tenant_id] = self._invalidated.get(tenant_id, 0) + 1
        for k in [k for k in self._inflight if k.tenant_id == tenant_id]:
            del self._inflight[k]  # _settle leaves alone a key a newer computation has taken over
        stale = [k for k in self._entries if k.tenant_id == tenant_id]
        for k in stale:
            del self._entries[k]
        return len(stale)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ScopedQuery]:
        """The keys of the frames held, least recently used first (what is cached, for an operator's look)."""
        return iter(list(self._entries))

    def __contains__(self, key: ScopedQuery) -> bool:
        """Whether a fresh frame is held for ``key`` (without making it more recently used)."""
        return key in self._entries

    @property
    def bytes(self) -> int:
        """Estimated bytes of the frames held (at most ``max_bytes``)."""
        return int(self._entries.currsize)

    async def in_background(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` in the background lane (the model trainer): one at a time with the warmer, at half duty while
        users are about."""
        return await self._run_in(self._background, work)

    async def _run_in(self, lane: asyncio.Semaphore, work: Callable[[], Awaitable[T]]) -> T:
        load = self.lanes[self._lane_names[id(lane)]]
        load.waiting += 1
        try:
            await lane.acquire()
        finally:
            load.waiting -= 1
        started = self._clock()
        load.running += 1
        try:
            return await work()
        finally:
            load.running -= 1
            if lane is self._background and self.users_about():
                # the lane rests as long as it worked: background work takes at most half of what it could, so a
                # warmer round (and the catch-ups at the turn of a quarter hour) leaves the cores to the users
                asyncio.get_running_loop().call_later(self._clock() - started, lane.release)
            else:
                lane.release()

    def users_about(self) -> bool:
        """Whether users are about: a user's computation runs or waits, or a user asked in the last USERS_ABOUT_S."""
        busy = any(load.running or load.waiting for name, load in self.lanes.items() if name != "background")
        return busy or self._clock() - self._user_asked < USERS_ABOUT_S

    async def _fill(self, key: ScopedQuery, compute: Callable[[], Awaitable[Frame]], invalidated: int,
                    lane: asyncio.Semaphore, *, keep: bool = True) -> Frame:
        frame = await self._run_in(lane, compute)
        ttl = self.ttl_for(key)
        if keep and ttl > 0 and invalidated == self._invalidated.get(key.tenant_id, 0):
            self._keep(key, self._clock() + ttl, frame)
        return frame

    def _keep(self, key: ScopedQuery, expires: float, frame: Frame) -> None:
        size = frame_bytes(frame)
        if size > self.max_bytes:
            self.stats.too_large += 1
            self._entries.pop(key, None)
            return
        if self._rolls_over(key):  # its previous quarter hour's frame was kept only to answer until this one came
            self._entries.pop(self._quarter_before(key), None)
        self._entries[key] = (expires, frame, size)  # evicts least recently used entries while over max_bytes
        while len(self._entries) > self.max_entries:
            self._entries.popitem()

    def _fresh(self, key: ScopedQuery) -> Frame | None:
        entry = self._entries.get(key)  # an expired entry reads as missing; a hit becomes most recently used
        return None if entry is None else entry[1]

    def _settle(self, key: ScopedQuery, done: asyncio.Task[Frame]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # retrieved here so an error nobody awaited is not reported as "never retrieved"
