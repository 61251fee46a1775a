"""The result cache: keyed by tenant + row scope + query, single-flight, live vs closed TTL."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from success_metrics.calculators import (
    Column,
    ColumnType,
    Frame,
    Kind,
    MetricName,
    MetricQuery,
    RowScope,
    ScopedQuery,
    ScopeKind,
    TenantId,
)
from success_metrics.query.cache import ResultCache

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def key(tenant: str = "acme", *, end: datetime = NOW - timedelta(days=30), scope: RowScope | None = None,
        metric: str = "leads.volume", span: timedelta = timedelta(days=1)) -> ScopedQuery:
    q = MetricQuery(metric=MetricName(metric), start=end - span, end=end)
    return ScopedQuery(tenant_id=TenantId(tenant), query=q, scope=scope or RowScope())


def frame(value: float) -> Frame:
    return Frame("f", Kind.STAT, (Column("value", ColumnType.NUMBER, (value,)),))


def make(clock: Clock, **kw: Any) -> ResultCache:
    return ResultCache(ttl_live_s=15, ttl_closed_s=900, clock=clock, now=lambda: NOW, **kw)


class Counter:
    def __init__(self, value: float = 1.0) -> None:
        self.calls = 0
        self.value = value

    async def __call__(self) -> Frame:
        self.calls += 1
        return frame(self.value + self.calls)


async def test_second_ask_is_a_hit() -> None:
    cache, compute = make(Clock()), Counter()
    first = await cache.get_or_compute(key(), compute)
    second = await cache.get_or_compute(key(), compute)
    assert compute.calls == 1
    assert first is second
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


async def test_concurrent_asks_compute_once() -> None:
    cache = make(Clock())
    gate = asyncio.Event()
    calls = 0

    async def slow() -> Frame:
        nonlocal calls
        calls += 1
        await gate.wait()
        return frame(7)

    waiters = [asyncio.create_task(cache.get_or_compute(key(), slow)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters)
    assert calls == 1
    assert all(r is results[0] for r in results)
    # 1 caller started it, the other 9 joined the running computation
    assert (cache.stats.misses, cache.stats.joined) == (1, 9)


async def test_tenants_and_scopes_never_share_entries() -> None:
    cache, compute = make(Clock()), Counter()
    team_a = RowScope(kind=ScopeKind.TEAM, teams=("a",))
    team_b = RowScope(kind=ScopeKind.TEAM, teams=("b",))
    me = RowScope(kind=ScopeKind.SELF, agent_id="ag-1")
    keys = [key("acme"), key("globex"), key("acme", scope=team_a), key("acme", scope=team_b), key("acme", scope=me)]
    frames = [await cache.get_or_compute(k, compute) for k in keys]
    # five different keys: five computations, values 1+1 … 1+5
    assert compute.calls == 5
    assert [f.columns[0].values[0] for f in frames] == [2, 3, 4, 5, 6]
    assert (await cache.get_or_compute(key("globex"), compute)).columns[0].values[0] == 3


async def test_range_touching_now_expires_after_the_live_ttl() -> None:
    clock = Clock()
    cache, compute = make(clock), Counter()
    live = key(end=NOW)
    await cache.get_or_compute(live, compute)
    clock.t += 14.9
    await cache.get_or_compute(live, compute)
    assert compute.calls == 1
    clock.t += 0.2  # 15.1 s after filling: past the 15 s live TTL
    await cache.get_or_compute(live, compute)
    assert compute.calls == 2


async def test_closed_period_lives_the_long_ttl() -> None:
    clock = Clock()
    cache, compute = make(clock), Counter()
    closed = key(end=NOW - timedelta(minutes=16))  # just past the 15-minute live margin
    await cache.get_or_compute(closed, compute)
    clock.t += 899
    await cache.get_or_compute(closed, compute)
    assert compute.calls == 1
    clock.t += 2  # 901 s > 900 s
    await cache.get_or_compute(closed, compute)
    assert compute.calls == 2


async def test_analytics_range_touching_now_may_lag_a_quarter_hour() -> None:
    clock = Clock()
    cache, compute = make(clock), Counter()
    weekly = key(end=NOW, span=timedelta(days=7))  # a week to now: analytics (the spec: lag <= 15 minutes)
    assert cache.ttl_for(weekly) == 900
    assert cache.ttl_for(key(end=NOW, span=timedelta(days=6, hours=23))) == 15  # shorter: operational
    await cache.get_or_compute(weekly, compute)
    clock.t += 899
    await cache.get_or_compute(weekly, compute)
    assert compute.calls == 1
    clock.t += 2
    await cache.get_or_compute(weekly, compute)
    assert compute.calls == 2


async def test_a_failure_is_shared_by_waiters_and_not_cached() -> None:
    cache = make(Clock())
    gate = asyncio.Event()
    calls = 0

    async def failing() -> Frame:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise RuntimeError("database went away")

    waiters = [asyncio.create_task(cache.get_or_compute(key(), failing)) for _ in range(3)]
    await asyncio.sleep(0)
    gate.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert calls == 1 and all(isinstance(o, RuntimeError) for o in outcomes)
    assert len(cache) == 0
    assert (await cache.get_or_compute(key(), Counter())).columns[0].values[0] == 2


async def test_one_waiter_cancelled_does_not_cancel_the_others() -> None:
    cache = make(Clock())
    gate = asyncio.Event()

    async def slow() -> Frame:
        await gate.wait()
        return frame(3)

    leaving = asyncio.create_task(cache.get_or_compute(key(), slow))
    staying = asyncio.create_task(cache.get_or_compute(key(), slow))
    await asyncio.sleep(0)
    leaving.cancel()
    gate.set()
    assert (await staying).columns[0].values[0] == 3
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_computations_at_once_are_capped() -> None:
    cache = ResultCache(15, 900, max_computing=2, clock=Clock(), now=lambda: NOW)
    gate = asyncio.Event()
    running = peak = 0

    async def slow() -> Frame:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1
        return frame(1)

    waiters = [asyncio.create_task(cache.get_or_compute(key(metric=f"m{i}", span=timedelta(days=30)), slow))
               for i in range(5)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert peak == 2  # five different keys, two computing, three waiting for a slot
    gate.set()
    await asyncio.gather(*waiters)
    assert peak == 2 and len(cache) == 5


async def test_operational_ranges_have_their_own_lane() -> None:
    cache = ResultCache(15, 900, max_computing=1, max_computing_operational=1, clock=Clock(), now=lambda: NOW)
    gate = asyncio.Event()

    async def slow() -> Frame:
        await gate.wait()
        return frame(1)

    # two 30-day computations: one runs, one waits for the analytics lane
    long = [asyncio.create_task(cache.get_or_compute(key(metric=f"m{i}", span=timedelta(days=30)), slow))
            for i in range(2)]
    await asyncio.sleep(0)
    # a 1-day range does not wait behind them: it computes at once in its own lane
    assert (await asyncio.wait_for(cache.get_or_compute(key(metric="short"), Counter()), 1)).row_count == 1
    assert not any(t.done() for t in long)
    gate.set()
    await asyncio.gather(*long)


async def test_invalidate_tenant_drops_only_that_tenant() -> None:
    cache, compute = make(Clock()), Counter()
    await cache.get_or_compute(key("acme"), compute)
    await cache.get_or_compute(key("acme", metric="leads.other"), compute)
    await cache.get_or_compute(key("globex"), compute)
    assert cache.invalidate_tenant("acme") == 2
    assert len(cache) == 1
    await cache.get_or_compute(key("globex"), compute)
    assert compute.calls == 3  # globex still cached


async def test_invalidating_a_tenant_mid_computation_keeps_the_stale_result_out() -> None:
    """A computation that started before the tenant's past changed read the old data: its frame must not be
    kept after invalidate_tenant, and a caller arriving after the invalidation must not join it."""
    cache = make(Clock())
    gate = asyncio.Event()

    async def before_the_backfill() -> Frame:
        await gate.wait()
        return frame(1)

    stale = asyncio.create_task(cache.get_or_compute(key(), before_the_backfill))
    await asyncio.sleep(0)
    assert cache.invalidate_tenant("acme") == 0  # nothing stored yet: the computation is still running
    fresh = asyncio.create_task(cache.get_or_compute(key(), Counter(value=10)))  # asks after the change
    await asyncio.sleep(0)
    gate.set()
    assert (await stale).columns[0].values[0] == 1  # its own caller still gets its answer
    assert (await fresh).columns[0].values[0] == 11  # 10 + first call: computed anew, not joined to the stale one
    assert (await cache.get_or_compute(key(), Counter(value=20))).columns[0].values[0] == 11  # the fresh one kept


async def test_least_recently_used_entry_goes_first() -> None:
    cache, compute = make(Clock(), max_entries=2), Counter()
    a, b, c = key(metric="a"), key(metric="b"), key(metric="c")
    await cache.get_or_compute(a, compute)
    await cache.get_or_compute(b, compute)
    await cache.get_or_compute(a, compute)  # a used last: b is the oldest
    await cache.get_or_compute(c, compute)  # evicts b
    assert len(cache) == 2
    await cache.get_or_compute(a, compute)
    assert compute.calls == 3
    await cache.get_or_compute(b, compute)
    assert compute.calls == 4


# a frame of 100 distinct floats, by hand: 256 (frame) + 128 (column) + 40 + 8 × 100 (the values' tuple)
# + 24 × 100 (the floats) bytes (success_metrics/query/sizes.py)
# encoded (frame_codec): header 5 + array 1 + name 2 + kind 11 + columns 1 + [column 1 + name 2 + type 7 + values
# 3 + 100 floats x 9 + unit 1 + sensitivity 7 + field 1 + lineage 1] + notices, masked, meta, row lineage, lineage 5
HUNDRED_FLOATS_BYTES = 948


def hundred_floats(start: float) -> Frame:
    return Frame("f", Kind.TIMESERIES, (Column("v", ColumnType.NUMBER, tuple(start + i / 7 for i in range(100))),))


async def test_the_cache_never_holds_more_than_its_byte_budget() -> None:
    budget = 3 * HUNDRED_FLOATS_BYTES + 500  # room for three such frames, not four
    cache = make(Clock(), max_bytes=budget)
    keys = [key(metric=f"m{i}") for i in range(6)]
    for i, k in enumerate(keys):
        await cache.get_or_compute(k, functools.partial(_ready, hundred_floats(1000.0 * i)))
        assert cache.bytes == min(i + 1, 3) * HUNDRED_FLOATS_BYTES <= budget
        assert len(cache) == min(i + 1, 3)
    hits = cache.stats.hits
    for k in keys[3:]:
        await cache.get_or_compute(k, _never)
    assert cache.stats.hits == hits + 3  # the last three are the ones kept


async def test_over_the_byte_budget_the_least_recently_used_go_first() -> None:
    cache = make(Clock(), max_bytes=3 * HUNDRED_FLOATS_BYTES)
    a, b, c, d, big = (key(metric=m) for m in "abcde")
    for k in (a, b, c):
        await cache.get_or_compute(k, lambda: _ready(hundred_floats(1.0)))
    await cache.get_or_compute(a, _never)  # a used last: b is the oldest, then c
    await cache.get_or_compute(d, lambda: _ready(hundred_floats(2.0)))  # evicts b
    assert _held(cache, a, b, c, d) == [a, c, d]
    two_frames = Frame("f", Kind.TABLE, hundred_floats(3.0).columns + hundred_floats(4.0).columns)
    await cache.get_or_compute(big, lambda: _ready(two_frames))  # needs room for two more: c, then a go
    assert _held(cache, a, b, c, d, big) == [d, big]


async def test_expired_entries_are_dropped_when_another_is_kept_even_if_never_asked_for_again() -> None:
    # a live range's key moves on every minute (freshness.align): its old entries are never asked for again
    clock = Clock()
    cache = make(clock)
    await cache.get_or_compute(key(end=NOW, metric="a"), lambda: _ready(hundred_floats(1.0)))  # lives 15 s
    clock.t += 16
    await cache.get_or_compute(key(metric="b"), lambda: _ready(hundred_floats(2.0)))
    assert len(cache) == 1 and cache.bytes == HUNDRED_FLOATS_BYTES


async def test_a_frame_larger_than_the_whole_budget_is_served_but_not_kept() -> None:
    cache = make(Clock(), max_bytes=HUNDRED_FLOATS_BYTES - 1)
    compute = Counter()
    served = await cache.get_or_compute(key(), lambda: _ready(hundred_floats(5.0)))
    assert served.columns[0].values[0] == 5.0
    assert len(cache) == 0 and cache.bytes == 0 and cache.stats.too_large == 1
    await cache.get_or_compute(key(metric="small"), compute)
    assert len(cache) == 1


async def _ready(value: Frame) -> Frame:
    return value


async def _never() -> Frame:
    raise AssertionError("computed, though it should have been cached")


def _held(cache: ResultCache, *keys: ScopedQuery) -> list[ScopedQuery]:
    return [k for k in keys if k in cache]


class Gate:
    """A computation that finishes only when released."""

    def __init__(self, value: float) -> None:
        self.value, self.started, self.release = value, 0, asyncio.Event()

    async def __call__(self) -> Frame:
        self.started += 1
        await self.release.wait()
        return frame(self.value)


async def test_at_the_turn_of_the_quarter_hour_the_previous_frame_answers_while_the_new_one_is_computed() -> None:
    clock = Clock()
    now = [NOW - timedelta(minutes=15)]
    cache = ResultCache(ttl_live_s=15, ttl_closed_s=900, clock=clock, now=lambda: now[0])
    month = timedelta(days=30)
    await cache.get_or_compute(key(end=now[0], span=month), Counter(1))  # frame 2.0, for the quarter before
    clock.t += 600
    now[0] = NOW  # the next quarter hour: the range's key has moved on by 15 minutes
    gate = Gate(9)
    answer = await asyncio.wait_for(cache.get_or_compute(key(end=NOW, span=month), gate), timeout=2)
    assert answer.columns[0].values == (2.0,) and cache.stats.previous == 1  # no wait for the cold computation
    await asyncio.sleep(0)
    assert gate.started == 1  # which runs meanwhile
    gate.release.set()
    await asyncio.sleep(0)
    assert (await cache.get_or_compute(key(end=NOW, span=month), Counter())).columns[0].values == (9.0,)


async def test_the_previous_quarter_hours_frame_goes_once_the_new_one_is_kept() -> None:
    clock = Clock()
    now = [NOW - timedelta(minutes=15)]
    cache = ResultCache(ttl_live_s=15, ttl_closed_s=900, clock=clock, now=lambda: now[0])
    month = timedelta(days=30)
    await cache.get_or_compute(key(end=now[0], span=month), lambda: _ready(hundred_floats(1.0)))
    clock.t += 60
    now[0] = NOW
    answer = await cache.get_or_compute(key(end=NOW, span=month), lambda: _ready(hundred_floats(2.0)))
    assert answer.columns[0].values[0] == 1.0  # the previous frame answers ...
    for _ in range(3):
        await asyncio.sleep(0)  # ... while the new one is computed, in the background lane
    assert key(end=NOW, span=month) in cache  # the new quarter's frame is held ...
    assert len(cache) == 1 and cache.bytes == HUNDRED_FLOATS_BYTES  # ... and it alone


async def test_a_previous_frame_older_than_the_lag_bound_or_of_another_kind_of_range_is_not_used() -> None:
    month, day = timedelta(days=30), timedelta(days=1)
    for span, end, age in ((month, NOW, 901),  # computed over 15 minutes ago: the lag bound would break
                           (day, NOW, 60),  # operational: real time, never a quarter hour behind
                           (month, NOW - timedelta(days=2), 60)):  # a closed period: the earlier one is other data
        clock = Clock()
        cache = make(clock)
        await cache.get_or_compute(key(end=end - timedelta(minutes=15), span=span), Counter(1))
        clock.t += age
        answer = await cache.get_or_compute(key(end=end, span=span), Counter(5))
        assert answer.columns[0].values == (6.0,) and cache.stats.previous == 0, (span, end, age)


async def test_background_computations_run_one_at_a_time_and_never_hold_up_a_waiting_user() -> None:
    cache = make(Clock(), max_computing=1)
    month = timedelta(days=30)
    first, second = Gate(1), Gate(2)
    warming = [asyncio.ensure_future(cache.get_or_compute(key(metric=m, end=NOW, span=month), g, background=True))
               for m, g in (("a.one", first), ("a.two", second))]
    for _ in range(5):  # let both reach the lane
        await asyncio.sleep(0)
    assert (first.started, second.started) == (1, 0)  # the background lane holds one
    answer = await asyncio.wait_for(cache.get_or_compute(key(end=NOW, span=month), Counter(5)), timeout=2)
    assert answer.columns[0].values == (6.0,)  # the user's analytics slot was free
    first.release.set()
    second.release.set()
    assert [f.columns[0].values for f in await asyncio.gather(*warming)] == [(1.0,), (2.0,)]


async def background_after(clock: Clock, cache: ResultCache, worked_s: float) -> tuple[Gate, asyncio.Future[Frame]]:
    """Background work of ``worked_s`` (on the cache's clock), then the next one queued: (its gate, its future)."""
    async def work() -> Frame:
        clock.t += worked_s
        await asyncio.sleep(0.05)  # some real time too, which a rest measured by the wall clock would also take
        return frame(1)

    await cache.in_background(work)
    following = Gate(2)
    queued = asyncio.ensure_future(cache.in_background(following))
    for _ in range(5):
        await asyncio.sleep(0)
    return following, queued


async def test_the_background_lane_rests_as_long_as_it_worked_while_users_are_about() -> None:
    clock = Clock()
    cache = make(clock)
    await cache.get_or_compute(key(), Counter())  # a user asked
    following, queued = await background_after(clock, cache, 10)
    assert following.started == 0 and cache.lanes["background"].waiting == 1  # resting the 10 s it worked
    queued.cancel()


async def test_with_no_user_about_background_work_runs_at_full_duty() -> None:
    clock = Clock()
    cache = make(clock)  # at start: nobody has asked yet
    following, queued = await background_after(clock, cache, 10)
    assert following.started == 1  # no rest
    following.release.set()
    await queued
    await cache.get_or_compute(key(), Counter())  # a user asked, then left: after 30 s quiet, full duty again
    following, queued = await background_after(clock, cache, 31)
    assert following.started == 1
    following.release.set()
    await queued
