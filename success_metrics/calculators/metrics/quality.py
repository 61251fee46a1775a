"""Data quality (spec: automated data validation), per tenant and event type, as of the range's end.

Every figure is aggregated in SQL: freshness and volume from the hourly rollups (the last 8 weeks), the exact
last event from the event log's (tenant, type, time) index, rejections, duplicates and late arrivals from the
ingest tallies (migration 0015) over the range, impossible sequences and unknown sources from lead state and
the events of the range's leads, unknown agents from the agent roster. ``quality_rows`` is read by the
``data.quality`` table and, counted, by the ``alerts.data_quality_issues`` alert figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from success_metrics.calculators import shapes
from success_metrics.calculators.catalog import metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.sql import fetch_one
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Kind, Unit

LOOKBACK = timedelta(days=56)  # cadence: the gaps between active hours over the last 8 weeks
STALE_FACTOR = 2.0  # stale: no event for more than twice the usual (95th percentile) gap
MIN_BASELINE = 10.0  # a weekday baseline under this many events is too small to call an anomaly
DROP, SPIKE = 0.5, 2.0  # the last 24 h under half, or over twice, the same weekday's mean
REJECTED_HIGH, DUPLICATES_HIGH, LATE_HIGH = 5.0, 20.0, 10.0  # percent
TOP_REASONS = 3
OK, UNKNOWN = "ok", "unknown"


@dataclass(frozen=True, slots=True)
class Row:
    check: str
    type: str
    value: float | None
    expected: float | None
    unit: str
    status: str
    detail: str = ""
    agent: str | None = None

    @property
    def issue(self) -> bool:
        return self.status not in (OK, UNKNOWN)


_ARRIVALS = """
WITH h AS (
    SELECT type, bucket, sum(n) AS n,
           floor((extract(epoch FROM $3 - bucket) - 3600) / 86400)::int AS day_index
    FROM rollups WHERE tenant_id = $1 AND grain = 'hour' AND bucket >= $2::timestamptz - $4::interval AND bucket < $3
    GROUP BY type, bucket
), gaps AS (
    SELECT type, extract(epoch FROM bucket - lag(bucket) OVER (PARTITION BY type ORDER BY bucket)) / 3600 AS gap_h
    FROM h
), usual AS (
    SELECT type, percentile_cont(0.95) WITHIN GROUP (ORDER BY gap_h) AS gap_h, count(*) AS gaps
    FROM gaps WHERE gap_h IS NOT NULL GROUP BY type
), vol AS (
    SELECT type, coalesce(sum(n) FILTER (WHERE day_index = 0), 0) AS last_day,
           sum(n) FILTER (WHERE day_index IN (7, 14, 21, 28)) AS same_weekdays,
           count(*) FILTER (WHERE day_index IN (7, 14, 21, 28) AND n > 0) AS hours_then,
           count(DISTINCT day_index) FILTER (WHERE day_index IN (7, 14, 21, 28)) AS weeks
    FROM h GROUP BY type
)
SELECT vol.type, vol.last_day, vol.same_weekdays / nullif(vol.weeks, 0) AS baseline, usual.gap_h, usual.gaps,
       (SELECT max(e.occurred_at) FROM events e WHERE e.tenant_id = $1 AND e.type = vol.type
           AND e.occurred_at < $2 AND e.occurred_at >= $2::timestamptz - $4::interval) AS last_at
FROM vol LEFT JOIN usual USING (type) ORDER BY vol.type
"""

_TALLIES = """
WITH t AS (
    SELECT type, reason, sum(accepted) AS accepted, sum(duplicates) AS duplicates, sum(rejected) AS rejected,
           sum(late) FILTER (WHERE source = 'api') AS late, sum(accepted) FILTER (WHERE source = 'api') AS live
    FROM ingest_tallies WHERE tenant_id = $1 AND at >= $2 AND at < $3 GROUP BY type, reason
), ranked AS (
    SELECT type, reason, rejected, row_number() OVER (PARTITION BY type ORDER BY rejected DESC, reason) AS rank
    FROM t WHERE reason <> ''
)
SELECT type, sum(accepted) AS accepted, sum(duplicates) AS duplicates, sum(rejected) AS rejected,
       coalesce(sum(late), 0) AS late, coalesce(sum(live), 0) AS live,
       (SELECT string_agg(r.reason || ' (' || r.rejected || ')', '; ' ORDER BY r.rank) FROM ranked r
         WHERE r.type = t.type AND r.rank <= $4) AS top_reasons
FROM t GROUP BY type ORDER BY type
"""

_SEQUENCES = """
WITH l AS (SELECT lead_id, created_at, closed_at, appointment_at FROM leads
           WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3),
     contacted AS (SELECT DISTINCT e.lead_id FROM events e JOIN l USING (lead_id)
                   WHERE e.tenant_id = $1 AND e.type IN ('contact.attempted', 'lead.responded')
                     AND e.occurred_at < l.created_at)
SELECT count(*) FILTER (WHERE closed_at < created_at) AS closed,
       count(*) FILTER (WHERE appointment_at < created_at) AS booked,
       (SELECT count(*) FROM contacted) AS contacted
FROM l
"""

# agents the range's events name that no routing or activity event ever introduced (no name, no team)
_UNKNOWN_AGENTS = """
SELECT e.agent_id, count(*) AS n FROM events e JOIN agents a ON a.tenant_id = e.tenant_id AND a.agent_id = e.agent_id
WHERE e.tenant_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3 AND e.agent_id IS NOT NULL
  AND a.name = a.agent_id AND a.team_id IS NULL
