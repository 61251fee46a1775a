"""Per-metric latency: the calculators (rollups + raw tail) against the raw-events SQL of a Grafana PostgreSQL user.

    python benchmarks/metrics_latency.py [--ranges 30d 24mo] [--reps 5]

Runs on the data set of benchmarks/dataset.py (built first if missing). For every metric of the catalog and
every range ending at the data set's end, it times ``success_metrics.calculators.compute`` (no result cache) and a raw-SQL
baseline: the query someone would write in a Grafana PostgreSQL panel for the same figure, aggregating the
``events`` table directly (JSON fields extracted per row, percentiles with percentile_cont, lead funnels by
joining the lead's events). Each repetition uses the next tenant. Prints median and p95 of both, and the ratio
of the medians (raw / calculators).
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

from success_metrics.calculators import MetricName, MetricQuery, RowScope, ScopedQuery, TenantId, all_metrics, compute
from success_metrics.calculators.buckets import month_bounds
from success_metrics.calculators.compute import load_settings
from benchmarks.dataset import bench_database, ensure_dataset  # noqa: E402

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "12mo": timedelta(days=365), "24mo": timedelta(days=730)}
MAX_POINTS = 1000
D = "payload"
WHERE = "tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3"

# the raw-events SQL per family of panels ($1 tenant, $2/$3 range, $4 bucket width)
RAW = {
    "calls": f"""SELECT {D}->>'component' AS c, count(*), avg(({D}->>'ok')::boolean::int),
                   avg(({D}->>'latency_ms')::float8),
                   percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY ({D}->>'latency_ms')::float8)
                 FROM events WHERE {WHERE} AND type = 'component.call' GROUP BY 1""",
    "calls_series": f"""SELECT date_bin($4::interval, occurred_at, timestamptz '2000-01-03') AS t, {D}->>'component',
                   count(*), avg(({D}->>'ok')::boolean::int), avg(({D}->>'latency_ms')::float8),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY ({D}->>'latency_ms')::float8)
                 FROM events WHERE {WHERE} AND type = 'component.call' GROUP BY 1, 2 ORDER BY 1""",
    "money": f"""SELECT date_trunc('month', occurred_at) AS m, type, coalesce({D}->>'attribution_class',
                   {D}->>'category', {D}->>'kind') AS k, count(*),
                   sum(coalesce(({D}->>'value')::numeric, ({D}->>'amount')::numeric, ({D}->>'count')::numeric, 0)),
                   count(*) FILTER (WHERE coalesce(({D}->>'ok')::boolean, true)
                                    AND NOT coalesce(({D}->>'automated')::boolean IS FALSE, false))
                 FROM events WHERE {WHERE} AND type IN ('deal.closed', 'cost.recorded', 'error.prevented',
                   'lead.responded', 'lead.enriched', 'lead.scored', 'lead.routed', 'lead.nurtured',
                   'contact.attempted', 'agent.activity') GROUP BY 1, 2, 3""",
    "funnel": f"""SELECT c.{D}->>'source', count(*), count(r.lead_id), count(a.lead_id), count(d.lead_id), sum(d.v)
                 FROM events c
                 LEFT JOIN (SELECT DISTINCT lead_id FROM events WHERE tenant_id = $1 AND type = 'lead.responded'
                            AND ({D}->>'ok')::boolean) r USING (lead_id)
                 LEFT JOIN (SELECT DISTINCT lead_id FROM events WHERE tenant_id = $1
                            AND type = 'appointment.scheduled') a USING (lead_id)
                 LEFT JOIN (SELECT lead_id, max(({D}->>'value')::numeric) AS v FROM events WHERE tenant_id = $1
                            AND type = 'deal.closed' GROUP BY 1) d USING (lead_id)
                 WHERE c.tenant_id = $1 AND c.occurred_at >= $2 AND c.occurred_at < $3 AND c.type = 'lead.created'
                 GROUP BY 1""",
    "agents": f"""SELECT r.agent_id, count(*), avg(extract(epoch FROM k.first - c.occurred_at)), count(a.lead_id),
                   count(d.lead_id), sum(d.v)
                 FROM events c JOIN events r ON r.tenant_id = $1 AND r.lead_id = c.lead_id AND r.type = 'lead.routed'
                 LEFT JOIN (SELECT lead_id, min(occurred_at) AS first FROM events WHERE tenant_id = $1
                            AND type = 'contact.attempted' GROUP BY 1) k ON k.lead_id = c.lead_id
                 LEFT JOIN (SELECT DISTINCT lead_id FROM events WHERE tenant_id = $1
                            AND type = 'appointment.scheduled') a ON a.lead_id = c.lead_id
                 LEFT JOIN (SELECT lead_id, max(({D}->>'value')::numeric) AS v FROM events WHERE tenant_id = $1
                            AND type = 'deal.closed' GROUP BY 1) d ON d.lead_id = c.lead_id
                 WHERE c.tenant_id = $1 AND c.occurred_at >= $2 AND c.occurred_at < $3 AND c.type = 'lead.created'
                 GROUP BY 1""",
    "leads_series": f"""SELECT date_bin($4::interval, occurred_at, timestamptz '2000-01-03'), count(*)
                 FROM events WHERE {WHERE} AND type = 'lead.created' GROUP BY 1 ORDER BY 1""",
    "contacts": f"""SELECT {D}->>'channel', extract(isodow FROM occurred_at), extract(hour FROM occurred_at), count(*),
                   count(*) FILTER (WHERE {D}->>'outcome' IN ('replied', 'answered')),
                   count(*) FILTER (WHERE NOT ({D}->>'consent')::boolean),
                   count(*) FILTER (WHERE {D}->>'recipient_local_time' NOT BETWEEN '08:00' AND '20:59')
                 FROM events WHERE {WHERE} AND type = 'contact.attempted' GROUP BY 1, 2, 3""",
    "activity": f"""SELECT agent_id, sum(({D}->>'selling_minutes')::numeric), sum(({D}->>'admin_minutes')::numeric),
                   sum(({D}->>'followup_minutes')::numeric)
                 FROM events WHERE {WHERE} AND type = 'agent.activity' GROUP BY 1""",
    "usage": f"""SELECT {D}->>'service', max(({D}->>'rate_limit_used')::numeric), sum(({D}->>'requests')::numeric)
                 FROM events WHERE {WHERE} AND type = 'api.usage' GROUP BY 1""",
    "audit": """SELECT action, count(*), count(DISTINCT subject) FROM audit_log
                 WHERE tenant_id = $1 AND at >= $2 AND at < $3 GROUP BY 1""",
    "none": "SELECT pg_database_size(current_database())",
}
FAMILY = {
    "roi": "money", "savings": "money", "revenue": "money", "time_savings": "money", "executive": "money",
    "cost": "money", "conversion.before_after": "funnel", "response_time": "agents", "conversion": "funnel",
    "uptime": "calls_series", "errors.rate": "calls_series", "pipeline.stages": "funnel",
    "pipeline.throughput": "leads_series", "components.health": "calls", "components": "calls_series",
    "errors.active": "calls", "errors.by_category": "calls_series", "errors.mttr": "calls", "system": "none",
    "sources": "funnel", "leads": "funnel", "behavior.response_time_impact": "agents",
    "behavior.followup_effectiveness": "funnel", "behavior": "contacts", "attribution.tree": "funnel",
    "attribution.weighted": "money", "agents.time_allocation": "activity", "agents.goals": "agents",
    "agents": "agents", "apis": "usage", "security": "audit", "adoption": "audit", "audit": "audit",
    "compliance": "contacts",
    "alerts": "funnel",
}


def family(name: str) -> str:
    return FAMILY.get(name) or FAMILY[name.split(".")[0]]


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
                    async with db.tenant(tenant) as conn:
                        settings = await load_settings(conn, tenant)
                        lo, hi = start, end
                        if family(m.name) == "money" and m.kind.value != "timeseries":
                            lo, hi = month_bounds(end, settings.zone, -1)[0], month_bounds(end, settings.zone)[1]
                        t0 = time.perf_counter()
                        await compute(conn, sq, settings)
                        calc.append((time.perf_counter() - t0) * 1000)
                    async with db.system() as conn:
                        sql = RAW[family(m.name)]
                        params = [tenant, lo, hi] + ([width] if "$4" in sql else []) if "$1" in sql else []
                        t0 = time.perf_counter()
                        await conn.fetch(sql, *params)
                        raw.append((time.perf_counter() - t0) * 1000)
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
