"""Series widths, bucket edges (Python and SQL agree) and the rollup/raw plan."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from success_metrics.calculators import MetricName, MetricQuery
from success_metrics.calculators.buckets import (
    DAY,
    HOUR,
    MONTH,
    Source,
    finest_for,
    plan,
    series_starts,
    series_width,
)
from success_metrics.calculators.sql import Params, bucket_expr
from success_metrics.storage.pool import Database

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def q(days: float, interval_ms: int, max_points: int, **options: str) -> MetricQuery:
    return MetricQuery(MetricName("x.y"), T0, T0 + timedelta(days=days), interval_ms, max_points,
                       options=tuple(options.items()))


def test_width_respects_interval_and_max_points() -> None:
    assert series_width(q(1, 3_600_000, 1000)) == HOUR
    assert series_width(q(30, 60_000, 100)) == 12 * HOUR      # 30 days / 100 points = 7.2 h → 12 h
    assert series_width(q(730, 60_000, 50)) == 15 * DAY       # 14.6 days → whole days
    assert series_width(q(10, 60_000, 1000, granularity="week")) == 7 * DAY
    assert series_width(q(90, 60_000, 1000, granularity="month")) == MONTH
    assert series_width(q(90, 60_000, 2, granularity="month")) == 45 * DAY  # up to 4 months would exceed 2 points


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 400 * 24 * 60), st.integers(1, 90 * 24 * 60),
       st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]))
def test_plan_covers_the_range_exactly(start_min: int, span_min: int, tz: str) -> None:
    lo = T0 + timedelta(minutes=start_min)
    hi = lo + timedelta(minutes=span_min)
    segments = plan(lo, hi, ZoneInfo(tz))
    assert segments[0].lo == lo and segments[-1].hi == hi
    for a, b in itertools.pairwise(segments):
        assert a.hi == b.lo
    for s in segments:
        if s.source == Source.HOUR:
            assert s.lo.minute == 0 and s.hi.minute == 0
        if s.source == Source.DAY:
            assert s.lo.astimezone(ZoneInfo(tz)).hour == 0
        if s.source == Source.MONTH:
            for edge in (s.lo.astimezone(ZoneInfo(tz)), s.hi.astimezone(ZoneInfo(tz))):
                assert (edge.day, edge.hour, edge.minute) == (1, 0, 0)


def test_plan_reads_whole_local_months_from_monthly_rollups() -> None:
    """Chicago, 15 Jan 10:30 CST to 2 Apr 05:00 CDT: raw to the hour, hours to local midnight, days to 1 Feb,
    February and March from monthly rows (1 Apr's midnight is 05:00 UTC, after the DST change), then 1 Apr's day
    and the last five hours. A daily series may not use months; a monthly one may."""
    zone = ZoneInfo("America/Chicago")
    lo, hi = datetime(2025, 1, 15, 16, 30, tzinfo=UTC), datetime(2025, 4, 2, 10, tzinfo=UTC)
    utc = [(s.source, s.lo.strftime("%m-%d %H:%M"), s.hi.strftime("%m-%d %H:%M")) for s in plan(lo, hi, zone)]
    assert utc == [(Source.RAW, "01-15 16:30", "01-15 17:00"), (Source.HOUR, "01-15 17:00", "01-16 06:00"),
                   (Source.DAY, "01-16 06:00", "02-01 06:00"), (Source.MONTH, "02-01 06:00", "04-01 05:00"),
                   (Source.DAY, "04-01 05:00", "04-02 05:00"), (Source.HOUR, "04-02 05:00", "04-02 10:00")]
    assert Source.MONTH not in {s.source for s in plan(lo, hi, zone, finest_for(DAY))}
    assert finest_for(MONTH) == Source.MONTH
    inside = plan(datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 27, tzinfo=UTC), zone)  # no whole month
    assert [s.source for s in inside] == [Source.HOUR, Source.DAY, Source.HOUR]


async def test_sql_bucket_edges_match_python(db: Database) -> None:
    lo, hi = datetime(2026, 3, 1, 3, 30, tzinfo=UTC), datetime(2026, 4, 20, tzinfo=UTC)
    for tz in ("America/New_York", "Asia/Kolkata"):
        for width in (HOUR, 6 * HOUR, DAY, 7 * DAY, MONTH):
            p = Params()
            expr = bucket_expr("g", width, tz, p)
            lo_p, hi_p = p.add(lo), p.add(hi)
            async with db.system() as conn:
                rows = await conn.fetch(
                    f"SELECT DISTINCT {expr} AS b FROM generate_series({lo_p}::timestamptz, {hi_p}::timestamptz "
                    f"- interval '1 minute', interval '17 minutes') g ORDER BY 1", *p.values)
            assert [r["b"] for r in rows] == series_starts(lo, hi, width, ZoneInfo(tz)), (tz, width)


async def test_explicit_bucket_starts_split_rows_at_the_given_edges(db: Database) -> None:
    # New York's March starts at 05:00 UTC (EST), its April at 04:00 UTC (EDT): worked out by hand
    march, april = datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 4, 1, 4, tzinfo=UTC)
    rows = [datetime(2026, 3, 1, 5, tzinfo=UTC), datetime(2026, 4, 1, 3, 59, tzinfo=UTC),
            datetime(2026, 4, 1, 4, tzinfo=UTC), datetime(2026, 4, 20, tzinfo=UTC)]
    p = Params()
    expr = bucket_expr("g", (march, april), "America/New_York", p)
    rows_p = p.add(rows)
    async with db.system() as conn:
        got = await conn.fetch(f"SELECT {expr} AS b FROM unnest({rows_p}::timestamptz[]) g ORDER BY g", *p.values)
    assert [r["b"] for r in got] == [march, march, april, april]
    zone = ZoneInfo("America/New_York")
    assert series_starts(march + DAY, march + 2 * DAY, (march, april), zone) == [march]
    assert series_starts(march + DAY, april + HOUR, (march, april), zone) == [march, april]
    assert series_starts(april + DAY, april + 2 * DAY, (march, april), zone) == [april]
