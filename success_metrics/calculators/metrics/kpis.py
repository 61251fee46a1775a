"""Key performance indicators: response time, conversion, uptime and error rate.

Stats compare the range with the period of equal length just before it. Lead-based figures follow the
cohort of leads created in the range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from success_metrics.calculators import buckets, closed_days, shapes
from success_metrics.calculators.buckets import HOUR, ORIGIN
from success_metrics.calculators.catalog import GRANULARITY, metric
from success_metrics.calculators.frames import Column, Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import (
    AUTOMATED_ONLY,
    LEAD_COLUMNS,
    STEPS,
    event_rows,
    funnel,
)
from success_metrics.calculators.sql import (
    Params,
    bucket_expr,
    by_type,
    where_filters,
)
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Dimension, Kind, Unit

LEAD_DIMS = (Dimension.SOURCE, Dimension.LOCATION, Dimension.AGENT, Dimension.TEAM, Dimension.SCORE_BAND)
_TICK = timedelta(microseconds=1)


async def _lead_delay(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings, column: str,
                      unit: Unit) -> Frame:
    """Average, median and p95 of ``column`` − created_at (in ``unit``) per bucket of the lead's creation time,
    over the leads created in the range whose ``column`` falls after creation and before the range's end."""
    q = sq.query
    width = buckets.series_width(q)
    p = Params()
    tp = p.add(sq.tenant_id)
    t = bucket_expr("x.created_at", width, s.timezone, p)
    where = where_filters(LEAD_COLUMNS, q.filters, p, q.metric)
    per = 3600 if unit is Unit.HOURS else 1
    end = p.add(q.end)
    rows = await conn.fetch(
        f"""SELECT {t} AS t, avg(h) AS avg, percentile_cont(0.5) WITHIN GROUP (ORDER BY h) AS median,
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY h) AS p95
            FROM (SELECT l.created_at, extract(epoch FROM l.{column} - l.created_at) / {per} AS h
                  FROM leads l WHERE l.tenant_id = {tp} AND l.created_at >= {p.add(q.start)}
                  AND l.created_at < {end} AND l.{column} >= l.created_at AND l.{column} < {end} AND {where}) x
            GROUP BY 1""", *p.values)
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    series = {k: {r["t"]: r[k] for r in rows} for k in ("avg", "median", "p95")}
    return shapes.series(q.metric, starts, series, unit, meta={"lower_is_better": True})


@metric("response_time.first_contact", "Lead Response Time",
        "Hours from a lead's creation to its first contact by an agent: the earliest contact attempt made by hand "
        "or response sent by hand (automated: false); automated attempts and responses never count (they are "
        "response_time.automated). Average, median and 95th percentile, exact from lead state, bucketed by the "
        "lead's creation time; a contact after the range's end is not counted.", Unit.HOURS, Kind.TIMESERIES,
        dimensions=LEAD_DIMS, options=(GRANULARITY,), lower_is_better=True,
        inputs=("leads", "first_contact_seconds"))
