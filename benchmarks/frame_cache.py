"""Frames in the result cache: memory held, decode cost, and a hit's latency in-process against the shared table.

    python benchmarks/frame_cache.py [--tenants 4] [--months 12] [--scale 1.0] [--rss-only]

Warms every tenant of the data set (benchmarks/dataset.py) with the warmer, as a service would, and prints the
process's RSS before and after, then (unless ``--rss-only``, the part that runs on any version of the service, for a
before/after comparison in the same run) what the cache holds: encoded bytes against the decoded frames' real size
(tracemalloc) and the old estimate (sizes.frame_bytes); decode time of the largest frames; and per-hit latency
(p50/p95) for small and large frames: in-process decoded (hot), in-process from bytes, from the shared table; and
how long a second replica's warm round takes once the first has filled the shared table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dataset import bench_database, data_dir, ensure_dataset
from success_metrics.query.warmer import Warmer
from success_metrics.server.services import Services
from success_metrics.settings import Settings, TenantConfig


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def timed(reps: int, work: Any) -> list[float]:
    found = []
    for _ in range(reps):
        t0 = time.perf_counter()
        await work()
        found.append((time.perf_counter() - t0) * 1000)
    return found


async def never() -> Any:
    raise AssertionError("not cached")


async def details(svc: Services) -> None:
    from success_metrics.query import frame_codec
    from success_metrics.query.sizes import frame_bytes

    cache = svc.cache
    entries = dict(cache._entries.items())
    bodies = sorted(((len(body), key, body) for key, (_, body) in entries.items()), key=lambda e: e[0])
    print(f"frames held: {len(bodies)}, encoded {cache.bytes / 2**20:.1f} MB "
          f"(largest {bodies[-1][0] / 1024:.0f} KiB, median {bodies[len(bodies) // 2][0]} B)")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    decoded = [frame_codec.decode(body) for _, _, body in bodies]
    real = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    print(f"the same frames decoded (what the object cache held): {real / 2**20:.1f} MB measured by tracemalloc, "
          f"{sum(map(frame_bytes, decoded)) / 2**20:.1f} MB by the old estimate; "
          f"encoded/decoded = {cache.bytes / real:.2f}")
    del decoded

    largest = bodies[-10:]
    costs = [t for _, _, body in largest for t in await timed(20, lambda b=body: _decode(frame_codec, b))]
    print(f"decode, 10 largest frames x 20: p50 {pct(costs, 50):.3f} ms, p95 {pct(costs, 95):.3f} ms, "
          f"max {max(costs):.3f} ms")

    small = bodies[: max(1, len(bodies) // 5)][-20:]
    for label, group in (("small", small), ("large", largest)):
        size = sum(s for s, _, _ in group) / len(group)
        hot, cold, shared = [], [], []
        for _, key, _ in group:
            await cache.get_or_compute(key, never)  # now hot
            hot += await timed(20, lambda k=key: cache.get_or_compute(k, never))

            async def from_bytes(k: Any = key) -> None:
                cache._hot.pop(k, None)
                await cache.get_or_compute(k, never)
            cold += await timed(20, from_bytes)

            async def from_table(k: Any = key) -> None:
                assert cache.shared is not None
                turn = await cache.shared.lookup(k)
                assert turn.found is not None
                frame_codec.decode(turn.found.body)
            shared += await timed(20, from_table)
        print(f"hit latency, {label} frames (mean {size / 1024:.1f} KiB), ms p50/p95: in-process decoded "
              f"{pct(hot, 50):.3f}/{pct(hot, 95):.3f}, in-process from bytes {pct(cold, 50):.3f}/{pct(cold, 95):.3f}, "
              f"shared table {pct(shared, 50):.3f}/{pct(shared, 95):.3f}")


async def _decode(codec: Any, body: bytes) -> None:
    codec.decode(body)


async def main(args: argparse.Namespace) -> None:
    async with bench_database() as db:
        info = await ensure_dataset(db, tenants=args.tenants, months=args.months, scale=args.scale)
        print(f"data set: {info.total_events:,} events, {len(info.tenants)} tenants, {info.months} months")
        settings = Settings(data_dir=data_dir(), cache_warm=False,
                            tenants=tuple(TenantConfig(id=t, name=t) for t in info.tenants))
        svc = await Services.start(settings, db, listen=True)
        if getattr(svc.cache, "shared", None) is not None:
            async with db.system() as conn:
                await conn.execute("TRUNCATE frame_cache")  # every frame computed, none read from an earlier run
        gc.collect()
        started = rss_mb()
        t0 = time.perf_counter()
        state = await Warmer(svc).round(tenant_ids=info.tenants)
        gc.collect()
        print(f"warm round: {state.computed} computed in {time.perf_counter() - t0:.0f} s; RSS {started:.0f} MB at "
              f"start, {rss_mb():.0f} MB warm ({len(svc.cache)} frames)")
        if not args.rss_only:
            await details(svc)
            # a second replica on the same database warms the same tenants: from the shared table
            second = await Services.start(settings, db, listen=True)
            t0 = time.perf_counter()
            await Warmer(second).round(tenant_ids=info.tenants)
            print(f"a second replica's warm round: {time.perf_counter() - t0:.0f} s, {second.cache.stats.shared} "
                  f"frames from the shared table, {second.cache.stats.misses - second.cache.stats.shared} computed")
            await second.stop()
        await svc.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rss-only", action="store_true")
    asyncio.run(main(parser.parse_args()))
