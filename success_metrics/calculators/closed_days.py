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
all the periods a metric compares (summaries, stale days and raw ends together), folded in SQL; failure runs are
read from the failures themselves instead where a period has few.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from success_metrics.calculators import buckets
from success_metrics.calculators.buckets import HOUR, ORIGIN, Segment, Source
from success_metrics.calculators.sql import Params, union_source

DOWN_SUCCESS = 0.5  # an hour whose component calls succeed less than half the time counts as down
REFRESH_DAYS = 400  # days one refresh of a tenant summarizes at most (the rest on its next round)

Span = tuple[datetime, datetime]
# up to this many failures errors.mttr reads the runs from them even where the period spans fewer days: the fold's
# fixed cost (its statement, the check of each day's summary, the raw edges' calls) is that of some 30 failures
DIRECT_RUNS_MIN = 32


def closed_days(lo: datetime, hi: datetime, zone: ZoneInfo, now: datetime, *, whole_hours: bool = False
                ) -> list[Span]:
    """The tenant-local days inside [lo, hi) that ended by ``now``; with ``whole_hours``, none unless every one of
    them begins and ends on a UTC hour (zones with half-hour offsets)."""
    whole = [seg for seg in buckets.plan(lo, min(hi, now), zone, Source.DAY) if seg.source is Source.DAY]
    if not whole:
        return []
    first, end = whole[0].lo.astimezone(zone).date(), whole[0].hi.astimezone(zone).date()
    starts: list[datetime] = []
    on_hours = True
    for year in range(first.year, end.year + 1):
        midnights, on = _midnights(zone, year)
        i = (first - date(year, 1, 1)).days if year == first.year else 0
        j = (end - date(year, 1, 1)).days + 1 if year == end.year else len(midnights) - 1
        starts += midnights[i:j]
        on_hours = on_hours and all(on[i:j])
    return [] if whole_hours and not on_hours else list(itertools.pairwise(starts))


@functools.lru_cache(maxsize=128)
def _midnights(zone: ZoneInfo, year: int) -> tuple[tuple[datetime, ...], tuple[bool, ...]]:
    """The UTC times of the zone's local midnights from 1 January of ``year`` to 1 January of the next, and whether
    each falls on a UTC hour: made once a zone and year, where a range's closed days are read from."""
    first = date(year, 1, 1)
    times = tuple(buckets.local_midnight(first + timedelta(days=i), zone)
                  for i in range((date(year + 1, 1, 1) - first).days + 1))
    return times, tuple(not (t - ORIGIN) % HOUR for t in times)


