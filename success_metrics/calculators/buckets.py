"""Time in the tenant's terms: series bucket widths, period edges and the rollup/raw split of a range.

Series buckets: narrower than a day they are aligned to UTC (epoch 2000-01-03); a day or wider they are
aligned to the tenant's local midnight (weeks start on Monday); ``month`` is the tenant's calendar month.
The SQL expression of each (``sql.bucket_expr``) computes the same edges as ``series_starts`` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from success_metrics.calculators.errors import InvalidRange
from success_metrics.calculators.query import MetricQuery

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday
_NICE = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 180, 360, 720)] + [DAY, 7 * DAY]
GRANULARITIES = {"hour": HOUR, "day": DAY, "week": 7 * DAY}
MONTH = "month"
# A series bucket width, or explicit bucket starts (ascending; the last bucket has no end): a caller that knows
# its few buckets (the current and the previous month) lets SQL compare with them instead of truncating each row.
Width = timedelta | str | tuple[datetime, ...]


def check_range(q: MetricQuery) -> None:
    if q.start.tzinfo is None or q.end.tzinfo is None:
        raise InvalidRange("The time range must carry a time zone (RFC 3339 with an offset).", metric=q.metric)
    if q.end <= q.start:
        raise InvalidRange(
            f"The time range is empty or reversed ({q.start.isoformat()} .. {q.end.isoformat()}); "
            "choose a 'to' later than 'from'.", metric=q.metric)


def series_width(q: MetricQuery) -> timedelta | str:
    """Bucket width from intervalMs (or the granularity option), widened so no more than max_points buckets."""
    span = q.end - q.start
    points = max(1, q.max_points)
    floor_width = timedelta(milliseconds=math.ceil(span / timedelta(milliseconds=1) / points))
    granularity = q.option("granularity")
    if granularity == MONTH:
        return MONTH if span / (28 * DAY) + 1 <= points else nice(floor_width)  # months the range touches
    wanted = GRANULARITIES.get(granularity or "", timedelta(milliseconds=max(1, q.interval_ms)))
    return nice(max(wanted, floor_width))


def nice(width: timedelta) -> timedelta:
    """The narrowest bucket width of the ladder at least ``width`` wide (the ladder's values are their own)."""
    for w in _NICE:
        if w >= width:
            return w
    return DAY * math.ceil(width / DAY)


def local_midnight(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)


def series_starts(start: datetime, end: datetime, width: Width, zone: ZoneInfo) -> list[datetime]:
    """Every bucket start whose bucket overlaps [start, end), ascending (UTC)."""
    out: list[datetime] = []
    if isinstance(width, tuple):
        ends: tuple[datetime | None, ...] = (*width[1:], None)
        return [t for t, nxt in zip(width, ends, strict=True) if t < end and (nxt is None or nxt > start)]
    if width == MONTH:
        local = start.astimezone(zone)
        m = date(local.year, local.month, 1)
        while (t := local_midnight(m, zone)) < end:
            out.append(t)
            m = date(m.year + m.month // 12, m.month % 12 + 1, 1)
        return out
    assert isinstance(width, timedelta)
    if width < DAY:
        t = ORIGIN + ((start - ORIGIN) // width) * width
        while t < end:
            out.append(t)
            t += width
        return out
    days = width.days
    origin = date(2000, 1, 3)
    local_day = start.astimezone(zone).date()
    d = origin + timedelta(days=((local_day - origin).days // days) * days)
    while (t := local_midnight(d, zone)) < end:
        out.append(t)
        d += timedelta(days=days)
    return out


def month_bounds(moment: datetime, zone: ZoneInfo, offset: int = 0) -> tuple[datetime, datetime]:
    """The tenant-local calendar month containing ``moment``, shifted by ``offset`` months, as UTC edges."""
    local = moment.astimezone(zone)
    index = local.year * 12 + local.month - 1 + offset
    first = date(index // 12, index % 12 + 1, 1)
    nxt = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
    return local_midnight(first, zone), local_midnight(nxt, zone)


def period_bounds(q: MetricQuery) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """Current period = the range; previous = the same length immediately before it."""
    span = q.end - q.start
    return (q.start, q.end), (q.start - span, q.start)


def month_periods(q: MetricQuery, zone: ZoneInfo) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """Current period = the tenant-local month holding the range's end; previous = the month before."""
    last = q.end - timedelta(microseconds=1)
    return month_bounds(last, zone), month_bounds(last, zone, -1)


class Source(StrEnum):
    RAW = "raw"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Segment:
    source: Source
    lo: datetime
    hi: datetime


def _ceil_hour(t: datetime) -> datetime:
    f = ORIGIN + ((t - ORIGIN) // HOUR) * HOUR
    return f if f == t else f + HOUR


def _floor_hour(t: datetime) -> datetime:
    return ORIGIN + ((t - ORIGIN) // HOUR) * HOUR


def _hours(lo: datetime, hi: datetime) -> list[Segment]:
    a, b = _ceil_hour(lo), _floor_hour(hi)
    if a >= b:
        return [Segment(Source.RAW, lo, hi)] if lo < hi else []
    parts = [Segment(Source.RAW, lo, a), Segment(Source.HOUR, a, b), Segment(Source.RAW, b, hi)]
    return [p for p in parts if p.lo < p.hi]


def plan(start: datetime, end: datetime, zone: ZoneInfo, finest: Source = Source.MONTH) -> list[Segment]:
    """Split [start, end) into whole local months (monthly rollups), whole local days (daily), whole hours (hourly)
    and the rest (raw).

    ``finest`` limits which rollups may be used (a series of 15-minute buckets can only read raw events, one of
    daily buckets no monthly rollups).
    """
    if finest == Source.RAW or start >= end:
        return [Segment(Source.RAW, start, end)] if start < end else []
    if finest == Source.HOUR:
        return _hours(start, end)
    if finest == Source.MONTH:
        m0 = month_bounds(start, zone)[0]
        if m0 < start:
            m0 = month_bounds(start, zone, 1)[0]
        m1 = month_bounds(end, zone)[0]
        if m0 < m1:
            return [*plan(start, m0, zone, Source.DAY), Segment(Source.MONTH, m0, m1), *plan(m1, end, zone, Source.DAY)]
        return plan(start, end, zone, Source.DAY)
    first_day = start.astimezone(zone).date()
    d0 = local_midnight(first_day, zone)
    if d0 < start:
        d0 = local_midnight(first_day + DAY, zone)
    last_day = end.astimezone(zone).date()
    d1 = local_midnight(last_day, zone)
    if d1 > end:  # cannot happen for midnight <= end, kept for zones whose midnight is skipped
        d1 = local_midnight(last_day - DAY, zone)
    if d0 >= d1:
        return _hours(start, end)
    return [*_hours(start, d0), Segment(Source.DAY, d0, d1), *_hours(d1, end)]


def finest_for(width: timedelta | str) -> Source:
    """Which rollups nest inside series buckets of this width."""
    if width == MONTH:
        return Source.MONTH
    if isinstance(width, timedelta) and width >= DAY:
        return Source.DAY
    assert isinstance(width, timedelta)
    return Source.HOUR if width % HOUR == timedelta(0) else Source.RAW


def epoch_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)
