"""What alert rules measure, as catalog entries: the figures each rule condition reads over its window.

Not on any dashboard (``dashboard=False``): alert evaluation asks for them through the data source's answer
path like any other metric, so their sensitivity decides who may see them. A rule's own parameters (minimum
calls, which audit actions, how long a lead may wait, which target) are applied to these frames by the
evaluator (success_metrics/notify/alerts/conditions.py); the SQL is here, once.
"""

from __future__ import annotations

import asyncpg

from success_metrics.calculators import buckets, shapes
from success_metrics.calculators.catalog import Option, metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.metrics import quality
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.sql import fetch_one
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Dimension, Kind, Sensitivity, Unit

STAGE = Option("stage", "Stage", ("appointment", "close"), default="appointment")
MEASURE = Option("measure", "Measure", ("revenue", "deals", "leads"), default="revenue")


@metric("alerts.component_calls", "Component Calls in the Range",
        "Per component, from the raw component.call events in the range: calls, failed calls (ok = false) and the "
        "p95 latency (ms) of calls that report one.", Unit.TEXT, Kind.TABLE, dimensions=(Dimension.COMPONENT,),
        dashboard=False,
        inputs=("component_calls", "component_latency_ms"))
async def component_calls(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    wanted = [v for f in q.filters if f.dimension is Dimension.COMPONENT for v in f.values] or None
    rows = await conn.fetch(
        """SELECT payload->>'component' AS component, count(*) AS calls,
                  count(*) FILTER (WHERE NOT coalesce((payload->>'ok')::boolean, true)) AS failed,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY (payload->>'latency_ms')::float8) AS p95
           FROM events
           WHERE tenant_id = $1 AND type = 'component.call' AND occurred_at >= $2 AND occurred_at < $3
             AND ($4::text[] IS NULL OR payload->>'component' = ANY($4))
           GROUP BY 1 ORDER BY 1""", sq.tenant_id, q.start, q.end, wanted)
    cols = [shapes.Col("component", ColumnType.STRING, field="component"), shapes.num("calls", Unit.COUNT),
            shapes.num("failed", Unit.COUNT), shapes.num("p95_ms", Unit.MS)]
    return shapes.table(q.metric, cols, [(r["component"], r["calls"], r["failed"], r["p95"]) for r in rows])


@metric("security.audit_actions", "Audit Records by Action",
        "Records of the access audit log in the range, per action (query, export, policy.change, auth.failure …).",
        Unit.TEXT, Kind.TABLE, sensitivity=Sensitivity.SECURITY, dashboard=False,
        inputs=("access_records",))
async def audit_actions(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    rows = await conn.fetch(
        "SELECT action, count(*) AS n FROM audit_log WHERE tenant_id = $1 AND at >= $2 AND at < $3 "
        "GROUP BY 1 ORDER BY 1", sq.tenant_id, q.start, q.end)
    cols = [shapes.text("action"), shapes.num("records", Unit.COUNT)]
    return shapes.table(q.metric, cols, [(r["action"], r["n"]) for r in rows])


@metric("alerts.conversion", "Conversion of the Range's Leads",
        "Of the leads created in the range, the share (0-1) that reached the stage (option: appointment or close) "
        "by now; previous: the same for the leads created in the equally long span just before the range.",
        Unit.RATIO, Kind.STAT, options=(STAGE,), dashboard=False,
        inputs=("leads", "lead_funnel"))
async def conversion(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    column = "closed_at" if q.option("stage", STAGE.default) == "close" else "appointment_at"
    row = await fetch_one(conn,
        f"""SELECT count(*) FILTER (WHERE created_at >= $3 AND {column} IS NOT NULL)::float8
                   / nullif(count(*) FILTER (WHERE created_at >= $3), 0) AS current,
                   count(*) FILTER (WHERE created_at < $3 AND {column} IS NOT NULL)::float8
                   / nullif(count(*) FILTER (WHERE created_at < $3), 0) AS previous
            FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $4""",
        sq.tenant_id, q.start - (q.end - q.start), q.start, q.end)
    return shapes.stat(q.metric, row["current"], row["previous"], None, Unit.RATIO)


@metric("alerts.high_priority_waiting", "High-Priority Leads Not Yet Contacted",
        "High-priority leads created in the range that nobody has contacted, booked or closed yet (and that "
        "were not erased).", Unit.COUNT, Kind.STAT, dashboard=False,
        inputs=("leads", "lead_funnel"))
async def high_priority_waiting(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    count = await conn.fetchval(
        """SELECT count(*) FROM leads
           WHERE tenant_id = $1 AND priority = 'high' AND created_at >= $2 AND created_at < $3
             AND first_contact_at IS NULL AND appointment_at IS NULL AND closed_at IS NULL AND erased_at IS NULL""",
        sq.tenant_id, q.start, q.end)
    return shapes.stat(q.metric, count, None, None, Unit.COUNT, lower_is_better=True)


@metric("alerts.month_projection", "Month Projected from the Range",
        "The measure (option: revenue closed, deals closed or leads created) over the range, projected linearly "
        "to the end of the tenant-local month in which the range starts: so far × month length / range length "
        "(in the tenant's currency for revenue, a count otherwise); previous: the figure so far.",
        Unit.CURRENCY, Kind.STAT, options=(MEASURE,), sensitivity=Sensitivity.FINANCIAL, dashboard=False,
        inputs=("deal_revenue", "leads"))
async def month_projection(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    measure = q.option("measure", MEASURE.default) or "revenue"
    sql = {
        "revenue": "SELECT coalesce(sum(deal_value), 0) FROM leads WHERE tenant_id = $1 AND closed_at >= $2 "
                   "AND closed_at < $3",
        "deals": "SELECT count(*) FROM leads WHERE tenant_id = $1 AND closed_at >= $2 AND closed_at < $3",
        "leads": "SELECT count(*) FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3",
    }[measure]
    so_far = float(await conn.fetchval(sql, sq.tenant_id, q.start, q.end))
    month_start, month_end = buckets.month_bounds(q.start, s.zone)
    projection = so_far * ((month_end - month_start) / (q.end - q.start))
    if measure == "revenue":
        return shapes.stat(q.metric, projection, so_far, None, Unit.CURRENCY, field="revenue")
    return shapes.stat(q.metric, projection, so_far, None, Unit.COUNT)


@metric("system.database_size", "Database Size",
        "Bytes the service's database takes on disk now (every tenant's data together).", Unit.BYTES, Kind.STAT,
        dashboard=False,
        inputs=("host_resources",))
async def database_size(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    size = await conn.fetchval("SELECT pg_database_size(current_database())")
    return shapes.stat(sq.query.metric, size, None, None, Unit.BYTES, lower_is_better=True)


@metric("system.oldest_event", "Oldest Event Kept",
        "When the tenant's oldest stored event occurred (epoch ms; none when it has no events), whatever the range: "
        "with the retention period it says when data starts to leave.", Unit.TEXT, Kind.TABLE, dashboard=False,
        inputs=("ingest_batches",))
async def oldest_event(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    oldest = await conn.fetchval("SELECT min(occurred_at) FROM events WHERE tenant_id = $1", sq.tenant_id)
    rows = [(buckets.epoch_ms(oldest),)] if oldest is not None else []
    return shapes.table(sq.query.metric, [shapes.Col("oldest", ColumnType.TIME)], rows)


@metric("alerts.dashboard_failures", "Dashboard Self-Check Failures",
        "Panels the latest dashboard self-check run in the range found failing (outcome error, any role); previous: "
        "the run before it. None when no run falls in the range.", Unit.COUNT, Kind.STAT, dashboard=False,
        inputs=("dashboard_checks",))
async def dashboard_failures(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    runs = await conn.fetch(
        """SELECT run_at, count(*) FILTER (WHERE outcome = 'error') AS failed FROM dashboard_checks
           WHERE tenant_id = $1 AND run_at >= $2 AND run_at < $3 GROUP BY run_at
           ORDER BY run_at DESC LIMIT 2""", sq.tenant_id, q.start - (q.end - q.start), q.end)
    latest = runs[0]["failed"] if runs and runs[0]["run_at"] >= q.start else None
    previous = runs[1]["failed"] if len(runs) > 1 and latest is not None else None
    return shapes.stat(q.metric, latest, previous, None, Unit.COUNT, lower_is_better=True)


@metric("alerts.data_quality_issues", "Data-Quality Issues",
        "Rows of data.quality over the range whose status is a problem (stale, drop, spike, high, found).",
        Unit.COUNT, Kind.STAT, dashboard=False,
        inputs=("data.quality",))
async def data_quality_issues(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    rows = await quality.quality_rows(conn, sq.tenant_id, q.start, q.end)
    return shapes.stat(q.metric, sum(r.issue for r in rows), None, None, Unit.COUNT, lower_is_better=True)


@metric("alerts.backup_age", "Hours Since the Last Good Backup",
        "Hours from the database's last good backup to the range's end; with none before it, hours since the "
        "tenant was created (a service that never took a backup is as exposed as one whose backup is that old).",
        Unit.HOURS, Kind.STAT, dashboard=False, lower_is_better=True,
        inputs=("backups",))
async def backup_age(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    end = sq.query.end
    since = await conn.fetchval(
        "SELECT coalesce((SELECT max(finished_at) FROM backup_runs WHERE kind = 'backup' AND ok AND finished_at < $1), "
        "(SELECT created_at FROM tenants WHERE tenant_id = $2))", end, sq.tenant_id)
    hours = None if since is None else max(0.0, (end - since).total_seconds() / 3600)
    return shapes.stat(sq.query.metric, hours, None, None, Unit.HOURS, lower_is_better=True)