def _days_sql(p: Params, tenant: str, zone: ZoneInfo, days: Sequence[tuple[int, Sequence[Span]]]) -> str:
    """The closed days of each period (consecutive) as rows (period, s: start, e: end, valid: its summary is
    current, i.e. its call count is the daily rollups', or it has neither calls nor a summary) with the summary's
    down hours. The days are made in SQL from each period's first local day and their number (as the rollups'
    days are), and their rollup counts read over the span they cover."""
    spans = [(k, d) for k, d in days if d]
    if not spans:
        return ("SELECT NULL::integer AS period, NULL::timestamptz AS s, NULL::timestamptz AS e, "
                "NULL::boolean AS valid, NULL::integer AS down_hours WHERE FALSE")
    tp, tz = p.add(tenant), p.add(zone.key)
    lo, hi = p.add(min(d[0][0] for _, d in spans)), p.add(max(d[-1][1] for _, d in spans))
    made = (f"SELECT g.period, (g.first + i)::timestamp AT TIME ZONE {tz} AS s, "
            f"(g.first + i + 1)::timestamp AT TIME ZONE {tz} AS e "
            f"FROM unnest({p.add([k for k, _ in spans])}::integer[], "
            f"{p.add([d[0][0].astimezone(zone).date() for _, d in spans])}::date[], "
            f"{p.add([len(d) for _, d in spans])}::integer[]) AS g (period, first, n), generate_series(0, g.n - 1) i")
    return f"""SELECT d.period, d.s, d.e,
                      coalesce(c.calls, 0) = coalesce(r.n, 0) AND coalesce(c.day_end = d.e, true) AS valid, c.down_hours
               FROM ({made}) d
               LEFT JOIN closed_days c ON c.tenant_id = {tp} AND c.day_start = d.s AND c.day_start >= {lo}
                    AND c.day_start < {hi}
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
    days = [(k, closed_days(lo, hi, zone, now, whole_hours=True)) for k, (lo, hi) in enumerate(periods)]
    raw = [f"SELECT {k} AS period, count(*) AS down FROM ("
           f"{_down_hours_raw_sql(p, tenant, ends(lo, hi, d), zone, tz)}) d"
           for (lo, hi), (k, d) in zip(periods, days, strict=True)]
    # on its generic plan (success_metrics.query.answer): a custom plan estimated every day of the arrays anew at
    # each call, the most of its time
    rows = await conn.fetch(
        f"""WITH days AS ({_days_sql(p, tenant, zone, days)})
            SELECT period, sum(down)::bigint AS down FROM (
                SELECT period, down_hours AS down FROM days WHERE valid
                UNION ALL SELECT period, {_down_in_day(tp, 'days.s', 'days.e')} FROM days WHERE NOT valid
                UNION ALL {" UNION ALL ".join(raw)}) x
            GROUP BY period""", *p.values)
    down = {r["period"]: int(r["down"] or 0) for r in rows}
    return [down.get(k, 0) for k in range(len(periods))]


def _runs_sql(p: Params, tenant: str, spans: str) -> str:
    """Per span (its period and start) and component: how the component's failure runs in the span compose with
    the spans around it (the columns of ``closed_day_runs``); ``spans`` is a relation of (period, lo, hi). Calls
    without ok are skipped and calls without a component belong to none; calls are in (occurred_at, event_id)
    order."""
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
    """(period, total µs, runs) of the resolved failure runs over ``pieces``: period, piece (its start), component,
    a piece's columns (``_runs_sql``) and ``resolved``, the component's first success after the run open at the
    piece's end, if one is and that success is in the period. A component's pieces of a period are consecutive
    spans in ``piece`` order; pieces without a failure may be left out (they start no run, and end none that
    ``resolved`` does not already tell).

    A run is counted at the piece it starts in: the runs within the piece (runs_us, runs_n); the run its first call
    starts, unless a run is still open when the piece begins (the component's previous piece with failures ended
    in one, not resolved before this piece), resolved by the piece's first success or else ``resolved``; and the
    run open at its end, resolved at ``resolved``. Runs unresolved at the period's end are not counted."""
    def us(a: str, b: str) -> str:
        return f"(extract(epoch FROM {b} - {a}) * 1000000)::bigint"
    return f"""
        SELECT period, sum(runs_us + coalesce({us('lead_fail_at', 'lead_end')}, 0)
                           + coalesce({us('trail_fail_at', 'trail_end')}, 0))::bigint AS runs_us,
               sum(runs_n + (lead_end IS NOT NULL)::integer + (trail_end IS NOT NULL)::integer)::bigint AS runs_n
        FROM (SELECT period, runs_us, runs_n, lead_fail_at, trail_fail_at,
                     CASE WHEN lead_fail_at IS NOT NULL
                               AND NOT (coalesce(open_before, false) AND coalesce(open_until >= piece, true))
                          THEN coalesce(first_ok_at, resolved) END AS lead_end,
                     CASE WHEN trail_fail_at IS NOT NULL THEN resolved END AS trail_end
              FROM (SELECT x.*, lag(first_ok_at IS NULL OR trail_fail_at IS NOT NULL) OVER w AS open_before,
                           lag(resolved) OVER w AS open_until
                    FROM ({pieces}) x WINDOW w AS (PARTITION BY period, component ORDER BY piece)) w) r
        GROUP BY period"""


_RUN_COLUMNS = "period, piece, component, lead_fail_at, first_ok_at, runs_us, runs_n, trail_fail_at"


# the failure runs of one period [$2, $3) read from its failures (the partial index component_calls_failed), when
# they are at most $4 (else no run, only their count, one past $4 at most): a failure starts a run when the
# component's previous call in the period succeeded or there is none, and the run is resolved by the component's
# first success after it in the period; both found through the primary key
_DIRECT_RUNS = """
    SELECT p.k - 1 AS period, x.* FROM unnest($2::timestamptz[], $3::timestamptz[], $4::bigint[]) WITH ORDINALITY
        AS p (lo, hi, most, k)
    CROSS JOIN LATERAL (
        WITH failed AS (
            SELECT f.component, f.occurred_at, f.event_id FROM component_calls f
            WHERE f.tenant_id = $1 AND f.occurred_at >= p.lo AND f.occurred_at < p.hi AND NOT f.ok
            AND f.component IS NOT NULL LIMIT p.most + 1),
        starts AS (
            SELECT f.* FROM failed f WHERE coalesce((
                SELECT c.ok FROM component_calls c WHERE c.tenant_id = $1 AND c.occurred_at >= p.lo
                AND (c.occurred_at, c.event_id) < (f.occurred_at, f.event_id) AND c.component = f.component
                AND c.ok IS NOT NULL ORDER BY c.occurred_at DESC, c.event_id DESC LIMIT 1), true))
        SELECT (SELECT count(*) FROM failed) AS failures,
               coalesce(sum((extract(epoch FROM r.at - s.occurred_at) * 1000000)::bigint), 0)::bigint AS runs_us,
               count(*)::bigint AS runs_n
        FROM starts s CROSS JOIN LATERAL (
            SELECT c.occurred_at AS at FROM component_calls c WHERE c.tenant_id = $1 AND c.occurred_at < p.hi
            AND (c.occurred_at, c.event_id) > (s.occurred_at, s.event_id) AND c.component = s.component AND c.ok
            ORDER BY c.occurred_at, c.event_id LIMIT 1) r
        WHERE (SELECT count(*) FROM failed) <= p.most) x"""


