"""Executive metrics against figures worked out by hand from tests/calculators/fixture.py (tenant A)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from success_metrics.calculators import MetricName, MetricQuery, ScopedQuery, TenantId, explain
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, JAN, by, col, run

# February (local New York), by hand:
#   automated tasks: responses ok 4 (L1, L2, L3, L5; L4 failed) + enrichment ok 1 (L1) + scorings 5 + routings 5
#                    + nurture ok 1 (L3) + automated contact attempts 2 (L3-auto, L4-auto) = 18
HOURS = 18 * 0.5                     # 9 h saved
TIME_VALUE = HOURS * 40              # 360
ATTRIBUTED = 1000 * 0.9 + 2000 * 0.5 + 400 * 0.25  # 900 + 1000 + 100 = 2000 (of 3400 total revenue)
AVOIDED = (3 + 2 + 1) * 100          # errors prevented 6 (ep3 at 04:30Z on 1 March is 28 Feb in New York) → 600
COSTS = 50 + 30                      # recorded infrastructure + api = 80
ROI = 100 * (TIME_VALUE + ATTRIBUTED + AVOIDED - COSTS) / COSTS  # 100 × 2880 / 80 = 3600 %
# January: tasks 3 (L0 response, scoring, routing) → 1.5 h → 60; the only cost is the support cost of 15 recorded
# at 2026-02-01 03:00Z (31 Jan 22:00 local), so no fallback to the configured 30
ROI_JAN = 100 * (1.5 * 40 - 15) / 15  # 300 %


async def test_roi_and_each_term(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "roi.monthly", *FEB)
    assert col(f, "value")[0] == pytest.approx(ROI)
    assert col(f, "previous")[0] == pytest.approx(ROI_JAN)
    assert col(f, "target") == [1000] and col(f, "status") == ["above_target"]
    assert f.meta["time_savings_value"] == pytest.approx(TIME_VALUE)
    assert f.meta["revenue_attribution"] == pytest.approx(ATTRIBUTED)
    assert f.meta["cost_avoidance"] == pytest.approx(AVOIDED)
    assert f.meta["system_costs"] == pytest.approx(COSTS)
    assert f.column("value").sensitivity == "financial" and f.column("value").field == "roi"


async def test_savings_revenue_hours(db: Database, tenant_a: str) -> None:
    savings = await run(db, tenant_a, "savings.monthly", *FEB)
    assert col(savings, "value")[0] == pytest.approx(TIME_VALUE + AVOIDED - COSTS)  # 880
    assert col(savings, "previous")[0] == pytest.approx(60 - 15)
    revenue = await run(db, tenant_a, "revenue.attributed", *FEB)
    assert col(revenue, "value")[0] == pytest.approx(ATTRIBUTED)
    assert col(revenue, "status") == ["below_target"]  # 2000 < 90 % of 5000
    assert revenue.meta["total_revenue"] == pytest.approx(3400) and ATTRIBUTED <= 3400
    hours = await run(db, tenant_a, "time_savings.hours", *FEB)
    assert col(hours, "value")[0] == pytest.approx(HOURS)
    assert col(hours, "status") == ["on_track"]  # 9 ≥ 90 % of 10
    assert hours.meta["agents"] == 2 and hours.meta["hours_per_agent"] == pytest.approx(HOURS / 2)


async def test_a_complete_month_projects_to_itself(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "roi.monthly", *FEB)
    # the range ends at the month's end: elapsed fraction 1, projected = actual, status judged on the actual
    assert f.meta["elapsed_fraction"] == 1 and col(f, "projected")[0] == pytest.approx(ROI)


async def test_range_inside_the_month_is_the_month_to_date_with_its_projection(db: Database, tenant_a: str) -> None:
    # range 1 Feb 00:00 → 15 Feb 00:00 New York: 14 of February's 28 days, elapsed fraction 0.5.
    # Month to date: the same 18 automated tasks (all before the 15th) → 9 h → 360; the deals close on 20–22 Feb,
    # after the range's end → revenue attribution 0; errors prevented ep1 (3) + ep2 (2) = 5 → 500; costs 80
    # (February's, recorded on the 3rd). ROI = 100 × (360 + 0 + 500 − 80) / 80 = 975 %.
    # Projected month-end: (360 + 0 + 500) / 0.5 − 80 = 1640 → ROI 100 × 1640 / 80 = 2050 % ≥ target 1000: on track
    # (against the whole month's target the month to date alone, 975 %, would read below_target).
    mid = (FEB[0], FEB[0].replace(day=15))
    f = await run(db, tenant_a, "roi.monthly", *mid)
    assert col(f, "value")[0] == pytest.approx(975)
    assert col(f, "previous")[0] == pytest.approx(ROI_JAN)
    assert col(f, "projected")[0] == pytest.approx(2050)
    assert col(f, "status") == ["on_track"] and f.meta["elapsed_fraction"] == pytest.approx(0.5)
    assert f.meta["revenue_attribution"] == 0
    # revenue attribution: 0 by the 15th projects to 0 < 5000: at risk
    revenue = await run(db, tenant_a, "revenue.attributed", *mid)
    assert col(revenue, "value") == [0] and col(revenue, "projected") == [0] and col(revenue, "status") == ["at_risk"]
    # hours: 9 by the 15th → projected 9 / 0.5 = 18 ≥ target 10: on track
    hours = await run(db, tenant_a, "time_savings.hours", *mid)
    assert col(hours, "value")[0] == pytest.approx(9) and col(hours, "projected")[0] == pytest.approx(18)
    assert col(hours, "status") == ["on_track"]


async def test_kpi_summary_and_cost_benefit(db: Database, tenant_a: str) -> None:
    f = await run(db, tenant_a, "executive.kpi_summary", *FEB)
    rows = by(f, "period")
    assert list(rows) == ["month_to_date", "projected_month_end", "target", "previous_month"]
    assert rows["month_to_date"]["roi"] == pytest.approx(ROI)
    assert rows["month_to_date"]["roi_status"] == "above_target"  # complete month: 3600 ≥ 1000
    assert rows["projected_month_end"]["roi"] == pytest.approx(ROI)
    assert rows["target"]["roi"] == 1000 and rows["target"]["savings"] is None
    assert rows["month_to_date"]["savings_status"] == "no_target"
    assert rows["previous_month"]["hours_saved"] == pytest.approx(1.5)
    assert rows["previous_month"]["hours_saved_status"] == "below_target"  # 1.5 < 90 % of 10
    # each KPI its own unit: a % column, two money columns (the tenant's currency), an hours column
    assert {c.name: c.unit for c in f.columns if c.unit} == {
        "roi": "percent", "savings": "currency", "revenue_attribution": "currency", "hours_saved": "hours"}
    cb = by(await run(db, tenant_a, "cost.benefit", *FEB), "category")
    assert cb["Total Investment"]["month_to_date"] == pytest.approx(80)
    assert cb["Support & Maintenance"]["month_to_date"] == 0
    assert cb["Total Benefits"]["month_to_date"] == pytest.approx(TIME_VALUE + ATTRIBUTED + AVOIDED)
    assert cb["Total Benefits"]["annual"] == pytest.approx(12 * (TIME_VALUE + ATTRIBUTED + AVOIDED))


async def test_kpi_summary_early_in_the_month_is_on_track(db: Database, tenant_a: str) -> None:
    # range to 8 Feb 00:00 New York: 7 of 28 days, elapsed 0.25. By then: L1, L2, L3, L4 (created 2–5 Feb) give
    # responses ok 3 (L4's failed) + enrichment 1 + scorings 4 + routings 4 + nurture 1 (L3, 5 Feb) + automated
    # contacts 2 = 15 tasks → 7.5 h (target 10): projected 7.5 / 0.25 = 30 h → on_track; the month to date alone
    # (7.5 < 9) would be below_target. Revenue attribution 0 (deals from the 20th) → projected 0 → at_risk.
    # ROI: time value 7.5 × 40 = 300, errors ep1, ep2 (6–7 Feb) 5 × 100 = 500, costs 80: month to date
    # 100 × (300 + 500 − 80) / 80 = 900 %; projected (300 + 500) / 0.25 − 80 = 3120 → 100 × 3120 / 80 = 3900 %.
    f = await run(db, tenant_a, "executive.kpi_summary", FEB[0], FEB[0].replace(day=8))
    rows = by(f, "period")
    assert f.meta["elapsed_fraction"] == pytest.approx(0.25)
    assert rows["month_to_date"]["hours_saved"] == pytest.approx(7.5)
    assert rows["projected_month_end"]["hours_saved"] == pytest.approx(30)
    assert rows["month_to_date"]["hours_saved_status"] == "on_track"
    assert rows["month_to_date"]["revenue_attribution_status"] == "at_risk"
    assert rows["month_to_date"]["roi"] == pytest.approx(900)
    assert rows["projected_month_end"]["roi"] == pytest.approx(3900)
    assert rows["month_to_date"]["roi_status"] == "on_track"


async def test_trends_per_month(db: Database, tenant_a: str) -> None:
    lo, hi = JAN[0], FEB[1]
    trend = await run(db, tenant_a, "revenue.monthly_trend", lo, hi, options=(("granularity", "month"),))
    assert col(trend, "time") == [int(JAN[0].timestamp() * 1000), int(FEB[0].timestamp() * 1000)]
    assert col(trend, "total") == [0, pytest.approx(3400)]
    assert col(trend, "attributed") == [0, pytest.approx(ATTRIBUTED)]
    cumulative = await run(db, tenant_a, "time_savings.cumulative", lo, hi)
    assert col(cumulative, "hours_saved") == [pytest.approx(1.5), pytest.approx(1.5 + HOURS)]
    avoidance = await run(db, tenant_a, "cost.avoidance", lo, hi)
    assert col(avoidance, "manual_process_cost") == [pytest.approx(60), pytest.approx(TIME_VALUE + AVOIDED)]
    assert col(avoidance, "automation_investment") == [pytest.approx(15), pytest.approx(80)]


async def test_before_after(db: Database, tenant_a: str) -> None:
    rows = by(await run(db, tenant_a, "conversion.before_after", *FEB), "metric")
    # 5 leads created in February: appointments L1, L2, L4 (60 %), closes L1, L2, L4 (60 %); baseline 30 % and 12 %
    assert rows["lead_to_appointment"]["before"] == pytest.approx(30)
    assert rows["lead_to_appointment"]["after"] == pytest.approx(60)
    assert rows["lead_to_close"]["change"] == pytest.approx(60 - 12)
    # first agent contact after 1, 3, 2 and 5 hours → 2.75 h
    assert rows["response_time_hours"]["after"] == pytest.approx(2.75)


async def test_zero_costs_leave_roi_undefined(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    from tests.calculators.fixture import ev, load, t

    tenant = new_tenant_id("zero")
    await load(db, tenant, [ev("d", "deal.closed", t(10, 12), "X", value=100, attribution_class="direct")],
               {"timezone": "UTC", "monthly_costs": {"infrastructure": 0, "api": 0, "support": 0}})
    f = await run(db, tenant, "roi.monthly", *FEB)
    assert col(f, "value") == [None] and col(f, "status") == ["no_target"]
    assert any("undefined" in n for n in f.notices)
    assert any("configured monthly costs" in n for n in f.notices)


async def test_a_cost_counts_for_the_month_it_names(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    from datetime import UTC, datetime

    from tests.calculators.fixture import ev, load, t

    tenant = new_tenant_id("late-cost")
    await load(db, tenant, [
        ev("d", "deal.closed", t(10, 12), "X", value=1000, attribution_class="direct"),
        # February's infrastructure bill, recorded on 2 March
        ev("c", "cost.recorded", t(2, 9, month=3), category="infrastructure", amount=100, month="2026-02"),
    ], {"timezone": "UTC"})
    feb = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    f = await run(db, tenant, "roi.monthly", *feb)
    assert col(f, "value") == [pytest.approx(100 * (1000 * 0.9 - 100) / 100)]  # 800 %
    assert not f.notices
    march = await run(db, tenant, "cost.benefit", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert by(march, "category")["Total Investment"]["month_to_date"] == pytest.approx(12 + 89 + 0)  # configured
    assert march.notices


async def test_the_roi_statement_sends_back_only_the_costs_of_the_months_the_period_overlaps(
        db: Database, tenant_a: str) -> None:
    # February: January's support cost (recorded on 1 February 03:00Z, within the 92 days of lateness read) is
    # not February's, so it is not read out of the database only to be dropped
    sq = ScopedQuery(TenantId(tenant_a), MetricQuery(MetricName("cost.benefit"), *FEB))
    async with db.tenant(tenant_a) as conn:
        _, statements = await explain(conn, sq)
        sql, args = next((s, a) for s, a in statements if "cost.recorded" in s)
        rows = await conn.fetch(sql, *args)
    assert sorted(r["key"] for r in rows if r["kind"] == "cost") == ["2026-02 api", "2026-02 infrastructure"]
