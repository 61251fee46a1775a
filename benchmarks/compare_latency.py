"""Per-metric latency of two checkouts of the service (before and after a change), interleaved in one run.

    python benchmarks/compare_latency.py --old /path/to/old-checkout --old-data /tmp/old-data \\
        [--new .] [--new-data /tmp/new-data] [--ranges 24h 30d 12mo] [--reps 7] [--metrics pipeline. cost.]

Each checkout runs in a worker process of its own (its own ``.venv/bin/python``, its own data set under its data
directory, built by its own ``benchmarks/dataset.py`` with the same tenants, months, scale, seed and end), which
times ``compute`` (the calculators, no result cache) for one metric, range and tenant at a time. The driver asks
the two workers in turn, metric by metric and repetition by repetition (alternating which goes first), so both
see the same moment of a shared, noisy machine: compare the ratios, not the milliseconds. Prints per metric and
range the median of either side (ms) and new/old: the median of the repetitions' own ratios (each pairs the same
tenant at nearly the same moment, which shields it from the load of other processes); then per range the
geometric mean of the ratios and the metrics more than 10 % slower. Metrics only one side has are timed on that
side alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

RANGES = {"24h": 1, "7d": 7, "30d": 30, "12mo": 365, "24mo": 730}
MAX_POINTS = 1000
SLOWER = 1.10


# ---- the worker: runs inside either checkout's interpreter -----------------------------------------------------


async def worker() -> None:
    """Answer one JSON request a line on stdin ({"metric", "range", "rep"}) with {"ms"} or {"error"}."""
    import time
    from datetime import timedelta

    sys.path.insert(0, str(Path.cwd()))
    from benchmarks.dataset import bench_database, ensure_dataset

    try:
        from success_metrics import calculators as calc
        from success_metrics.calculators.compute import load_settings
    except ImportError:  # a checkout from before the package was named success_metrics
        import calculators as calc  # type: ignore[no-redef,import-not-found]
        from calculators.compute import load_settings  # type: ignore[no-redef,import-not-found]

    async with bench_database() as db:
        info = await ensure_dataset(db)
        end = info.end_time
        await _fit(db, info.end_time)
        print(json.dumps({"metrics": [m.name for m in calc.all_metrics()], "end": info.end,
                          "events": info.total_events}), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            ask = json.loads(line)
            span = timedelta(days=RANGES[ask["range"]])
            width = max(timedelta(hours=1), span / MAX_POINTS)
            tenant = info.tenants[ask["rep"] % len(info.tenants)]
            sq = calc.ScopedQuery(calc.TenantId(tenant), calc.MetricQuery(
                calc.MetricName(ask["metric"]), end - span, end, int(width / timedelta(milliseconds=1)), MAX_POINTS),
                calc.RowScope())
            try:
                async with db.tenant(tenant) as conn:
                    settings = await load_settings(conn, tenant)
                    t0 = time.perf_counter()
                    await calc.compute(conn, sq, settings)
                    answer: dict[str, Any] = {"ms": (time.perf_counter() - t0) * 1000}
            except Exception as exc:  # reported beside the figures, not fatal to the run
                answer = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            print(json.dumps(answer), flush=True)


async def _fit(db: Any, now: Any) -> None:
    """Fit the lead scoring model of a checkout with a background trainer (as of the data set's end; once: a fit
    is kept until the data changes), so its scoring panels time what a service's do, not a "not fitted" notice.
    The other kinds (forecasts, anomaly scans) take many minutes on two cores, and their panels read one stored
    payload each: they are timed unfitted."""
    try:
        from success_metrics.calculators import models
        from success_metrics.query.cache import ResultCache
        from success_metrics.query.trainer import ModelTrainer
    except ImportError:  # a checkout without a trainer
        return
    kinds = [k for k in models.trainers() if k.kind == "scoring"]
    state = await ModelTrainer(db, ResultCache(15, 900), kinds=kinds).round(now)
    print(f"models: {state.fitted} fitted, {state.unchanged} unchanged, {state.failed} failed", file=sys.stderr)


# ---- the driver ---------------------------------------------------------------------------------------------------


class Side:
    def __init__(self, name: str, checkout: Path, data: Path) -> None:
        self.name, self.checkout, self.data = name, checkout, data
        self.proc: asyncio.subprocess.Process | None = None
        self.metrics: list[str] = []

    async def start(self) -> None:
        python = self.checkout / ".venv" / "bin" / "python"
        self.proc = await asyncio.create_subprocess_exec(
            str(python), str(Path(__file__).resolve()), "--worker", cwd=self.checkout,
            env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"SM_DATA_DIR": str(self.data)},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 20)
        hello = json.loads(await self._line())
        self.metrics = hello["metrics"]
        print(f"{self.name}: {self.checkout} · {hello['events']:,} events to {hello['end']} · "
              f"{len(self.metrics)} metrics", flush=True)

    async def _line(self) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker ended (see its output above)")
        return line

    async def time(self, metric: str, rng: str, rep: int) -> float | str:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"metric": metric, "range": rng, "rep": rep}).encode() + b"\n")
        await self.proc.stdin.drain()
        answer = json.loads(await self._line())
        return float(answer["ms"]) if "ms" in answer else str(answer["error"])

    async def stop(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            await self.proc.wait()


def _fmt(x: float | None) -> str:
    return f"{x:9.1f}" if x is not None else f"{'-':>9}"


async def drive(args: argparse.Namespace) -> None:
    old = Side("old", args.old.resolve(), args.old_data.resolve())
    new = Side("new", args.new.resolve(), args.new_data.resolve())
    await old.start()
    await new.start()
    names = sorted(set(old.metrics) | set(new.metrics))
    if args.metrics:
        names = [n for n in names if any(n.startswith(prefix) for prefix in args.metrics)]
    report: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        for rng in args.ranges:
            print(f"\nrange {rng}, {args.reps} runs each (median ms); new/old > {SLOWER:.2f} marked *", flush=True)
            print(f"{'metric':36} {'old':>9} {'new':>9} {'new/old':>8}")
            rows = report.setdefault(rng, {})
            for name in names:
                sides = [s for s in (old, new) if name in s.metrics]
                for s in sides:  # once untimed: statement plans, imports and caches of the first call
                    await s.time(name, rng, 0)
                times: dict[str, list[float]] = {s.name: [] for s in sides}
                pairs: list[float] = []  # new/old of each repetition: the same tenant at nearly the same moment
                errors: list[str] = []
                for rep in range(args.reps):
                    got: dict[str, float] = {}
                    for s in sides if rep % 2 == 0 else sides[::-1]:
                        ms = await s.time(name, rng, rep)
                        if isinstance(ms, str):
                            errors.append(f"{s.name}: {ms}")
                        else:
                            times[s.name].append(ms)
                            got[s.name] = ms
                    if got.get("old") and got.get("new"):
                        pairs.append(got["new"] / got["old"])
                med = {k: statistics.median(v) if v else None for k, v in times.items()}
                o, n = med.get("old"), med.get("new")
                ratio = statistics.median(pairs) if pairs else None
                rows[name] = {"old": o, "new": n, "ratio": ratio}
                mark = "*" if ratio is not None and ratio > SLOWER else ""
                print(f"{name:36} {_fmt(o)} {_fmt(n)} {'' if ratio is None else f'{ratio:7.2f}'}{mark}"
                      f"{'  ' + errors[0] if errors else ''}", flush=True)
    finally:
        await old.stop()
        await new.stop()
    for rng, rows in report.items():
        ratios = [r["ratio"] for r in rows.values() if r["ratio"]]
        slow = sorted(((r["ratio"], m) for m, r in rows.items() if r["ratio"] and r["ratio"] > SLOWER), reverse=True)
        if ratios:
            print(f"{rng}: geometric mean new/old {math.exp(statistics.fmean(map(math.log, ratios))):.2f} over "
                  f"{len(ratios)} metrics; >{SLOWER:.2f}: " + (", ".join(f"{m} {r:.2f}" for r, m in slow) or "none"))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def main() -> None:
    if "--worker" in sys.argv:
        asyncio.run(worker())
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True, help="the old checkout (with its .venv)")
    parser.add_argument("--old-data", type=Path, required=True, help="the old checkout's SM_DATA_DIR")
    parser.add_argument("--new", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--new-data", type=Path, required=True, help="the new checkout's SM_DATA_DIR")
    parser.add_argument("--ranges", nargs="+", default=["24h", "30d", "12mo"], choices=sorted(RANGES))
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--metrics", nargs="*", help="only metrics whose names start with one of these")
    parser.add_argument("--json", type=Path, help="also write the table here")
    asyncio.run(drive(parser.parse_args()))


if __name__ == "__main__":
    main()
