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
A component's failure runs are folded day by day (``fold_runs``): a day reports whether its first call failed,
its first success, the runs that started after one of its successes and ended within it (sum of durations, count)
and the start of a run still open at its end; a run open at a day's end continues into the next day that has
calls of the component, and is resolved by that day's first success. Durations are kept in microseconds (the
resolution of timestamptz), so the mean equals the one computed from raw calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from success_metrics.calculators import buckets
from success_metrics.calculators.buckets import HOUR, ORIGIN, Segment, Source
from success_metrics.calculators.sql import Params, fetch_generic, union_source

DOWN_SUCCESS = 0.5  # an hour whose component calls succeed less than half the time counts as down
REFRESH_DAYS = 400  # days one refresh of a tenant summarizes at most (the rest on its next round)

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class RunPiece:
    """One span's failure runs of one component, as they compose with the spans before and after it."""

    lead_fail_at: datetime | None  # its first call's time, when that call failed
    first_ok_at: datetime | None  # its first successful call
    runs_us: int  # runs that started after a success in the span and ended within it: total µs
    runs_n: int  # and how many
    trail_fail_at: datetime | None  # start of a run that started after a success and is open at the span's end


def fold_runs(pieces: Iterable[RunPiece]) -> tuple[int, int]:
    """(total µs, runs) of the resolved failure runs of one component over consecutive spans, in time order."""
    total, n, open_at = 0, 0, None
    for p in pieces:
        if p.lead_fail_at is not None and open_at is None:
            open_at = p.lead_fail_at  # the span's first call failed after a success (or no call) before it
        if open_at is not None:
            if p.first_ok_at is None:
                continue  # failures only: the run goes on
            total, n, open_at = total + _us(p.first_ok_at - open_at), n + 1, None
        total, n = total + p.runs_us, n + p.runs_n
        open_at = p.trail_fail_at
    return total, n


def _us(d: timedelta) -> int:
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def closed_days(lo: datetime, hi: datetime, zone: ZoneInfo, now: datetime, *, whole_hours: bool = False
                ) -> list[Span]:
    """The tenant-local days inside [lo, hi) that ended by ``now``; with ``whole_hours``, none unless every one of
    them begins and ends on a UTC hour (zones with half-hour offsets)."""
    whole = [seg for seg in buckets.plan(lo, min(hi, now), zone, Source.DAY) if seg.source is Source.DAY]
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


def _days_sql(p: Params, tenant: str, days: Sequence[Span]) -> str:
    """The days as rows (s: start, valid: its summary is current, i.e. its call count is the daily rollups', or
    it has neither calls nor a summary) with the summary's columns (``c``)."""
    tp, starts = p.add(tenant), p.add([s for s, _ in days])
    return f"""SELECT d.s, coalesce(c.calls, 0) = coalesce(r.n, 0) AND coalesce(c.day_end = d.e, true) AS valid,
                      c.down_hours
               FROM unnest({starts}::timestamptz[], {p.add([e for _, e in days])}::timestamptz[]) AS d (s, e)
               LEFT JOIN closed_days c ON c.tenant_id = {tp} AND c.day_start = d.s
               LEFT JOIN (SELECT bucket, sum(n) AS n FROM rollups WHERE tenant_id = {tp} AND grain = 'day'
                          AND type = 'component.call' AND bucket = ANY({starts}::timestamptz[]) GROUP BY bucket) r
                    ON r.bucket = d.s"""


def _stale_spans(days: Sequence[Span], stale: Iterable[datetime]) -> list[Span]:
    """The stale days among ``days`` as spans, neighbours merged."""
    out: list[Span] = []
    wanted = set(stale)
    for start, end in (d for d in days if d[0] in wanted):
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


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


async def down_hours(conn: asyncpg.Connection, tenant: str, lo: datetime, hi: datetime, zone: ZoneInfo, tz: str,
                     now: datetime) -> int:
    """Hours in [lo, hi) whose component calls succeeded less than half the time: closed days' from their
    summaries, the rest from rollups and raw calls (and a day whose summary is stale, in a second statement)."""
    days = closed_days(lo, hi, zone, now, whole_hours=True)
    outside = ends(lo, hi, days)
    p = Params()
    # generic plan: a custom plan estimated every day of the arrays anew at each call (the most of its time)
    [r] = await fetch_generic(conn,
        f"""WITH days AS ({_days_sql(p, tenant, days)})
            SELECT (SELECT coalesce(sum(down_hours) FILTER (WHERE valid), 0) FROM days)
                   + (SELECT count(*) FROM ({_down_hours_raw_sql(p, tenant, outside, zone, tz)}) d) AS down,
                   (SELECT array_agg(s ORDER BY s) FROM days WHERE NOT valid) AS stale""", *p.values)
    down = int(r["down"])
    if r["stale"]:
        p = Params()
        down += int(await conn.fetchval(
            f"SELECT count(*) FROM ({_down_hours_raw_sql(p, tenant, _stale_spans(days, r['stale']), zone, tz)}) d",
            *p.values))
    return down