async def response_time(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    return await _lead_delay(conn, sq, s, "first_contact_at", Unit.HOURS)


@metric("response_time.automated", "Automated First Response",
        "Seconds from a lead's creation to the automation's first successful response (lead.responded with "
        "automated true, the default; responses sent by hand are the agent's first contact). Average, median and "
        "95th percentile, exact from lead state, bucketed by the lead's creation time; a response after the "
        "range's end is not counted.", Unit.SECONDS, Kind.TIMESERIES,
        dimensions=LEAD_DIMS, options=(GRANULARITY,), lower_is_better=True,
        inputs=("leads", "first_response_seconds"))
async def automated_response_time(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    return await _lead_delay(conn, sq, s, "first_response_at", Unit.SECONDS)


async def _conversion(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings, which: str) -> Frame:
    q = sq.query
    (lo, hi), (plo, phi) = buckets.period_bounds(q)
    cur = await funnel(conn, sq.tenant_id, lo, hi, q.filters, q.metric)
    prev = await funnel(conn, sq.tenant_id, plo, phi, q.filters, q.metric)

    def pct(f: object) -> float | None:
        r = getattr(f, which)
        return None if r is None else 100 * r

    notices = [] if cur.leads else ["No leads were created in this range."]
    return shapes.stat(q.metric, pct(cur), pct(prev), s.targets.get(q.metric), Unit.PERCENT, notices=notices,
                       meta={"leads": cur.leads, "converted": cur.appointments if which == "appointment_rate"
                             else cur.closes})


@metric("conversion.lead_to_appointment", "Lead-to-Appointment Rate",
        "Share (%) of the leads created in the range that got an appointment before the range's end.",
        Unit.PERCENT, Kind.STAT,
        dimensions=LEAD_DIMS,
        inputs=("leads", "lead_funnel", "nonmoney_targets"))
async def lead_to_appointment(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    return await _conversion(conn, sq, s, "appointment_rate")


@metric("conversion.lead_to_close", "Lead-to-Close Rate",
        "Share (%) of the leads created in the range that closed a deal before the range's end.",
        Unit.PERCENT, Kind.STAT,
        dimensions=LEAD_DIMS,
        inputs=("leads", "lead_funnel", "nonmoney_targets"))
async def lead_to_close(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    return await _conversion(conn, sq, s, "close_rate")


def _hours(lo: datetime, hi: datetime) -> int:
    """How many UTC hours overlap [lo, hi) (as buckets.series_starts(lo, hi, HOUR) would list them)."""
    if lo >= hi:
        return 0
    first = ORIGIN + (lo - ORIGIN) // HOUR * HOUR
    return -(-(hi - first) // HOUR)


async def _uptime(conn: asyncpg.Connection, tenant: str, s: TenantSettings, periods: list[tuple[datetime, datetime]]
                  ) -> list[float | None]:
    """Per period, the share (%) of its elapsed hours (up to now) that were up, None when none has elapsed."""
    now = datetime.now(UTC)
    elapsed = [(lo, min(hi, now)) for lo, hi in periods]
    down = await closed_days.down_hours(conn, tenant, elapsed, s.zone, s.timezone, now)
    return [100 * (1 - d / hours) if (hours := _hours(lo, hi)) else None for (lo, hi), d in zip(elapsed, down,
                                                                                               strict=True)]


@metric("uptime.system", "System Uptime",
        "Share (%) of the range's elapsed hours in which the system was up (an hour is down when fewer than half "
        "of its component calls succeeded; an hour without calls is up), against the previous period, with the "
        "12-month average (tenant-local months ending with the range's month) in column avg_12_months.",
        Unit.PERCENT, Kind.STAT,
        inputs=("component_calls", "nonmoney_targets"))
async def uptime(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    current, previous = buckets.period_bounds(q)
    first, _ = buckets.month_bounds(q.end - _TICK, s.zone, -11)
    _, last = buckets.month_bounds(q.end - _TICK, s.zone)
    cur, prev, year = await _uptime(conn, sq.tenant_id, s, [current, previous, (first, last)])
    return shapes.stat("uptime.system", cur, prev, s.targets.get("uptime.system"), Unit.PERCENT,
                       meta={"avg_12_months": year},
                       extra=(Column("avg_12_months", ColumnType.NUMBER, (year,), Unit.PERCENT),))


@metric("errors.rate", "Error Rate",
        "Per bucket: processing failures (% of automated pipeline steps — response, enrichment, routing, nurture — "
        "that failed; a response sent by hand is not an automated step) and data accuracy (100 − % of component "
        "calls failing data validation).",
        Unit.PERCENT, Kind.TIMESERIES, options=(GRANULARITY,), lower_is_better=True,
        inputs=("automated_tasks", "component_calls"))
async def error_rate(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    width = buckets.series_width(q)
    p = Params()
    # each row's volume and successes picked by its type (a column each, not one per measure and type); a call's
    # successes fill ok too, which the statement reads for steps only: every type has it in one slot, so it is that
    # slot, not a CASE evaluated on every row
    src = event_rows(sq, s, (*STEPS, "component.call"), {}, p, width=width, only=("automation", "error_category"),
                     pick={"volume": {**{e: count for e, (count, _) in STEPS.items()}, "component.call": "calls"},
                           "ok": {**{e: ok for e, (_, ok) in STEPS.items()}, "component.call": "ok_calls"}})
    step, call = "type <> 'component.call'", "type = 'component.call'"
    # one pass over every type's rows
    rows = await conn.fetch(
        f"SELECT t, sum(volume) FILTER (WHERE {step}) AS steps, sum(volume - ok) FILTER (WHERE {step}) AS failed, "
        f"sum(volume) FILTER (WHERE {call}) AS calls, sum(volume) FILTER (WHERE {call} "
        f"AND error_category IN ('validation', 'data_validation')) AS invalid "
        f"FROM {src} s WHERE {by_type(AUTOMATED_ONLY.items(), 'TRUE')} GROUP BY t", *p.values)
    failures = {r["t"]: None if not r["steps"] else 100 * float(r["failed"]) / float(r["steps"]) for r in rows}
    accuracy = {r["t"]: None if not r["calls"] else 100 * (1 - float(r["invalid"] or 0) / float(r["calls"]))
                for r in rows}
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    return shapes.series("errors.rate", starts, {"processing_failures": failures, "data_accuracy": accuracy},
                         Unit.PERCENT, meta={"lower_is_better": True})

