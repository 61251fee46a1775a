"""Per-metric latency: the calculators (rollups + raw tail) against the raw-events SQL of a Grafana PostgreSQL user.

    python benchmarks/metrics_latency.py [--ranges 30d 24mo] [--reps 5]

Runs on the data set of benchmarks/dataset.py (built first if missing). For every metric of the catalog and
every range ending at the data set's end, it times ``success_metrics.calculators.compute`` (no result cache) and a
raw-SQL baseline: the query a competent Grafana PostgreSQL user would write in a panel for the same figure,
on the tables ingest keeps (``leads`` for lead funnels, agents and deals; the typed ``component_calls`` and
``contact_attempts``; ``events`` by its index for the rest; percentiles with percentile_cont), no rollups.
Each repetition uses the next tenant. Prints median and p95 of both, and the ratio of the medians
(raw / calculators).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dataset import bench_database, ensure_dataset
from success_metrics.calculators import MetricName, MetricQuery, RowScope, ScopedQuery, TenantId, all_metrics, compute
from success_metrics.calculators.buckets import month_bounds
from success_metrics.calculators.compute import load_settings

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "12mo": timedelta(days=365), "24mo": timedelta(days=730)}
MAX_POINTS = 1000
D = "payload"
WHERE = "tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3"

# What a competent Grafana PostgreSQL user writes per family of panels ($1 tenant, $2/$3 range, $4 bucket width),
# against the tables ingest keeps: ``leads`` (one row per lead: lead funnels, agents, deals), the typed
# ``component_calls`` and ``contact_attempts``, and ``events`` by its (tenant, type, time) index for the rest.
# Never a self-join of events over all history; never the service's own rollups (those are its acceleration).
# Lead figures follow the cohort of leads created in the range, each step counted up to the range's end.
FUNNEL = """count(*) AS leads, count(*) FILTER (WHERE first_response_at < $3) AS responded,
                   count(*) FILTER (WHERE appointment_at < $3) AS appointments,
                   count(*) FILTER (WHERE closed_at < $3) AS closes,
                   coalesce(sum(deal_value) FILTER (WHERE closed_at < $3), 0) AS revenue"""
REVENUE = """SELECT date_trunc('month', closed_at) AS m, coalesce(attribution_class, '') AS k, count(*) AS n,
                   sum(deal_value) AS v FROM leads WHERE tenant_id = $1 AND closed_at >= $2 AND closed_at < $3
                 GROUP BY 1, 2"""
COSTS = f"""SELECT to_timestamp(coalesce({D}->>'month', to_char(occurred_at, 'YYYY-MM')), 'YYYY-MM') AS m,
                   {D}->>'category' AS k, count(*),
                   sum(({D}->>'amount')::numeric) FROM events WHERE tenant_id = $1 AND type = 'cost.recorded'
                   AND occurred_at >= $2 - interval '92 days' AND occurred_at < $3 + interval '92 days' GROUP BY 1, 2"""
AUTOMATED = """SELECT date_trunc('month', created_at) AS m, 'lead' AS k, count(*) FILTER (WHERE response_ok)
                   + count(*) FILTER (WHERE enrichment_ok) + count(scored_at) + count(routed_at) + count(nurtured_at),
                   0::numeric FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1
                 UNION ALL
                 SELECT date_trunc('month', occurred_at), 'contact', count(*) FILTER (WHERE NOT manual), 0
                 FROM contact_attempts WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 GROUP BY 1"""
RAW = {
    "calls": """SELECT component, count(*) AS calls, avg(ok::int), avg(latency_ms),
                   percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY latency_ms)
                 FROM component_calls WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 GROUP BY 1""",
    "calls_series": """SELECT date_bin($4::interval, occurred_at, timestamptz '2000-01-03') AS t, component, count(*),
                   avg(ok::int), avg(latency_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
                 FROM component_calls WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
                 GROUP BY 1, 2 ORDER BY 1""",
    "revenue": REVENUE,
    "savings": AUTOMATED,
    "roi": f"{REVENUE} UNION ALL {COSTS} UNION ALL {AUTOMATED}",
    "funnel": f"""SELECT coalesce(source, 'unknown') AS source, {FUNNEL}
                 FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1""",
    "agents": f"""SELECT l.agent_id, a.name, {FUNNEL},
                   avg(extract(epoch FROM first_contact_at - created_at)) / 3600 AS response_hours
                 FROM leads l LEFT JOIN agents a USING (tenant_id, agent_id)
                 WHERE l.tenant_id = $1 AND created_at >= $2 AND created_at < $3 AND l.agent_id IS NOT NULL
                 GROUP BY 1, 2""",
    "leads_series": """SELECT date_bin($4::interval, occurred_at, timestamptz '2000-01-03'), count(*)
                 FROM events WHERE tenant_id = $1 AND type = 'lead.created' AND occurred_at >= $2 AND occurred_at < $3
                 GROUP BY 1 ORDER BY 1""",
    "contacts": """SELECT channel, extract(isodow FROM occurred_at), extract(hour FROM occurred_at),
                   count(*) AS attempts,
                   count(*) FILTER (WHERE outcome IN ('replied', 'answered', 'connected')) AS responses,
                   count(*) FILTER (WHERE NOT consent) AS without_consent,
                   count(*) FILTER (WHERE recipient_local_time NOT BETWEEN '08:00' AND '20:59') AS outside_hours
                 FROM contact_attempts WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
                 GROUP BY 1, 2, 3""",
    "activity": f"""SELECT agent_id, sum(({D}->>'selling_minutes')::numeric), sum(({D}->>'admin_minutes')::numeric),
                   sum(({D}->>'followup_minutes')::numeric)
                 FROM events WHERE {WHERE} AND type = 'agent.activity' GROUP BY 1""",
    "usage": f"""SELECT {D}->>'service', max(({D}->>'rate_limit_used')::numeric), sum(({D}->>'requests')::numeric)
                 FROM events WHERE {WHERE} AND type = 'api.usage' GROUP BY 1""",
    "audit": """SELECT action, count(*), count(DISTINCT subject) FROM audit_log
                 WHERE tenant_id = $1 AND at >= $2 AND at < $3 GROUP BY 1""",
    "none": "SELECT pg_database_size(current_database())",
}
# indexes the queries above need, as (table, leading columns): the schema has them all (benchmarks/baseline.py
# checks, and would create a missing one)
INDEXES = (("leads", "tenant_id, created_at"), ("leads", "tenant_id, closed_at"),
           ("events", "tenant_id, type, occurred_at"), ("component_calls", "tenant_id, occurred_at"),
           ("contact_attempts", "tenant_id, occurred_at"), ("audit_log", "tenant_id, at"))
FAMILY = {
    "roi": "roi", "savings": "savings", "revenue": "revenue", "time_savings": "savings", "executive": "roi",
    "cost": "roi", "conversion.before_after": "funnel", "response_time": "agents", "conversion": "funnel",
    "uptime": "calls_series", "errors.rate": "calls_series", "pipeline.stages": "funnel",
    "pipeline.throughput": "leads_series", "components.health": "calls", "components": "calls_series",
    "errors.active": "calls", "errors.by_category": "calls_series", "errors.mttr": "calls", "system": "none",
    "sources": "funnel", "leads": "funnel", "behavior.response_time_impact": "agents",
    "behavior.followup_effectiveness": "funnel", "behavior": "contacts", "attribution.tree": "funnel",
    "attribution.weighted": "revenue", "agents.time_allocation": "activity", "agents.goals": "agents",
    "agents": "agents", "apis": "usage", "security": "audit", "adoption": "audit", "audit": "audit",
    "compliance": "contacts",
    "alerts": "funnel",
}


def family(name: str) -> str | None:
    """The raw-SQL baseline a metric is compared with; None for metrics with none (models, checks, backups)."""
    return FAMILY.get(name) or FAMILY.get(name.split(".")[0])


def pct(values: list[float], p: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def main(args: argparse.Namespace) -> None:
    async with bench_database() as db:
        info = await ensure_dataset(db, progress=lambda line: print(line, flush=True))
        end = info.end_time
        print(f"data set: {info.total_events:,} events, {len(info.tenants)} tenants, {info.months} months to {end}")
        for label in args.ranges:
            span = RANGES[label]
            start = end - span
            width = max(timedelta(hours=1), span / MAX_POINTS)
            print(f"\nrange {label} ({start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M}), {args.reps} runs each, ms")
            print(f"{'metric':36} {'calc p50':>9} {'calc p95':>9} {'raw p50':>9} {'raw p95':>9} {'ratio':>7}")
            ratios = []
            for m in all_metrics():
                calc, raw = [], []
                for rep in range(args.reps):
                    tenant = info.tenants[rep % len(info.tenants)]
                    sq = ScopedQuery(TenantId(tenant), MetricQuery(MetricName(m.name), start, end,
                                                                   int(width / timedelta(milliseconds=1)),
                                                                   MAX_POINTS), RowScope())
                    async with db.tenant(tenant, generic_plans=True) as conn:  # as the answer path computes
                        settings = await load_settings(conn, tenant)
                        lo, hi = start, end
                        if family(m.name) in ("roi", "savings", "revenue") and m.kind.value != "timeseries":
                            lo, hi = month_bounds(end, settings.zone, -1)[0], month_bounds(end, settings.zone)[1]
                        t0 = time.perf_counter()
                        await compute(conn, sq, settings)
                        calc.append((time.perf_counter() - t0) * 1000)
                    baseline = family(m.name)
                    if baseline is None:
                        continue
                    async with db.system() as conn:
                        sql = RAW[baseline]
                        params = [tenant, lo, hi] + ([width] if "$4" in sql else []) if "$1" in sql else []
                        t0 = time.perf_counter()
                        await conn.fetch(sql, *params)
                        raw.append((time.perf_counter() - t0) * 1000)
                if not raw:  # no raw-SQL baseline for this metric: its own timings only
                    print(f"{m.name:36} {statistics.median(calc):9.1f} {pct(calc, 95):9.1f}", flush=True)
                    continue
                ratio = statistics.median(raw) / statistics.median(calc)
                ratios.append(ratio)
                print(f"{m.name:36} {statistics.median(calc):9.1f} {pct(calc, 95):9.1f} {statistics.median(raw):9.1f} "
                      f"{pct(raw, 95):9.1f} {ratio:6.1f}x", flush=True)
            print(f"geometric mean ratio (raw / calculators) over {len(ratios)} metrics: "
                  f"{statistics.geometric_mean(ratios):.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranges", nargs="+", default=["30d", "24mo"], choices=sorted(RANGES))
    parser.add_argument("--reps", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
