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

from calculators import buckets, formulas
from calculators.buckets import Segment, Source, local_midnight, series_starts
from calculators.query import Filter, RowScope, ScopedQuery
from calculators.sql import Params, bucket_expr, scope_condition, union_source, where_filters
from calculators.tenant import TenantSettings
from calculators.vocabulary import Dimension

OK_TASKS = ("lead.responded", "lead.enriched", "lead.routed", "lead.nurtured")
TASK_TYPES = (*OK_TASKS, "lead.scored", "contact.attempted")
MONEY_TYPES = ("error.prevented", "agent.activity")

LEAD_COLUMNS = {
    Dimension.SOURCE: "l.source", Dimension.LOCATION: "l.location_id", Dimension.AGENT: "l.agent_id",
    Dimension.TEAM: "l.team_id", Dimension.SCORE_BAND: "sm_score_band(l.score)",
}


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


async def period_figures(
    conn: asyncpg.Connection, tenant: str, segments: list[Segment], series: timedelta | str | None = None,
    tz: str = "UTC",
) -> dict[datetime | None, PeriodFigures]:
    """The ROI inputs per series bucket (or one None bucket), from rollups and the raw tail; deals from lead
    state and costs from their events, in the same statement (one round trip)."""
    p = Params()
    src = union_source(tenant, TASK_TYPES + MONEY_TYPES, segments, p, series=(series, tz) if series else None)
    t = "t" if series else "NULL::timestamptz"
    more = ""
    if segments:
        lo, hi = segments[0].lo, segments[-1].hi
        more = f"UNION ALL {deals_sql(p, tenant, lo, hi, series, tz)} UNION ALL {_costs_sql(p, tenant, lo, hi, tz)}"
    # k3 is 'manual' for what a person did (contact attempts, responses sent by hand): not an automated task
    rows = await conn.fetch(
        f"SELECT {t} AS t, type, k1, sum(n) AS n, sum(s1) FILTER (WHERE k3 <> 'manual') AS s1, "
        f"sum(n) FILTER (WHERE k3 = 'auto') AS auto_n FROM {src} s GROUP BY 1, 2, 3 {more}", *p.values)
    out: dict[datetime | None, PeriodFigures] = defaultdict(PeriodFigures)
    for r in rows:
        kind, n, s1 = r["type"], int(r["n"]), float(r["s1"] or 0)
        if kind == "cost.recorded":
            _add_cost(out, r["k1"], s1, segments[0].lo, segments[-1].hi, series, ZoneInfo(tz))
            continue
        f = out[r["t"]]
        if kind in OK_TASKS:
            f.tasks += s1
        elif kind == "lead.scored":
            f.tasks += n
        elif kind == "contact.attempted":
            f.tasks += float(r["auto_n"] or 0)
        elif kind == "deal.closed":
            f.revenue_by_class[r["k1"]] = f.revenue_by_class.get(r["k1"], 0.0) + s1
            f.deals += n
        elif kind == "error.prevented":
            f.errors_prevented += s1
        elif kind == "agent.activity" and n:
            f.agents.add(r["k1"])
    return out


def deals_sql(p: Params, tenant: str, lo: datetime | None, hi: datetime | None,
              series: timedelta | str | None = None, tz: str = "UTC", where: str = "TRUE") -> str:
    """Deals closed in [lo, hi) as rows (t: series bucket or None, type 'deal.closed', k1: attribution class,
    n: deals, s1: revenue, auto_n: NULL): one per lead, lead state's deal. ``where`` is a further condition on
    ``leads l`` whose values are in ``p``."""
    t = bucket_expr("l.closed_at", series, tz, p) if series else "NULL::timestamptz"
    return (f"SELECT {t} AS t, 'deal.closed' AS type, coalesce(l.attribution_class, '') AS k1, count(*) AS n, "
            f"coalesce(sum(l.deal_value), 0) AS s1, NULL::numeric AS auto_n FROM leads l "
            f"WHERE l.tenant_id = {p.add(tenant)} AND l.closed_at >= {p.add(lo)} AND l.closed_at < {p.add(hi)} "
            f"AND {where} GROUP BY 1, 3")


COST_LATENESS = timedelta(days=92)  # how long after its month a cost may be recorded and still be found


