"""Forecast quality on realistic data: the trainer's rolling-origin backtest per series (MASE against seasonal
naive, empirical coverage of the 80 % and 95 % intervals), on the demo tenants and on the 20-tenant bench set.

    python benchmarks/analytics_quality.py --set demo            # acme and globex, 24 months (built once)
    python benchmarks/analytics_quality.py --set bench [--scale 4.0]   # benchmarks/dataset.py's tenants

Each tenant's models are fitted by the service's own trainer (success_metrics/query/trainer.py), as the background lane
does, with the data's end as "now"; the figures printed are what ``forecast.backtest`` shows. Goals: MASE below 1
(better than seasonal naive), coverage within ±5 points of 80 and 95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dataset import DatasetInfo, _load_tenant, bench_database, data_dir, ensure_dataset
from success_metrics.calculators import models
from success_metrics.calculators.forecasting import SeriesForecast
from success_metrics.calculators.metrics.forecasts import KIND
from success_metrics.query.cache import ResultCache
from success_metrics.query.trainer import ModelTrainer
from success_metrics.storage.pool import Database
from success_metrics.tools import demo

DEMO_DIR = Path.home() / ".cache" / "success-metrics-demo-quality"


async def demo_dataset(db: Database, directory: Path) -> DatasetInfo:
    """acme and globex as the demo generates them (scale 1, seed 7), loaded once."""
    marker = directory / "dataset.json"
    if marker.exists():
        return DatasetInfo(**json.loads(marker.read_text()))
    info = DatasetInfo(["acme", "globex"], 24, 1.0, 7, demo.demo_end().isoformat())
    for tenant in info.tenants:
        info.events[tenant] = await _load_tenant(db, tenant, info, lambda line: print(line, flush=True))
    marker.write_text(json.dumps(info.__dict__, indent=2))
    return info


async def report(db: Database, info: DatasetInfo) -> None:
    trainer = ModelTrainer(db, ResultCache(15, 900))
    fits: list[SeriesForecast] = []
    took_all: list[float] = []
    print(f"{'tenant':<10} {'series':<28} {'model':<16} {'MASE':>6} {'cov80':>6} {'cov95':>6} {'origins':>7}")
    for tenant in info.tenants:
        async with db.tenant(tenant) as conn:  # measured from scratch, whatever an earlier run stored
            await conn.execute("DELETE FROM fitted_models WHERE tenant_id = $1", tenant)
        started = time.perf_counter()
        await trainer.round(info.end_time, [tenant])
        took = time.perf_counter() - started
        async with db.tenant(tenant) as conn:
            stored = [r for r in await models.read_kind(conn, tenant, KIND) if r.payload]
        for row in stored:
            f = models.decode(row.payload, SeriesForecast)
            fits.append(f)
            b = f.backtest
            if b is None:
                print(f"{tenant:<10} {f.series:<28} {'(too short)':<16}")
                continue
            print(f"{tenant:<10} {f.series:<28} {f.model:<16} {_fmt(b.mase, 6, 2)} {_fmt(b.coverage_80, 6, 1)} "
                  f"{_fmt(b.coverage_95, 6, 1)} {b.origins:>7}")
        print(f"{tenant:<10} fitted {len(stored)} series in {took:.1f} s", flush=True)
        took_all.append(took)
    summarise(fits)
    print(f"fitting (forecasts, backtests and anomaly scans) per tenant: median {statistics.median(took_all):.1f} s, "
          f"max {max(took_all):.1f} s, {sum(took_all):.0f} s for {len(took_all)} tenants")


def _fmt(value: float | None, width: int, digits: int) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def summarise(fits: list[SeriesForecast]) -> None:
    scored = [f for f in fits if f.backtest is not None and f.backtest.mase is not None]
    for label, chosen in (("monthly", [f for f in scored if f.period == 12]),
                          ("weekly", [f for f in scored if f.period != 12]), ("all", scored)):
        if not chosen:
            continue
        mases = [f.backtest.mase for f in chosen if f.backtest and f.backtest.mase is not None]
        n = sum(f.backtest.forecasts for f in chosen if f.backtest)
        cov = {lv: sum((getattr(f.backtest, f"coverage_{lv}") or 0) * f.backtest.forecasts for f in chosen
                       if f.backtest) / n for lv in (80, 95)}
        models_used = statistics.multimode([f.model for f in chosen])
        print(f"{label}: {len(chosen)} series, MASE median {statistics.median(mases):.2f} "
              f"(mean {statistics.fmean(mases):.2f}, {sum(m < 1 for m in mases)} of {len(mases)} below 1); "
              f"coverage of {n} forecasts: 80 % → {cov[80]:.1f} %, 95 % → {cov[95]:.1f} %; "
              f"most used model {', '.join(models_used)}")


async def main(args: argparse.Namespace) -> None:
    directory = Path(args.data_dir) if args.data_dir else (DEMO_DIR if args.set == "demo" else data_dir())
    async with bench_database(directory) as db:
        if args.set == "demo":
            info = await demo_dataset(db, directory)
        else:
            info = await ensure_dataset(db, tenants=args.tenants, scale=args.scale, directory=directory,
                                        progress=lambda line: print(line, flush=True))
        await report(db, info)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("demo", "bench"), default="demo")
    parser.add_argument("--data-dir", help="where the data set lives (default: per set, under ~/.cache)")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--scale", type=float, default=4.0, help="bench set volume (benchmarks/dataset.py)")
    asyncio.run(main(parser.parse_args()))
