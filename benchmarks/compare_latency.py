"""Per-metric latency of two checkouts of the service (before and after a change), interleaved in one run.

    python benchmarks/compare_latency.py --old /path/to/old-checkout --old-data /tmp/old-data \\
        [--new .] [--new-data /tmp/new-data] [--ranges 24h 30d 12mo] [--reps 7] [--rounds 3] [--metrics pipeline. cost.]
        [--batch-under 2]

Each checkout runs in a worker process of its own (its own ``.venv/bin/python``, its own data set under its data
directory, built by its own ``benchmarks/dataset.py`` with the same tenants, months, scale, seed and end), which
times ``compute`` (the calculators, no result cache) for one metric, range and tenant at a time. The driver asks
the two workers in turn, metric by metric and repetition by repetition (alternating which goes first), so both
see the same moment of a shared, noisy machine: compare the ratios, not the milliseconds. Each computation is
timed as wall time and as CPU time (the worker's own plus its PostgreSQL backend's, from /proc/<pid>/schedstat:
what the computation costs, which the other processes of a loaded machine disturb far less than the wall time).
Prints per metric and range the medians of either side (ms) and new/old for both, each the median of the
repetitions' own ratios (a repetition pairs the same tenant at nearly the same moment). With ``--rounds R`` the
whole pass runs R times (sub-millisecond metrics move by a quarter between identical passes), and a metric's
ratio is the median of its rounds'. With ``--batch-under MS`` a metric whose first call took under MS ms is
timed as the mean of back-to-back calls (in one transaction) lasting about MS ms, so that a tenth of a
sub-millisecond computation is not lost in one call's scheduling noise. Then per range the geometric mean of
the ratios, the metrics more than 10 % slower with the spread of their rounds, and those slower in every round.
Metrics only one side has are timed on that side alone.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
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
        # a computation's transaction as the checkout's answer path opens it (on generic plans, where it does)
        opened = {"generic_plans": True} if "generic_plans" in inspect.signature(db.tenant).parameters else {}
        info = await ensure_dataset(db)
        end = info.end_time
        await _fit(db, info.end_time)
        await _summarize(db)
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
                async with db.tenant(tenant, **opened) as conn:
                    settings = await load_settings(conn, tenant)
                    backend = await conn.fetchval("SELECT pg_backend_pid()")
                    batch = ask.get("batch", 1)
                    c0, b0, t0 = time.process_time(), _cpu_ns(backend), time.perf_counter()
                    for _ in range(batch):
                        await calc.compute(conn, sq, settings)
                    ms, c1, b1 = (time.perf_counter() - t0) * 1000, time.process_time(), _cpu_ns(backend)
                    answer: dict[str, Any] = {"ms": ms / batch, "cpu": None if b0 is None or b1 is None else
                                              ((c1 - c0) * 1000 + (b1 - b0) / 1e6) / batch}
            except Exception as exc:  # reported beside the figures, not fatal to the run
                answer = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            print(json.dumps(answer), flush=True)


def _cpu_ns(pid: int) -> int | None:
    """CPU time a process (here: the connection's PostgreSQL backend) has run, in ns (Linux schedstat); None when
    it is not on this machine."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


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


async def _summarize(db: Any) -> None:
    """Summarize a checkout's closed days as its service's background loop keeps them (uptime.system and
    errors.mttr read closed days from the summaries; a data set built before migration 0019, or by dataset.py, has
    none, so both would time their raw fallback)."""
    try:
        from success_metrics.query.summaries import summarize
    except ImportError:  # a checkout without closed-day summaries
        return
    days = 0
    while done := await summarize(db):
        days += done
    print(f"closed days: {days} summarized", file=sys.stderr)


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

    async def time(self, metric: str, rng: str, rep: int, batch: int = 1) -> dict[str, float] | str:
        """Wall and CPU milliseconds of one computation, the mean of ``batch`` run back to back (CPU: the worker's
        and its backend's; absent when the backend is on another machine), or the error it raised."""
        assert self.proc is not None and self.proc.stdin is not None
        ask = {"metric": metric, "range": rng, "rep": rep, "batch": batch}
        self.proc.stdin.write(json.dumps(ask).encode() + b"\n")
        await self.proc.stdin.drain()
        answer = json.loads(await self._line())
        if "ms" not in answer:
            return str(answer["error"])
        return {k: float(answer[k]) for k in ("ms", "cpu") if answer.get(k) is not None}

    async def stop(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            await self.proc.wait()


def _fmt(x: float | None, digits: int = 1) -> str:
    return f"{x:9.{digits}f}" if x is not None else f"{'-':>9}"


async def _pair(sides: list[Side], name: str, rng: str, reps: int, batch_under: float) -> dict[str, Any]:
    """One metric over one range on both sides, repetition by repetition: medians per side, new/old ratios. A
    metric whose untimed first call took under ``batch_under`` ms on either side is timed in batches of calls
    (each repetition the mean of enough back-to-back calls to last about that long)."""
    first = [await s.time(name, rng, 0) for s in sides]  # untimed: statement plans, imports and caches
    fastest = min((a["ms"] for a in first if isinstance(a, dict)), default=batch_under)
    batch = max(1, min(50, round(batch_under / max(fastest, 0.01)))) if fastest < batch_under else 1
    times: dict[str, dict[str, list[float]]] = {s.name: {"ms": [], "cpu": []} for s in sides}
    pairs: dict[str, list[float]] = {"ms": [], "cpu": []}  # new/old of each repetition
    errors: list[str] = []
    for rep in range(reps):
        got: dict[str, dict[str, float]] = {}
        for s in sides if rep % 2 == 0 else sides[::-1]:
            answer = await s.time(name, rng, rep, batch)
            if isinstance(answer, str):
                errors.append(f"{s.name}: {answer}")
                continue
            got[s.name] = answer
            for k, v in answer.items():
                times[s.name][k].append(v)
        for k, found in pairs.items():
            if got.get("old", {}).get(k) and got.get("new", {}).get(k):
                found.append(got["new"][k] / got["old"][k])
    row: dict[str, Any] = {f"{side}_{k}": statistics.median(v) if v else None
                           for side, by in times.items() for k, v in by.items()}
    row |= {f"ratio_{k}": statistics.median(v) if v else None for k, v in pairs.items()}
    return row | {"errors": errors, "batch": batch}


async def drive(args: argparse.Namespace) -> None:
    old = Side("old", args.old.resolve(), args.old_data.resolve())
    new = Side("new", args.new.resolve(), args.new_data.resolve())
    await old.start()
    await new.start()
    names = sorted(set(old.metrics) | set(new.metrics))
    if args.metrics:
        names = [n for n in names if any(n.startswith(prefix) for prefix in args.metrics)]
    report: dict[str, dict[str, list[dict[str, Any]]]] = {}  # range → metric → one row a round
    try:
        for round_ in range(args.rounds):
            for rng in args.ranges:
                print(f"\nround {round_ + 1} of {args.rounds}, range {rng}, {args.reps} runs each (medians, ms; "
                      f"ratios new/old: the median of the runs' own; CPU over {SLOWER:.2f} marked *)", flush=True)
                print(f"{'metric':36} {'old wall':>9} {'new wall':>9} {'old cpu':>9} {'new cpu':>9} {'wall':>9} "
                      f"{'cpu':>9}")
                for name in names:
                    row = await _pair([s for s in (old, new) if name in s.metrics], name, rng, args.reps,
                                      args.batch_under)
                    report.setdefault(rng, {}).setdefault(name, []).append(row)
                    ratio = row["ratio_cpu"] or row["ratio_ms"]
                    mark = "*" if ratio is not None and ratio > SLOWER else ""
                    cells = " ".join(_fmt(row.get(k)) for k in ("old_ms", "new_ms", "old_cpu", "new_cpu"))
                    batched = f"  (batches of {row['batch']})" if row["batch"] > 1 else ""
                    print(f"{name:36} {cells} {_fmt(row['ratio_ms'], 2)} {_fmt(row['ratio_cpu'], 2)}{mark}{batched}"
                          f"{'  ' + row['errors'][0] if row['errors'] else ''}", flush=True)
    finally:
        await old.stop()
        await new.stop()
    _summary(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def _summary(report: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    """Per range and clock: the geometric mean of the metrics' ratios (each the median of its rounds'), the
    metrics over SLOWER, and of them those over SLOWER in every round (slower beyond the run-to-run noise)."""
    for rng, metrics in report.items():
        for k in ("ms", "cpu"):
            rounds = {m: [r[f"ratio_{k}"] for r in rows if r.get(f"ratio_{k}")] for m, rows in metrics.items()}
            ratios = {m: statistics.median(v) for m, v in rounds.items() if v}
            if not ratios:
                continue
            slow = sorted(((r, m) for m, r in ratios.items() if r > SLOWER), reverse=True)
            always = [m for _, m in slow if min(rounds[m]) > SLOWER]
            spread = {m: f" ({min(rounds[m]):.2f}-{max(rounds[m]):.2f})" if len(rounds[m]) > 1 else ""
                      for _, m in slow}
            print(f"{rng} {'wall' if k == 'ms' else 'cpu'}: geometric mean new/old "
                  f"{math.exp(statistics.fmean(map(math.log, ratios.values()))):.2f} over {len(ratios)} metrics; "
                  f">{SLOWER:.2f}: " + (", ".join(f"{m} {r:.2f}{spread[m]}" for r, m in slow) or "none")
                  + (f"; in every round: {', '.join(always) or 'none'}" if max(map(len, rounds.values())) > 1
                     else ""))


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
    parser.add_argument("--rounds", type=int, default=1,
                        help="passes over every metric and range; a metric's ratio is the median of its rounds'")
    parser.add_argument("--metrics", nargs="*", help="only metrics whose names start with one of these")
    parser.add_argument("--batch-under", type=float, default=0.0, metavar="MS",
                        help="time a metric whose first call takes under MS ms as the mean of back-to-back calls "
                             "lasting about MS ms (at most 50), so that sub-millisecond ratios rise above the noise")
    parser.add_argument("--json", type=Path, help="also write the table here")
    asyncio.run(drive(parser.parse_args()))


if __name__ == "__main__":
    main()
