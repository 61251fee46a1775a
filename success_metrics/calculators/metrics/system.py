"""System Health: external API health, authentication events, compliance checks, dashboard adoption."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from success_metrics.calculators import buckets, formulas, shapes
from success_metrics.calculators.buckets import HOUR
from success_metrics.calculators.calls import call_stats, health
from success_metrics.calculators.catalog import GRANULARITY, all_metrics, metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.reads import event_rows
from success_metrics.calculators.sql import Params, bucket_expr
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension, Kind, Sensitivity, Unit

RETENTION_MONTHS = 24
ERASURE_DEADLINE = timedelta(days=30)
SESSION_GAP = timedelta(minutes=30)


@metric("apis.health", "External API Health",
        "Per external service named by component calls or api.usage: status (against the tenant's SLA success "
        "rate), average and p95 latency (ms), peak rate-limit use (%), error rate (%), and SLA compliance (% of "
        "hours with calls whose success rate met the SLA).", Unit.TEXT, Kind.TABLE, dimensions=(Dimension.SERVICE,),
        inputs=("component_calls", "component_latency_ms", "api_usage", "sla"))
async def apis_health(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    calls, meta = await call_stats(conn, sq.tenant_id, s, q.start, q.end, "service", q.filters, q.metric,
                                   extra_where="service <> ''")
    p = Params()
    src = event_rows(sq, s, "component.call", {Dimension.SERVICE: "service"}, p, width=HOUR)
    sla = {r["service"]: r["share"] for r in await conn.fetch(
        f"SELECT service, avg((ok >= {p.add(s.sla_success_rate)} * n)::int) AS share FROM ("
        f"SELECT t, service, sum(calls) AS n, sum(ok_calls) AS ok FROM {src} x WHERE service <> '' "
        f"GROUP BY t, service) h GROUP BY service", *p.values)}
    p = Params()
    src = event_rows(sq, s, "api.usage", {Dimension.SERVICE: "service"}, p)
    usage = {r["service"]: r["used"] for r in await conn.fetch(
        f"SELECT service, max(rate_limit_used_max) AS used FROM {src} x GROUP BY service", *p.values)}
    rows = []
    for service in sorted({k for _, k in calls} | set(usage)):
        c = calls.get((None, service))
        rate = c.success_rate if c else None
        rows.append((service, health(rate, s.sla_success_rate), c.avg_latency if c else None, c.p95 if c else None,
                     None if usage.get(service) is None else 100 * float(usage[service]),
                     None if rate is None else 100 * (1 - rate),
                     None if sla.get(service) is None else 100 * float(sla[service])))
    cols = [shapes.text("service"), shapes.text("status"), shapes.num("latency_ms", Unit.MS),
            shapes.num("p95_ms", Unit.MS), shapes.num("rate_limit_used", Unit.PERCENT),
            shapes.num("error_rate", Unit.PERCENT), shapes.num("sla_compliance", Unit.PERCENT)]
    return shapes.table("apis.health", cols, rows, meta=meta)


@metric("security.auth_events", "Authentication Events",
        "Authentications per bucket, from the access audit log (one record per request): success = records of an "
        "authenticated caller, whatever the action (the record says authentication ok; before one record per "
        "request, auth.success records); failure = auth.failure and auth.limited records.", Unit.COUNT,
        Kind.TIMESERIES, options=(GRANULARITY,), sensitivity=Sensitivity.SECURITY,
        inputs=("access_records",))
async def auth_events(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    width = buckets.series_width(q)
    starts = buckets.series_starts(q.start, q.end, width, s.zone)
    p = Params()
    t = bucket_expr("at", width, s.timezone, p)
    success = "(resource->>'authentication' = 'ok' OR action = 'auth.success')"
    failure = "action IN ('auth.failure', 'auth.limited')"
    rows = await conn.fetch(
        f"SELECT {t} AS t, count(*) FILTER (WHERE {success}) AS success, count(*) FILTER (WHERE {failure}) AS failure "
        f"FROM audit_log WHERE tenant_id = {p.add(sq.tenant_id)} AND ({success} OR {failure}) "
        f"AND at >= {p.add(q.start)} AND at < {p.add(q.end)} GROUP BY 1", *p.values)
    series = {label: {r["t"]: r[label] for r in rows} for label in ("success", "failure")}
    return shapes.series("security.auth_events", starts, series, Unit.COUNT, count=True)


@metric("compliance.checks", "Compliance Checks",
        "Violations in the range: TCPA consent (SMS to a recipient without SMS consent), TCPA quiet hours (SMS "
        "outside the recipient's 08:00–21:00, 21:00 itself excluded), CAN-SPAM (email after the lead unsubscribed), "
        "GDPR erasure (requests in the range not completed within 30 days, judged at the range's end: a completion "
        "after the range's end is not yet known), GDPR erased contact data still "
        "stored, retention (events older than 24 months). Each row: check, checked, violations, status.",
        Unit.COUNT, Kind.TABLE, sensitivity=Sensitivity.SECURITY,
        inputs=("compliance_facts", "contact_attempts"))
async def compliance(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    # Contact attempts from their typed table (migration 0007): the event's fields as columns. The few leads that
    # unsubscribed are hashed once (lead_id is their key, so the join adds no row) rather than looked up per email.
    r = await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE c.channel = 'sms') AS sms,
                  count(*) FILTER (WHERE c.channel = 'sms' AND NOT coalesce(c.consent, false)) AS no_consent,
                  count(*) FILTER (WHERE c.channel = 'sms' AND (lpad(c.recipient_local_time, 5, '0') < '08:00'
                      OR lpad(c.recipient_local_time, 5, '0') >= '21:00')) AS quiet,
                  count(*) FILTER (WHERE c.channel = 'email') AS emails,
                  count(*) FILTER (WHERE c.channel = 'email' AND u.unsubscribed_at < c.occurred_at) AS after_unsubscribe
           FROM contact_attempts c
           LEFT JOIN (SELECT lead_id, unsubscribed_at FROM leads WHERE tenant_id = $1 AND unsubscribed_at IS NOT NULL) u
                ON u.lead_id = c.lead_id
           WHERE c.tenant_id = $1 AND c.occurred_at >= $2 AND c.occurred_at < $3""",
        sq.tenant_id, q.start, q.end)
    g = await conn.fetchrow(
        """WITH req AS (SELECT lead_id, min(occurred_at) AS at FROM events WHERE tenant_id = $1
                        AND type = 'erasure.requested' AND occurred_at >= $2 AND occurred_at < $3 GROUP BY lead_id),
                done AS (SELECT lead_id, min(occurred_at) AS at FROM events WHERE tenant_id = $1
                         AND type = 'erasure.completed' AND occurred_at < $3
                         AND lead_id IN (SELECT lead_id FROM req) GROUP BY lead_id)
           SELECT count(*) AS requests,
                  count(*) FILTER (WHERE (done.at IS NULL AND $3 - req.at > $4)
                                   OR done.at - req.at > $4) AS late
           FROM req LEFT JOIN done USING (lead_id)""", sq.tenant_id, q.start, q.end, ERASURE_DEADLINE)
    leftover = await conn.fetchrow(
        "SELECT count(*) AS erased, count(*) FILTER (WHERE contact_name IS NOT NULL OR contact_email IS NOT NULL "
        "OR contact_phone IS NOT NULL) AS kept FROM leads WHERE tenant_id = $1 AND erased_at IS NOT NULL", sq.tenant_id)
    cutoff, _ = buckets.month_bounds(q.end, s.zone, -RETENTION_MONTHS)
    old = await conn.fetchval("SELECT count(*) FROM events WHERE tenant_id = $1 AND occurred_at < $2",
                              sq.tenant_id, cutoff)
    checks = [
        ("TCPA", "sms_consent", r["sms"], r["no_consent"]),
        ("TCPA", "sms_quiet_hours", r["sms"], r["quiet"]),
        ("CAN-SPAM", "unsubscribe_honoured", r["emails"], r["after_unsubscribe"]),
        ("GDPR", "erasure_within_30_days", g["requests"], g["late"]),
        ("GDPR", "erased_contact_data", leftover["erased"], leftover["kept"]),
        ("GDPR", "retention_24_months", None, old),
    ]
    cols = [shapes.text("regulation"), shapes.text("check"), shapes.num("checked", Unit.COUNT),
            shapes.num("violations", Unit.COUNT), shapes.text("status")]
    return shapes.table("compliance.checks", cols,
                        [(reg, c, n, v, "pass" if not v else "fail") for reg, c, n, v in checks])


