"""Closed days answered from their summaries (calculators/closed_days.py): uptime.system and errors.mttr give the
hand-worked values from raw calls, from summaries, over ranges whose ends fall inside days, and after a backfill
into a summarized day."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from success_metrics.calculators import MetricName, MetricQuery, ScopedQuery, TenantId, closed_days, explain
from success_metrics.ingest import validate, writer
from success_metrics.query import summaries
from success_metrics.storage.pool import Database
from tests.calculators.fixture import col, create_tenant, run


def z(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def call(i: str, at: datetime, component: str, ok: bool) -> dict[str, Any]:
    return {"id": i, "type": "component.call", "occurred_at": at.isoformat(),
            "data": {"component": component, "service": "svc", "ok": ok, "latency_ms": 100,
                     **({} if ok else {"error_category": "timeout"})}}


def failures_in(n: int) -> list[dict[str, Any]]:
    """``n`` (< 60) failures of a third component, minutes apart in the hour from 6 Jan 12:00Z, which is down
    already (mail's m1 failed in it) and in WHOLE and INSIDE: they start a run that is never resolved, so they
    change no figure, only how many failures errors.mttr finds."""
    return [call(f"s{i}", z(6, 12) + timedelta(minutes=i), "sms", False) for i in range(n)]


# America/New_York in January is UTC−5: local day N is [N 05:00Z, N+1 05:00Z)
CALLS = [
    # local 5 Jan: run A (10:10 → 10:25 = 15 min); run B starts at 04:00Z on the 6th (local 23:00 on the 5th)
    call("c1", z(5, 10), "crm", True), call("c2", z(5, 10, 10), "crm", False), call("c3", z(5, 10, 20), "crm", False),
    call("c4", z(5, 10, 25), "crm", True), call("c5", z(5, 23), "crm", True), call("c6", z(6, 4), "crm", False),
    # local 6 Jan: run B goes on and ends at 07:00Z (3 h); mail's first call fails: run C starts at 12:00Z
    call("c7", z(6, 6), "crm", False), call("c8", z(6, 7), "crm", True), call("m1", z(6, 12), "mail", False),
    # local 7 Jan: mail fails again; local 8 Jan: run C ends at 09:00Z (45 h), a new failure stays open
    call("m2", z(7, 12), "mail", False), call("m3", z(8, 9), "mail", True), call("m4", z(8, 10), "mail", False),
]
WHOLE = (z(5, 5), z(9, 5))  # local 5–8 Jan: 96 hours
INSIDE = (z(5, 10, 15), z(8, 9, 30))  # ends inside the first and the last day: hours 5 Jan 10:00Z … 8 Jan 09:00Z
H = 3_600_000  # ms
# down hours (fewer than half the calls ok): 6 Jan 04:00Z, 06:00Z, 12:00Z, 7 Jan 12:00Z, 8 Jan 10:00Z;
# 5 Jan 10:00Z has 2 of 4 ok (half: up), and from 10:15 on 1 of 2
MTTR_WHOLE = (H / 4 + 3 * H + 45 * H) / 3
MTTR_INSIDE = (H / 12 + 3 * H + 45 * H) / 3  # run A starts at 10:20, the range's first crm call
UPTIME_WHOLE = 100 * (1 - 5 / 96)
UPTIME_INSIDE = 100 * (1 - 4 / 72)


async def store(db: Database, tenant: str, events: list[dict[str, Any]]) -> None:
    checked = validate.check(events, now=datetime(2026, 2, 1, tzinfo=UTC))
    assert not checked.rejected, checked.rejected
    await writer.write(db, tenant, checked.valid, source=writer.Source.API)


async def figures(db: Database, tenant: str, span: tuple[datetime, datetime]) -> tuple[float, float]:
    mttr = col(await run(db, tenant, "errors.mttr", *span), "value")[0]
    uptime = col(await run(db, tenant, "uptime.system", *span), "value")[0]
    return mttr, uptime


async def refresh(db: Database, tenant: str) -> int:
    async with db.tenant(tenant) as conn:
        return await closed_days.refresh(conn, tenant, datetime.now(UTC))


@pytest.fixture
async def tenant(db: Database) -> str:
    name = f"closed-days-{os.getpid()}-{os.urandom(3).hex()}"
    await create_tenant(db, name, {"timezone": "America/New_York"})
    await store(db, name, CALLS)
    return name


# its day, lead fail, first ok, runs µs, runs, trail fail, the first success after the run open at the piece's end
Piece = tuple[int, datetime | None, datetime | None, int, int, datetime | None, datetime | None]


async def fold(db: Database, periods: list[list[Piece]]) -> list[tuple[int, int]]:
    """closed_days.fold_sql over hand-made pieces of one component, a day each."""
    rows = [(k, z(day, 0), *piece) for k, pieces in enumerate(periods) for day, *piece in pieces]
    columns = list(zip(*rows, strict=True))
    pieces_sql = ("SELECT x.period, x.piece, 'crm' AS component, x.lead_fail_at, x.first_ok_at, x.runs_us, x.runs_n, "
                  "x.trail_fail_at, x.resolved FROM unnest($1::integer[], $2::timestamptz[], $3::timestamptz[], "
                  "$4::timestamptz[], $5::bigint[], $6::integer[], $7::timestamptz[], $8::timestamptz[]) "
                  "AS x (period, piece, lead_fail_at, first_ok_at, runs_us, runs_n, trail_fail_at, resolved)")
    async with db.system() as conn:
        got = {r["period"]: (r["runs_us"], r["runs_n"]) for r in
               await conn.fetch(closed_days.fold_sql(pieces_sql), *map(list, columns))}
    return [got.get(k, (0, 0)) for k in range(len(periods))]


def t(day: int, minute: int) -> datetime:
    return z(day, 0) + timedelta(minutes=minute)


async def test_runs_fold_across_days(db: Database) -> None:
    minute, day = 60_000_000, 86_400_000_000
    # a run open at a day's end goes on through a day of failures only and ends at the next day's first success;
    # that day's first failure is part of the run, not a run of its own
    assert await fold(db, [[(1, None, t(1, 0), 0, 0, t(1, 1), t(3, 1)), (2, t(2, 0), None, 0, 0, None, t(3, 1)),
                            (3, t(3, 0), t(3, 1), minute, 1, None, None)]]) == [(2 * day + minute, 2)]
    # a day that begins with a failure after a day that ended well starts a run at that failure
    assert await fold(db, [[(1, None, t(1, 0), 0, 0, None, None), (2, t(2, 3), t(2, 6), 0, 0, None, None)]]
                      ) == [(3 * minute, 1)]
    # a run still open at the end is not counted
    assert await fold(db, [[(1, None, t(1, 0), 0, 0, t(1, 1), None), (2, t(2, 2), None, 0, 0, None, None)]]
                      ) == [(0, 0)]
    # a run resolved on a day without failures (left out) is over when the next day with failures begins
    assert await fold(db, [[(1, None, t(1, 0), 0, 0, t(1, 1), t(2, 5)), (3, t(3, 0), t(3, 4), 0, 0, None, None)]]
                      ) == [(day + 4 * minute + 4 * minute, 2)]
    # periods fold apart: a run open at the end of the first is not resolved by the second's successes
    assert await fold(db, [[(1, None, t(1, 0), 0, 0, t(1, 1), None)],
                           [(2, None, t(2, 3), 0, 0, None, None), (3, t(3, 7), t(3, 9), 0, 0, None, None)]]
                      ) == [(0, 0), (2 * minute, 1)]


async def statements(db: Database, tenant: str, metric: str, span: tuple[datetime, datetime]) -> list[str]:
    """The statements a metric ran that read data (not its settings, not the plan mode it set)."""
    sq = ScopedQuery(TenantId(tenant), MetricQuery(MetricName(metric), *span))
    async with db.tenant(tenant) as conn:
        _, ran = await explain(conn, sq)
    return [sql for sql, _ in ran if not sql.lstrip().startswith(("SET ", "SELECT settings"))]


async def test_every_period_is_read_in_one_statement_or_from_its_failures(db: Database, tenant: str) -> None:
    # uptime.system compares three periods (the range, the one before it, 12 months) and errors.mttr two: each
    # reads them all in one statement, with summarized, stale and raw days alike; errors.mttr first reads every
    # period with few failures from them (two index probes a failure), and folds the others in a second statement
    await refresh(db, tenant)
    await store(db, tenant, [call("m5", z(7, 12, 30), "mail", True)])  # 7 Jan's summary is stale now
    for span in (WHOLE, INSIDE):
        assert len(await statements(db, tenant, "uptime.system", span)) == 1
        assert len(await statements(db, tenant, "errors.mttr", span)) == 1
    await store(db, tenant, failures_in(closed_days.DIRECT_RUNS_MIN))
    assert len(await statements(db, tenant, "errors.mttr", WHOLE)) == 2  # the range's 39 failures are folded


# errors.mttr's two reads: the failures themselves (7 in WHOLE, 6 in INSIDE), and the fold of the days (with 32
# failures more, which change no figure)
READS = pytest.mark.parametrize("more", [0, 32], ids=["direct", "folded"])


@READS
async def test_raw_and_summaries_give_the_hand_worked_figures(db: Database, tenant: str, more: int) -> None:
    await store(db, tenant, failures_in(more))
    raw = {span: await figures(db, tenant, span) for span in (WHOLE, INSIDE)}
    assert raw[WHOLE] == pytest.approx((MTTR_WHOLE, UPTIME_WHOLE))
    assert raw[INSIDE] == pytest.approx((MTTR_INSIDE, UPTIME_INSIDE))
    assert await refresh(db, tenant) == 4  # local 5, 6, 7 and 8 Jan have calls
    assert await refresh(db, tenant) == 0  # nothing changed since
    for span in (WHOLE, INSIDE):
        assert await figures(db, tenant, span) == pytest.approx((raw[span][0], raw[span][1]))


@READS
async def test_each_period_gets_its_own_runs(db: Database, tenant: str, more: int) -> None:
    # the four days after WHOLE have no calls: their errors.mttr has no value, and WHOLE is its previous period,
    # read from its failures or folded (with 32 more) while the range itself is read from its none
    await store(db, tenant, failures_in(more))
    frame = await run(db, tenant, "errors.mttr", z(9, 5), z(13, 5))
    assert (col(frame, "value")[0], col(frame, "previous")[0]) == (None, pytest.approx(MTTR_WHOLE))


async def tamper(db: Database, tenant: str) -> None:
    """Make the summaries say something else: one more down hour a day, and run A an hour longer."""
    await refresh(db, tenant)
    async with db.system() as conn:
        await conn.execute("UPDATE closed_days SET down_hours = down_hours + 1 WHERE tenant_id = $1", tenant)
        await conn.execute("UPDATE closed_day_runs SET runs_us = runs_us + 3600000000 WHERE tenant_id = $1 "
                           "AND component = 'crm' AND runs_n = 1", tenant)


async def test_summaries_are_what_closed_days_are_read_from(db: Database, tenant: str) -> None:
    # failures, so that the range holds more than DIRECT_RUNS_MIN (and than the 4 days it spans): errors.mttr
    # folds the summaries (with fewer it reads the failures directly: the next test)
    await store(db, tenant, failures_in(closed_days.DIRECT_RUNS_MIN - 6))
    await tamper(db, tenant)
    mttr, uptime = await figures(db, tenant, WHOLE)  # a summary saying something else shows: it is what is read
    assert uptime == pytest.approx(100 * (1 - 9 / 96))  # four summarized days, one more down hour each
    assert mttr == pytest.approx(MTTR_WHOLE + H / 3)  # run A an hour longer


async def test_few_failures_are_read_from_the_failures(db: Database, tenant: str) -> None:
    # as many failures as DIRECT_RUNS_MIN: two index probes a failure cost less than the fold, so errors.mttr reads
    # the calls, and the altered summaries do not show in it
    await store(db, tenant, failures_in(closed_days.DIRECT_RUNS_MIN - 7))
    await tamper(db, tenant)
    mttr, uptime = await figures(db, tenant, WHOLE)
    assert mttr == pytest.approx(MTTR_WHOLE)
    assert uptime == pytest.approx(100 * (1 - 9 / 96))


@READS
async def test_a_backfill_into_a_summarized_day_is_counted_at_once(db: Database, tenant: str, more: int) -> None:
    await store(db, tenant, failures_in(more))
    await refresh(db, tenant)
    await store(db, tenant, [call("m5", z(7, 12, 30), "mail", True)])  # run C now ends on 7 Jan at 12:30Z
    mttr = (H / 4 + 3 * H + 24.5 * H) / 3
    uptime = 100 * (1 - 4 / 96)  # 7 Jan 12:00Z: 1 of 2 ok, up
    assert await figures(db, tenant, WHOLE) == pytest.approx((mttr, uptime))  # stale: read raw
    assert await refresh(db, tenant) == 1
    assert await figures(db, tenant, WHOLE) == pytest.approx((mttr, uptime))


async def test_the_background_round_summarizes_every_tenants_closed_days(db: Database, tenant: str) -> None:
    assert await summaries.summarize(db) >= 4
    assert await refresh(db, tenant) == 0  # nothing of this tenant left to summarize


async def test_a_tenant_another_replica_is_summarizing_is_passed_by(db: Database, tenant: str) -> None:
    async with db.tenant(tenant) as conn:  # as another replica's round would hold it while it makes the rows
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('sm.closed_days:' || $1, 0))", tenant)
        await summaries.summarize(db)
    assert await refresh(db, tenant) == 4  # all four closed days were left to the holder


def test_closed_days_are_whole_local_days_ended_by_now() -> None:
    ny = ZoneInfo("America/New_York")
    days = closed_days.closed_days(*INSIDE, ny, now=z(20, 0))
    assert days == [(z(6, 5), z(7, 5)), (z(7, 5), z(8, 5))]  # 5 and 8 Jan are partial
    assert closed_days.ends(*INSIDE, days) == [(INSIDE[0], z(6, 5)), (z(8, 5), INSIDE[1])]
    assert closed_days.closed_days(*WHOLE, ny, now=z(7, 6)) == [(z(5, 5), z(6, 5)), (z(6, 5), z(7, 5))]  # not 7 Jan
    # India's midnights fall on the half hour: its days are not made of UTC hours, so uptime reads no summary
    kolkata = ZoneInfo("Asia/Kolkata")
    assert closed_days.closed_days(*WHOLE, kolkata, now=z(20, 0), whole_hours=True) == []
    assert len(closed_days.closed_days(*WHOLE, kolkata, now=z(20, 0))) == 3
