"""Executive Summary: ROI and its terms, KPI summary, revenue and savings trends, cost-benefit.

The headline stats are the spec's "current month": the month to date (the tenant-local calendar month holding
the range's end, from its start up to the range's end: nothing after the range's end counts) against the
whole month before, with the month-end the month to date projects to and a prorated target status
(``formulas.month_status``), so that early in a month a target on course is not shown as missed.
ROI is a percentage: 100 × (time savings value + revenue attribution + cost avoidance − system costs) /
system costs, undefined (None, with a notice) when system costs are zero. Trends are monthly unless the
granularity option says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from success_metrics.calculators import buckets, formulas, shapes
from success_metrics.calculators.buckets import MONTH
from success_metrics.calculators.catalog import Option, metric
from success_metrics.calculators.frames import Column, Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import PeriodFigures, funnel, period_figures
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Kind, Sensitivity, Unit

FIN = Sensitivity.FINANCIAL
MONTHLY = Option("granularity", "Granularity", ("day", "week", "month"), default="month")
MONTH_DOC = (" Value: the month to date (the tenant-local month holding the range's end, up to the range's end); "
             "previous: the whole month before; projected: the month-end the month to date projects to (hours, "
             "time savings, revenue attribution and cost avoidance ÷ the elapsed fraction of the month's time, "
             "system costs are the month's); status: while the month runs on_track when the projection meets the "
             "target, at_risk when it does not; for a complete month above_target, on_track (within 10 %) or "
             "below_target.")


async def _month(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings, lo: datetime, hi: datetime
                 ) -> PeriodFigures:
    figures = await period_figures(conn, sq.tenant_id, buckets.plan(lo, hi, s.zone), tz=s.timezone)
    return figures.get(None, PeriodFigures())


@dataclass(frozen=True, slots=True)
class Months:
    """The month to date, the whole month before, and the elapsed fraction of the current month."""

    current: PeriodFigures
    previous: PeriodFigures
    elapsed: float


def month_to_date(sq: ScopedQuery, s: TenantSettings) -> tuple[datetime, datetime, float]:
    """[start of the tenant-local month holding the range's end, min(range end, month end)) and the fraction of
    the month's time (UTC instants of local midnights, so a DST month is measured in real hours) it covers."""
    (lo, hi), _ = buckets.month_periods(sq.query, s.zone)
    now = min(sq.query.end, hi)
    return lo, now, (now - lo) / (hi - lo)


async def _current_previous(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Months:
    """Both months in one statement: [previous month start, now) grouped by tenant-local month, each row's month
    told by comparing its time with the current month's start."""
    lo, now, elapsed = month_to_date(sq, s)
    _, (plo, _phi) = buckets.month_periods(sq.query, s.zone)
    segments = buckets.plan(plo, now, s.zone, buckets.finest_for(MONTH))
    by_month = await period_figures(conn, sq.tenant_id, segments, (plo, lo), tz=s.timezone)
    return Months(by_month.get(lo, PeriodFigures()), by_month.get(plo, PeriodFigures()), elapsed)


def _cost_notice(fallback: bool, s: TenantSettings) -> list[str]:
    if not fallback:
        return []
    return [f"No cost.recorded events this month: system costs are the configured monthly costs "
            f"({sum(s.monthly_costs.model_dump().values()):.2f} {s.currency})."]


def _roi_pct(terms: formulas.RoiTerms) -> float | None:
    return None if terms.roi is None else 100 * terms.roi


@dataclass(frozen=True, slots=True)
class Kpi:
    """One headline figure: its metric, its column in the KPI summary, unit, and how it reads ROI terms."""

    name: str
    column: str
    title: str
    unit: Unit
    of: Callable[[formulas.RoiTerms], float | None]
    field: str | None = "roi"  # the field a mask rule names (hours saved are no money: none)


KPIS = (
    Kpi("roi.monthly", "roi", "Total ROI", Unit.PERCENT, _roi_pct),
    Kpi("savings.monthly", "savings", "Monthly Savings", Unit.CURRENCY, lambda t: t.savings),
    Kpi("revenue.attributed", "revenue_attribution", "Revenue Attribution", Unit.CURRENCY,
        lambda t: t.revenue_attribution),
    Kpi("time_savings.hours", "hours_saved", "Time Savings", Unit.HOURS, lambda t: t.hours_saved, None),
)
_KPI = {k.name: k for k in KPIS}


def _kpi_stat(name: str, months: Months, s: TenantSettings, field: str | None, notices: list[str],
              meta: dict[str, object]) -> Frame:
    k = _KPI[name]
    (ct, _), (pt, _) = months.current.terms(s), months.previous.terms(s)
    projected = k.of(ct.projected(months.elapsed))
    return shapes.stat(
        name, k.of(ct), k.of(pt), s.targets.get(name), k.unit, field=field, notices=notices,
        meta={**meta, "elapsed_fraction": months.elapsed},
        extra=(Column("projected", ColumnType.NUMBER, (projected,), k.unit, field=field),),
        judged=lambda target: formulas.month_status(projected, target, months.elapsed).value)


@metric("roi.monthly", "Total ROI",
        "Monthly ROI in percent: 100 × (time savings value + revenue attribution + cost avoidance − system costs) "
        "/ system costs. Undefined (empty, with a notice) when the month's system costs are zero." + MONTH_DOC,
        Unit.PERCENT, Kind.STAT, sensitivity=FIN,
        inputs=("savings.monthly", "revenue.attributed", "time_savings.hours", "cost.avoidance", "money_targets"))
async def roi_monthly(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    months = await _current_previous(conn, sq, s)
    ct, fallback = months.current.terms(s)
    notices = _cost_notice(fallback, s)
    if ct.roi is None:
        notices.append("ROI is undefined for this month: system costs are zero, so there is nothing to divide by.")
    return _kpi_stat("roi.monthly", months, s, "roi", notices,
                     {"time_savings_value": ct.time_savings_value, "revenue_attribution": ct.revenue_attribution,
                      "cost_avoidance": ct.cost_avoidance, "system_costs": ct.system_costs})


@metric("savings.monthly", "Monthly Savings",
        "Money the automation saved in the month: time savings value + cost avoidance − system costs." + MONTH_DOC,
        Unit.CURRENCY, Kind.STAT, sensitivity=FIN,
        inputs=("automated_tasks", "hours_saved_per_task", "hourly_rate", "errors_prevented", "error_cost",
                "system_costs", "money_targets"))
async def savings_monthly(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    months = await _current_previous(conn, sq, s)
    return _kpi_stat("savings.monthly", months, s, "roi", _cost_notice(months.current.terms(s)[1], s), {})


@metric("revenue.attributed", "Revenue Attribution",
        "Σ deal value × attribution class weight (direct/assisted/influenced, per tenant) over the month's closed "
        "deals, one deal per lead (the earliest deal.closed); never more than the month's total revenue."
        + MONTH_DOC, Unit.CURRENCY, Kind.STAT, sensitivity=FIN,
        inputs=("deal_revenue", "lead_funnel", "attribution_weights", "money_targets"))
async def revenue_attributed(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    months = await _current_previous(conn, sq, s)
    cur = months.current
    return _kpi_stat("revenue.attributed", months, s, "revenue", [],
                     {"total_revenue": cur.revenue, "deals": cur.deals})


@metric("time_savings.hours", "Time Savings",
        "Hours of manual work the month's successful automated tasks replaced: tasks × hours_saved_per_task "
        "(responses the automation sent, enrichments, scorings, routings, nurture steps and automated contact "
        "attempts; what an agent did by hand is not counted)." + MONTH_DOC,
        Unit.HOURS, Kind.STAT,
        inputs=("automated_tasks", "hours_saved_per_task", "agent_activity", "nonmoney_targets"))
async def time_savings_hours(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    months = await _current_previous(conn, sq, s)
    cur = months.current
    terms = cur.terms(s)[0]
    agents = len(cur.agents)
    return _kpi_stat("time_savings.hours", months, s, None, [],
                     {"tasks": cur.tasks, "agents": agents,
                      "hours_per_agent": formulas.ratio(terms.hours_saved, agents)})


KPI_PERIODS = ("month_to_date", "projected_month_end", "target", "previous_month")


@metric("executive.kpi_summary", "Primary ROI Metrics",
        "The headline figures as one column per KPI, each with its own unit: roi (%), savings and "
        "revenue_attribution (the tenant's currency), hours_saved (hours), and per KPI a <column>_status. Rows "
        "(column period): month_to_date, projected_month_end, target, previous_month; status on the "
        "month_to_date row as the KPI's own stat, on the previous_month row that month against the target."
        + MONTH_DOC, Unit.TEXT, Kind.TABLE, sensitivity=FIN,
        inputs=("roi.monthly", "savings.monthly", "revenue.attributed", "time_savings.hours"),
        column_units=tuple((k.column, k.unit) for k in KPIS))
async def kpi_summary(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    months = await _current_previous(conn, sq, s)
    (ct, fallback), (pt, _) = months.current.terms(s), months.previous.terms(s)
    projected = ct.projected(months.elapsed)
    cols: list[shapes.Col] = [shapes.text("period")]
    by_period: dict[str, list[object]] = {p: [p] for p in KPI_PERIODS}
    for k in KPIS:
        target = formulas.target_in_unit(s.targets.get(k.name), k.unit == Unit.PERCENT)
        proj = k.of(projected)
        cols += [shapes.Col(k.column, unit=k.unit, field=k.field),
                 shapes.text(f"{k.column}_status")]
        figures = {"month_to_date": (k.of(ct), formulas.month_status(proj, target, months.elapsed).value),
                   "projected_month_end": (proj, None), "target": (target, None),
                   "previous_month": (k.of(pt), formulas.status(k.of(pt), target).value)}
        for period, (value, verdict) in figures.items():
            by_period[period] += [value, verdict]
    return shapes.table("executive.kpi_summary", cols, [tuple(by_period[p]) for p in KPI_PERIODS],
                        notices=_cost_notice(fallback, s), meta={"elapsed_fraction": months.elapsed})


async def _monthly_series(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings
                          ) -> tuple[list[datetime], dict[datetime | None, PeriodFigures]]:
    q = sq.query
    width = buckets.series_width(q) if q.option("granularity") not in (None, MONTH) else MONTH
    if width == MONTH and (q.end - q.start).days / 28 > q.max_points:
        width = buckets.series_width(q)
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    segs = buckets.plan(q.start, q.end, s.zone, buckets.finest_for(width))
    # months as their starts: SQL compares each row's time with them instead of converting it to local time
    series = tuple(starts) if width == MONTH else width
    return starts, await period_figures(conn, sq.tenant_id, segs, series, tz=s.timezone)


@metric("revenue.monthly_trend", "Monthly Revenue Trend",
        "Total closed-deal revenue and the automation-attributed part of it, per month (or the chosen granularity).",
        Unit.CURRENCY, Kind.TIMESERIES, sensitivity=FIN, options=(MONTHLY,),
        inputs=("deal_revenue", "attribution_weights"))
async def revenue_trend(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    starts, figs = await _monthly_series(conn, sq, s)
    total = {t: f.revenue for t, f in figs.items() if t is not None}
    attributed = {t: f.terms(s)[0].revenue_attribution for t, f in figs.items() if t is not None}
    return shapes.series("revenue.monthly_trend", starts, {"total": total, "attributed": attributed},
                         Unit.CURRENCY, count=True, field="revenue")


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
                         Unit.CURRENCY, count=True, field="cost",
                         notices=["Months without cost.recorded events use the configured monthly costs."])


@metric("cost.benefit", "Cost-Benefit Analysis",
        "The month's costs (infrastructure, API, support) and benefits (time savings, revenue attribution, error "
        "prevention) with totals: month_to_date (the tenant-local month holding the range's end, up to the range's "
        "end; costs are the month's), projected_month (benefits ÷ the elapsed fraction of the month, costs as "
        "they are) and annual (projected_month × 12).", Unit.CURRENCY, Kind.TABLE, sensitivity=FIN,
        inputs=("savings.monthly", "revenue.attributed"))
async def cost_benefit(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    lo, now, elapsed = month_to_date(sq, s)
    cur = await _month(conn, sq, s, lo, now)
    terms, fallback = cur.terms(s)
    proj = terms.projected(elapsed)
    costs = cur.cost_categories(s)
    rows = [("cost", "System Infrastructure", costs.get("infrastructure", 0.0), costs.get("infrastructure", 0.0)),
            ("cost", "API Service Costs", costs.get("api", 0.0), costs.get("api", 0.0)),
            ("cost", "Support & Maintenance", costs.get("support", 0.0), costs.get("support", 0.0)),
            ("cost", "Total Investment", terms.system_costs, proj.system_costs),
            ("benefit", "Time Savings", terms.time_savings_value, proj.time_savings_value),
            ("benefit", "Revenue Attribution", terms.revenue_attribution, proj.revenue_attribution),
            ("benefit", "Error Prevention", terms.cost_avoidance, proj.cost_avoidance),
            ("benefit", "Total Benefits", terms.benefits, proj.benefits)]
    cols = [shapes.text("kind"), shapes.text("category"), shapes.money("month_to_date", "cost"),
            shapes.money("projected_month", "cost"), shapes.money("annual", "cost")]
    return shapes.table("cost.benefit", cols, [(k, c, m, p, p * 12) for k, c, m, p in rows],
                        notices=_cost_notice(fallback, s), meta={"roi_percent": _roi_pct(terms),
                                                                 "elapsed_fraction": elapsed})


@metric("conversion.before_after", "Conversion Rate Improvement",
        "Pre-automation baseline (tenant settings) against the range: lead→appointment and lead→close rates (%) "
        "and the average hours to an agent's first contact (as response_time.first_contact).", Unit.PERCENT, Kind.TABLE,
        dimensions=(),
        inputs=("conversion.lead_to_appointment", "conversion.lead_to_close", "first_contact_seconds", "baseline"))
async def before_after(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    f = await funnel(conn, sq.tenant_id, q.start, q.end, q.filters, q.metric)
    resp = await conn.fetchval(
        "SELECT avg(extract(epoch FROM first_contact_at - created_at) / 3600) FROM leads WHERE tenant_id = $1 "
        "AND created_at >= $2 AND created_at < $3 AND first_contact_at >= created_at AND first_contact_at < $3",
        sq.tenant_id, q.start, q.end)
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

