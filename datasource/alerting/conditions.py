"""What each rule condition measures: one number per rule, computed in SQL inside the tenant's transaction.

Each measure returns ``None`` when there is nothing to measure (no calls in the window, no target set),
which keeps the rule's state unchanged rather than resolving or firing it on silence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from calculators import Kind, MetricName, MetricQuery, TenantId, TenantSettings, compute, get_metric
from datasource.alerting.rules import Rule
from rbac import AuthMethod, Principal, Role, policy


@dataclass(frozen=True, slots=True)
class Context:
    tenant_id: str
    now: datetime
    settings: TenantSettings
    retention_months: int


Measure = Callable[[asyncpg.Connection, Rule, Context], Awaitable[float | None]]

# per component, over the rule's window: calls and failed calls
_CALLS = """
    SELECT payload->>'component' AS component, count(*) AS calls,
           count(*) FILTER (WHERE NOT coalesce((payload->>'ok')::boolean, true)) AS failed
    FROM events
    WHERE type = 'component.call' AND occurred_at >= $1 AND occurred_at < $2
    GROUP BY 1"""


def _window(rule: Rule, ctx: Context) -> tuple[datetime, datetime]:
    return ctx.now - timedelta(minutes=rule.window_minutes), ctx.now


async def _failure_ratio(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    value = await conn.fetchval(
        f"SELECT max(failed::float8 / calls) FROM ({_CALLS}) c WHERE calls >= $3",
        *_window(rule, ctx), rule.condition.get("min_calls", 1))
    return None if value is None else float(value)


async def _success_rate(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    value = await conn.fetchval(
        f"SELECT min(1 - failed::float8 / calls) FROM ({_CALLS}) c WHERE calls >= $3",
        *_window(rule, ctx), rule.condition.get("min_calls", 1))
    return None if value is None else float(value)


async def _error_rate(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    value = await conn.fetchval(f"SELECT sum(failed)::float8 / nullif(sum(calls), 0) FROM ({_CALLS}) c",
                                *_window(rule, ctx))
    return None if value is None else float(value)


async def _latency_p95(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    value = await conn.fetchval(
        """SELECT max(p95) FROM (
               SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY (payload->>'latency_ms')::float8) AS p95
               FROM events
               WHERE type = 'component.call' AND occurred_at >= $1 AND occurred_at < $2
                 AND ($3::text IS NULL OR payload->>'component' = $3)
               GROUP BY payload->>'component') c""",
        *_window(rule, ctx), rule.condition.get("component"))
    return None if value is None else float(value)


async def _audit_events(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    count = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = ANY($3) AND at >= $1 AND at < $2",
                                *_window(rule, ctx), list(rule.condition["actions"]))
    return float(count)


async def _conversion_change(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    """Relative change of the conversion of leads created in the window against the window before it."""
    start, end = _window(rule, ctx)
    column = "closed_at" if rule.condition.get("stage") == "close" else "appointment_at"
    row = await conn.fetchrow(
        f"""SELECT count(*) FILTER (WHERE created_at >= $2 AND {column} IS NOT NULL)::float8
                   / nullif(count(*) FILTER (WHERE created_at >= $2), 0) AS current,
                   count(*) FILTER (WHERE created_at < $2 AND {column} IS NOT NULL)::float8
                   / nullif(count(*) FILTER (WHERE created_at < $2), 0) AS previous
            FROM leads WHERE created_at >= $1 AND created_at < $3""",
        start - (end - start), start, end)
    if row["current"] is None or not row["previous"]:
        return None
    return float((row["current"] - row["previous"]) / row["previous"])


async def _high_priority_waiting(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    """High-priority leads created in the window, older than the wait, that nobody has contacted yet."""
    start, end = _window(rule, ctx)
    wait = timedelta(minutes=rule.condition.get("wait_minutes", 120))
    count = await conn.fetchval(
        """SELECT count(*) FROM leads
           WHERE priority = 'high' AND created_at >= $1 AND created_at <= $2
             AND first_contact_at IS NULL AND appointment_at IS NULL AND closed_at IS NULL AND erased_at IS NULL""",
        start, end - wait)
    return float(count)


def month_bounds(now: datetime, settings: TenantSettings) -> tuple[datetime, datetime]:
    """The tenant-local calendar month containing ``now``, as aware datetimes."""
    local = now.astimezone(settings.zone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    # in UTC: Python subtracts two datetimes of the same zone by wall clock, which is wrong across DST
    return start.astimezone(UTC), following.astimezone(UTC)


async def _target_projection(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    """Month-to-date × (month length / elapsed), as a share of the tenant's monthly target."""
    target = ctx.settings.targets.get(rule.condition["target"])
    start, end = month_bounds(ctx.now, ctx.settings)
    elapsed = ctx.now - start
    if not target or elapsed < timedelta(days=1):  # the first day's projection is noise
        return None
    measure = rule.condition["measure"]
    sql = {
        "revenue": "SELECT coalesce(sum(deal_value), 0) FROM leads WHERE closed_at >= $1 AND closed_at < $2",
        "deals": "SELECT count(*) FROM leads WHERE closed_at >= $1 AND closed_at < $2",
        "leads": "SELECT count(*) FROM leads WHERE created_at >= $1 AND created_at < $2",
    }[measure]
    so_far = float(await conn.fetchval(sql, start, ctx.now))
    projection = so_far * ((end - start) / elapsed)
    return projection / target