def _costs_sql(p: Params, tenant: str, lo: datetime, hi: datetime, tz: str) -> str:
    """The costs recorded near [lo, hi) as rows (type 'cost.recorded', k1: 'YYYY-MM category', s1: amount) by
    the month they are for (``month``, or the tenant-local month of occurred_at)."""
    lateness, zone = p.add(COST_LATENESS), p.add(tz)
    month = f"coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE {zone}, 'YYYY-MM'))"
    return (f"SELECT NULL::timestamptz AS t, 'cost.recorded' AS type, "
            f"{month} || ' ' || coalesce(payload->>'category', '') AS k1, 0::numeric AS n, "
            f"sum((payload->>'amount')::numeric) AS s1, NULL::numeric AS auto_n FROM events "
            f"WHERE tenant_id = {p.add(tenant)} AND type = 'cost.recorded' "
            f"AND occurred_at >= {p.add(lo)}::timestamptz - {lateness}::interval "
            f"AND occurred_at < {p.add(hi)}::timestamptz + {lateness}::interval GROUP BY 3")


def _add_cost(out: dict[datetime | None, PeriodFigures], key: str, amount: float, lo: datetime, hi: datetime,
              series: timedelta | str | None, zone: ZoneInfo) -> None:
    """Add a month's cost (key 'YYYY-MM category') if the month overlaps [lo, hi), to the bucket holding
    max(month start, lo)."""
    month_text, category = key.split(" ", 1)
    year, month = (int(x) for x in month_text.split("-"))
    start, end = local_midnight(date(year, month, 1), zone), local_midnight(
        date(year + month // 12, month % 12 + 1, 1), zone)
    if end <= lo or start >= hi:
        return
    at = max(start, lo)
    bucket = None if series is None else series_starts(at, at + timedelta(microseconds=1), series, zone)[0]
    costs = out[bucket].costs
    costs[category] = costs.get(category, 0.0) + amount


def event_rows(
    sq: ScopedQuery, s: TenantSettings, types: str | tuple[str, ...], columns: Mapping[Dimension, str], p: Params, *,
    finest: Source = Source.DAY, width: timedelta | str | None = None,
) -> str:
    """The query's range as rows (t, type, k1…k3, n, s1…s3, mx) of these event types, from rollups and the raw
    tail, keeping the rows the query's filters allow (``columns`` maps a dimension to its key column). With a
    series ``width``, t is the series bucket."""
    q = sq.query
    segments = buckets.plan(q.start, q.end, s.zone, buckets.finest_for(width) if width else finest)
    src = union_source(sq.tenant_id, types, segments, p, series=(width, s.timezone) if width else None)
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
    r = await conn.fetchrow(
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


async def agent_stats_by_period(
    conn: asyncpg.Connection, tenant: str, starts: list[datetime], end: datetime, scope: RowScope,
    filters: tuple[Filter, ...], metric: str,
) -> dict[datetime, list[AgentStats]]:
    """agent_stats for consecutive periods [starts[i], starts[i+1]) (the last one ends at ``end``), in one query;
    what became of a period's leads is counted up to ``end``."""
    p = Params()
    tp = p.add(tenant)
    lead_where = where_filters({Dimension.LOCATION: "l.location_id", Dimension.SOURCE: "l.source",
                                Dimension.SCORE_BAND: "sm_score_band(l.score)"}, filters, p, metric)
    agent_where = where_filters({Dimension.AGENT: "a.agent_id", Dimension.TEAM: "a.team_id"}, filters, p, metric)
    scope_sql = scope_condition("x.agent_id", "x.team_id", scope, p)
    ep = p.add(end)
    rows = await conn.fetch(
        f"""SELECT * FROM (
              SELECT per.*, avg(per.revenue) OVER (PARTITION BY per.period) AS mean_revenue FROM (
                SELECT b.lo AS period, a.agent_id, a.name, a.team_id, coalesce(t.name, a.team_id) AS team,
                       bool_and({agent_where}) AS wanted, count(l.lead_id) AS leads,
                       avg(extract(epoch FROM l.first_contact_at - l.created_at) / 3600)
                           FILTER (WHERE l.first_contact_at >= l.created_at AND l.first_contact_at < {ep})
                           AS response_hours,
                       count(*) FILTER (WHERE l.appointment_at < {ep}) AS appointments,
                       count(*) FILTER (WHERE l.closed_at < {ep}) AS closes,
                       coalesce(sum(l.deal_value) FILTER (WHERE l.closed_at < {ep}), 0) AS revenue
                FROM (SELECT s AS lo, lead(s, 1, {ep}::timestamptz) OVER (ORDER BY s) AS hi
                      FROM unnest({p.add(starts)}::timestamptz[]) s) b
                CROSS JOIN agents a
                LEFT JOIN leads l ON l.tenant_id = a.tenant_id AND l.agent_id = a.agent_id
                     AND l.created_at >= b.lo AND l.created_at < b.hi AND {lead_where}
                LEFT JOIN teams t ON t.tenant_id = a.tenant_id AND t.team_id = a.team_id
                WHERE a.tenant_id = {tp}
                GROUP BY b.lo, a.agent_id, a.name, a.team_id, t.name
                HAVING count(l.lead_id) > 0 OR bool_or(a.active)
              ) per
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
