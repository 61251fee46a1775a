"""What each rule condition measures: one number per rule, from catalog metrics read through the answer path.

The figures are catalog entries (``success_metrics/calculators/metrics/conditions.py`` and any STAT metric a "metric" rule
names), asked for as the service's own principal (``success_metrics.rbac.system_principal``: an admin of the built-in
policy, since rules are written by the tenant's admins) and never kept in the cache (an alert window ending at
this second is asked once). Here only the rule's parameters are applied to those frames, as pure reductions.

Each measure returns ``None`` when there is nothing to measure (no calls in the window, no target set),
which keeps the rule's state unchanged rather than resolving or firing it on silence. What a measure read (the
metrics, and the tenant settings it compared them with) is collected in ``Context.read``: an alert's lineage is
what its rule actually read, not a second list kept beside the conditions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from success_metrics.calculators import Dimension, Filter, Frame, Kind, MetricName, MetricQuery, Operator, TenantSettings, buckets
from success_metrics.query import answer
from success_metrics.notify.alerts.rules import Rule


@dataclass(frozen=True, slots=True)
class Context:
    answers: answer.Answerer
    asker: answer.Context  # the service's own principal for the tenant
    now: datetime
    settings: TenantSettings
    retention_months: int
    # the catalog metrics and measures this evaluation read: the lineage of what it concludes
    read: set[str] = field(default_factory=set)


Measure = Callable[[Rule, Context], Awaitable[float | None]]


def _window(rule: Rule, ctx: Context) -> tuple[datetime, datetime]:
    return ctx.now - timedelta(minutes=rule.window_minutes), ctx.now


async def _frame(ctx: Context, metric: str, start: datetime, end: datetime, *, options: dict[str, str] | None = None,
                 filters: tuple[Filter, ...] = ()) -> Frame:
    query = MetricQuery(MetricName(metric), start, end, filters=filters, options=tuple((options or {}).items()))
    ctx.read.add(metric)
    return await ctx.answers.frame(ctx.asker, query, keep=False)


def _rows(frame: Frame) -> list[dict[str, Any]]:
    names = [c.name for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in frame.rows()]


async def _calls(rule: Rule, ctx: Context, component: str | None = None) -> list[dict[str, Any]]:
    """Per component over the rule's window: calls, failed calls, p95 latency."""
    only = (Filter(Dimension.COMPONENT, Operator.EQ, (component,)),) if component else ()
    return _rows(await _frame(ctx, "alerts.component_calls", *_window(rule, ctx), filters=only))


async def _failure_ratio(rule: Rule, ctx: Context) -> float | None:
    least = rule.condition.get("min_calls", 1)
    return max((r["failed"] / r["calls"] for r in await _calls(rule, ctx) if r["calls"] >= least), default=None)


async def _success_rate(rule: Rule, ctx: Context) -> float | None:
    least = rule.condition.get("min_calls", 1)
    return min((1 - r["failed"] / r["calls"] for r in await _calls(rule, ctx) if r["calls"] >= least), default=None)


async def _error_rate(rule: Rule, ctx: Context) -> float | None:
    rows = await _calls(rule, ctx)
    calls = sum(r["calls"] for r in rows)
    return sum(r["failed"] for r in rows) / calls if calls else None


async def _latency_p95(rule: Rule, ctx: Context) -> float | None:
    rows = await _calls(rule, ctx, rule.condition.get("component"))
    return max((float(r["p95_ms"]) for r in rows if r["p95_ms"] is not None), default=None)


async def _audit_events(rule: Rule, ctx: Context) -> float | None:
    actions = set(rule.condition["actions"])
    rows = _rows(await _frame(ctx, "security.audit_actions", *_window(rule, ctx)))
    return float(sum(r["records"] for r in rows if r["action"] in actions))


def _stat(frame: Frame) -> tuple[Any, Any] | None:
    """(value, previous) of a STAT frame; None for any other shape."""
    if frame.kind is not Kind.STAT or frame.row_count != 1:
        return None
    row = _rows(frame)[0]
    return row.get("value"), row.get("previous")


def _change(found: tuple[Any, Any] | None) -> float | None:
    """Relative change of value against previous; None without both."""
    if found is None or found[0] is None or not found[1]:
        return None
    value, previous = found
    return float((value - previous) / abs(previous))


async def _conversion_change(rule: Rule, ctx: Context) -> float | None:
    """Relative change of the conversion of leads created in the window against the window before it."""
    stage = rule.condition.get("stage", "appointment")
    return _change(_stat(await _frame(ctx, "alerts.conversion", *_window(rule, ctx), options={"stage": stage})))


async def _high_priority_waiting(rule: Rule, ctx: Context) -> float | None:
    """High-priority leads created in the window, at least the wait ago, that nobody has contacted yet."""
    start, end = _window(rule, ctx)
    latest = end - timedelta(minutes=rule.condition.get("wait_minutes", 120))
    if latest < start:
        return 0.0  # nobody created in the window has waited that long yet
    # created at or before ``latest``: the range's end is exclusive, and PostgreSQL keeps microseconds
    found = _stat(await _frame(ctx, "alerts.high_priority_waiting", start, latest + timedelta(microseconds=1)))
    return None if found is None or found[0] is None else float(found[0])


async def _target_projection(rule: Rule, ctx: Context) -> float | None:
    """Month-to-date × (month length / elapsed), as a share of the tenant's monthly target."""
    target = ctx.settings.targets.get(rule.condition["target"])
    ctx.read.update(("money_targets", "nonmoney_targets"))  # the value is a share of a target the tenant set
    start, _ = buckets.month_bounds(ctx.now, ctx.settings.zone)
    if not target or ctx.now - start < timedelta(days=1):  # the first day's projection is noise
        return None
    found = _stat(await _frame(ctx, "alerts.month_projection", start, ctx.now,
                               options={"measure": rule.condition["measure"]}))
    return None if found is None or found[0] is None else float(found[0]) / target


async def _database_size(rule: Rule, ctx: Context) -> float | None:
    found = _stat(await _frame(ctx, "system.database_size", *_window(rule, ctx)))
    return None if found is None or found[0] is None else float(found[0])


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` + ``months`` calendar months in UTC, the day clamped to the month's last (as PostgreSQL)."""
    at = moment.astimezone(UTC)
    index = at.year * 12 + at.month - 1 + months
    year, month = divmod(index, 12)
    first_of_next = datetime(year + (month + 1) // 12, (month + 1) % 12 + 1, 1, tzinfo=UTC)
    last_day = (first_of_next - timedelta(days=1)).day
    return at.replace(year=year, month=month + 1, day=min(at.day, last_day))


async def _retention_headroom(rule: Rule, ctx: Context) -> float | None:
    """Days until the tenant's oldest events fall out of retention."""
    rows = _rows(await _frame(ctx, "system.oldest_event", *_window(rule, ctx)))
    if not rows:
        return None
    oldest = datetime.fromtimestamp(rows[0]["oldest"] / 1000, UTC)
    return (add_months(oldest, ctx.retention_months) - ctx.now) / timedelta(days=1)


async def _metric(rule: Rule, ctx: Context) -> float | None:
    """A STAT metric of the catalog over the window: its value, or its relative change against the previous
    period ("change")."""
    found = _stat(await _frame(ctx, rule.condition["metric"], *_window(rule, ctx)))
    if rule.condition.get("measure", "value") == "value":
        return None if found is None or found[0] is None else float(found[0])
    return _change(found)


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


async def measure(rule: Rule, ctx: Context) -> float | None:
    return await MEASURES[rule.kind](rule, ctx)
