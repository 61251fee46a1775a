"""Closed days answered from per-day summaries: the down hours and the failure runs of component calls.

A closed tenant-local day does not change unless events are backfilled into it, so what uptime.system and
errors.mttr need of it is summarized once (``refresh``, table ``closed_days`` / ``closed_day_runs``, migration
0019) and a range reads those summaries for its whole closed days and raw rows (hourly rollups, component calls)
for the rest: the partial days at its ends, today, and any day whose summary is missing or stale. A summary is
used only while its call count equals the day's count in the daily rollups, which ingest updates in the
transaction that stores the events (``_days_sql``), so a backfill is seen at once; a day without any call needs
no summary.

Both figures compose exactly. Down hours add up (an hour is down when fewer than half of its calls succeeded, and
a day is made of whole UTC hours where its zone's midnights fall on the hour; elsewhere no day summary is used).
A component's failure runs are folded day by day (``fold_sql``): a day reports whether its first call failed,
its first success, the runs that started after one of its successes and ended within it (sum of durations, count)
and the start of a run still open at its end; a run open at a day's end continues into the next day that has
calls of the component, and is resolved by that day's first success. Durations are kept in microseconds (the
resolution of timestamptz), so the mean equals the one computed from raw calls. Each figure is one statement for
all the periods a metric compares (summaries, stale days and raw ends together), folded in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from success_metrics.calculators import buckets
from success_metrics.calculators.buckets import HOUR, ORIGIN, Segment, Source
from success_metrics.calculators.sql import Params, fetch_generic, union_source

DOWN_SUCCESS = 0.5  # an hour whose component calls succeed less than half the time counts as down
REFRESH_DAYS = 400  # days one refresh of a tenant summarizes at most (the rest on its next round)

Span = tuple[datetime, datetime]


def closed_days(lo: datetime, hi: datetime, zone: ZoneInfo, now: datetime, *, whole_hours: bool = False
                ) -> list[Span]:
    """The tenant-local days inside [lo, hi) that ended by ``now``; with ``whole_hours``, none unless every one of
    them begins and ends on a UTC hour (zones with half-hour offsets)."""
    whole = [seg for seg in buckets.plan(lo, min(hi, now), zone) if seg.source is Source.DAY]
    if not whole:
        return []
    out: list[Span] = []
    day = whole[0].lo.astimezone(zone).date()
    while (start := buckets.local_midnight(day, zone)) < whole[0].hi:
        end = buckets.local_midnight(day + timedelta(days=1), zone)
        out.append((start, end))
        day += timedelta(days=1)
    if whole_hours and any((t - ORIGIN) % HOUR for span in out for t in span):
        return []
    return out


def _days_sql(p: Params, tenant: str, days: Sequence[tuple[int, datetime, datetime]]) -> str:
    """The days as rows (period, s: start, e: end, valid: its summary is current, i.e. its call count is the daily
    rollups', or it has neither calls nor a summary) with the summary's down hours. The days of all periods come
    in three arrays; their rollup counts are read over the span they cover (a range, cheap to plan)."""
    if not days:
        return ("SELECT NULL::integer AS period, NULL::timestamptz AS s, NULL::timestamptz AS e, "
                "NULL::boolean AS valid, NULL::integer AS down_hours WHERE FALSE")
    tp = p.add(tenant)
    lo, hi = p.add(min(s for _, s, _ in days)), p.add(max(e for _, _, e in days))
    return f"""SELECT d.period, d.s, d.e,
                      coalesce(c.calls, 0) = coalesce(r.n, 0) AND coalesce(c.day_end = d.e, true) AS valid, c.down_hours
               FROM unnest({p.add([k for k, _, _ in days])}::integer[], {p.add([s for _, s, _ in days])}::timestamptz[],
                           {p.add([e for _, _, e in days])}::timestamptz[]) AS d (period, s, e)
               LEFT JOIN closed_days c ON c.tenant_id = {tp} AND c.day_start = d.s
               LEFT JOIN (SELECT bucket, sum(n) AS n FROM rollups WHERE tenant_id = {tp} AND grain = 'day'
                          AND type = 'component.call' AND bucket >= {lo} AND bucket < {hi} GROUP BY bucket) r
                    ON r.bucket = d.s"""


def ends(lo: datetime, hi: datetime, days: Sequence[Span]) -> list[Span]:
    """What of [lo, hi) lies outside ``days`` (consecutive days): the partial days at its ends, or all of it."""
    if not days:
        return [(lo, hi)] if lo < hi else []
    return [(a, b) for a, b in ((lo, days[0][0]), (days[-1][1], hi)) if a < b]


def _down_hours_raw_sql(p: Params, tenant: str, spans: Sequence[Span], zone: ZoneInfo, tz: str) -> str:
    """Down hours of the spans, from hourly rollups and raw calls (a span's partial hours are hours of their own)."""
    segments: list[Segment] = [seg for lo, hi in spans for seg in buckets.plan(lo, hi, zone, Source.HOUR)]
    if not segments:
        return "SELECT NULL::timestamptz AS t WHERE FALSE"
    src = union_source(tenant, "component.call", segments, p, series=(HOUR, tz))
    return f"SELECT t FROM {src} s GROUP BY t HAVING sum(ok_calls) < {DOWN_SUCCESS} * sum(calls)"


def _down_in_day(tp: str, lo: str, hi: str) -> str:
    """How many hours of the day [lo, hi) (whole UTC hours) are down, from its hourly rollups."""
    return f"""(SELECT count(*) FROM (
                   SELECT bucket FROM rollup_component_call WHERE tenant_id = {tp} AND grain = 'hour'
                   AND bucket >= {lo} AND bucket < {hi} GROUP BY bucket
                   HAVING sum(ok_calls) < {DOWN_SUCCESS} * sum(calls)) h)"""


async def down_hours(conn: asyncpg.Connection, tenant: str, periods: Sequence[Span], zone: ZoneInfo, tz: str,
                     now: datetime) -> list[int]:
    """Per period [lo, hi), the hours whose component calls succeeded less than half the time, in one statement:
    closed days' from their summaries (a day whose summary is stale from its hourly rollups), the rest from
    rollups and raw calls."""
    p = Params()
    tp = p.add(tenant)
    days = [(k, s, e) for k, (lo, hi) in enumerate(periods)
            for s, e in closed_days(lo, hi, zone, now, whole_hours=True)]
    raw = [f"SELECT {k} AS period, count(*) AS down FROM ("
           f"{_down_hours_raw_sql(p, tenant, ends(lo, hi, [(s, e) for j, s, e in days if j == k]), zone, tz)}) d"
           for k, (lo, hi) in enumerate(periods)]
    # generic plan: a custom plan estimated every day of the arrays anew at each call (the most of its time)
    rows = await fetch_generic(conn,
        f"""WITH days AS ({_days_sql(p, tenant, days)})
            SELECT period, sum(down)::bigint AS down FROM (
                SELECT period, down_hours AS down FROM days WHERE valid
                UNION ALL SELECT period, {_down_in_day(tp, 'days.s', 'days.e')} FROM days WHERE NOT valid
                UNION ALL {" UNION ALL ".join(raw)}) x
            GROUP BY period""", *p.values)
    down = {r["period"]: int(r["down"] or 0) for r in rows}
    return [down.get(k, 0) for k in range(len(periods))]


def _runs_sql(p: Params, tenant: str, spans: str) -> str:
    """Per span (its period and start) and component: the RunPiece of the component's calls in the span (``spans``
    is a relation of (period, lo, hi)). Calls without ok are skipped and calls without a component belong to none;
    calls are in (occurred_at, event_id) order."""
    tp = p.add(tenant)
    return f"""
        SELECT period, piece, component, min(at) FILTER (WHERE NOT ok AND prev_ok IS NULL) AS lead_fail_at,
               min(at) FILTER (WHERE ok) AS first_ok_at,
               coalesce(sum((extract(epoch FROM next_ok - at) * 1000000)::bigint)
                        FILTER (WHERE NOT ok AND prev_ok AND next_ok IS NOT NULL), 0)::bigint AS runs_us,
               count(*) FILTER (WHERE NOT ok AND prev_ok AND next_ok IS NOT NULL)::integer AS runs_n,
               min(at) FILTER (WHERE NOT ok AND prev_ok AND next_ok IS NULL) AS trail_fail_at
        FROM (
            SELECT g.period, g.lo AS piece, c.component, c.occurred_at AS at, c.ok,
                   lag(c.ok) OVER w AS prev_ok,
                   -- the next successful call: over the calls before this one in reverse order, a frame whose head
                   -- stays put (a frame from 1 FOLLOWING moves its head each row, and min was then recomputed
                   -- over the rest of the partition for every call: quadratic in a component's calls)
                   min(c.occurred_at) FILTER (WHERE c.ok) OVER (back ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                       AS next_ok
            FROM ({spans}) g
            JOIN component_calls c ON c.tenant_id = {tp} AND c.occurred_at >= g.lo AND c.occurred_at < g.hi
            WHERE c.ok IS NOT NULL AND c.component IS NOT NULL
            WINDOW w AS (PARTITION BY g.period, g.lo, c.component ORDER BY c.occurred_at, c.event_id),
                   back AS (PARTITION BY g.period, g.lo, c.component ORDER BY c.occurred_at DESC, c.event_id DESC)
        ) calls
        GROUP BY period, piece, component"""


def fold_sql(pieces: str) -> str:
    """(period, total µs, runs) of the resolved failure runs over ``pieces`` (period, piece, component and a
    RunPiece's columns; a component's pieces of a period are consecutive spans, ordered by ``piece``).

    A run is counted at the piece it starts in: the runs within the piece (runs_us, runs_n); the run its first call
    starts, unless a run is open when the piece begins (the component's previous piece had no success, or ended
    in an open run), resolved by the piece's first success or else the next one of a later piece; and the run open
    at its end, resolved by the first success of a later piece. Runs unresolved at the period's end are not
    counted."""
    def us(a: str, b: str) -> str:
        return f"(extract(epoch FROM {b} - {a}) * 1000000)::bigint"
    return f"""
        SELECT period, sum(runs_us + coalesce({us('lead_fail_at', 'lead_end')}, 0)
                           + coalesce({us('trail_fail_at', 'trail_end')}, 0))::bigint AS runs_us,
               sum(runs_n + (lead_end IS NOT NULL)::integer + (trail_end IS NOT NULL)::integer)::bigint AS runs_n
        FROM (SELECT period, runs_us, runs_n, lead_fail_at, trail_fail_at,
                     CASE WHEN lead_fail_at IS NOT NULL AND open_before IS NOT TRUE
                          THEN coalesce(first_ok_at, next_ok) END AS lead_end,
                     CASE WHEN trail_fail_at IS NOT NULL THEN next_ok END AS trail_end
              FROM (SELECT period, runs_us, runs_n, lead_fail_at, trail_fail_at, first_ok_at,
                           lag(first_ok_at IS NULL OR trail_fail_at IS NOT NULL) OVER (
                               PARTITION BY period, component ORDER BY piece) AS open_before,
                           min(first_ok_at) OVER (PARTITION BY period, component ORDER BY piece DESC
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS next_ok
                    FROM ({pieces}) x) w) r
        GROUP BY period"""


_RUN_COLUMNS = "period, piece, component, lead_fail_at, first_ok_at, runs_us, runs_n, trail_fail_at"


async def failure_runs(conn: asyncpg.Connection, tenant: str, periods: Sequence[Span], zone: ZoneInfo,
                       now: datetime) -> list[tuple[int, int]]:
    """Per period [lo, hi), (total µs, runs) of the failure runs of every component that were resolved in it, in
    one statement: closed days' pieces from their summaries, the rest (the partial days at the ends, and a day
    whose summary is stale) from raw calls, folded in SQL."""
    p = Params()
    tp = p.add(tenant)
    days = [(k, s, e) for k, (lo, hi) in enumerate(periods) for s, e in closed_days(lo, hi, zone, now)]
    outside = [(k, a, b) for k, (lo, hi) in enumerate(periods)
               for a, b in ends(lo, hi, [(s, e) for j, s, e in days if j == k])]
    spans = (f"SELECT * FROM unnest({p.add([k for k, _, _ in outside])}::integer[], "
             f"{p.add([a for _, a, _ in outside])}::timestamptz[], {p.add([b for _, _, b in outside])}::timestamptz[])"
             f" AS g (period, lo, hi) UNION ALL SELECT period, s, e FROM days WHERE NOT valid")
    pieces = (f"SELECT d.period, r.day_start AS piece, r.component, r.lead_fail_at, r.first_ok_at, r.runs_us, "
              f"r.runs_n, r.trail_fail_at FROM days d JOIN closed_day_runs r ON r.tenant_id = {tp} "
              f"AND r.day_start = d.s WHERE d.valid "
              f"UNION ALL SELECT {_RUN_COLUMNS} FROM ({_runs_sql(p, tenant, spans)}) e")
    rows = await fetch_generic(conn, f"WITH days AS ({_days_sql(p, tenant, days)}) {fold_sql(pieces)}", *p.values)
    got = {r["period"]: (int(r["runs_us"]), int(r["runs_n"])) for r in rows}
    return [got.get(k, (0, 0)) for k in range(len(periods))]


async def refresh(conn: asyncpg.Connection, tenant: str, now: datetime, limit: int = REFRESH_DAYS) -> int:
    """Summarize the tenant's closed days (ended by ``now``) whose summary is missing or stale, latest first, at
    most ``limit``; return how many. ``conn`` is a tenant transaction."""
    tz = await conn.fetchval("SELECT coalesce(settings->>'timezone', 'UTC') FROM tenants WHERE tenant_id = $1", tenant)
    days = await conn.fetch(
        """SELECT r.bucket AS s, r.e, r.n FROM (
               SELECT bucket, ((bucket AT TIME ZONE $2)::date + 1)::timestamp AT TIME ZONE $2 AS e, sum(n) AS n
               FROM rollups WHERE tenant_id = $1 AND grain = 'day' AND type = 'component.call' GROUP BY bucket) r
           LEFT JOIN closed_days c ON c.tenant_id = $1 AND c.day_start = r.bucket
           WHERE r.e <= $3 AND (c.day_start IS NULL OR c.calls <> r.n OR c.day_end <> r.e)
           ORDER BY r.bucket DESC LIMIT $4""", tenant, tz, now, limit)
    if not days:
        return 0
    spans = sorted((r["s"], r["e"]) for r in days)
    await conn.execute(
        f"""INSERT INTO closed_days AS o (tenant_id, day_start, day_end, calls, down_hours)
            SELECT $1, d.s, d.e, d.n, {_down_in_day('$1', 'd.s', 'd.e')}
            FROM unnest($2::timestamptz[], $3::timestamptz[], $4::bigint[]) AS d (s, e, n) ORDER BY d.s
            ON CONFLICT (tenant_id, day_start) DO UPDATE SET day_end = EXCLUDED.day_end, calls = EXCLUDED.calls,
                down_hours = EXCLUDED.down_hours, computed_at = now()""",
        tenant, [r["s"] for r in days], [r["e"] for r in days], [r["n"] for r in days])
    p = Params()
    p.add(tenant)
    spans_sql = (f"SELECT 0 AS period, * FROM unnest({p.add([s for s, _ in spans])}::timestamptz[], "
                 f"{p.add([e for _, e in spans])}::timestamptz[]) AS g (lo, hi)")
    await conn.execute(
        f"""INSERT INTO closed_day_runs AS o (tenant_id, day_start, component, lead_fail_at, first_ok_at, runs_us,
                                              runs_n, trail_fail_at)
            SELECT $1, piece, component, lead_fail_at, first_ok_at, runs_us, runs_n, trail_fail_at
            FROM ({_runs_sql(p, tenant, spans_sql)}) r ORDER BY piece, component
            ON CONFLICT (tenant_id, day_start, component) DO UPDATE SET lead_fail_at = EXCLUDED.lead_fail_at,
                first_ok_at = EXCLUDED.first_ok_at, runs_us = EXCLUDED.runs_us, runs_n = EXCLUDED.runs_n,
                trail_fail_at = EXCLUDED.trail_fail_at""", *p.values)
    return len(days)