def _runs_sql(p: Params, tenant: str, spans: Sequence[Span]) -> str:
    """Per span (its start) and component: the RunPiece of the component's calls in the span. Calls without ok
    are skipped and calls without a component belong to none; calls are in (occurred_at, event_id) order."""
    tp = p.add(tenant)
    return f"""
        SELECT piece, component, min(at) FILTER (WHERE NOT ok AND prev_ok IS NULL) AS lead_fail_at,
               min(at) FILTER (WHERE ok) AS first_ok_at,
               coalesce(sum((extract(epoch FROM next_ok - at) * 1000000)::bigint)
                        FILTER (WHERE NOT ok AND prev_ok AND next_ok IS NOT NULL), 0)::bigint AS runs_us,
               count(*) FILTER (WHERE NOT ok AND prev_ok AND next_ok IS NOT NULL)::integer AS runs_n,
               min(at) FILTER (WHERE NOT ok AND prev_ok AND next_ok IS NULL) AS trail_fail_at
        FROM (
            SELECT g.lo AS piece, c.component, c.occurred_at AS at, c.ok,
                   lag(c.ok) OVER w AS prev_ok,
                   -- the next successful call: over the calls before this one in reverse order, a frame whose head
                   -- stays put (a frame from 1 FOLLOWING moves its head each row, and min was then recomputed
                   -- over the rest of the partition for every call: quadratic in a component's calls)
                   min(c.occurred_at) FILTER (WHERE c.ok) OVER (back ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                       AS next_ok
            FROM unnest({p.add([lo for lo, _ in spans])}::timestamptz[],
                        {p.add([hi for _, hi in spans])}::timestamptz[]) AS g (lo, hi)
            JOIN component_calls c ON c.tenant_id = {tp} AND c.occurred_at >= g.lo AND c.occurred_at < g.hi
            WHERE c.ok IS NOT NULL AND c.component IS NOT NULL
            WINDOW w AS (PARTITION BY g.lo, c.component ORDER BY c.occurred_at, c.event_id),
                   back AS (PARTITION BY g.lo, c.component ORDER BY c.occurred_at DESC, c.event_id DESC)
        ) calls
        GROUP BY piece, component"""


_RUN_COLUMNS = "piece, component, lead_fail_at, first_ok_at, runs_us, runs_n, trail_fail_at"


async def failure_runs(conn: asyncpg.Connection, tenant: str, lo: datetime, hi: datetime, zone: ZoneInfo,
                       now: datetime) -> tuple[int, int]:
    """(total µs, runs) of the failure runs of every component in [lo, hi) that were resolved in it: closed days'
    from their summaries, the rest from raw calls (and a day whose summary is stale, in a second statement)."""
    days = closed_days(lo, hi, zone, now)
    outside = ends(lo, hi, days)
    p = Params()
    tp = p.add(tenant)
    rows = await fetch_generic(conn,  # a stale day is a row without a component
        f"""WITH days AS ({_days_sql(p, tenant, days)})
            SELECT r.day_start AS piece, r.component, r.lead_fail_at, r.first_ok_at, r.runs_us, r.runs_n,
                   r.trail_fail_at
            FROM days JOIN closed_day_runs r ON r.tenant_id = {tp} AND r.day_start = days.s WHERE days.valid
            UNION ALL SELECT s, NULL, NULL, NULL, 0, 0, NULL FROM days WHERE NOT days.valid
            UNION ALL SELECT {_RUN_COLUMNS} FROM ({_runs_sql(p, tenant, outside)}) e""", *p.values)
    stale = [r["piece"] for r in rows if r["component"] is None]
    if stale:
        p = Params()
        rows += await conn.fetch(_runs_sql(p, tenant, _stale_spans(days, stale)), *p.values)
    rows.sort(key=lambda r: (r["component"] or "", r["piece"]))
    total = n = 0
    for component in dict.fromkeys(r["component"] for r in rows if r["component"] is not None):
        t, k = fold_runs(RunPiece(r["lead_fail_at"], r["first_ok_at"], r["runs_us"], r["runs_n"], r["trail_fail_at"])
                         for r in rows if r["component"] == component)
        total, n = total + t, n + k
    return total, n


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
            SELECT $1, d.s, d.e, d.n, (SELECT count(*) FROM (
                SELECT bucket FROM rollup_component_call WHERE tenant_id = $1 AND grain = 'hour'
                AND bucket >= d.s AND bucket < d.e GROUP BY bucket
                HAVING sum(ok_calls) < {DOWN_SUCCESS} * sum(calls)) h)
            FROM unnest($2::timestamptz[], $3::timestamptz[], $4::bigint[]) AS d (s, e, n) ORDER BY d.s
            ON CONFLICT (tenant_id, day_start) DO UPDATE SET day_end = EXCLUDED.day_end, calls = EXCLUDED.calls,
                down_hours = EXCLUDED.down_hours, computed_at = now()""",
        tenant, [r["s"] for r in days], [r["e"] for r in days], [r["n"] for r in days])
    p = Params()
    p.add(tenant)
    await conn.execute(
        f"""INSERT INTO closed_day_runs AS o (tenant_id, day_start, component, lead_fail_at, first_ok_at, runs_us,
                                              runs_n, trail_fail_at)
            SELECT $1, piece, component, lead_fail_at, first_ok_at, runs_us, runs_n, trail_fail_at
            FROM ({_runs_sql(p, tenant, spans)}) r ORDER BY piece, component
            ON CONFLICT (tenant_id, day_start, component) DO UPDATE SET lead_fail_at = EXCLUDED.lead_fail_at,
                first_ok_at = EXCLUDED.first_ok_at, runs_us = EXCLUDED.runs_us, runs_n = EXCLUDED.runs_n,
                trail_fail_at = EXCLUDED.trail_fail_at""", *p.values)
    return len(days)