@metric("adoption.usage", "Dashboard Adoption",
        "From the access audit log in the range: active users (distinct subjects that queried), sessions (a "
        "subject's queries less than 30 min apart), average session length (minutes), queries, distinct metrics "
        "queried and their share (%) of the catalog's dashboard metrics.", Unit.TEXT, Kind.TABLE,
        inputs=("access_records",),
        declassify={c: "counts and averages over the access log name no subject" for c in ("figure", "value", "unit")})
async def adoption(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    q = sq.query
    cols = [shapes.text("figure"), shapes.num("value"), shapes.text("unit")]
    r = await conn.fetchrow(
        """WITH qs AS (SELECT subject, at, resource FROM audit_log WHERE tenant_id = $1 AND action = 'query'
                       AND outcome = 'success' AND at >= $2 AND at < $3 AND subject IS NOT NULL),
                marked AS (SELECT subject, at, CASE WHEN at - lag(at) OVER (PARTITION BY subject ORDER BY at) < $4
                           THEN 0 ELSE 1 END AS new_session FROM qs),
                numbered AS (SELECT subject, at, sum(new_session) OVER (PARTITION BY subject ORDER BY at) AS session
                             FROM marked),
                sessions AS (SELECT subject, session, max(at) - min(at) AS length FROM numbered
                             GROUP BY subject, session)
           SELECT (SELECT count(DISTINCT subject) FROM qs) AS users, (SELECT count(*) FROM qs) AS queries,
                  (SELECT count(*) FROM sessions) AS sessions,
                  (SELECT avg(extract(epoch FROM length) / 60) FROM sessions) AS avg_minutes,
                  (SELECT array_agg(DISTINCT m) FROM qs, jsonb_array_elements_text(
                       CASE WHEN jsonb_typeof(qs.resource->'metrics') = 'array' THEN qs.resource->'metrics'
                       ELSE '[]'::jsonb END) m) AS metrics""", sq.tenant_id, q.start, q.end, SESSION_GAP)
    catalog = {m.name for m in all_metrics() if m.dashboard}
    used = set(r["metrics"] or ()) & catalog
    rows = [("active_users", r["users"], Unit.COUNT.value), ("sessions", r["sessions"], Unit.COUNT.value),
            ("avg_session_minutes", None if r["avg_minutes"] is None else float(r["avg_minutes"]), "minutes"),
            ("queries", r["queries"], Unit.COUNT.value), ("metrics_used", len(used), Unit.COUNT.value),
            ("metrics_used_share", 100 * formulas.ratio(len(used), len(catalog) or 1), Unit.PERCENT.value)]
    return shapes.table("adoption.usage", cols, rows)
