"""Executive Summary: ROI and its terms, KPI summary, revenue and savings trends, cost-benefit.

The headline stats use the tenant-local calendar month holding the range's end as the current period and
the month before as the previous one; trends are monthly unless the granularity option says otherwise.
ROI is a percentage: 100 × (time savings value + revenue attribution + cost avoidance − system costs) /
system costs, undefined (None, with a notice) when system costs are zero.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from calculators import buckets, formulas, shapes
from calculators.buckets import MONTH
from calculators.catalog import Option, metric
from calculators.frames import Frame
from calculators.query import ScopedQuery
from calculators.reads import PeriodFigures, funnel, period_figures
from calculators.tenant import TenantSettings
from calculators.vocabulary import Kind, Sensitivity, Unit

FIN = Sensitivity.FINANCIAL
MONTHLY = Option("granularity", "Granularity", ("day", "week", "month"), default="month")


async def _month(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings, lo: datetime, hi: datetime
                 ) -> PeriodFigures:
    figures = await period_figures(conn, sq.tenant_id, buckets.plan(lo, hi, s.zone), tz=s.timezone)
    return figures.get(None, PeriodFigures())


async def _current_previous(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings
                            ) -> tuple[PeriodFigures, PeriodFigures]:
    (lo, hi), (plo, phi) = buckets.month_periods(sq.query, s.zone)
    return await _month(conn, sq, s, lo, hi), await _month(conn, sq, s, plo, phi)


def _cost_notice(fallback: bool, s: TenantSettings) -> list[str]:
    if not fallback:
        return []
    return [f"No cost.recorded events this month: system costs are the configured monthly costs "
            f"({sum(s.monthly_costs.model_dump().values()):.2f} {s.currency})."]


def _roi_pct(terms: formulas.RoiTerms) -> float | None:
    return None if terms.roi is None else 100 * terms.roi


@metric("roi.monthly", "Total ROI",
        "Monthly ROI in percent: 100 × (time savings value + revenue attribution + cost avoidance − system costs) "
        "/ system costs, for the tenant-local month holding the range's end, against the month before. "
        "Undefined (empty, with a notice) when the month's system costs are zero.",
        Unit.PERCENT, Kind.STAT, sensitivity=FIN,
        inputs=("savings.monthly", "revenue.attributed", "time_savings.hours", "cost.avoidance", "money_targets"))
async def roi_monthly(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    cur, prev = await _current_previous(conn, sq, s)
    (ct, fallback), (pt, _) = cur.terms(s), prev.terms(s)
    notices = _cost_notice(fallback, s)
    if ct.roi is None:
        notices.append("ROI is undefined for this month: system costs are zero, so there is nothing to divide by.")
    return shapes.stat("roi.monthly", _roi_pct(ct), _roi_pct(pt), s.targets.get("roi.monthly"), Unit.PERCENT,
                       sensitivity=FIN, field="roi", notices=notices,
                       meta={"time_savings_value": ct.time_savings_value, "revenue_attribution": ct.revenue_attribution,
                             "cost_avoidance": ct.cost_avoidance, "system_costs": ct.system_costs})


@metric("savings.monthly", "Monthly Savings",
        "Money the automation saved in the month: time savings value + cost avoidance − system costs.",
        Unit.CURRENCY, Kind.STAT, sensitivity=FIN,
        inputs=("automated_tasks", "hours_saved_per_task", "hourly_rate", "errors_prevented", "error_cost",
                "system_costs", "money_targets"))
async def savings_monthly(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    cur, prev = await _current_previous(conn, sq, s)
    (ct, fallback), (pt, _) = cur.terms(s), prev.terms(s)
    return shapes.stat("savings.monthly", ct.savings, pt.savings, s.targets.get("savings.monthly"), Unit.CURRENCY,
                       sensitivity=FIN, field="roi", notices=_cost_notice(fallback, s))


@metric("revenue.attributed", "Revenue Attribution",
        "Σ deal value × attribution class weight (direct/assisted/influenced, per tenant) over the month's closed "
        "deals; never more than the month's total revenue.", Unit.CURRENCY, Kind.STAT, sensitivity=FIN,
        inputs=("deal_revenue", "lead_funnel", "attribution_weights", "money_targets"))
async def revenue_attributed(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    cur, prev = await _current_previous(conn, sq, s)
    return shapes.stat("revenue.attributed", cur.terms(s)[0].revenue_attribution,
                       prev.terms(s)[0].revenue_attribution, s.targets.get("revenue.attributed"), Unit.CURRENCY,
                       sensitivity=FIN, field="revenue", meta={"total_revenue": cur.revenue, "deals": cur.deals})


@metric("time_savings.hours", "Time Savings",
        "Hours of manual work the month's successful automated tasks replaced: tasks × hours_saved_per_task "
        "(responses, enrichments, scorings, routings, nurture steps and automated contact attempts).",
        Unit.HOURS, Kind.STAT,
        inputs=("automated_tasks", "hours_saved_per_task", "agent_activity", "nonmoney_targets"))
async def time_savings_hours(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    cur, prev = await _current_previous(conn, sq, s)
    terms = cur.terms(s)[0]
    agents = len(cur.agents)
    return shapes.stat("time_savings.hours", terms.hours_saved, prev.terms(s)[0].hours_saved,
                       s.targets.get("time_savings.hours"), Unit.HOURS,
                       meta={"tasks": cur.tasks, "agents": agents,
                             "hours_per_agent": formulas.ratio(terms.hours_saved, agents)})


@metric("executive.kpi_summary", "Primary ROI Metrics",
        "Table of the headline figures (ROI %, monthly savings, revenue attribution, hours saved): current month, "
        "previous month, target and status.", Unit.TEXT, Kind.TABLE, sensitivity=FIN,
        inputs=("roi.monthly", "savings.monthly", "revenue.attributed", "time_savings.hours"))
async def kpi_summary(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    cur, prev = await _current_previous(conn, sq, s)
    (ct, fallback), (pt, _) = cur.terms(s), prev.terms(s)
    rows = []
    for name, title, unit, c, p in (
        ("roi.monthly", "Total ROI", Unit.PERCENT, _roi_pct(ct), _roi_pct(pt)),
        ("savings.monthly", "Monthly Savings", Unit.CURRENCY, ct.savings, pt.savings),
        ("revenue.attributed", "Revenue Attribution", Unit.CURRENCY, ct.revenue_attribution, pt.revenue_attribution),
        ("time_savings.hours", "Time Savings", Unit.HOURS, ct.hours_saved, pt.hours_saved),
    ):
        target = formulas.target_in_unit(s.targets.get(name), unit == Unit.PERCENT)
        rows.append((name, title, unit.value, c, p, target, formulas.status(c, target).value))
    cols = [shapes.text("metric"), shapes.text("title"), shapes.text("unit"), shapes.money("current", "roi"),
            shapes.money("previous", "roi"), shapes.money("target", "roi"), shapes.text("status")]
    return shapes.table("executive.kpi_summary", cols, rows, notices=_cost_notice(fallback, s))


async def _monthly_series(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings
                          ) -> tuple[list[datetime], dict[datetime | None, PeriodFigures]]:
    q = sq.query
    width = buckets.series_width(q) if q.option("granularity") not in (None, MONTH) else MONTH
    if width == MONTH and (q.end - q.start).days / 28 > q.max_points:
        width = buckets.series_width(q)
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    segs = buckets.plan(q.start, q.end, s.zone, buckets.finest_for(width))
    return starts, await period_figures(conn, sq.tenant_id, segs, width, tz=s.timezone)


@metric("revenue.monthly_trend", "Monthly Revenue Trend",
        "Total closed-deal revenue and the automation-attributed part of it, per month (or the chosen granularity).",
        Unit.CURRENCY, Kind.TIMESERIES, sensitivity=FIN, options=(MONTHLY,),
        inputs=("deal_revenue", "attribution_weights"))
async def revenue_trend(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    starts, figs = await _monthly_series(conn, sq, s)
    total = {t: f.revenue for t, f in figs.items() if t is not None}
    attributed = {t: f.terms(s)[0].revenue_attribution for t, f in figs.items() if t is not None}
    return shapes.series("revenue.monthly_trend", starts, {"total": total, "attributed": attributed},
                         Unit.CURRENCY, count=True, sensitivity=FIN, field="revenue")


@metric("time_savings.cumulative", "Time Savings Accumulation",
        "Hours saved, accumulated from the start of the range, per month (or the chosen granularity).",
        Unit.HOURS, Kind.TIMESERIES, options=(MONTHLY,),
        inputs=("automated_tasks", "hours_saved_per_task"))
async def time_savings_cumulative(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    starts, figs = await _monthly_series(conn, sq, s)
    running, out = 0.0, {}
    for t in starts:
        running += figs[t].tasks * s.hours_saved_per_task if t in figs else 0.0
        out[t] = running
    return shapes.series("time_savings.cumulative", starts, {"hours_saved": out}, Unit.HOURS, count=True)


@metric("cost.avoidance", "Cost Avoidance",
        "Per month: the manual process cost the automation avoided (hours saved × hourly rate + errors prevented × "
        "error cost) against the automation investment (system costs).",
        Unit.CURRENCY, Kind.TIMESERIES, sensitivity=FIN, options=(MONTHLY,),
        inputs=("automated_tasks", "hours_saved_per_task", "hourly_rate", "errors_prevented", "error_cost",
                "system_costs"))
async def cost_avoidance(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    starts, figs = await _monthly_series(conn, sq, s)
    manual, invest = {}, {}
    for t in starts:
        terms = figs[t].terms(s)[0] if t in figs else PeriodFigures().terms(s)[0]
        manual[t] = terms.time_savings_value + terms.cost_avoidance
        invest[t] = terms.system_costs
    return shapes.series("cost.avoidance", starts, {"manual_process_cost": manual, "automation_investment": invest},
                         Unit.CURRENCY, count=True, sensitivity=FIN, field="cost",
                         notices=["Months without cost.recorded events use the configured monthly costs."])


@metric("cost.benefit", "Cost-Benefit Analysis",
        "The month's costs (infrastructure, API, support) and benefits (time savings, revenue attribution, error "
        "prevention), monthly and annual (monthly × 12), with totals.", Unit.CURRENCY, Kind.TABLE, sensitivity=FIN,
        inputs=("savings.monthly", "revenue.attributed"))
async def cost_benefit(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    (lo, hi), _ = buckets.month_periods(sq.query, s.zone)
    cur = await _month(conn, sq, s, lo, hi)
    terms, fallback = cur.terms(s)
    costs = cur.cost_categories(s)
    rows = [("cost", "System Infrastructure", costs.get("infrastructure", 0.0)),
            ("cost", "API Service Costs", costs.get("api", 0.0)),
            ("cost", "Support & Maintenance", costs.get("support", 0.0)),
            ("cost", "Total Investment", terms.system_costs),
            ("benefit", "Time Savings", terms.time_savings_value),
            ("benefit", "Revenue Attribution", terms.revenue_attribution),
            ("benefit", "Error Prevention", terms.cost_avoidance),
            ("benefit", "Total Benefits", terms.benefits)]
    cols = [shapes.text("kind"), shapes.text("category"), shapes.money("monthly", "cost"),
            shapes.money("annual", "cost")]
    roi = _roi_pct(terms)
    return shapes.table("cost.benefit", cols, [(k, c, m, m * 12) for k, c, m in rows],
                        notices=_cost_notice(fallback, s), meta={"roi_percent": roi})


@metric("conversion.before_after", "Conversion Rate Improvement",
        "Pre-automation baseline (tenant settings) against the range: lead→appointment and lead→close rates (%) "
        "and the average hours to first contact.", Unit.PERCENT, Kind.TABLE,
        dimensions=(),
        inputs=("conversion.lead_to_appointment", "conversion.lead_to_close", "first_contact_seconds", "baseline"))
async def before_after(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    f = await funnel(conn, sq.tenant_id, q.start, q.end, q.filters, q.metric)
    resp = await conn.fetchval(
        "SELECT avg(extract(epoch FROM first_contact_at - created_at) / 3600) FROM leads WHERE tenant_id = $1 "
        "AND created_at >= $2 AND created_at < $3 AND first_contact_at >= created_at", sq.tenant_id, q.start, q.end)
    b = s.baseline

    def pct(x: float | None) -> float | None:
        return None if x is None else 100 * x

    rows = [("lead_to_appointment", Unit.PERCENT.value, 100 * b.lead_to_appointment, pct(f.appointment_rate)),
            ("lead_to_close", Unit.PERCENT.value, 100 * b.lead_to_close, pct(f.close_rate)),
            ("response_time_hours", Unit.HOURS.value, b.response_time_hours, None if resp is None else float(resp))]
    cols = [shapes.text("metric"), shapes.text("unit"), shapes.num("before"), shapes.num("after"),
            shapes.num("change")]
    return shapes.table("conversion.before_after", cols,
                        [(m, u, bef, aft, None if aft is None else aft - bef) for m, u, bef, aft in rows])