async def _database_size(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    return float(await conn.fetchval("SELECT pg_database_size(current_database())"))


async def _retention_headroom(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    """Days until the tenant's oldest events fall out of retention."""
    oldest = await conn.fetchval("SELECT min(occurred_at) FROM events")
    if oldest is None:
        return None
    leaves = await conn.fetchval("SELECT $1::timestamptz + make_interval(months => $2)", oldest, ctx.retention_months)
    return (leaves - ctx.now) / timedelta(days=1)


async def _metric(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    """A STAT metric of the catalog over the window, computed as the data source computes it for a tenant
    admin: its value, or its relative change against the previous period ("change")."""
    name = MetricName(rule.condition["metric"])
    start, end = _window(rule, ctx)
    query = MetricQuery(metric=name, start=start, end=end)
    grant = policy.authorize(_evaluator(ctx), query, get_metric(name), policy.default_policy())
    frame = await compute(conn, grant.scoped, ctx.settings)
    if frame.kind is not Kind.STAT or frame.row_count != 1:
        return None
    row = dict(zip((c.name for c in frame.columns), frame.rows()[0], strict=True))
    value, previous = row.get("value"), row.get("previous")
    if rule.condition.get("measure", "value") == "value":
        return None if value is None else float(value)
    if value is None or not previous:
        return None
    return float((value - previous) / abs(previous))


def _evaluator(ctx: Context) -> Principal:
    """Alerts are the tenant's own: rules are written by its admins, so they measure what an admin sees."""
    return Principal(tenant_id=TenantId(ctx.tenant_id), subject="alert-evaluator", role=Role.ADMIN,
                     auth_method=AuthMethod.SERVICE_KEY)


MEASURES: dict[str, Measure] = {
    "component_failure_ratio": _failure_ratio,
    "component_success_rate": _success_rate,
    "error_rate": _error_rate,
    "latency_p95": _latency_p95,
    "audit_events": _audit_events,
    "conversion_change": _conversion_change,
    "high_priority_waiting": _high_priority_waiting,
    "target_projection": _target_projection,
    "database_size": _database_size,
    "retention_headroom": _retention_headroom,
    "metric": _metric,
}


async def measure(conn: asyncpg.Connection, rule: Rule, ctx: Context) -> float | None:
    return await MEASURES[rule.kind](conn, rule, ctx)
