"""Reads shared by several metrics: ROI terms per period, lead funnels and per-agent statistics.

How hours saved are measured (so that "hours × rate × agents" does not double count): every successful
automated task — a response the automation sent (a ``lead.responded`` sent by hand, ``automated: false``, is
an agent's work and saves nothing), enrichment, scoring, routing or nurture step, or an automated (non-manual)
contact attempt — replaces ``hours_saved_per_task`` of an agent's manual work.
Hours saved per agent = tasks × hours_saved_per_task / agents (agents with activity in the period), so
time savings value = hours saved per agent × hourly rate × agents = tasks × hours_saved_per_task × rate.
System costs = the ``cost.recorded`` events of the months the period overlaps — by the event's ``month``
(YYYY-MM, the month the cost is for, which may be recorded days later) or, without one, the tenant-local
month of occurred_at; a period with none falls back to the tenant's configured ``monthly_costs`` (a notice
says so). Costs are few, so they are read from the raw events. Deals are read from lead state (``leads``):
one deal per lead, the earliest ``deal.closed`` (ingest/writer.py), counted in the period holding its time,
so a lead whose deal.closed arrives twice with different ids is counted once, as everywhere else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from success_metrics.calculators import buckets, formulas
from success_metrics.calculators.buckets import (
    Segment,
    Source,
    Width,
    local_midnight,
    series_starts,
)
from success_metrics.calculators.query import Filter, RowScope, ScopedQuery
from success_metrics.calculators.sql import (
    Params,
    bucket_expr,
    by_type,
    fetch_one,
    scope_condition,
    union_source,
    where_filters,
)
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension

# The automation's pipeline steps: event type -> (its volume, its successes), columns of its rollup view; and the
# condition keeping only what the automation did (a response sent by hand is an agent's work).
STEPS = {
    "lead.responded": ("responses", "ok_responses"),
    "lead.enriched": ("enrichments", "ok_enrichments"),
    "lead.routed": ("routings", "ok_routings"),
    "lead.nurtured": ("steps", "ok_steps"),
}
AUTOMATED_ONLY = {"lead.responded": "automation <> 'manual'"}

LEAD_COLUMNS = {
    Dimension.SOURCE: "l.source", Dimension.LOCATION: "l.location_id", Dimension.AGENT: "l.agent_id",
    Dimension.TEAM: "l.team_id", Dimension.SCORE_BAND: "sm_score_band(l.score)",
}
# per agent: the lead filters apply to the leads ``l`` and the agent and team filters to the agents ``a``
LEAD_OWN_COLUMNS: dict[Dimension, str] = {
    d: c for d, c in LEAD_COLUMNS.items() if d not in (Dimension.AGENT, Dimension.TEAM)}
AGENT_COLUMNS = {Dimension.AGENT: "a.agent_id", Dimension.TEAM: "a.team_id"}


@dataclass
class PeriodFigures:
    tasks: float = 0.0
    revenue_by_class: dict[str, float] = field(default_factory=dict)
    deals: int = 0
    errors_prevented: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)
    agents: set[str] = field(default_factory=set)

    def terms(self, s: TenantSettings) -> tuple[formulas.RoiTerms, bool]:
        """ROI terms, and whether the system costs came from the configured monthly costs."""
        fallback = not self.costs
        costs = s.monthly_costs.model_dump() if fallback else self.costs
        return formulas.roi_terms(
            self.tasks, s.hours_saved_per_task, s.hourly_rate,
            formulas.attributed_revenue(self.revenue_by_class, s.attribution_weights),
            self.errors_prevented, s.error_cost, sum(costs.values())), fallback

    def cost_categories(self, s: TenantSettings) -> dict[str, float]:
        return dict(self.costs) if self.costs else s.monthly_costs.model_dump()

    @property
    def revenue(self) -> float:
        return sum(self.revenue_by_class.values())


# What one event of each type adds to "automated tasks": its rollup view's named measure, summed over the rows
# TASK_ROWS keeps (the automation's own responses and contact attempts).
TASKS = {"lead.responded": "ok_responses", "lead.enriched": "ok_enrichments", "lead.routed": "ok_routings",
         "lead.nurtured": "ok_steps", "lead.scored": "scorings", "contact.attempted": "attempts"}
TASK_ROWS = {"lead.responded": "automation <> 'manual'", "contact.attempted": "automation = 'auto'"}


async def period_figures(
    conn: asyncpg.Connection, tenant: str, segments: list[Segment], series: Width | None = None,
    tz: str = "UTC",
) -> dict[datetime | None, PeriodFigures]:
    """The ROI inputs per series bucket (or one None bucket) in one statement: from rollups and the raw tail,
    deals from lead state and the costs of the months the period overlaps from their events. Each row is
    (t, kind, key, n, value): kind 'tasks' (value: automated tasks), 'errors_prevented', 'agent' (key: an agent
    with activity), 'deal' (key: attribution class, n: deals, value: revenue) or 'cost' (key: 'YYYY-MM category')."""
    p = Params()
    t = "t" if series else "NULL::timestamptz"
    types = (*TASKS, "error.prevented", "agent.activity")
    # each row's figure picked by its type (one column, not one per measure and type)
    src = union_source(tenant, types, segments, p, series=(series, tz) if series else None,
                       only=("automation", "agent_id"),
                       pick={"figure": {**TASKS, "error.prevented": "errors_prevented"},
                             "reports": {"agent.activity": "reports"}})
    # one pass over every type's rows, grouped by type; ordered by type so that tasks add up in TASKS' order
    kind_sql = by_type([("error.prevented", "'errors_prevented'"), ("agent.activity", "'agent'")], "'tasks'")
    key_sql = by_type([("agent.activity", "agent_id")], "''")
    value_sql = f"coalesce(sum(figure) FILTER (WHERE {by_type(TASK_ROWS.items(), 'TRUE')}), 0)::numeric"
    order = ", ".join(f"'{x}'" for x in types)
    by_types = (f"(SELECT {t} AS t, {kind_sql} AS kind, {key_sql} AS key, coalesce(sum(reports), 0)::numeric AS n, "
                f"{value_sql} AS value FROM {src} s GROUP BY 1, type, 3 ORDER BY array_position(ARRAY[{order}], type))")
    parts = [by_types]
    if segments:
        lo, hi = segments[0].lo, segments[-1].hi
        parts += [deals_sql(p, tenant, lo, hi, series, tz), _costs_sql(p, tenant, lo, hi, tz)]
    # on its generic plan (success_metrics.query.answer) the costs' month partitions of events are pruned as it starts
    rows = await conn.fetch(" UNION ALL ".join(f"({x})" for x in parts), *p.values)
    out: dict[datetime | None, PeriodFigures] = defaultdict(PeriodFigures)
    zone = ZoneInfo(tz)
    for r in rows:
        kind, n, value = r["kind"], int(r["n"]), float(r["value"] or 0)
        if kind == "cost":
            _add_cost(out, r["key"], value, segments[0].lo, series, zone)
            continue
        f = out[r["t"]]
        if kind == "tasks":
            f.tasks += value
        elif kind == "deal":
            f.revenue_by_class[r["key"]] = f.revenue_by_class.get(r["key"], 0.0) + value
            f.deals += n
        elif kind == "errors_prevented":
            f.errors_prevented += value
        elif kind == "agent" and n:
            f.agents.add(r["key"])
    return out


def deals_sql(p: Params, tenant: str, lo: datetime | None, hi: datetime | None,
              series: Width | None = None, tz: str = "UTC", where: str = "TRUE") -> str:
    """Deals closed in [lo, hi) as rows (t: series bucket or None, kind 'deal', key: attribution class,
    n: deals, value: revenue): one per lead, lead state's deal. ``where`` is a further condition on
    ``leads l`` whose values are in ``p``."""
    t = bucket_expr("l.closed_at", series, tz, p) if series else "NULL::timestamptz"
    return (f"SELECT {t} AS t, 'deal' AS kind, coalesce(l.attribution_class, '') AS key, count(*)::numeric AS n, "
            f"coalesce(sum(l.deal_value), 0) AS value FROM leads l "
            f"WHERE l.tenant_id = {p.add(tenant)} AND l.closed_at >= {p.add(lo)} AND l.closed_at < {p.add(hi)} "
            f"AND {where} GROUP BY 1, 3")


COST_LATENESS = timedelta(days=92)  # how long after its month a cost may be recorded and still be found (92 × 24 h)


def _costs_sql(p: Params, tenant: str, lo: datetime, hi: datetime, tz: str) -> str:
    """The costs of the months [lo, hi) overlaps, recorded near it, as rows (kind 'cost', key: 'YYYY-MM category',
    value: amount) by the month they are for (``month``, or the tenant-local month of occurred_at; both YYYY-MM, so
    months compare as text). The window's edges are parameters themselves, not expressions over them, so the
    planner prunes the month partitions of events (a custom plan plans only the overlapped months; a generic plan
    prunes before it starts)."""
    zone, local = p.add(tz), ZoneInfo(tz)
    first, last = (x.astimezone(local).strftime("%Y-%m") for x in (lo, hi - timedelta(microseconds=1)))
    month = f"coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE {zone}, 'YYYY-MM'))"
    return (f"SELECT NULL::timestamptz AS t, 'cost' AS kind, "
            f"{month} || ' ' || coalesce(payload->>'category', '') AS key, 0::numeric AS n, "
            f"sum((payload->>'amount')::numeric) AS value FROM events "
            f"WHERE tenant_id = {p.add(tenant)} AND type = 'cost.recorded' "
            f"AND occurred_at >= {p.add(lo - COST_LATENESS)} AND occurred_at < {p.add(hi + COST_LATENESS)} "
            f"AND {month} BETWEEN {p.add(first)} AND {p.add(last)} GROUP BY 3")


def _add_cost(out: dict[datetime | None, PeriodFigures], key: str, amount: float, lo: datetime,
              series: Width | None, zone: ZoneInfo) -> None:
    """Add a month's cost (key 'YYYY-MM category'; a month [lo, hi) overlaps) to the bucket holding
    max(month start, lo)."""
    month_text, category = key.split(" ", 1)
    year, month = (int(x) for x in month_text.split("-"))
    at = max(local_midnight(date(year, month, 1), zone), lo)
    bucket = None if series is None else series_starts(at, at + timedelta(microseconds=1), series, zone)[0]
    costs = out[bucket].costs
    costs[category] = costs.get(category, 0.0) + amount


def event_rows(
    sq: ScopedQuery, s: TenantSettings, etype: str | tuple[str, ...], columns: Mapping[Dimension, str], p: Params,
    *, finest: Source = Source.MONTH, width: timedelta | str | None = None, only: tuple[str, ...] | None = None,
    pick: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """The query's range as rows of one or several event types (``union_source``: type and the model's names),
    from rollups and the raw tail, keeping the rows the query's filters allow (``columns`` maps a dimension to its
    column; ``only`` and ``pick``: see union_source). With a series ``width``, t is the series bucket."""
    q = sq.query
    segments = buckets.plan(q.start, q.end, s.zone, buckets.finest_for(width) if width else finest)
    src = union_source(sq.tenant_id, etype, segments, p, series=(width, s.timezone) if width else None,
                       only=only, pick=pick)
    return f"(SELECT * FROM {src} x WHERE {where_filters(columns, q.filters, p, q.metric)})"


@dataclass(frozen=True, slots=True)
class Conversion:
    """Of ``leads``, how many got an appointment and how many closed."""

    leads: int
    appointments: int
    closes: int

    @property
    def appointment_rate(self) -> float | None:
        return formulas.ratio(self.appointments, self.leads)

    @property
    def close_rate(self) -> float | None:
        return formulas.ratio(self.closes, self.leads)


@dataclass(frozen=True, slots=True)
class Funnel(Conversion):
    responded: int
    revenue: float

    @classmethod
    def of(cls, r: asyncpg.Record) -> Funnel:
        return cls(r["leads"], r["appointments"], r["closes"], r["responded"], float(r["revenue"]))


def funnel_select(end: str) -> str:
    """Of the leads ``l``: how many the automation answered (successfully), got an appointment, closed, and the
    revenue of the closed ones, each counted only when it happened before ``end`` (a SQL expression: the range's
    end, so a figure for a past range does not change as later events arrive)."""
    return (f"count(*) AS leads, count(*) FILTER (WHERE l.first_response_at < {end}) AS responded, "
            f"count(*) FILTER (WHERE l.appointment_at < {end}) AS appointments, "
            f"count(*) FILTER (WHERE l.closed_at < {end}) AS closes, "
            f"coalesce(sum(l.deal_value) FILTER (WHERE l.closed_at < {end}), 0) AS revenue")


async def funnel(conn: asyncpg.Connection, tenant: str, lo: datetime, hi: datetime, filters: tuple[Filter, ...],
                 metric: str) -> Funnel:
    """The cohort of leads created in [lo, hi): how many were answered, got an appointment, closed by ``hi``."""
    p = Params()
    where = where_filters(LEAD_COLUMNS, filters, p, metric)
    end = p.add(hi)
    r = await fetch_one(conn,
        f"SELECT {funnel_select(end)} FROM leads l WHERE l.tenant_id = {p.add(tenant)} "
        f"AND l.created_at >= {p.add(lo)} AND l.created_at < {end} AND {where}", *p.values)
    return Funnel.of(r)


@dataclass(frozen=True, slots=True)
class AgentStats(Conversion):
    agent_id: str
    name: str
    team_id: str | None
    team: str | None
    response_hours: float | None
    revenue: float
    mean_revenue: float

    def efficiency(self, s: TenantSettings) -> float:
        return formulas.efficiency_score(self.response_hours, self.appointment_rate, self.close_rate,
                                         self.revenue, self.mean_revenue, s.baseline, s.efficiency_weights)


async def agent_stats(conn: asyncpg.Connection, tenant: str, lo: datetime, hi: datetime, scope: RowScope,
                      filters: tuple[Filter, ...], metric: str) -> list[AgentStats]:
    """Per agent (in scope): the leads created in [lo, hi) routed to them and what became of them by ``hi``.

    The mean revenue the efficiency score compares with is a tenant-wide reference: over all the tenant's agents
    (of the leads the lead filters keep), whatever the scope and whatever agent or team filter.
    """
    return (await agent_stats_by_period(conn, tenant, [lo], hi, scope, filters, metric)).get(lo, [])


@dataclass(frozen=True, slots=True)
class AgentLeads:
    agent_id: str
    name: str
    team_id: str | None
    team: str | None
    leads: int


async def agent_leads(conn: asyncpg.Connection, tenant: str, lo: datetime, hi: datetime, scope: RowScope,
                      filters: tuple[Filter, ...], metric: str) -> list[AgentLeads]:
    """Per agent (in scope, and kept by the agent and team filters): how many leads created in [lo, hi) were routed
    to them; an inactive agent without any is left out. Only the count: agent_stats' outcomes are not read."""
    p = Params()
    lead_where = where_filters(LEAD_OWN_COLUMNS, filters, p, metric)
    agent_where = where_filters(AGENT_COLUMNS, filters, p, metric)
    rows = await conn.fetch(
        f"""SELECT a.agent_id, a.name, a.team_id, coalesce(t.name, a.team_id) AS team, count(l.lead_id) AS leads
            FROM agents a
            LEFT JOIN leads l ON l.tenant_id = a.tenant_id AND l.agent_id = a.agent_id
                 AND l.created_at >= {p.add(lo)} AND l.created_at < {p.add(hi)} AND {lead_where}
            LEFT JOIN teams t ON t.tenant_id = a.tenant_id AND t.team_id = a.team_id
            WHERE a.tenant_id = {p.add(tenant)} AND {agent_where}
                  AND {scope_condition("a.agent_id", "a.team_id", scope, p)}
            GROUP BY a.agent_id, a.name, a.team_id, t.name
            HAVING count(l.lead_id) > 0 OR bool_or(a.active)
            ORDER BY a.name, a.agent_id""", *p.values)
    return [AgentLeads(r["agent_id"], r["name"], r["team_id"], r["team"], r["leads"]) for r in rows]


