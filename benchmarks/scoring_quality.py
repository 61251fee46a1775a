"""Predictive lead scoring quality (and what attribution and recommendations take) on the demo tenants and on the
20-tenant bench set.

For each tenant: the scoring trainer's own load and fit (success_metrics/calculators/scoring.py) at the data's end — AUC
of the model and of the engine's score on the test period, Brier score, the close rate of the model's top tenth of leads
against the engine's top tenth (lift), the base rate, train/test sizes — and how long reading, fitting,
attribution.multi_touch and recommendations.list over the whole history take, plus the recommendations found.

    python benchmarks/scoring_quality.py [--set demo|bench|both] [--bench-scale 4.0] [--tenants 20]

The demo tenants (acme, globex, 24 months at scale 1) load into a temporary embedded PostgreSQL; the bench set is
benchmarks/dataset.py's (built once under SM_DATA_DIR, default ~/.cache/success-metrics-bench; DATABASE_URL →
that server). ``--bench-dir DIR`` keeps a smaller bench set apart from the default one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dataset import bench_database, ensure_dataset
from success_metrics.calculators import (
    MetricName,
    MetricQuery,
    RowScope,
    ScopedQuery,
    TenantId,
    compute,
    scoring,
)
from success_metrics.storage import tenants as tenant_store
from success_metrics.storage.pool import Database
from success_metrics.tools import demo

HEADER = (f"{'tenant':<10} {'leads':>7} {'train':>6} {'test':>5} {'AUC':>6} {'engine':>6} {'Brier':>6} "
          f"{'base%':>6} {'top10%':>6} {'eng10%':>6} {'lift':>5} {'load s':>6} {'fit s':>6} {'attr s':>6} "
          f"{'recs':>4}")


async def one(db: Database, tenant: str, end: datetime) -> dict[str, float]:
    async with db.tenant(tenant) as conn:
        settings = await tenant_store.load_settings(conn, tenant)
        t0 = time.perf_counter()
        history = await scoring.load(conn, tenant, settings, end)
        t1 = time.perf_counter()
    quality, _ = await asyncio.to_thread(scoring.fit_quality, history.leads, end)
    t2 = time.perf_counter()
    whole = (end - timedelta(days=730), end)
    timings, found = [], 0
    for name in ("attribution.multi_touch", "recommendations.list"):
        async with db.tenant(tenant) as conn:
            started = time.perf_counter()
            frame = await compute(conn, ScopedQuery(TenantId(tenant), MetricQuery(MetricName(name), *whole),
                                                    RowScope()))
            timings.append(time.perf_counter() - started)
        if name == "recommendations.list":
            found = frame.row_count
            for text in frame.column("text").values if frame.row_count else ():
                print(f"    {tenant}: {text}")
    q = quality
    if q.reason:
        print(f"{tenant:<10} {len(history.leads.rows):>7}  {q.reason}")
        return {}
    print(f"{tenant:<10} {len(history.leads.rows):>7} {q.n_train:>6} {q.n_test:>5} {q.auc or 0:>6.3f} "
          f"{q.engine_auc or 0:>6.3f} {q.brier or 0:>6.3f} {100 * (q.base_rate or 0):>6.1f} "
          f"{100 * (q.top_decile_rate or 0):>6.1f} {100 * (q.engine_top_decile_rate or 0):>6.1f} {q.lift or 0:>5.2f} "
          f"{t1 - t0:>6.2f} {t2 - t1:>6.2f} {timings[0]:>6.2f} {found:>4}", flush=True)
    return {"auc": q.auc or 0, "engine_auc": q.engine_auc or 0, "brier": q.brier or 0, "lift": q.lift or 0,
            "fit": t2 - t1, "load": t1 - t0, "attribution": timings[0]}


async def run(db: Database, tenants: list[str], end: datetime, label: str) -> None:
    print(f"\n{label}: split at the 75th percentile of labelled leads, horizon {scoring.HORIZON_DAYS} days\n{HEADER}")
    rows = [r for r in [await one(db, t, end) for t in tenants] if r]
    if rows:
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        print(f"median over {len(rows)}: AUC {med['auc']:.3f} (engine {med['engine_auc']:.3f}), Brier "
              f"{med['brier']:.3f}, lift {med['lift']:.2f}; load {med['load']:.2f} s, fit {med['fit']:.2f} s, "
              f"attribution over 24 months {med['attribution']:.2f} s")


async def main(args: argparse.Namespace) -> None:
    if args.set in ("demo", "both"):
        with tempfile.TemporaryDirectory(prefix="sm-bench-scoring-") as tmp:
            async with bench_database(Path(tmp)) as db:
                profiles = [demo.profile(t) for t in demo.DEMO_TENANTS]
                async with db.system() as conn:
                    for p in profiles:
                        await tenant_store.upsert(conn, p.config())
                end = demo.demo_end()
                await demo.load(db, profiles, end=end)
                await run(db, [p.tenant_id for p in profiles], end, "demo (24 months, scale 1)")
    if args.set in ("bench", "both"):
        directory = Path(args.bench_dir) if args.bench_dir else None
        async with bench_database(directory) as db:
            info = await ensure_dataset(db, tenants=args.tenants, scale=args.bench_scale, directory=directory,
                                        progress=lambda line: print(line, flush=True))
            await run(db, info.tenants, info.end_time, f"bench set ({len(info.tenants)} tenants, scale {info.scale})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("demo", "bench", "both"), default="both")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--bench-scale", type=float, default=4.0)
    parser.add_argument("--bench-dir", default=None, help="where the bench set lives (default: SM_DATA_DIR)")
    asyncio.run(main(parser.parse_args()))
