"""Access Audit: who accessed what and when, failures and denials, exports — read from the hash-chained
audit log (0004_rbac_audit.sql). Every figure is security data; the tables name the subject of each row.
"""

from __future__ import annotations

import asyncpg

from success_metrics.calculators import buckets, shapes
from success_metrics.calculators.catalog import GRANULARITY, metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.sql import Params, bucket_expr
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Kind, Sensitivity, Unit

MAX_ROWS = 500  # a panel is for reading; the full log is paged by GET /api/audit/events
SEC = Sensitivity.SECURITY
# Security, not personal: the subject is what an auditor reviews (auditors see security data, not agents'
# personal data), and only roles allowed security metrics can query these at all.
SUBJECT = shapes.Col("subject", ColumnType.STRING, field="subject")
TIME = shapes.Col("time", ColumnType.TIME)
# what a record was about: the metrics it queried, else what it exported, its report, its route, else its resource
SUMMARY = """coalesce(nullif(array_to_string(ARRAY(SELECT jsonb_array_elements_text(
                 CASE WHEN jsonb_typeof(resource->'metrics') = 'array' THEN resource->'metrics'
                 ELSE '[]'::jsonb END)), ', '), ''),
             resource->>'what', resource->>'report', resource->>'route', left(resource::text, 200))"""
FAILED = "(action = 'auth.failure' OR outcome = 'denied')"


def _sec(name: str, unit: Unit | None = None) -> shapes.Col:
    return shapes.Col(name, unit=unit)


def _sec_text(name: str) -> shapes.Col:
    return shapes.Col(name, ColumnType.STRING)


def _capped(rows: list[asyncpg.Record]) -> list[str]:
    if len(rows) <= MAX_ROWS:
        return []
    return [(f"Showing the newest {MAX_ROWS} records only; narrow the time range, or page through all of them "
             "with GET /api/audit/events.")]


@metric("audit.access_log", "Access Log",
        f"Every audit record in the range, newest first (at most {MAX_ROWS}): time, subject, role, action, what it "
        "was about (metrics queried, export, route), outcome, HTTP status, fields masked, rows returned, latency "
        "(ms).", Unit.TEXT, Kind.TABLE, sensitivity=SEC,
        inputs=("access_records", "audit_subjects"))
async def access_log(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    cols = [TIME, SUBJECT, _sec_text("role"), _sec_text("action"), _sec_text("resource"), _sec_text("outcome"),
            _sec("status"), _sec_text("masked_fields"), _sec("rows_returned", Unit.COUNT),
            _sec("latency_ms", Unit.MS)]
    rows = await conn.fetch(
        f"""SELECT at, subject, role, action, {SUMMARY} AS resource, outcome, status,
                   array_to_string(masked_fields, ', ') AS masked, rows_returned, latency_ms
            FROM audit_log WHERE tenant_id = $1 AND at >= $2 AND at < $3
            ORDER BY at DESC, seq DESC LIMIT {MAX_ROWS + 1}""", sq.tenant_id, q.start, q.end)
    out = [(buckets.epoch_ms(r["at"]), *tuple(r.values())[1:]) for r in rows[:MAX_ROWS]]
    return shapes.table("audit.access_log", cols, out, notices=_capped(rows))


@metric("audit.failures", "Failures and Denials",
        "Authentication failures and refused requests (outcome denied) per bucket, one series per action "
        "(auth.failure and access.denied always; any other action with a refusal in the range).", Unit.COUNT,
        Kind.TIMESERIES, options=(GRANULARITY,), sensitivity=SEC, lower_is_better=True,
        inputs=("access_records",))
async def failures(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    width = buckets.series_width(q)
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    series: dict[str, dict] = {"auth.failure": {}, "access.denied": {}}
    p = Params()
    t = bucket_expr("at", width, s.timezone, p)
    for r in await conn.fetch(
            f"SELECT {t} AS t, action, count(*) AS n FROM audit_log WHERE tenant_id = {p.add(sq.tenant_id)} "
            f"AND {FAILED} AND at >= {p.add(q.start)} AND at < {p.add(q.end)} GROUP BY 1, 2 ORDER BY 2",
            *p.values):
        series.setdefault(r["action"], {})[r["t"]] = r["n"]
    return shapes.series("audit.failures", starts, series, Unit.COUNT, count=True)


@metric("audit.exports", "Exports",
        f"Exports in the range, newest first (at most {MAX_ROWS}): time, subject, role, what was exported (audit "
        "log, a report), format or delivery, outcome, rows.", Unit.TEXT, Kind.TABLE, sensitivity=SEC,
        inputs=("access_records", "audit_subjects"))
async def exports(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    cols = [TIME, SUBJECT, _sec_text("role"), _sec_text("resource"), _sec_text("format"), _sec_text("outcome"),
            _sec("rows", Unit.COUNT)]
    rows = await conn.fetch(
        f"""SELECT at, subject, role, concat_ws(' ', {SUMMARY}, resource->>'period') AS resource,
                   coalesce(resource->>'format', resource->>'via') AS format, outcome, rows_returned
            FROM audit_log WHERE tenant_id = $1 AND action = 'export' AND at >= $2 AND at < $3
            ORDER BY at DESC, seq DESC LIMIT {MAX_ROWS + 1}""", sq.tenant_id, q.start, q.end)
    out = [(buckets.epoch_ms(r["at"]), *tuple(r.values())[1:]) for r in rows[:MAX_ROWS]]
    return shapes.table("audit.exports", cols, out, notices=_capped(rows))
