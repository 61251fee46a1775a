"""What a report says about its figures: highlights, recommendations and the revenue projection, by hand."""

from __future__ import annotations

from success_metrics.calculators import Column, ColumnType, Frame, Kind
from success_metrics.notify.reports.charts import chart
from success_metrics.notify.reports.content import Section, highlights, projection, recommendations


def stat(name: str, value: float, previous: float, target: float | None, status: str) -> Frame:
    return Frame(name, Kind.STAT, (
        Column("value", ColumnType.NUMBER, (value,)), Column("previous", ColumnType.NUMBER, (previous,)),
        Column("target", ColumnType.NUMBER, (target,)), Column("status", ColumnType.STRING, (status,))))


def revenue(values: list[float | None]) -> Frame:
    return Frame("revenue.monthly_trend", Kind.TIMESERIES, (
        Column("time", ColumnType.TIME, tuple(1_700_000_000_000 + i * 2_592_000_000 for i in range(len(values)))),
        Column("total", ColumnType.NUMBER, tuple(values))))


def test_highlights_and_recommendations() -> None:
    sections = [
        Section("ROI", "roi.monthly", stat("roi.monthly", 80.0, 100.0, 100.0, "below_target")),
        Section("Close rate", "conversion.lead_to_close", stat("c", 0.17, 0.2, None, "no_target")),
        Section("Same month last year", "roi.monthly", stat("roi.monthly", 50.0, 10.0, None, "no_target"),
                spec_range="year_before"),
        Section("Agents", "agents.scorecard", None, "Not included for the agent role."),
    ]
    # ROI: (80 - 100) / 100 = -20 %; close rate: (0.17 - 0.2) / 0.2 = -15 %; last year's section says nothing
    assert highlights(sections) == ["ROI: 80 (-20.0% against the previous period)",
                                    "Close rate: 0.17 (-15.0% against the previous period)"]
    assert recommendations(sections) == [
        "Recommendation: ROI is at 80 against a target of 100; review what drives it before next month.",
        "Recommendation: Close rate fell 15% on the previous period; look into the cause."]


def test_projection_grows_the_last_month_by_the_average_growth() -> None:
    # growth 110/100 = +10 %, 121/110 = +10 %, 133.1/121 = +10 % -> 133.1 * 1.1 = 146.41
    trend = Section("Revenue", "revenue.monthly_trend", revenue([90.0, 100.0, 110.0, 121.0, 133.1]))
    assert projection([trend]) == ["Projection: next month's revenue ≈ 146.41 (last month 133.1, average monthly "
                                   "growth +10.0% over the last three months)."]
    # fewer than four months (None is a month without data), or hidden: no projection
    assert projection([Section("Revenue", "revenue.monthly_trend", revenue([100.0, None, 110.0, 120.0]))]) == []
    assert projection([Section("Revenue", "revenue.monthly_trend", None, "Not included for the agent role.")]) == []


def test_charts_only_where_a_picture_means_something() -> None:
    colors = ("#1f60c4", "#73bf69")
    png = chart(revenue([1.0, 2.0, 3.0]), "Revenue", colors)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart(stat("roi", 1.0, 1.0, None, "no_target"), "ROI", colors) is None
    kpis = Frame("executive.kpi_summary", Kind.TABLE, (
        Column("title", ColumnType.STRING, ("ROI", "Savings")), Column("unit", ColumnType.STRING, ("percent", "currency")),
        Column("current", ColumnType.NUMBER, (40.0, 35000.0))))
    assert chart(kpis, "KPIs", colors) is None  # % and money on one axis would mislead
    hidden = revenue([None, None, None])
    assert chart(hidden, "Revenue", colors) is None


def test_the_kpi_summary_reads_as_one_line_per_kpi() -> None:
    periods = ("month_to_date", "projected_month_end", "target", "previous_month")
    kpis = Frame("executive.kpi_summary", Kind.TABLE, (
        Column("period", ColumnType.STRING, periods),
        Column("roi", ColumnType.NUMBER, (900.0, 3900.0, 1000.0, 300.0), "percent"),
        Column("roi_status", ColumnType.STRING, ("on_track", None, None, "below_target")),
        Column("hours_saved", ColumnType.NUMBER, (7.5, 30.0, 10.0, 12.0), "hours"),
        Column("hours_saved_status", ColumnType.STRING, ("at_risk", None, None, "above_target"))))
    section = [Section("KPIs", "executive.kpi_summary", kpis)]
    # ROI (900 - 300) / 300 = +200 %; hours (7.5 - 12) / 12 = -37.5 %
    assert highlights(section) == ["Total ROI: 900 (+200.0% against the previous period)",
                                   "Time Savings: 7.5 (-37.5% against the previous period)"]
    assert recommendations(section) == [
        "Recommendation: Time Savings is at 7.5 so far and does not project to its target of 10; review what "
        "drives it this month."]
    assert chart(kpis, "KPIs", ("#1f60c4", "#73bf69")) is None  # % and hours: no common axis
