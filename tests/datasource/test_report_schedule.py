"""Report schedules with controlled time: local times across DST changes, Mondays, month and year ends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from success_metrics.notify.reports.schedule import ReportKind, latest_due, period_covering, second_business_day

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_at_eight_local_on_both_sides_of_the_autumn_change() -> None:
    # New York leaves daylight time on Sunday 1 Nov 2026: 08:00 EDT = 12:00 UTC before, 08:00 EST = 13:00 UTC after
    due = latest_due(ReportKind.DAILY, time(8), NY, utc(2026, 11, 1, 13, 30))
    assert due.at == utc(2026, 11, 1, 13, 0)
    assert due.period.key == "2026-10-31"
    assert (due.period.start, due.period.end) == (utc(2026, 10, 31, 4), utc(2026, 11, 1, 4))  # 24 h, EDT
    # 12:59 UTC is 07:59 EST: today's is not due yet, so the latest is Saturday's at 08:00 EDT = 12:00 UTC
    due = latest_due(ReportKind.DAILY, time(8), NY, utc(2026, 11, 1, 12, 59))
    assert (due.at, due.period.key) == (utc(2026, 10, 31, 12, 0), "2026-10-30")
    # the report on Monday covers Sunday 1 Nov: midnight EDT (04:00 UTC) to midnight EST (05:00 UTC) = 25 h
    due = latest_due(ReportKind.DAILY, time(8), NY, utc(2026, 11, 2, 13, 0))
    assert due.period.key == "2026-11-01"
    assert due.period.end - due.period.start == timedelta(hours=25)


def test_daily_across_the_spring_change_covers_a_23_hour_day() -> None:
    # New York enters daylight time on Sunday 14 Mar 2027: midnight EST = 05:00 UTC, next midnight EDT = 04:00 UTC
    due = latest_due(ReportKind.DAILY, time(8), NY, utc(2027, 3, 15, 12, 0))
    assert due.at == utc(2027, 3, 15, 12, 0)  # 08:00 EDT
    assert (due.period.key, due.period.start, due.period.end) == ("2027-03-14", utc(2027, 3, 14, 5), utc(2027, 3, 15, 4))


def test_after_days_of_downtime_only_the_latest_report_is_due() -> None:
    # down from Friday 20 Nov to Thursday 26 Nov 10:00 UTC: one due moment, today's 08:00, for Wednesday
    due = latest_due(ReportKind.DAILY, time(8), UTC_ZONE, utc(2026, 11, 26, 10, 0))
    assert (due.at, due.period.key) == (utc(2026, 11, 26, 8, 0), "2026-11-25")


def test_weekly_on_monday_nine_in_berlin() -> None:
    # Thursday 26 Nov 2026: the latest Monday 09:00 CET (08:00 UTC) is 23 Nov; it covers Mon 16 – Sun 22 Nov,
    # ISO week 47 (week 1 of 2026 starts Mon 29 Dec 2025; 16 Nov is 322 days = 46 weeks later)
    due = latest_due(ReportKind.WEEKLY, time(9), BERLIN, utc(2026, 11, 26, 15, 0))
    assert due.at == utc(2026, 11, 23, 8, 0)
    assert due.period.key == "2026-W47"
    assert (due.period.start, due.period.end) == (utc(2026, 11, 15, 23), utc(2026, 11, 22, 23))
    # Monday 07:59 UTC is 08:59 CET: not yet, so the Monday before
    assert latest_due(ReportKind.WEEKLY, time(9), BERLIN, utc(2026, 11, 23, 7, 59)).period.key == "2026-W46"


def test_weekly_period_spanning_the_berlin_autumn_change_is_169_hours() -> None:
    # Berlin leaves summer time on Sunday 25 Oct 2026: the week Mon 19 – Sun 25 Oct is one hour longer
    period = period_covering(ReportKind.WEEKLY, utc(2026, 10, 21, 12), BERLIN)
    assert period.end - period.start == timedelta(hours=7 * 24 + 1)


def test_monthly_on_the_second_business_day_across_month_and_year_ends() -> None:
    # Nov 2026 starts on a Sunday: Mon 2 is the 1st business day, Tue 3 the 2nd
    assert second_business_day(datetime(2026, 11, 1).date()).isoformat() == "2026-11-03"
    # Aug 2026 starts on a Saturday: Mon 3, Tue 4
    assert second_business_day(datetime(2026, 8, 1).date()).isoformat() == "2026-08-04"
    # Saturday 2 Jan 2027: January's 2nd business day (Fri 1, Mon 4) is still ahead, so December's (Tue 1,
    # Wed 2) is the latest: it covered November
    due = latest_due(ReportKind.MONTHLY, time(9), UTC_ZONE, utc(2027, 1, 2, 10, 0))
    assert (due.at, due.period.key) == (utc(2026, 12, 2, 9, 0), "2026-11")
    assert (due.period.start, due.period.end) == (utc(2026, 11, 1), utc(2026, 12, 1))
    # Monday 4 Jan 2027 09:00: December 2026, across the year end
    due = latest_due(ReportKind.MONTHLY, time(9), UTC_ZONE, utc(2027, 1, 4, 9, 0))
    assert (due.period.key, due.period.start, due.period.end) == ("2026-12", utc(2026, 12, 1), utc(2027, 1, 1))


def test_comparison_periods() -> None:
    march = period_covering(ReportKind.MONTHLY, utc(2027, 3, 10), UTC_ZONE)
    assert march.previous(UTC_ZONE).key == "2027-02"
    assert march.year_before(UTC_ZONE).key == "2026-03"
    leap_day = period_covering(ReportKind.DAILY, utc(2028, 2, 29, 12), UTC_ZONE)
    assert leap_day.year_before(UTC_ZONE).key == "2027-02-28"
