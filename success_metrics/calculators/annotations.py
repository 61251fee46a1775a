"""Annotations: what a person wants marked on a time axis, each kind a record with its sensitivity and SQL.

Every kind returns a frame of ``time``, ``timeEnd`` (epoch ms), ``title``, ``text``, ``tags``. Kinds are
named so the role policy's metric globs decide who may see them (``components.*`` is open to auditors,
``security.*`` only to admins and auditors). All reads are aggregated in SQL, over rollups where possible.

- outages / degradations: hours in which a component's calls failed at >= 50 % (outage) or 10-50 %
  (degradation), at least ``MIN_CALLS`` calls, consecutive hours merged into one region.
- alerts: alert firings (alert_events), open ones running to now.
- conversion_drops: tenant-local days whose lead→appointment ratio fell more than 10 % below the
  preceding seven days' ratio (appointments scheduled / leads created that day, >= ``MIN_LEADS`` leads).
- target_misses: closed months in which a team (or agent) with a monthly revenue goal closed less.
- policy_changes: each new role policy version, by whom and why.
- backfills: ingest runs that loaded past data (CLI, demo, or API batches whose events are over a day old).
- anomalies: days a key series left what its seasonal decomposition expects
(success_metrics/calculators/metrics/anomalies.py,
  from the background trainer's stored scan).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from success_metrics.calculators import lineage
from success_metrics.calculators.catalog import alert_lineage
from success_metrics.calculators.catalog import get as get_metric
from success_metrics.calculators.errors import UnknownMetric
from success_metrics.calculators.frames import Column, Frame, Lineage
from success_metrics.calculators.measures import MEASURES
from success_metrics.calculators.metrics import anomalies as anomaly_scan
from success_metrics.calculators.query import ScopedQuery, ScopeKind
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Kind, MetricName, Sensitivity

MIN_CALLS = 5
MIN_LEADS = 10
OUTAGE_RATE = 0.5
DEGRADED_RATE = 0.1
DROP = 0.10

# time, time end, title, text, tags (and, for kinds with row_lineage, the row's lineage)
Row = tuple[datetime, datetime | None, str, str, tuple[str, ...]] | tuple[
    datetime, datetime | None, str, str, tuple[str, ...], Lineage]
Compute = Callable[[asyncpg.Connection, ScopedQuery, TenantSettings], Awaitable[list[Row]]]


@dataclass(frozen=True, slots=True)
class AnnotationKind:
    """One kind of annotation; ``name`` is what the policy's metric globs match."""

    key: str
    name: MetricName
    title: str
    sensitivity: Sensitivity  # the gate: which roles may ask for the kind (policy.allowed)
    compute: Compute
    inputs: tuple[str, ...]  # as MetricDef.inputs: title, text and tags derive from these
    row_scoped: bool = False  # as MetricDef.row_scoped: the frame depends on the row scope
    row_lineage: bool = False  # as MetricDef.row_lineage: each annotation carries its own (alert firings)
    lineage: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    declassify: Mapping[str, str] = field(default_factory=dict, compare=False)