async def failure_runs(conn: asyncpg.Connection, tenant: str, periods: Sequence[Span], zone: ZoneInfo,
                       now: datetime) -> list[tuple[int, int]]:
    """Per period [lo, hi), (total µs, runs) of the failure runs of every component that were resolved in it, by
    the cheaper of two reads. Every period's runs are read from its failures, in one statement, where they are no
    more than the days it spans or ``DIRECT_RUNS_MIN`` (two index probes a failure cost less than a closed day's
    summary and its check, and than the fold's own fixed cost); the periods with more are folded from their days
    in one more statement (``_folded_runs``)."""
    most = [max(math.ceil((hi - lo) / timedelta(days=1)), DIRECT_RUNS_MIN) for lo, hi in periods]
    rows = await conn.fetch(_DIRECT_RUNS, tenant, [lo for lo, _ in periods], [hi for _, hi in periods], most)
    got: list[tuple[int, int] | None] = [
        (int(r["runs_us"]), int(r["runs_n"])) if r["failures"] <= most[r["period"]] else None
        for r in sorted(rows, key=lambda r: r["period"])]
    if folded := [k for k, g in enumerate(got) if g is None]:
        spans = [periods[k] for k in folded]
        days = [(i, closed_days(lo, hi, zone, now)) for i, (lo, hi) in enumerate(spans)]
        rows = await _folded_runs(conn, tenant, spans, days, zone)
        runs = {r["period"]: (int(r["runs_us"]), int(r["runs_n"])) for r in rows}
        for i, k in enumerate(folded):
            got[k] = runs.get(i, (0, 0))
    return [g or (0, 0) for g in got]


async def _folded_runs(conn: asyncpg.Connection, tenant: str, periods: Sequence[Span],
                       days: Sequence[tuple[int, Sequence[Span]]], zone: ZoneInfo) -> list[asyncpg.Record]:
    """(period, runs_us, runs_n) rows of the periods (by index) folded from pieces, in one statement: the pieces
    with failures of closed days from their summaries, of the rest (the partial days at the ends, and a day whose
    summary is stale) from raw calls; a run open at a piece's end is resolved by the component's next success,
    looked up by primary key, so only pieces with failures are folded (a few percent of a component's days)."""
    p = Params()
    tp = p.add(tenant)
    outside = [(k, a, b) for (lo, hi), (k, d) in zip(periods, days, strict=True) for a, b in ends(lo, hi, d)]
    spans = (f"SELECT * FROM unnest({p.add([k for k, _, _ in outside])}::integer[], "
             f"{p.add([a for _, a, _ in outside])}::timestamptz[], {p.add([b for _, _, b in outside])}::timestamptz[])"
             f" AS g (period, lo, hi) UNION ALL SELECT period, s, e FROM days WHERE NOT valid")
    failing = "(x.lead_fail_at IS NOT NULL OR x.trail_fail_at IS NOT NULL OR x.runs_n > 0)"
    pieces = f"SELECT {_RUN_COLUMNS} FROM ({_runs_sql(p, tenant, spans)}) x WHERE {failing}"
    if summarized := [d for _, d in days if d]:  # bounded, so that a generic plan scans the range's days only
        lo, hi = p.add(min(d[0][0] for d in summarized)), p.add(max(d[-1][1] for d in summarized))
        pieces += (f" UNION ALL SELECT d.period, x.day_start AS piece, x.component, x.lead_fail_at, x.first_ok_at, "
                   f"x.runs_us, x.runs_n, x.trail_fail_at FROM days d JOIN closed_day_runs x ON x.tenant_id = {tp} "
                   f"AND x.day_start = d.s AND x.day_start >= {lo} AND x.day_start < {hi} WHERE d.valid AND {failing}")
    bounds = (f"unnest({p.add(list(range(len(periods))))}::integer[], "
              f"{p.add([hi for _, hi in periods])}::timestamptz[]) AS b (period, hi)")
    # the run open at a piece's end (if one is): after its start, the component's first success in the period. The
    # pieces are materialized, so the lookup's lower bound is a plain column its index scan starts from (over the
    # union's own output, the planner only filtered by it)
    opened = f"""SELECT x.*, b.hi, CASE WHEN x.first_ok_at IS NULL OR x.trail_fail_at IS NOT NULL
                                        THEN coalesce(x.trail_fail_at, x.lead_fail_at) END AS open_at
                 FROM ({pieces}) x JOIN {bounds} ON b.period = x.period"""
    resolved = f"""SELECT x.*, r.at AS resolved FROM opened x LEFT JOIN LATERAL (
                       SELECT c.occurred_at AS at FROM component_calls c WHERE c.tenant_id = {tp}
                       AND c.occurred_at > x.open_at AND c.occurred_at < x.hi AND c.component = x.component AND c.ok
                       ORDER BY c.occurred_at LIMIT 1) r ON true"""
    return list(await conn.fetch(f"WITH days AS ({_days_sql(p, tenant, zone, days)}), "
                                 f"opened AS MATERIALIZED ({opened}) {fold_sql(resolved)}", *p.values))


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
