"""Result cache of computed frames, keyed by the ScopedQuery (tenant, row scope, query): single-flight per key.

It holds UNMASKED frames: the key names a tenant and a row scope, never a principal, and masking runs
after every hit, per principal — so one principal's masked view is never served to another, and one
tenant's frames cannot answer another tenant's key. A range whose end is within ``LIVE_MARGIN`` of now
lives ``ttl_live_s`` (data still arriving) — unless it spans a week or more: such analytics ranges may lag
up to 15 minutes (the spec), so they live ``min(ttl_closed_s, 15 min)`` and freshness.align keeps their key
for the quarter hour; when the quarter hour turns, the previous key's frame answers (if still fresh) while the
new key's is computed (``get_or_compute``). A closed period lives ``ttl_closed_s`` (default 900 s, the spec's
lag bound), the longest a change to its past may go unseen where nothing calls ``invalidate`` (a backfill of
closed days and a change of the tenant's settings do, for every replica: shared_cache.py). Computations run in
lanes: analytics, operational, and one background lane (the warmer, catch-ups).

Frames are kept encoded (frame_codec.py), bounded by their exact bytes (``max_bytes``) and by entries: when either
is over, the least recently used entry goes; expired entries go at every insertion (cachetools' TLRUCache), so
keys that moved on (a minute-aligned live range, last quarter hour's analytics) do not linger until evicted. The
most recently used frames are also kept decoded (``hot_bytes``, by ``sizes.rough_frame_bytes``): a hit on them
costs no decoding, and the same objects keep the serializers' memo (keyed by identity) hitting. Behind this layer,
when given, is the table every replica shares (``shared``): in-process, then shared, then computed; a computed
frame is written to both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cachetools import LRUCache, TLRUCache

from success_metrics.calculators import Frame, ScopedQuery
from success_metrics.query import frame_codec
from success_metrics.query.freshness import ANALYTICS_STEP, is_analytics
from success_metrics.query.shared_cache import SharedFrames
from success_metrics.query.sizes import rough_frame_bytes

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")


def settle(inflight: dict[K, asyncio.Task[T]], key: K, done: asyncio.Task[T]) -> None:
    """A single-flight computation ended: forget it (unless a newer one has taken its key over), and retrieve its
    error so one nobody awaited is not reported as "never retrieved"."""
    if inflight.get(key) is done:
        del inflight[key]
    if not done.cancelled():
        done.exception()
Body = bytes  # an encoded frame (frame_codec); the class's own ``bytes`` property hides the type's name there

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
HOT_BYTES = 16 * 2**20  # decoded frames kept beside their bytes (estimated by sizes.rough_frame_bytes)


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    joined: int = 0  # callers that waited on a computation already running for the same key
    previous: int = 0  # callers answered by the previous quarter hour's frame while theirs was computed
    too_large: int = 0  # frames larger than the whole byte budget: served, not kept
    shared: int = 0  # misses answered by the table every replica shares (another replica computed the frame)
    corrupt: int = 0  # bodies that did not decode: dropped and computed anew


@dataclass
class LaneLoad:
    """Computations of one lane: running, and waiting for a place (the operator's queue)."""

    running: int = 0
    waiting: int = 0


class ResultCache:
    def __init__(self, ttl_live_s: float, ttl_closed_s: float, *, max_entries: int = 4096,
                 max_bytes: int = 256 * 2**20, hot_bytes: int = HOT_BYTES, shared: SharedFrames | None = None,
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
        self.shared = shared
        # key -> (expires, encoded frame), least recently used first
        self._entries: TLRUCache[ScopedQuery, tuple[float, Body]] = TLRUCache(
            max_bytes, ttu=lambda _key, entry, _now: entry[0], timer=clock, getsizeof=lambda entry: len(entry[1]))
        # key -> (the body it was decoded from, frame, its estimated size): valid while that body is the entry's
        self._hot: LRUCache[ScopedQuery, tuple[Body, Frame, int]] = LRUCache(
            hot_bytes, getsizeof=lambda entry: entry[2])
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

    async def invalidate(self, tenant_id: str) -> int:
        """Drop every frame of one tenant here and in the shared table, and tell the other replicas (after its past
        or settings changed); returns how many were held here."""
        dropped = self.invalidate_tenant(tenant_id)
        if self.shared is not None:
            await self.shared.invalidate(tenant_id)
        return dropped

    def invalidate_tenant(self, tenant_id: str) -> int:
        """Drop every entry of one tenant held in this process (its past changed; another replica said so);
        returns how many. A computation already running read the old data: its callers still get its frame, but
        it is not kept, and later callers compute anew rather than join it."""
        self._invalidated[tenant_id] = self._invalidated.get(tenant_id, 0) + 1
        for k in [k for k in self._inflight if k.tenant_id == tenant_id]:
            del self._inflight[k]  # _settle leaves alone a key a newer computation has taken over
        for k in [k for k in self._hot if k.tenant_id == tenant_id]:
            del self._hot[k]
        stale = [k for k in self._entries if k.tenant_id == tenant_id]
        for k in stale:
            del self._entries[k]
        return len(stale)

    def invalidate_all(self) -> None:
        """Drop every entry held in this process (notices may have been missed: the listener reconnected)."""
        for tenant_id in {k.tenant_id for k in (*self._entries, *self._inflight)}:
            self.invalidate_tenant(tenant_id)

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
        """Bytes of the encoded frames held (at most ``max_bytes``)."""
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
        if not keep or self.shared is None:
            frame = await self._run_in(lane, compute)
            if keep:
                self._computed(key, frame, invalidated)
            return frame
        async with self.shared.turn(key) as turn:  # another replica's computation of this key is awaited here
            if turn.found is not None:
                try:
                    frame = frame_codec.decode(turn.found.body)
                except frame_codec.CorruptFrame as exc:
                    self.stats.corrupt += 1
                    log.warning("a shared frame of tenant %s did not decode (%s); computing it anew", key.tenant_id,
                                exc)
                else:
                    self.stats.shared += 1
                    if self._current(key, invalidated):
                        self._keep(key, self._clock() + turn.found.ttl_s, turn.found.body, frame)
                    return frame
            frame = await self._run_in(lane, compute)
            body = self._computed(key, frame, invalidated)
            if body is not None and turn.since is not None:
                await self.shared.store(key, body, self.ttl_for(key), turn.since)
            return frame

    def _current(self, key: ScopedQuery, invalidated: int) -> bool:
        """No invalidation of the key's tenant since its computation began."""
        return invalidated == self._invalidated.get(key.tenant_id, 0)

    def _computed(self, key: ScopedQuery, frame: Frame, invalidated: int) -> Body | None:
        """Keep a computed frame if it is still current and has a lifetime; its body, when kept."""
        ttl = self.ttl_for(key)
        if ttl <= 0 or not self._current(key, invalidated):
            return None
        try:
            body = frame_codec.encode(frame)
        except TypeError:  # a value the codec does not know: served, not kept (a fault to fix in the metric)
            log.exception("frame %s cannot be encoded; not cached", frame.name)
            return None
        self._keep(key, self._clock() + ttl, body, frame)
        return body

    def _keep(self, key: ScopedQuery, expires: float, body: Body, frame: Frame) -> None:
        if len(body) > self.max_bytes:
            self.stats.too_large += 1
            self._entries.pop(key, None)
            self._hot.pop(key, None)
            return
        if self._rolls_over(key):  # its previous quarter hour's frame was kept only to answer until this one came
            self._entries.pop(self._quarter_before(key), None)
        self._entries[key] = (expires, body)  # evicts least recently used entries while over max_bytes
        while len(self._entries) > self.max_entries:
            self._entries.popitem()
        self._remember(key, body, frame)

    def _remember(self, key: ScopedQuery, body: Body, frame: Frame) -> None:
        size = rough_frame_bytes(frame)
        if size <= self._hot.maxsize:
            self._hot[key] = (body, frame, size)

    def _fresh(self, key: ScopedQuery) -> Frame | None:
        entry = self._entries.get(key)  # an expired entry reads as missing; a hit becomes most recently used
        if entry is None:
            return None
        hot = self._hot.get(key)
        if hot is not None and hot[0] is entry[1]:
            return hot[1]
        try:
            frame = frame_codec.decode(entry[1])
        except frame_codec.CorruptFrame:  # cannot happen to bytes this process encoded; a miss all the same
            self.stats.corrupt += 1
            del self._entries[key]
            return None
        self._remember(key, entry[1], frame)
        return frame

    def _settle(self, key: ScopedQuery, done: asyncio.Task[Frame]) -> None:
        settle(self._inflight, key, done)