async def _component_bursts(conn: asyncpg.Connection, sq: ScopedQuery, lo: float, hi: float) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        WITH h AS (
            SELECT component, bucket, sum(calls) AS calls, sum(calls - ok_calls) AS failures
            FROM rollup_component_call
            WHERE tenant_id = $1 AND grain = 'hour' AND bucket >= $2 AND bucket < $3
            GROUP BY component, bucket
        ), flagged AS (
            SELECT *, bucket - (row_number() OVER (PARTITION BY component ORDER BY bucket)) * interval '1 hour' AS grp
            FROM h WHERE calls >= $4 AND failures >= $5 * calls AND failures < $6 * calls
        )
        SELECT component, min(bucket) AS started, max(bucket) + interval '1 hour' AS ended,
               sum(calls)::bigint AS calls, sum(failures)::bigint AS failures
        FROM flagged GROUP BY component, grp ORDER BY started, component
        """,
        sq.tenant_id, _floor_hour(sq.query.start), sq.query.end, MIN_CALLS, lo, hi)


def _floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _bursts(label: str, tag: str, lo: float, hi: float) -> Compute:
    async def compute(conn: asyncpg.Connection, sq: ScopedQuery, _: TenantSettings) -> list[Row]:
        rows = await _component_bursts(conn, sq, lo, hi)
        return [(r["started"], r["ended"], f"{label}: {r['component']}",
                 f"{r['failures']} of {r['calls']} calls failed ({100 * r['failures'] / r['calls']:.0f} %)",
                 (tag, r["component"])) for r in rows]
    return compute


# Alerts on audit events (bursts of authentication failures …) are security events: they go to their own kind,
# which the policy shows only to the roles that see security data. The default rule of that kind is named here
# because defaults are not stored in alert_rules until an admin changes them.
_SECURITY_RULES = ("critical.auth_failures",)


def _alerts(security: bool) -> Compute:
    async def compute(conn: asyncpg.Connection, sq: ScopedQuery, _: TenantSettings) -> list[Row]:
        rows = await conn.fetch(
            """
            SELECT e.started_at, e.resolved_at, e.state, e.severity, e.family, e.title, e.summary, e.inputs
            FROM alert_events e
            LEFT JOIN alert_rules r ON r.tenant_id = e.tenant_id AND r.rule_id = e.rule_id
            WHERE e.tenant_id = $1 AND e.started_at < $3 AND coalesce(e.resolved_at, 'infinity') >= $2
              AND (coalesce(r.definition->'condition'->>'kind' = 'audit_events', e.rule_id = ANY($4::text[]))) = $5
            ORDER BY e.started_at, e.event_id
            """, sq.tenant_id, sq.query.start, sq.query.end, list(_SECURITY_RULES), security)
        return [(r["started_at"], r["resolved_at"], f"Alert {r['state']}: {r['title']}", r["summary"],
                 ("alert", r["severity"], r["family"]), alert_lineage(r["inputs"])) for r in rows]
    return compute


async def _conversion_drops(conn: asyncpg.Connection, sq: ScopedQuery, _: TenantSettings) -> list[Row]:
    rows = await conn.fetch(
        """
        WITH d AS (
            SELECT bucket, sum(leads) AS leads, coalesce(sum(appointments), 0) AS appts
            FROM (SELECT tenant_id, grain, bucket, leads, NULL::bigint AS appointments FROM rollup_lead_created
                  UNION ALL
                  SELECT tenant_id, grain, bucket, NULL, appointments FROM rollup_appointment_scheduled) u
            WHERE tenant_id = $1 AND grain = 'day' AND bucket >= $2::timestamptz - interval '8 days' AND bucket < $3
            GROUP BY bucket
        ), r AS (
            SELECT bucket, leads, appts,
                   sum(appts) OVER w::float8 / nullif(sum(leads) OVER w, 0) AS base, count(*) OVER w AS days
            FROM d WINDOW w AS (ORDER BY bucket ROWS BETWEEN 7 PRECEDING AND 1 PRECEDING)
        )
        SELECT bucket, bucket + interval '1 day' AS bucket_end, leads, appts, appts::float8 / leads AS rate, base
        FROM r
        WHERE bucket >= $2 AND leads >= $4 AND days >= 3 AND base > 0 AND appts::float8 / leads < base * (1 - $5)
        ORDER BY bucket
        """, sq.tenant_id, sq.query.start, sq.query.end, MIN_LEADS, DROP)
    return [(r["bucket"], r["bucket_end"], "Conversion drop",
             f"lead→appointment {100 * r['rate']:.1f} % ({r['appts']} of {r['leads']} leads) vs "
             f"{100 * r['base']:.1f} % over the previous 7 days", ("conversion", "drop")) for r in rows]


async def _target_misses(conn: asyncpg.Connection, sq: ScopedQuery, settings: TenantSettings) -> list[Row]:
    goals = [("team", k, v) for k, v in settings.team_goals.items()] + \
            [("agent", k, v) for k, v in settings.agent_goals.items()]
    scope = sq.scope
    if scope.kind == ScopeKind.TEAM:
        goals = [g for g in goals if g[0] == "team" and g[1] in scope.teams]
    elif scope.kind == ScopeKind.SELF:
        goals = [g for g in goals if g[0] == "agent" and g[1] == scope.agent_id]
    if not goals:
        return []
    rows = await conn.fetch(
        """
        WITH g AS (SELECT * FROM unnest($2::text[], $3::text[], $4::float8[]) AS g(kind, id, goal)),
        months AS (
            SELECT m AS local_month,
                   (m AT TIME ZONE $5) AS started, ((m + interval '1 month') AT TIME ZONE $5) AS ended
            FROM generate_series(date_trunc('month', $6::timestamptz AT TIME ZONE $5),
                                 date_trunc('month', $7::timestamptz AT TIME ZONE $5), interval '1 month') m
        )
        SELECT g.kind, g.id, g.goal, months.started, months.ended, coalesce(sum(l.deal_value), 0)::float8 AS revenue
        FROM g CROSS JOIN months
        LEFT JOIN leads l ON l.tenant_id = $1 AND l.closed_at >= months.started AND l.closed_at < months.ended
             AND ((g.kind = 'team' AND l.team_id = g.id) OR (g.kind = 'agent' AND l.agent_id = g.id))
        WHERE months.ended <= now() AND months.started >= $6::timestamptz - interval '1 month'
        GROUP BY g.kind, g.id, g.goal, months.started, months.ended
        HAVING coalesce(sum(l.deal_value), 0) < g.goal
        ORDER BY months.started, g.kind, g.id
        """,
        sq.tenant_id, [g[0] for g in goals], [g[1] for g in goals], [g[2] for g in goals], settings.timezone,
        sq.query.start, sq.query.end)
    return [(r["started"], r["ended"], f"Revenue goal missed: {r['kind']} {r['id']}",
             f"{r['revenue']:,.0f} of {r['goal']:,.0f} ({100 * r['revenue'] / r['goal']:.0f} %)" if r["goal"] else "",
             ("target", r["kind"])) for r in rows if r["ended"] > sq.query.start and r["started"] < sq.query.end]


async def _policy_changes(conn: asyncpg.Connection, sq: ScopedQuery, _: TenantSettings) -> list[Row]:
    rows = await conn.fetch(
        "SELECT version, changed_by, changed_at, comment FROM policy_versions "
        "WHERE tenant_id = $1 AND changed_at >= $2 AND changed_at < $3 ORDER BY changed_at, version",
        sq.tenant_id, sq.query.start, sq.query.end)
    return [(r["changed_at"], None, f"Role policy v{r['version']}",
             f"changed by {r['changed_by']}" + (f": {r['comment']}" if r["comment"] else ""), ("policy",))
            for r in rows]


async def _backfills(conn: asyncpg.Connection, sq: ScopedQuery, _: TenantSettings) -> list[Row]:
    rows = await conn.fetch(
        """
        SELECT run_id, min(source) AS source, min(at) AS loaded_at, sum(accepted)::bigint AS accepted,
               min(first_occurred_at) AS first, max(last_occurred_at) AS last
        FROM ingest_batches
        WHERE tenant_id = $1 AND accepted > 0
          AND (source IN ('cli', 'demo') OR first_occurred_at < at - interval '1 day')
        GROUP BY run_id
        HAVING min(first_occurred_at) < $3 AND max(last_occurred_at) >= $2
        ORDER BY first, run_id
        """, sq.tenant_id, sq.query.start, sq.query.end)
    return [(r["first"], r["last"], f"Data backfill ({r['source']})",
             f"{r['accepted']} events loaded {r['loaded_at']:%Y-%m-%d %H:%M} UTC, run {r['run_id']}",
             ("backfill", r["source"])) for r in rows]


async def _anomalies(conn: asyncpg.Connection, sq: ScopedQuery, _: TenantSettings) -> list[Row]:
    scan = await anomaly_scan.stored_scan(conn, sq)
    return [(datetime.fromtimestamp(a.time / 1000, UTC), datetime.fromtimestamp(a.time / 1000 + 86_400, UTC),
             f"Anomaly: {a.series.replace('_', ' ')}",
             f"{a.value:,.2f} where {a.expected:,.2f} was expected (robust z {a.score:+.1f})",
             ("anomaly", a.series), anomaly_scan.lineage_of(a.series))
            for a in (anomaly_scan.in_range(scan, sq) if scan else [])]


ALERT_INPUTS = tuple(MEASURES)  # a firing reads what its rule read: any measure

KINDS: dict[str, AnnotationKind] = {k.key: k for k in (
    AnnotationKind("outages", MetricName("components.annotations.outages"), "Component outages", Sensitivity.PUBLIC,
                   _bursts("Outage", "outage", OUTAGE_RATE, 1.01),
                   inputs=("component_calls",)),
    AnnotationKind("degradations", MetricName("components.annotations.degradations"), "Component degradations",
                   Sensitivity.PUBLIC, _bursts("Degraded", "degradation", DEGRADED_RATE, OUTAGE_RATE),
                   inputs=("component_calls",)),
    AnnotationKind("alerts", MetricName("annotations.alerts"), "Alert firings", Sensitivity.PUBLIC, _alerts(False),
                   inputs=ALERT_INPUTS, row_lineage=True),
    AnnotationKind("security_alerts", MetricName("security.annotations.alerts"), "Security alert firings",
                   Sensitivity.SECURITY, _alerts(True),
                   inputs=ALERT_INPUTS, row_lineage=True),
    AnnotationKind("conversion_drops", MetricName("annotations.conversion_drops"), "Conversion drops",
                   Sensitivity.PUBLIC, _conversion_drops,
                   inputs=("leads", "lead_funnel")),
    AnnotationKind("target_misses", MetricName("annotations.target_misses"), "Revenue goals missed",
                   Sensitivity.FINANCIAL, _target_misses, row_scoped=True,
                   inputs=("deal_revenue", "revenue_goals", "teams", "agent_identity")),
    AnnotationKind("policy_changes", MetricName("security.annotations.policy_changes"), "Role policy changes",
                   Sensitivity.SECURITY, _policy_changes,
                   inputs=("policy_versions",)),
    AnnotationKind("backfills", MetricName("system.annotations.backfills"), "Data backfills", Sensitivity.PUBLIC,
                   _backfills,
                   inputs=("ingest_batches",)),
    AnnotationKind("anomalies", MetricName("annotations.anomalies"), "Anomalies", Sensitivity.PUBLIC, _anomalies,
                   inputs=anomaly_scan.ALL_INPUTS, row_lineage=True),
)}


def kind(key: str) -> AnnotationKind:
    found = KINDS.get(key.strip().lower().replace("-", "_"))
    if found is None:
        raise UnknownMetric(key, sorted(KINDS))
    return found


def kinds(text: Sequence[str]) -> list[AnnotationKind]:
    """The kinds a query names; none named means every kind."""
    return [kind(k) for k in text] if text else list(KINDS.values())


async def compute(conn: asyncpg.Connection, sq: ScopedQuery, settings: TenantSettings) -> Frame:
    """One kind's annotations (sq.query.metric is the kind's name) as a frame, ascending by time."""
    found = next((k for k in KINDS.values() if k.name == sq.query.metric), None)
    if found is None:
        raise UnknownMetric(sq.query.metric, [k.name for k in KINDS.values()])
    rows = await found.compute(conn, sq, settings)
    return frame(found, rows)


def frame(found: AnnotationKind, rows: Sequence[Row]) -> Frame:
    """The kind's rows as a frame, stamped with its lineage (title, text and tags derive from its inputs)."""
    def ms(t: Any) -> int | None:
        return None if t is None else int(t.timestamp() * 1000)

    columns = (
        Column("time", ColumnType.TIME, tuple(ms(r[0]) for r in rows)),
        Column("timeEnd", ColumnType.TIME, tuple(ms(r[1]) for r in rows)),
        Column("title", ColumnType.STRING, tuple(r[2] for r in rows), field=f"{found.key}.title"),
        Column("text", ColumnType.STRING, tuple(r[3] for r in rows), field=f"{found.key}.text"),
        Column("tags", ColumnType.STRING, tuple(r[4] for r in rows), field=f"{found.key}.tags"),
    )
    row_lineage = tuple(r[5] for r in rows if len(r) > 5) if found.row_lineage else ()
    return lineage.stamp(found, Frame(found.title, Kind.TABLE, columns, row_lineage=row_lineage),
                         lineage.resolve_named(found, get_metric))