GROUP BY 1 ORDER BY 1
"""

# leads the range's events concern whose lead.created never arrived: their source (and creation) is unknown
_UNKNOWN_SOURCES = """
SELECT count(DISTINCT e.lead_id) FROM events e JOIN leads l ON l.tenant_id = e.tenant_id AND l.lead_id = e.lead_id
WHERE e.tenant_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3 AND l.created_at IS NULL
"""


def _pct(part: int, whole: int) -> float | None:
    return None if not whole else 100.0 * part / whole


def _flag(rate: float | None, high: float) -> str:
    return "high" if rate is not None and rate > high else OK


def _freshness(r: asyncpg.Record, end: datetime) -> Row:
    age = None if r["last_at"] is None else (end - r["last_at"]) / timedelta(hours=1)
    usual = None if r["gap_h"] is None or r["gaps"] < 2 else float(r["gap_h"])
    status = UNKNOWN if usual is None or age is None else ("stale" if age > STALE_FACTOR * usual else OK)
    return Row("freshness", r["type"], age, usual, "hours since the last event / usual gap", status)


def _volume(r: asyncpg.Record) -> Row:
    last, base = float(r["last_day"]), None if r["baseline"] is None else float(r["baseline"])
    status = UNKNOWN if base is None or base < MIN_BASELINE else (
        "drop" if last < DROP * base else "spike" if last > SPIKE * base else OK)
    return Row("volume", r["type"], last, base, "events in the last 24 h / same weekday's mean", status)


def _ingest(r: asyncpg.Record) -> list[Row]:
    accepted, duplicates, rejected = int(r["accepted"]), int(r["duplicates"]), int(r["rejected"])
    rejected_pct = _pct(rejected, accepted + duplicates + rejected)
    duplicates_pct = _pct(duplicates, accepted + duplicates)
    late_pct = _pct(int(r["late"]), int(r["live"]))
    return [Row("rejections", r["type"], rejected_pct, REJECTED_HIGH, "percent", _flag(rejected_pct, REJECTED_HIGH),
                r["top_reasons"] or ""),
            Row("duplicates", r["type"], duplicates_pct, DUPLICATES_HIGH, "percent",
                _flag(duplicates_pct, DUPLICATES_HIGH)),
            Row("late_arrivals", r["type"], late_pct, LATE_HIGH, "percent", _flag(late_pct, LATE_HIGH))]


async def quality_rows(conn: asyncpg.Connection, tenant_id: str, start: datetime, end: datetime) -> list[Row]:
    """Every check's row for the tenant: freshness and volume as of ``end``, the rest over [start, end)."""
    hour = end.replace(minute=0, second=0, microsecond=0)
    rows: list[Row] = []
    for r in await conn.fetch(_ARRIVALS, tenant_id, end, hour, LOOKBACK):
        rows += [_freshness(r, end), _volume(r)]
    for r in await conn.fetch(_TALLIES, tenant_id, start, end, TOP_REASONS):
        rows += _ingest(r)
    seq = await fetch_one(conn, _SEQUENCES, tenant_id, start, end)
    for name, column in (("closed before created", "closed"), ("appointment before created", "booked"),
                         ("contacted before created", "contacted")):
        rows.append(Row("impossible_sequence", "", float(seq[column]), 0, "leads",
                        "found" if seq[column] else OK, name))
    rows += [Row("unknown_agent", "", float(r["n"]), None, "events", "found", agent=r["agent_id"])
             for r in await conn.fetch(_UNKNOWN_AGENTS, tenant_id, start, end)]
    orphans = await conn.fetchval(_UNKNOWN_SOURCES, tenant_id, start, end)
    rows.append(Row("unknown_source", "lead.created", float(orphans), 0, "leads", "found" if orphans else OK,
                    "leads with events but no lead.created"))
    return rows


PUBLIC_INPUTS = ("event_arrivals", "ingest_tallies", "leads", "lead_funnel")


@metric("data.quality", "Data Quality",
        "Per event type: freshness (hours since its last event against its usual gap, the 95th percentile of gaps "
        "between active hours over 8 weeks; stale past twice that), volume (events in the last 24 whole hours "
        "against the mean of the same 24 hours on the same weekday of the 4 weeks before; drop under half, spike "
        "over twice, judged from a mean of 10), rejection rate and top reasons (field: rule), duplicate rate, "
        "late-arrival rate (live API events stored over an hour after they occurred) over the range. Leads created "
        "in the range with impossible sequences (closed, booked or contacted before created), agents the range's "
        "events name that no routing or activity event introduced, and leads the range's events concern whose "
        "lead.created never arrived (source unknown). Status: ok, unknown (too little history), or what is wrong.",
        Unit.TEXT, Kind.TABLE, inputs=(*PUBLIC_INPUTS, "agent_identity"),
        lineage={c: PUBLIC_INPUTS for c in ("check", "type", "value", "expected", "unit", "status", "detail")}
        | {"agent": ("agent_identity",)})
async def data_quality(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    rows = await quality_rows(conn, sq.tenant_id, q.start, q.end)
    cols = [shapes.text("check"), shapes.text("type"), shapes.num("value"), shapes.num("expected"),
            shapes.text("unit"), shapes.text("status"), shapes.text("detail"),
            shapes.Col("agent", ColumnType.STRING, field="agent")]
    return shapes.table(q.metric, cols, [(r.check, r.type, r.value, r.expected, r.unit, r.status, r.detail, r.agent)
                                         for r in rows])
