"""Soak: does the service's memory level off under a long steady load?

    python benchmarks/soak.py --data-dir DIR [--users 50] [--minutes 30] [--sample-s 15] [--warmup-minutes 5]

DIR is the SM_DATA_DIR of the data set (benchmarks/dataset.py). The service is started and warmed as for
benchmarks/load.py, then N users each keep their own dashboard open over their own range, refreshing it every
10 s (``load.simulate``), for the whole duration, across the warmer's quarter-hour rounds. The server's RSS (the
service process, not PostgreSQL) is sampled every ``--sample-s`` and printed as it goes; at the end the curve,
the latencies and the verdict: after the warm-up, every sample within ±5 % of the first one ("flat"), with the
drift (last sample against the first) and the least-squares slope for the record.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the benchmarks package of this checkout

from benchmarks.load import load_dashboards, make_users, pct, simulate  # noqa: E402  (after the path is set)
from benchmarks.service_process import embedded_dsn, rss_mb, serving  # noqa: E402

TOLERANCE = 0.05  # flat: every sample after the warm-up within ±5 % of the first


def verdict(curve: list[tuple[float, float]], warmup_s: float) -> tuple[bool, str]:
    """(flat, a line saying why) for (seconds, MB) samples: after ``warmup_s``, each within TOLERANCE of the first."""
    after = [(t, mb) for t, mb in curve if t >= warmup_s]
    if len(after) < 2:
        return False, "too few samples after the warm-up to judge"
    reference = after[0][1]
    low, high = min(mb for _, mb in after) / reference - 1, max(mb for _, mb in after) / reference - 1
    n = len(after)
    mean_t, mean_mb = sum(t for t, _ in after) / n, sum(mb for _, mb in after) / n
    slope = (sum((t - mean_t) * (mb - mean_mb) for t, mb in after)
             / (sum((t - mean_t) ** 2 for t, _ in after) or 1.0))  # MB per second
    flat = low >= -TOLERANCE and high <= TOLERANCE
    return flat, (f"{'FLAT' if flat else 'NOT FLAT'}: after {warmup_s / 60:.0f} min warm-up RSS stays within "
                  f"{low:+.1%} … {high:+.1%} of {reference:.0f} MB (tolerance ±{TOLERANCE:.0%}); drift "
                  f"{after[-1][1] / reference - 1:+.1%}; slope {slope * 600 / reference:+.2%} per 10 min")


async def sample(server: subprocess.Popen[bytes], started: float, every_s: float, stop: asyncio.Event,
                 curve: list[tuple[float, float]]) -> None:
    while not stop.is_set():
        at, mb = time.monotonic() - started, rss_mb(server)
        curve.append((at, mb))
        print(f"  {at / 60:6.1f} min  RSS {mb:7.1f} MB", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


async def main(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    dashboards = load_dashboards()
    async with serving(data_dir, args.database_url) as (server, client):
        dsn = args.database_url or embedded_dsn(data_dir)
        users = await make_users(dsn, data_dir, args.users, random.Random(args.seed),
                                 ("success-metrics-dev", "success-metrics"))
        print(f"{len(users)} users over {len({u.tenant for u in users})} tenants for {args.minutes:.0f} min; "
              f"RSS every {args.sample_s:.0f} s", flush=True)
        curve: list[tuple[float, float]] = []
        stop = asyncio.Event()
        started = time.monotonic()
        sampler = asyncio.create_task(sample(server, started, args.sample_s, stop, curve))
        first, refreshes = await simulate(client, users, dashboards, args.minutes * 60, args.seed)
        stop.set()
        await sampler
        curve.append((time.monotonic() - started, rss_mb(server)))
    every = first.latencies + refreshes.latencies
    print(f"{len(every)} dashboard loads  p50 {pct(every, 50):.0f} ms  p95 {pct(every, 95):.0f} ms  "
          f"p99 {pct(every, 99):.0f} ms; http errors {first.http_errors + refreshes.http_errors}, panel errors "
          f"{first.panel_errors + refreshes.panel_errors}")
    for example in (first.samples + refreshes.samples)[:5]:
        print(f"  e.g. {example}")
    print("curve (min, MB): " + "  ".join(f"{t / 60:.1f} {mb:.0f}" for t, mb in curve))
    flat, why = verdict(curve, args.warmup_minutes * 60)
    print(why)
    return 0 if flat else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="SM_DATA_DIR of the data set (benchmarks/dataset.py)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the users keep loading")
    parser.add_argument("--sample-s", type=float, default=15.0, help="seconds between RSS samples")
    parser.add_argument("--warmup-minutes", type=float, default=5.0,
                        help="minutes of load before the flatness check starts")
    parser.add_argument("--seed", type=int, default=7)
    sys.exit(asyncio.run(main(parser.parse_args())))
