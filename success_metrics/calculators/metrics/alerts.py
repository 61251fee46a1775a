"""Alerts as data: the action items of the Executive Summary, evaluated at the range's end.

Besides the items the entry's description lists, alert rules firing at the range's end (``alert_events``,
kind "alert") are items too. (The description is what the generated dashboards carry, so it changes only
together with them.)
"""

from __future__ import annotations

import asyncpg

from success_metrics.calculators import buckets, formulas, shapes
from success_metrics.calculators.buckets import HOUR
from success_metrics.calculators.calls import call_stats
from success_metrics.calculators.catalog import alert_lineage, metric, origins_of
from success_metrics.calculators.frames import Frame, Lineage
from success_metrics.calculators.measures import MEASURES
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import funnel, period_figures
from success_metrics.calculators.sql import Params, scope_condition
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Kind, Sensitivity, Unit

WAIT = 2 * HOUR
SEVERITY = {"critical": "high", "warning": "medium", "info": "low"}  # alert rule severity → action item severity
DROP = 0.10
# each item is its own row with its own lineage (Frame.row_lineage); an alert item reads what its rule read,
# which may be any measure, so the metric's inputs are every measure
LEAD_WAITING = ("leads", "lead_funnel", "lead_identity")
DEGRADATION = ("component_calls", "sla")
CONVERSION_DROP = ("leads", "lead_funnel")
AT_RISK = {"revenue.attributed": ("deal_revenue", "lead_funnel", "attribution_weights", "money_targets"),
           "time_savings.hours": ("automated_tasks", "hours_saved_per_task", "nonmoney_targets")}
ACTION_INPUTS = tuple(MEASURES)


@metric("alerts.action_items", "Action Items & Alerts",
        "Evaluated at the range's end: high-priority leads created in the range still waiting (neither contacted "
        "by an agent by hand nor closed by the range's end) for more than 2 h (within the row scope); components "
        "whose success rate in the last hour is below the tenant's SLA; lead→appointment and lead→close rates more than 10 % (relative) below the "
        "previous period; monthly targets (revenue.attributed, time_savings.hours) whose linear projection to the "
        "month's end misses the target.", Unit.TEXT, Kind.TABLE, sensitivity=Sensitivity.PERSONAL, row_scoped=True,
        inputs=ACTION_INPUTS, lineage={"lead_id": ("lead_identity",)}, row_lineage=True)
async def action_items(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    items: list[tuple[str, str, str, str | None, float | None, int | None]] = []
    lineage: list[Lineage] = []  # per item: what it was derived from
    p = Params()
    scope = scope_condition("l.agent_id", "l.team_id", sq.scope, p)
    end = p.add(q.end)
    waiting = await conn.fetch(
        f"""SELECT l.lead_id, l.created_at FROM leads l
            WHERE l.tenant_id = {p.add(sq.tenant_id)} AND l.priority = 'high' AND l.created_at >= {p.add(q.start)}
            AND l.created_at <= {end}::timestamptz - {p.add(WAIT)}::interval
            AND (l.first_contact_at IS NULL OR l.first_contact_at > {end}::timestamptz)
            AND (l.closed_at IS NULL OR l.closed_at > {end}::timestamptz)
            AND {scope}
            ORDER BY l.created_at""", *p.values)
    for r in waiting:
        hours = (q.end - r["created_at"]) / HOUR
        items.append(("high", "lead_waiting", f"High-priority lead waiting {hours:.1f} h for first contact",
                      r["lead_id"], hours, buckets.epoch_ms(r["created_at"])))
        lineage.append(origins_of(LEAD_WAITING))

    stats, _ = await call_stats(conn, sq.tenant_id, s, max(q.start, q.end - HOUR), q.end, "component", (), q.metric,
                                percentiles=False)
    for (_, comp), c in sorted(stats.items(), key=lambda kv: kv[0][1]):
        if c.success_rate is not None and c.success_rate < s.sla_success_rate:
            items.append(("high" if c.success_rate < s.sla_success_rate - 0.05 else "medium", "degradation",
                          f"{comp}: {100 * c.success_rate:.1f} % success in the last hour "
                          f"(SLA {100 * s.sla_success_rate:.1f} %)", None, 100 * c.success_rate, None))
            lineage.append(origins_of(DEGRADATION))

    (lo, hi), (plo, phi) = buckets.period_bounds(q)
    cur, prev = await funnel(conn, sq.tenant_id, lo, hi, (), q.metric), await funnel(
        conn, sq.tenant_id, plo, phi, (), q.metric)
    for name, now, before in (("lead_to_appointment", cur.appointment_rate, prev.appointment_rate),
                              ("lead_to_close", cur.close_rate, prev.close_rate)):
        if now is not None and before and (before - now) / before > DROP:
            items.append(("medium", "conversion_drop",
                          f"{name} fell {100 * (before - now) / before:.0f} % against the previous period "
                          f"({100 * before:.1f} % → {100 * now:.1f} %)", None, 100 * now, None))
            lineage.append(origins_of(CONVERSION_DROP))

    (mlo, mhi), _ = buckets.month_periods(q, s.zone)
    now_t = min(q.end, mhi)
    elapsed = (now_t - mlo) / (mhi - mlo)
    if elapsed > 0 and any(k in s.targets for k in ("revenue.attributed", "time_savings.hours")):
        month = (await period_figures(conn, sq.tenant_id, buckets.plan(mlo, now_t, s.zone), tz=s.timezone)).get(None)
        terms = month.terms(s)[0] if month else None
        for name, value in (("revenue.attributed", terms.revenue_attribution if terms else 0.0),
                            ("time_savings.hours", terms.hours_saved if terms else 0.0)):
            target = s.targets.get(name)
            projected = formulas.ratio(value, elapsed)
            if target is not None and projected is not None and projected < target:
                items.append(("medium", "target_at_risk",
                              f"{name} projects to {projected:,.0f} against a target of {target:,.0f}", None,
                              projected, None))
                lineage.append(origins_of(AT_RISK[name]))
    for r in await conn.fetch(
            """SELECT severity, title, summary, value, started_at, inputs FROM alert_events WHERE tenant_id = $1
               AND started_at <= $2 AND (resolved_at IS NULL OR resolved_at > $2) ORDER BY started_at""",
            sq.tenant_id, q.end):
        items.append((SEVERITY.get(r["severity"], "medium"), "alert", f"{r['title']}: {r['summary']}", None,
                      r["value"], buckets.epoch_ms(r["started_at"])))
        lineage.append(alert_lineage(r["inputs"]))
    cols = [shapes.text("severity"), shapes.text("kind"), shapes.text("item"),
            shapes.Col("lead_id", ColumnType.STRING, field="lead_id"),
            shapes.num("value"), shapes.Col("since", ColumnType.TIME)]
    return shapes.table("alerts.action_items", cols, items, row_lineage=lineage)



