"""Operations Monitor: pipeline stages and throughput, component health and latency, errors, resources."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import asyncpg
import psutil

from success_metrics.calculators import buckets, closed_days, formulas, shapes
from success_metrics.calculators.buckets import DAY, HOUR, Segment, Source
from success_metrics.calculators.calls import CALL_COLUMNS, by_key, call_stats, health
from success_metrics.calculators.catalog import GRANULARITY, Option, metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import AUTOMATED_ONLY, event_rows
from success_metrics.calculators.sql import Params, by_type, fetch_one, union_source, where_filters
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Dimension, Kind, Unit

COMPONENT_DIMS = (Dimension.COMPONENT, Dimension.SERVICE)
STATISTIC = Option("statistic", "Statistic", ("avg", "median", "p95"), multi=True)

# stage, the event type that marks it, and its volume and successes (rollup view columns; web form, 60 s response
# and scoring measure success otherwise, see pipeline_stages)
STAGES = (
    ("web_form", "lead.created", "leads", "0"),
    ("response_60s", "lead.responded", "responses", "ok_responses"),
    ("enrichment", "lead.enriched", "enrichments", "ok_enrichments"),
    ("scoring", "lead.scored", "scorings", "0"),
    ("routing", "lead.routed", "routings", "ok_routings"),
    ("nurture", "lead.nurtured", "steps", "ok_steps"),
)
# which of a type's rows are the pipeline's own: automated responses only, web form calls only
STAGE_ROWS = {**AUTOMATED_ONLY, "component.call": "component = 'webhook_receiver'"}


@metric("pipeline.stages", "Lead Processing Pipeline",
        "Per stage (web form → 60 s response → enrichment → scoring → routing → nurture): events in the last hour "
        "of the range and in the range (responses: the automated ones only) and success rate (%) over the range. "
        "Web form success = webhook_receiver calls that succeeded; 60 s response = share of the leads created in "
        "the range that the automation answered successfully within 60 s; scoring = share of the leads created "
        "in the range that were scored before the range's end (leads, not scoring events: a lead scored twice "
        "counts once); the other stages = steps reported ok.", Unit.PERCENT, Kind.TABLE,
        inputs=("leads", "lead_funnel", "automated_tasks", "component_calls", "first_response_seconds"),
        column_units=(("last_hour", Unit.COUNT), ("volume", Unit.COUNT)))
async def pipeline_stages(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    measured = [(etype, count, ok) for _, etype, count, ok in STAGES] + [("component.call", "calls", "ok_calls")]

    async def totals(lo: datetime, hi: datetime) -> dict[str, tuple[int, float]]:
        p = Params()
        plan = buckets.plan(lo, hi, s.zone)
        # one pass over every type's rows, grouped by type: each type's volume and successes picked per row
        src = union_source(sq.tenant_id, tuple(etype for etype, _, _ in measured), plan, p,
                           only=("automation", "component"),
                           pick={"volume": {e: n for e, n, _ in measured},
                                 "successes": {e: ok for e, _, ok in measured if ok != "0"}})
        rows = await conn.fetch(
            f"SELECT type, coalesce(sum(volume), 0) AS n, coalesce(sum(successes), 0) AS ok FROM {src} x "
            f"WHERE {by_type(STAGE_ROWS.items(), 'TRUE')} GROUP BY type", *p.values)
        return {r["type"]: (int(r["n"]), float(r["ok"])) for r in rows}

    whole, last_hour = await totals(q.start, q.end), await totals(max(q.start, q.end - HOUR), q.end)
    cohort = await fetch_one(conn,
        "SELECT count(*) AS leads, count(*) FILTER (WHERE first_response_at <= created_at + interval '60 seconds' "
        "AND first_response_at < $3) AS fast, count(*) FILTER (WHERE scored_at < $3) AS scored "
        "FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3", sq.tenant_id, q.start, q.end)
    calls = whole.get("component.call", (0, 0.0))
    success = {
        "web_form": formulas.ratio(calls[1], calls[0]),
        "response_60s": formulas.ratio(cohort["fast"], cohort["leads"]),
        "scoring": formulas.ratio(cohort["scored"], cohort["leads"]),
    }
    rows = []
    for stage, etype, _, _ in STAGES:
        n, ok = whole.get(etype, (0, 0.0))
        rate = success[stage] if stage in success else formulas.ratio(ok, n)
        rows.append((stage, last_hour.get(etype, (0, 0.0))[0], n, None if rate is None else 100 * rate))
    cols = [shapes.text("stage"), shapes.num("last_hour", Unit.COUNT), shapes.num("volume", Unit.COUNT),
            shapes.num("success_rate", Unit.PERCENT)]
    return shapes.table("pipeline.stages", cols, rows)


@metric("pipeline.throughput", "Throughput",
        "Lead submissions received per bucket (hour/day/week from the granularity or the panel interval): "
        "lead.created events, each event id once. A lead the engine sends again under a new event id is a second "
        "submission here, while lead state and every per-lead figure keep one lead.",
        Unit.COUNT, Kind.TIMESERIES, dimensions=(Dimension.SOURCE, Dimension.LOCATION), options=(GRANULARITY,),
        inputs=("leads",))
async def throughput(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    width = buckets.series_width(q)
    p = Params()
    src = event_rows(sq, s, "lead.created", {Dimension.SOURCE: "source", Dimension.LOCATION: "location_id"}, p,
                     width=width)
    rows = await conn.fetch(f"SELECT t, sum(leads) AS n FROM {src} x GROUP BY t", *p.values)
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    return shapes.series("pipeline.throughput", starts, {"leads": {r["t"]: r["n"] for r in rows}}, Unit.COUNT,
                         count=True)


@metric("components.health", "System Health Indicators",
        "Per component: status (healthy at or above the tenant's SLA success rate, degraded within 5 points, down "
        "below), average and p95 latency (ms), success rate (%) over the range, and calls in the range's last 24 h.",
        Unit.TEXT, Kind.TABLE, dimensions=COMPONENT_DIMS,
        inputs=("component_calls", "component_latency_ms", "sla"),
        column_units=(("latency_ms", Unit.MS), ("p95_ms", Unit.MS), ("success_rate", Unit.PERCENT),
                      ("volume", Unit.COUNT), ("volume_24h", Unit.COUNT)))
async def components_health(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    stats, meta = await call_stats(conn, sq.tenant_id, s, q.start, q.end, "component", q.filters, q.metric)
    recent, _ = await call_stats(conn, sq.tenant_id, s, max(q.start, q.end - DAY), q.end, "component", q.filters,
                                 q.metric, percentiles=False)
    rows = []
    for (_, comp), c in sorted(stats.items(), key=lambda kv: kv[0][1]):
        r = recent.get((None, comp))
        rows.append((comp, health(c.success_rate, s.sla_success_rate), c.avg_latency, c.p95,
                     None if c.success_rate is None else 100 * c.success_rate, c.calls, r.calls if r else 0))
    cols = [shapes.text("component"), shapes.text("status"), shapes.num("latency_ms", Unit.MS),
            shapes.num("p95_ms", Unit.MS), shapes.num("success_rate", Unit.PERCENT),
            shapes.num("volume", Unit.COUNT), shapes.num("volume_24h", Unit.COUNT)]
    return shapes.table("components.health", cols, rows, meta=meta)


@metric("components.latency", "Component Response Times",
        "Per component and bucket: average, median and 95th percentile latency (ms). Percentiles are exact for "
        "ranges up to 2 days, otherwise from merged log-histogram rollups (relative error ≤ 0.99 %).",
        Unit.MS, Kind.TIMESERIES, dimensions=COMPONENT_DIMS, options=(GRANULARITY, STATISTIC), lower_is_better=True,
        inputs=("component_latency_ms",))
async def components_latency(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    width = buckets.series_width(q)
    stats, meta = await call_stats(conn, sq.tenant_id, s, q.start, q.end, "component", q.filters, q.metric, width)
    wanted = [x for x in (q.option("statistic") or "avg,median,p95").split(",") if x in STATISTIC.values]
    series: dict[str, dict[datetime, float | None]] = {}
    for comp, by_time in by_key(stats).items():
        for stat in wanted:
            series[f"{comp} {stat}"] = {
                t: (c.avg_latency if stat == "avg" else c.median if stat == "median" else c.p95)
                for t, c in by_time.items()}
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    return shapes.series("components.latency", starts, series, Unit.MS, meta={**meta, "lower_is_better": True})


@metric("components.success_rate", "Success Rates",
        "Per component and bucket: share (%) of calls that succeeded.", Unit.PERCENT, Kind.TIMESERIES,
        dimensions=COMPONENT_DIMS, options=(GRANULARITY,),
        inputs=("component_calls",))
async def components_success(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    width = buckets.series_width(q)
    stats, _ = await call_stats(conn, sq.tenant_id, s, q.start, q.end, "component", q.filters, q.metric, width,
                                percentiles=False)
    series = {comp: {t: None if c.success_rate is None else 100 * c.success_rate for t, c in by_time.items()}
              for comp, by_time in by_key(stats).items()}
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    return shapes.series("components.success_rate", starts, series, Unit.PERCENT)


@metric("errors.active", "Active Errors",
        "Failures in the last hour of the range of components that have not succeeded since: component, service, "
        "category, failures, first and last seen.", Unit.COUNT, Kind.TABLE, dimensions=COMPONENT_DIMS,
        inputs=("component_calls",))
async def errors_active(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    p = Params()
    src = union_source(sq.tenant_id, "component.call", [Segment(Source.RAW, max(q.start, q.end - HOUR), q.end)], p)
    where = where_filters(CALL_COLUMNS, q.filters, p, q.metric)
    rows = await conn.fetch(
        f"""WITH c AS (SELECT * FROM {src} x WHERE {where}),
                 last_ok AS (SELECT component, max(t) AS at FROM c WHERE error_category = '' GROUP BY component)
            SELECT c.component, c.service, c.error_category, count(*) AS failures, min(c.t) AS first_seen,
                   max(c.t) AS last_seen
            FROM c LEFT JOIN last_ok o ON o.component = c.component
            WHERE c.error_category <> '' AND (o.at IS NULL OR c.t > o.at)
            GROUP BY c.component, c.service, c.error_category ORDER BY failures DESC, c.component""", *p.values)
    cols = [shapes.text("component"), shapes.text("service"), shapes.text("category"),
            shapes.num("failures", Unit.COUNT), shapes.Col("first_seen", ColumnType.TIME),
            shapes.Col("last_seen", ColumnType.TIME)]
    return shapes.table("errors.active", cols, [
        (r["component"], r["service"], r["error_category"], r["failures"], buckets.epoch_ms(r["first_seen"]),
         buckets.epoch_ms(r["last_seen"]))
        for r in rows])


@metric("errors.by_category", "Error Categories",
        "Failed component calls per bucket by error category (authentication, rate_limit, validation, timeout, "
        "server_error, network, configuration, other).", Unit.COUNT, Kind.TIMESERIES, dimensions=COMPONENT_DIMS,
        options=(GRANULARITY,),
        inputs=("component_calls",))
async def errors_by_category(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    width = buckets.series_width(q)
    p = Params()
    # the columns it reads (and filters by) only: the others were carried through every rollup and raw row
    src = event_rows(sq, s, "component.call", CALL_COLUMNS, p, width=width,
                     only=("error_category", "calls", *CALL_COLUMNS.values()))
    rows = await conn.fetch(f"SELECT t, error_category AS cat, sum(calls) AS n FROM {src} x "
                            f"WHERE error_category <> '' GROUP BY t, error_category", *p.values)
    series = {cat: {r["t"]: r["n"] for r in rows if r["cat"] == cat} for cat in sorted({r["cat"] for r in rows})}
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    return shapes.series("errors.by_category", starts, series, Unit.COUNT, count=True)


def _mean_ms(total_us: int, runs: int) -> float | None:
    return total_us / runs / 1000 if runs else None


@metric("errors.mttr", "Mean Time To Resolution",
        "Mean time (ms) from the first failure of a run of failed calls of a component to its next successful "
        "call, over runs that were resolved in the range; against the previous period.", Unit.MS, Kind.STAT,
        lower_is_better=True,
        inputs=("component_calls", "nonmoney_targets"))
async def errors_mttr(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    # a component's calls in [lo, hi) in (occurred_at, event_id) order; a run is a maximal stretch of failures (calls
    # without ok are skipped, and calls without a component belong to none), resolved by the component's first
    # successful call after its start; runs unresolved at hi are not counted. Closed days are read from their
    # summaries and the rest from the calls, both periods in one statement; or, where a period has few failures,
    # from its failures (closed_days.failure_runs).
    (cur_us, cur_n), (prev_us, prev_n) = await closed_days.failure_runs(
        conn, sq.tenant_id, buckets.period_bounds(sq.query), s.zone, datetime.now(UTC))
    cur, prev = _mean_ms(cur_us, cur_n), _mean_ms(prev_us, prev_n)
    return shapes.stat("errors.mttr", cur, prev, s.targets.get("errors.mttr"), Unit.MS, lower_is_better=True)


@metric("system.resources", "Resource Utilization",
        "This service's own CPU and memory (psutil) and the database's size and connections (pg functions), now.",
        Unit.TEXT, Kind.TABLE,
        inputs=("host_resources",))
async def system_resources(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    proc = psutil.Process(os.getpid())
    mem = psutil.virtual_memory()
    db = await fetch_one(conn,
        "SELECT pg_database_size(current_database()) AS size, "
        "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections, "
        "current_setting('max_connections')::int AS max_connections")
    rows = [
        ("cpu_percent", psutil.cpu_percent(interval=None), Unit.PERCENT.value),
        ("process_cpu_percent", proc.cpu_percent(interval=None), Unit.PERCENT.value),
        ("memory_used_percent", mem.percent, Unit.PERCENT.value),
        ("process_memory_rss", proc.memory_info().rss, Unit.BYTES.value),
        ("database_size", db["size"], Unit.BYTES.value),
        ("database_connections", db["connections"], Unit.COUNT.value),
        ("database_max_connections", db["max_connections"], Unit.COUNT.value),
    ]
    return shapes.table("system.resources", [shapes.text("resource"), shapes.num("value"), shapes.text("unit")], rows)



