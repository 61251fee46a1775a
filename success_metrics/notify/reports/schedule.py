"""When each report is due and which period it covers, in the tenant's local time. Pure functions.

Daily reports are due every day at their time (08:00 by default) and cover the previous local day; weekly
ones on Monday (09:00) and cover the previous Monday–Sunday; monthly ones on the 2nd business day (Monday to
Friday) of the month (09:00) and cover the previous month. Periods are local calendar days, so the day a
clock changes is 23 or 25 hours long. ``latest_due`` gives the most recent due moment, so a service that was
down for days sends the latest report once instead of one per missed tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import assert_never
from zoneinfo import ZoneInfo


class ReportKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


DEFAULT_TIMES = {ReportKind.DAILY: time(8, 0), ReportKind.WEEKLY: time(9, 0), ReportKind.MONTHLY: time(9, 0)}


@dataclass(frozen=True, slots=True)
class Period:
    kind: ReportKind
    key: str  # sortable within a kind: 2026-11-19, 2026-W47, 2026-10
    start: datetime  # UTC, inclusive: local midnight of the first day
    end: datetime  # UTC, exclusive
    label: str

    def previous(self, zone: ZoneInfo) -> Period:
        """The period before this one (the comparison for trends)."""
        return period_covering(self.kind, (self.start - timedelta(hours=1)), zone)

    def year_before(self, zone: ZoneInfo) -> Period:
        day = self.start.astimezone(zone).date()
        # 29 February a year earlier is the 28th
        earlier = date(day.year - 1, day.month, min(day.day, 28 if day.month == 2 else day.day))
        return period_covering(self.kind, _local_midnight(earlier, zone), zone)


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime  # UTC
    period: Period


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _first_of_month(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_covering(kind: ReportKind, moment: datetime, zone: ZoneInfo) -> Period:
    """The daily, weekly or monthly period (local calendar) that contains ``moment``."""
    day = moment.astimezone(zone).date()
    match kind:
        case ReportKind.DAILY:
            first, last = day, day + timedelta(days=1)
            key = label = day.isoformat()
        case ReportKind.WEEKLY:
            first = day - timedelta(days=day.weekday())
            last = first + timedelta(days=7)
            year, week, _ = first.isocalendar()
            key = f"{year}-W{week:02d}"
            label = f"week {week} of {year} ({first.isoformat()} to {(last - timedelta(days=1)).isoformat()})"
        case ReportKind.MONTHLY:
            first, last = _first_of_month(day), _first_of_month(day, 1)
            key = f"{first.year}-{first.month:02d}"
            label = first.strftime("%B %Y")
        case _:
            assert_never(kind)
    return Period(kind, key, _local_midnight(first, zone), _local_midnight(last, zone), label)


def second_business_day(first: date) -> date:
    day, seen = first, 0
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == 2:
                return day
        day += timedelta(days=1)


def _due_on(kind: ReportKind, day: date) -> date:
    """The due day of the cycle that ``day`` (local) belongs to."""
    match kind:
        case ReportKind.DAILY:
            return day
        case ReportKind.WEEKLY:
            return day - timedelta(days=day.weekday())
        case ReportKind.MONTHLY:
            return second_business_day(_first_of_month(day))
        case _:
            assert_never(kind)


def _step_back(kind: ReportKind, due_day: date) -> date:
    match kind:
        case ReportKind.DAILY:
            return due_day - timedelta(days=1)
        case ReportKind.WEEKLY:
            return due_day - timedelta(days=7)
        case ReportKind.MONTHLY:
            return second_business_day(_first_of_month(due_day, -1))
        case _:
            assert_never(kind)


def latest_due(kind: ReportKind, at: time, zone: ZoneInfo, now: datetime) -> Due:
    """The most recent moment at or before ``now`` when this report was due, and the period it covers."""
    due_day = _due_on(kind, now.astimezone(zone).date())
    moment = datetime.combine(due_day, at, tzinfo=zone).astimezone(UTC)
    if moment > now:
        due_day = _step_back(kind, due_day)
        moment = datetime.combine(due_day, at, tzinfo=zone).astimezone(UTC)
    # a report covers the period before the one its due day falls in
    covered = period_covering(kind, _local_midnight(due_day, zone), zone).previous(zone)
    return Due(moment, covered)
