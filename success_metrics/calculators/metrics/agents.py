"""Agent Performance: scorecard, efficiency, load balance, time allocation, goals, recognition, coaching.

Per-agent views show only the agents the row scope allows (team scope: the agents of those teams; self:
the caller only). The efficiency score (0–100) is ``formulas.efficiency_score``: the tenant-weighted mean
(``efficiency_weights``) of four sub-scores, each monotonic in its input — response b/(b+h) with b the
baseline response hours, appointment and close rate r/(r+b) with b the baseline rate, revenue v/(v+m)
with m the tenant's mean revenue per agent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import asyncpg

from success_metrics.calculators import buckets, formulas, shapes
from success_metrics.calculators.catalog import GRANULARITY, Option, metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.measures import pooled
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import (
    AGENT_COLUMNS,
    AgentStats,
    agent_leads,
    agent_stats,
    agent_stats_by_period,
)
from success_metrics.calculators.sql import Params, fetch_one, scope_condition, union_source, where_filters
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension, Kind, Sensitivity, Unit

AGENT_DIMS = (Dimension.AGENT, Dimension.TEAM, Dimension.LOCATION, Dimension.SOURCE)
EFFICIENCY_DOC = ("Efficiency score 0–100 = 100 × Σ wᵢ·sᵢ / Σ wᵢ with tenant weights (efficiency_weights) and "
                  "sub-scores s: response b/(b+h) (h = avg hours to an agent's first contact, b = baseline hours), "
                  "appointment and close rate r/(r+b) (b = baseline rate), revenue v/(v+m) (m = mean revenue per "
                  "agent over all the tenant's agents: agent and team filters and the caller's scope do not change "
                  "it); each is monotonic in its input and a missing input scores 0.")
# who a row is about, and the efficiency score's inputs: its revenue sub-score compares an agent's revenue with the
# tenant mean over every agent, so the score derives from every agent's revenue (pooled), not only the row's own
PEOPLE = {"agent_id": ("agent_identity",), "agent": ("agent_identity",), "team_id": ("teams",), "team": ("teams",)}
EFFICIENCY_INPUTS = ("leads", "lead_funnel", "first_contact_seconds", "deal_revenue", pooled("deal_revenue"),
                     "baseline")
SCORE_INPUTS = ("agent_identity", "teams", *EFFICIENCY_INPUTS)
SCORE_LINEAGE = {**PEOPLE, "leads_assigned": ("leads",), "response_time_hours": ("first_contact_seconds",),
                 "appointment_rate": ("leads", "lead_funnel"), "close_rate": ("leads", "lead_funnel"),
                 "revenue": ("deal_revenue",), "efficiency_score": EFFICIENCY_INPUTS}
TREND_POINTS = 60
LIMIT = Option("limit", "How many", ("3", "5", "10"), default="5")


def _pct(x: float | None) -> float | None:
    return None if x is None else 100 * x


async def _stats(conn: asyncpg.Connection, sq: ScopedQuery) -> list[AgentStats]:
    q = sq.query
    return await agent_stats(conn, sq.tenant_id, q.start, q.end, sq.scope, q.filters, q.metric)


SCORE_COLS = [shapes.AGENT_ID, shapes.AGENT, shapes.TEAM_ID, shapes.TEAM, shapes.num("leads_assigned", Unit.COUNT),
              shapes.num("response_time_hours", Unit.HOURS), shapes.num("appointment_rate", Unit.PERCENT),
              shapes.num("close_rate", Unit.PERCENT), shapes.money("revenue"), shapes.num("efficiency_score",
                                                                                          Unit.SCORE)]
# each number column's own unit, for the dashboards' field config (a scorecard mixes hours, % and money)
SCORE_UNITS = tuple((c.name, c.unit) for c in SCORE_COLS if c.unit is not None)


def _score_row(a: AgentStats, s: TenantSettings) -> tuple[object, ...]:
    return (a.agent_id, a.name, a.team_id, a.team, a.leads, a.response_hours, _pct(a.appointment_rate),
            _pct(a.close_rate), a.revenue, round(a.efficiency(s), 1))


@metric("agents.scorecard", "Agent Scorecard",
        "Per agent, leads created in the range and routed to them: leads assigned, average hours to the agent's "
        "first contact (made by hand; automated attempts do not count), appointment and close rate (%), revenue "
        "of their closed deals (one per lead), each up to the range's end; efficiency score. " + EFFICIENCY_DOC,
        Unit.TEXT, Kind.TABLE, dimensions=AGENT_DIMS, sensitivity=Sensitivity.PERSONAL, row_scoped=True,
        inputs=SCORE_INPUTS, lineage=SCORE_LINEAGE,
        column_units=SCORE_UNITS)
async def scorecard(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    return shapes.table("agents.scorecard", SCORE_COLS, [_score_row(a, s) for a in await _stats(conn, sq)],
                        meta={"efficiency_score": EFFICIENCY_DOC})


@metric("agents.efficiency_trend", "Skill Development",
        "Mean efficiency score of the agents in scope (or of the filtered agent) per bucket (default: week). "
        + EFFICIENCY_DOC, Unit.SCORE, Kind.TIMESERIES, dimensions=AGENT_DIMS, options=(GRANULARITY,),
        row_scoped=True,
        inputs=SCORE_INPUTS, lineage={"efficiency": SCORE_LINEAGE["efficiency_score"]})
async def efficiency_trend(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    # a scorecard per bucket (one query): at most TREND_POINTS buckets, weekly unless a granularity is chosen
    interval = q.interval_ms if q.option("granularity") else max(q.interval_ms, 7 * 86_400_000)
    q = replace(q, interval_ms=interval, max_points=min(q.max_points, TREND_POINTS))
    width = buckets.series_width(q)
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    periods = await agent_stats_by_period(conn, sq.tenant_id, [max(t, q.start) for t in starts], q.end, sq.scope,
                                          q.filters, q.metric)
    values: dict[datetime, float | None] = {}
    for t in starts:
        stats = [a for a in periods.get(max(t, q.start), []) if a.leads]
        values[t] = sum(a.efficiency(s) for a in stats) / len(stats) if stats else None
    return shapes.series("agents.efficiency_trend", starts, {"efficiency": values}, Unit.SCORE)


@metric("agents.load_balance", "Load Balancing",
        "Leads created in the range per agent and each agent's share (%); the Gini coefficient of the distribution "
        "(0 = perfectly even) is in the frame meta and the gini column.", Unit.COUNT, Kind.TABLE,
        dimensions=AGENT_DIMS, sensitivity=Sensitivity.PERSONAL, row_scoped=True,
        inputs=("agent_identity", "teams", "leads"),
        lineage={**PEOPLE, "leads": ("leads",), "share": ("leads",), "gini": ("leads",)})
async def load_balance(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    stats = await agent_leads(conn, sq.tenant_id, q.start, q.end, sq.scope, q.filters, q.metric)
    total = sum(a.leads for a in stats)
    g = formulas.gini([a.leads for a in stats])
    cols = [shapes.AGENT_ID, shapes.AGENT, shapes.TEAM_ID, shapes.TEAM, shapes.num("leads", Unit.COUNT),
            shapes.num("share", Unit.PERCENT), shapes.num("gini", Unit.RATIO)]
    rows = [(a.agent_id, a.name, a.team_id, a.team, a.leads, _pct(formulas.ratio(a.leads, total)), g) for a in stats]
    return shapes.table("agents.load_balance", cols, rows, meta={"gini": g})


@metric("agents.time_allocation", "Time Allocation Analysis",
        "Agents' reported minutes (agent.activity) in the range split into selling, administrative and follow-up "
        "work: minutes, share (%) and the pre-automation baseline share.", Unit.PERCENT, Kind.TABLE,
        dimensions=(Dimension.AGENT, Dimension.TEAM),
        inputs=("agent_activity", "baseline"))
async def time_allocation(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    p = Params()
    src = union_source(sq.tenant_id, "agent.activity", buckets.plan(q.start, q.end, s.zone), p)
    where = where_filters({Dimension.AGENT: "x.agent_id", Dimension.TEAM: "a.team_id"}, q.filters, p, q.metric)
    r = await fetch_one(conn,
        f"SELECT coalesce(sum(x.selling_minutes), 0) AS selling, coalesce(sum(x.admin_minutes), 0) AS admin, "
        f"coalesce(sum(x.followup_minutes), 0) AS followup "
        f"FROM {src} x LEFT JOIN agents a ON a.tenant_id = {p.add(sq.tenant_id)} AND a.agent_id = x.agent_id "
        f"WHERE {where}", *p.values)
    total = float(r["selling"] + r["admin"] + r["followup"])
    b = s.baseline
    rows = [(kind, float(r[kind]), _pct(formulas.ratio(float(r[kind]), total)), 100 * base)
            for kind, base in (("selling", b.selling_share), ("admin", b.admin_share), ("followup", b.followup_share))]
    cols = [shapes.text("activity"), shapes.num("minutes"), shapes.num("share", Unit.PERCENT),
            shapes.num("baseline_share", Unit.PERCENT)]
    return shapes.table("agents.time_allocation", cols, rows)


@metric("agents.goals", "Goal Tracking",
        "Revenue of deals closed in the tenant-local month holding the range's end, per agent and per team with a "
        "goal (tenant settings agent_goals / team_goals): goal, actual, progress (%) and the linear projection to "
        "the month's end.", Unit.CURRENCY, Kind.TABLE, dimensions=(Dimension.AGENT, Dimension.TEAM),
        sensitivity=Sensitivity.FINANCIAL, row_scoped=True,
        inputs=("agent_identity", "teams", "deal_revenue", "revenue_goals"),
        lineage={k: v for k, v in PEOPLE.items() if k != "team"})
async def goals(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    (lo, hi), _ = buckets.month_periods(sq.query, s.zone)
    now = min(sq.query.end, hi)
    elapsed = (now - lo) / (hi - lo)
    p = Params()
    scope = scope_condition("a.agent_id", "a.team_id", sq.scope, p)
    where = where_filters(AGENT_COLUMNS, sq.query.filters, p, sq.query.metric)
    rows = await conn.fetch(
        f"""SELECT a.agent_id, a.name, a.team_id, coalesce(sum(l.deal_value), 0) AS revenue
            FROM agents a LEFT JOIN leads l ON l.tenant_id = a.tenant_id AND l.agent_id = a.agent_id
                 AND l.closed_at >= {p.add(lo)} AND l.closed_at < {p.add(now)}
            WHERE a.tenant_id = {p.add(sq.tenant_id)} AND {scope} AND {where}
            GROUP BY a.agent_id, a.name, a.team_id ORDER BY a.name""", *p.values)
    out = []
    team_rev: dict[str, float] = {}
    for r in rows:
        rev = float(r["revenue"])
        team_rev[r["team_id"]] = team_rev.get(r["team_id"], 0.0) + rev
        if (goal := s.agent_goals.get(r["agent_id"])) is not None:
            out.append(("agent", r["agent_id"], r["name"], r["team_id"], goal, rev))
    for team, rev in sorted(team_rev.items(), key=lambda kv: str(kv[0])):
        if team is not None and (goal := s.team_goals.get(team)) is not None:
            out.append(("team", None, None, team, goal, rev))
    cols = [shapes.text("level"), shapes.AGENT_ID, shapes.AGENT, shapes.TEAM_ID, shapes.money("goal"),
            shapes.money("actual"), shapes.num("progress", Unit.PERCENT), shapes.money("projected")]
    return shapes.table("agents.goals", cols, [
        (*who, goal, rev, _pct(formulas.ratio(rev, goal)), formulas.ratio(rev, elapsed)) for *who, goal, rev in out])


@metric("agents.top_performers", "Top Performers",
        "The agents in scope ranked by revenue in the range, then efficiency score; the first N (option limit, "
        "default 5).", Unit.CURRENCY, Kind.TABLE, dimensions=AGENT_DIMS, options=(LIMIT,),
        sensitivity=Sensitivity.PERSONAL, row_scoped=True,
        inputs=SCORE_INPUTS, lineage={**SCORE_LINEAGE, "rank": SCORE_LINEAGE["efficiency_score"]},
        column_units=SCORE_UNITS)
async def top_performers(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    limit = int(sq.query.option("limit") or 5) if (sq.query.option("limit") or "5").isdigit() else 5
    ranked = sorted(await _stats(conn, sq), key=lambda a: (-a.revenue, -a.efficiency(s), a.name))[:limit]
    cols = [shapes.num("rank"), *SCORE_COLS]
    return shapes.table("agents.top_performers", cols, [(i + 1, *_score_row(a, s)) for i, a in enumerate(ranked)])


COACHING = (("appointment_rate", False), ("close_rate", False), ("response_hours", True))


@metric("agents.coaching", "Training Opportunities",
        "For each agent in scope below their team's median: the metric with the largest relative gap (appointment "
        "rate, close rate or hours to an agent's first contact), the agent's value, the team median and the gap. "
        "The team median is over all the team's agents: an agent or team filter narrows the rows, not the median.",
        Unit.TEXT, Kind.TABLE, dimensions=AGENT_DIMS, sensitivity=Sensitivity.PERSONAL, row_scoped=True,
        inputs=("agent_identity", "teams", "leads", "lead_funnel", "first_contact_seconds"), lineage=PEOPLE,
        column_units=(("gap", Unit.PERCENT),))
async def coaching(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    lead_filters = tuple(f for f in q.filters if f.dimension not in (Dimension.AGENT, Dimension.TEAM))
    everyone = await agent_stats(conn, sq.tenant_id, q.start, q.end, type(sq.scope)(), lead_filters, q.metric)
    visible = {a.agent_id for a in await _stats(conn, sq)}
    rows = []
    for a in everyone:
        if a.agent_id not in visible or not a.leads:
            continue
        team = [b for b in everyone if b.team_id == a.team_id and b.leads]
        worst = None
        for name, lower_better in COACHING:
            mine = getattr(a, name)
            med = formulas.median([v for b in team if (v := getattr(b, name)) is not None])
            if mine is None or not med:
                continue
            gap = (mine - med) / med if lower_better else (med - mine) / med
            if gap > 0 and (worst is None or gap > worst[3]):
                worst = (name, mine, med, gap)
        if worst:
            rows.append((a.agent_id, a.name, a.team_id, a.team, worst[0], worst[1], worst[2], 100 * worst[3]))
    cols = [shapes.AGENT_ID, shapes.AGENT, shapes.TEAM_ID, shapes.TEAM, shapes.text("focus"), shapes.num("value"),
            shapes.num("team_median"), shapes.num("gap", Unit.PERCENT)]
    return shapes.table("agents.coaching", cols, rows)
