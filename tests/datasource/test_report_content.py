"""How a report writes its figures and names its things, and the KPI tiles it makes from a frame, by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from success_metrics.calculators import (
    Column,
    ColumnType,
    Frame,
    Kind,
    TenantSettings,
    Unit,
)
from success_metrics.notify.reports.charts import chart
from success_metrics.notify.reports.content import Section, highlights
from success_metrics.notify.reports.format import figure, label, metric_title, readable
from success_metrics.notify.reports.schedule import complete_months
from success_metrics.notify.reports.view import kpi_tiles, notice


def stat(name: str, value: float, previous: float, target: float | None, status: str) -> Frame:
    return Frame(name, Kind.STAT, (
        Column("value", ColumnType.NUMBER, (value,), Unit.PERCENT),
        Column("previous", ColumnType.NUMBER, (previous,), Unit.PERCENT),
        Column("target", ColumnType.NUMBER, (target,), Unit.PERCENT), Column("status", ColumnType.STRING, (status,))))


def revenue(values: list[float | None]) -> Frame:
    return Frame("revenue.monthly_trend", Kind.TIMESERIES, (
        Column("time", ColumnType.TIME, tuple(1_700_000_000_000 + i * 2_592_000_000 for i in range(len(values)))),
        Column("total", ColumnType.NUMBER, tuple(values), Unit.CURRENCY)))


def kpis() -> Frame:
    periods = ("month_to_date", "projected_month_end", "target", "previous_month")
    return Frame("executive.kpi_summary", Kind.TABLE, (
        Column("period", ColumnType.STRING, periods),
        Column("roi", ColumnType.NUMBER, (900.0, 3900.0, 1000.0, 300.0), Unit.PERCENT),
        Column("roi_status", ColumnType.STRING, ("on_track", None, None, "below_target")),
        Column("hours_saved", ColumnType.NUMBER, (7.5, 7.5, 40.0, 12.0), Unit.HOURS),  # a complete month
        Column("hours_saved_status", ColumnType.STRING, ("below_target", None, None, "above_target"))))


def test_one_format_per_unit_rounded_by_magnitude() -> None:
    assert figure(4940.0, Unit.PERCENT) == "4,940%"  # whole from 100 up
    assert figure(47.23, Unit.PERCENT) == "47.2%"  # one decimal from 10
    assert figure(2.345, Unit.HOURS) == "2.35 h" and figure(126.4, Unit.HOURS) == "126 h"
    assert figure(38250.4, Unit.CURRENCY, "USD") == "$38,250" and figure(12.5, Unit.CURRENCY, "EUR") == "€12.50"
    assert figure(-1500.0, Unit.CURRENCY, "GBP") == "-£1,500"
    assert figure(38_260.0, Unit.CURRENCY, "USD", short=True) == "$38.3k"  # 38,260 / 1,000
    assert figure(1_234_567.0, Unit.CURRENCY, "USD", short=True) == "$1.2M"
    assert figure(359_466.0, Unit.PERCENT, short=True) == "359,466%"  # a percent is never abbreviated
    assert figure(0.873, Unit.RATIO) == "87.3%" and figure(127.0, Unit.MS) == "127 ms"
    assert figure(1247, Unit.COUNT) == "1,247" and figure(None, Unit.CURRENCY) == "—"


def test_ids_become_words() -> None:
    assert label("above_target") == "Above target" and label("at_risk") == "At risk"
    assert label("roi") == "ROI" and label("avg_first_contact_hours") == "Hours to first contact"
    assert label("month_to_date") == "Month to date" and label("appointment_rate") == "Appointment rate"
    assert metric_title("roi.monthly") == "Total ROI"
    assert metric_title("forecast.nothing_yet") == "Forecast nothing yet"  # not in the catalog: its words
    assert readable("website_form") == "Website form" and readable("Sarah M.") == "Sarah M."
    assert notice("Masked for role agent: efficiency_score (hide), agent (pseudonymise), cost (rows left out), "
                  "revenue (rows left out)") == ("Masked for the agent role: efficiency score hidden; agent shown "
                                                 "under pseudonyms; cost, revenue rows left out.")


def test_kpi_tiles_carry_unit_change_target_and_status() -> None:
    roi, hours = kpi_tiles(kpis(), "USD")
    # ROI, a month still running (on track): its projected month-end against the month before, (3,900 - 300) /
    # 300 = +1,200 %; 900 / 1,000 of the target reached so far
    assert (roi.title, roi.value, roi.change, roi.arrow, roi.change_tone) == (
        "Total ROI", "900%", "+1,200% projected vs last month", "▲", "good")
    assert (roi.target, roi.progress, roi.status, roi.status_tone, roi.projected) == (
        "Target 1,000%", 0.9, "On track", "good", "Projected 3,900%")
    # hours, a complete month below target: (7.5 - 12) / 12 = -37.5 %, 7.5 / 40 of the target
    assert (hours.value, hours.change, hours.arrow, hours.change_tone) == ("7.50 h", "−37.5% vs previous period",
                                                                           "▼", "bad")
    assert (hours.progress, hours.status, hours.status_tone, hours.projected) == (7.5 / 40, "Below target", "bad",
                                                                                  None)


def test_highlights_speak_in_units() -> None:
    sections = [
        Section("Close rate", "conversion.lead_to_close", stat("c", 17.0, 20.0, None, "no_target")),
        Section("Same month last year", "conversion.lead_to_close", stat("c", 50.0, 10.0, None, "no_target"),
                spec_range="year_before"),
        Section("KPIs", "executive.kpi_summary", kpis()),
        Section("Agents", "agents.scorecard", None, "Not included for the agent role."),
    ]
    # close rate (17 - 20) / 20 = -15 %; last year's section says nothing
    assert highlights(sections, "USD") == ["Close rate: 17.0% (−15.0% vs previous period)",
                                           "Total ROI: 900% (+200% vs previous period)",
                                           "Time Savings: 7.50 h (−37.5% vs previous period)"]


SETTINGS = TenantSettings.model_validate({})


def test_charts_only_where_a_picture_means_something() -> None:
    png = chart(revenue([1.0, 2.0, 3.0]), SETTINGS, "monthly", ("Target", 2.0))
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart(stat("roi", 1.0, 1.0, None, "no_target"), SETTINGS, "monthly") is None
    assert chart(kpis(), SETTINGS, "monthly") is None  # % and hours on one axis would mislead
    assert chart(revenue([None, None, None]), SETTINGS, "monthly") is None


def test_a_years_trend_is_twelve_complete_local_months() -> None:
    chicago = ZoneInfo("America/Chicago")  # UTC-6 in winter, UTC-5 in summer
    # a week ending Monday 30 Nov 2026 00:00 local: November is not complete, so Nov 2025 to Oct 2026
    assert complete_months(datetime(2026, 11, 30, 6, tzinfo=UTC), chicago) == (
        datetime(2025, 11, 1, 5, tzinfo=UTC), datetime(2026, 11, 1, 5, tzinfo=UTC))
    # a month ending 1 Dec 2026 00:00 local: November is complete, so Dec 2025 to Nov 2026
    assert complete_months(datetime(2026, 12, 1, 6, tzinfo=UTC), chicago) == (
        datetime(2025, 12, 1, 6, tzinfo=UTC), datetime(2026, 12, 1, 6, tzinfo=UTC))