async def agent_stats_by_period(
    conn: asyncpg.Connection, tenant: str, starts: list[datetime], end: datetime, scope: RowScope,
    filters: tuple[Filter, ...], metric: str,
) -> dict[datetime, list[AgentStats]]:
    """agent_stats for consecutive periods [starts[i], starts[i+1]) (the last one ends at ``end``; ascending), in
    one query; what became of a period's leads is counted up to ``end``. The leads are read by creation time over
    the periods' span only (each finds its period by binary search), then spread over every agent and period."""
    p = Params()
    tp = p.add(tenant)
    lead_where = where_filters(LEAD_OWN_COLUMNS, filters, p, metric)
    agent_where = where_filters(AGENT_COLUMNS, filters, p, metric)
    scope_sql = scope_condition("x.agent_id", "x.team_id", scope, p)
    ep, sp = p.add(end), p.add(starts)
    rows = await conn.fetch(
        f"""WITH per AS (
              SELECT ({sp}::timestamptz[])[width_bucket(l.created_at, {sp}::timestamptz[])] AS period, l.agent_id,
                     count(*) AS leads,
                     avg(extract(epoch FROM l.first_contact_at - l.created_at) / 3600)
                         FILTER (WHERE l.first_contact_at >= l.created_at AND l.first_contact_at < {ep})
                         AS response_hours,
                     count(*) FILTER (WHERE l.appointment_at < {ep}) AS appointments,
                     count(*) FILTER (WHERE l.closed_at < {ep}) AS closes,
                     coalesce(sum(l.deal_value) FILTER (WHERE l.closed_at < {ep}), 0) AS revenue
              FROM leads l WHERE l.tenant_id = {tp} AND l.created_at >= {p.add(starts[0] if starts else end)}
                   AND l.created_at < {ep} AND l.agent_id IS NOT NULL AND {lead_where}
              GROUP BY 1, 2)
            SELECT * FROM (
              SELECT b.period, a.agent_id, a.name, a.team_id, coalesce(t.name, a.team_id) AS team,
                     {agent_where} AS wanted, coalesce(per.leads, 0) AS leads, per.response_hours,
                     coalesce(per.appointments, 0) AS appointments, coalesce(per.closes, 0) AS closes,
                     coalesce(per.revenue, 0) AS revenue,
                     avg(coalesce(per.revenue, 0)) OVER (PARTITION BY b.period) AS mean_revenue
              FROM unnest({sp}::timestamptz[]) AS b (period)
              CROSS JOIN agents a
              LEFT JOIN per ON per.period = b.period AND per.agent_id = a.agent_id
              LEFT JOIN teams t ON t.tenant_id = a.tenant_id AND t.team_id = a.team_id
              WHERE a.tenant_id = {tp} AND (per.leads > 0 OR a.active)
            ) x WHERE x.wanted AND {scope_sql} ORDER BY x.period, x.name, x.agent_id""", *p.values)
    out: dict[datetime, list[AgentStats]] = defaultdict(list)
    for r in rows:
        out[r["period"]].append(AgentStats(
            r["leads"], r["appointments"], r["closes"], r["agent_id"], r["name"], r["team_id"], r["team"],
            None if r["response_hours"] is None else float(r["response_hours"]),
            float(r["revenue"]), float(r["mean_revenue"] or 0)))
    return out


def hours(td: timedelta) -> float:
    return td / timedelta(hours=1)
