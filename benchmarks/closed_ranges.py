"""Closed past ranges, cold: every panel of the shipped dashboards over a fixed quarter and a custom 45 days.

    python benchmarks/closed_ranges.py [--tenants 6] [--months 24] [--scale 1.0] [--reps 3]

Ranges the warmer does not compute (it warms "last N days" ranges ending now) are computed on the user's first
load. This times each panel query of each dashboard (``dashboard_panels``: the provisioned dashboards' targets,
template variables at "All", parsed and fitted as a Grafana request is) computed without the result cache
(``success_metrics.calculators.compute`` and the annotation kinds), over two closed ranges ending before the data
set's end: the calendar quarter Jul 1 – Oct 1 (tenant-local midnights) and 45 days whose ends fall inside days
(09:00 and 16:45 tenant-local, so partial days are read too). Each repetition uses the next tenant. Prints each
metric's median, each dashboard's sum of its panels' medians (its panels load in parallel, but on this 2-core
machine they share two cores, so the sum / 2 is what a first load waits at best) and the slowest metrics.
``--again`` times each query's second computation instead, to tell a first load's cold pages and planning from
what computing itself costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dataset import bench_database, ensure_dataset
from success_metrics.calculators import MetricQuery, RowScope, ScopedQuery, TenantId, TenantSettings, compute
from success_metrics.calculators import annotations as annotation_kinds
from success_metrics.calculators.compute import load_settings
from success_metrics.dashboards.export import render_dashboards, theme_for
from success_metrics.query import pipeline, summaries
from success_metrics.query.answer import Annotations
from success_metrics.query.protocol import parse
from success_metrics.query.protocol.requests import QueryRequest
from success_metrics.query.warmer import at_all, walk
from success_metrics.settings import Limits
from success_metrics.storage.pool import Database

Panel = tuple[list[dict[str, Any]], int]  # targets, maxDataPoints
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def dashboard_panels(max_points_default: int = 1000) -> dict[str, list[Panel]]:
    """Each shipped dashboard's panel requests (and its annotation request), variables at "All"."""
    out: dict[str, list[Panel]] = {}
    for name, board in render_dashboards(theme_for(TenantSettings())).items():
        panels: list[Panel] = []
        for panel in walk(board.get("panels", [])):
            targets = [at_all(t) for t in panel.get("targets", []) if t.get("target")]
            if targets:
                panels.append((targets, int(panel.get("maxDataPoints") or max_points_default)))
        notes = [at_all(a["target"]) for a in board.get("annotations", {}).get("list", [])
                 if isinstance(a.get("target"), dict) and a["target"].get("target")]
        if notes:
            panels.append((notes, max_points_default))
        out[name.removesuffix(".json")] = panels
    return out


def closed_ranges(end: datetime, zone: ZoneInfo) -> dict[str, tuple[datetime, datetime]]:
    """The last Jul 1 – Oct 1 quarter wholly before ``end``, and 45 days ending 30 days before ``end``."""
    year = end.astimezone(zone).year - (0 if end.astimezone(zone).date() >= date(end.year, 10, 1) else 1)
    quarter = (datetime(year, 7, 1, tzinfo=zone), datetime(year, 10, 1, tzinfo=zone))
    last = (end - timedelta(days=30)).astimezone(zone).replace(hour=16, minute=45, second=0, microsecond=0)
    first = (last - timedelta(days=45)).replace(hour=9, minute=0)
    return {"quarter": quarter, "45 days": (first, last)}


def timeless(query: MetricQuery | Annotations) -> MetricQuery | Annotations:
    if isinstance(query, Annotations):
        return Annotations(replace(query.query, start=EPOCH, end=EPOCH, interval_ms=0))
    return replace(query, start=EPOCH, end=EPOCH, interval_ms=0)


def label_of(query: MetricQuery | Annotations) -> str:
    return f"annotations:{query.query.metric or 'all'}" if isinstance(query, Annotations) else query.metric


async def time_query(db: Database, tenant: str, query: MetricQuery | Annotations, settings: TenantSettings,
                     again: bool = False) -> float:
    """Milliseconds of one query computed cold (no result cache); with ``again``, of its second computation on
    the same connection (its pages and the connection's catalog caches loaded). Opened as the answer path does."""
    async with db.tenant(tenant, generic_plans=not isinstance(query, Annotations)) as conn:
        for _ in range(2 if again else 1):
            t0 = time.perf_counter()
            if isinstance(query, Annotations):
                for kind in annotation_kinds.kinds([k for k in query.query.metric.split(",") if k.strip()]):
                    one = MetricQuery(metric=kind.name, start=query.query.start, end=query.query.end)
                    await annotation_kinds.compute(conn, ScopedQuery(TenantId(tenant), one, RowScope()), settings)
            else:
                await compute(conn, ScopedQuery(TenantId(tenant), query, RowScope()), settings)
        return (time.perf_counter() - t0) * 1000


async def run_range(db: Database, tenants: list[str], label: str, data_end: datetime, reps: int,
                    boards: dict[str, list[Panel]], only: set[str] | None = None, again: bool = False
                    ) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Median ms per metric, and each dashboard's metrics, over the range ``label`` of each tenant's zone."""
    times: dict[str, list[float]] = defaultdict(list)
    members: dict[str, list[str]] = defaultdict(list)
    labels: dict[str, str] = {}
    for rep in range(reps):
        tenant = tenants[rep % len(tenants)]
        async with db.tenant(tenant) as conn:
            settings = await load_settings(conn, tenant)
        start, end = closed_ranges(data_end, settings.zone)[label]
        seen: set[str] = set()  # a panel on several dashboards (errors.rate …) is computed once a run
        for board, panels in boards.items():
            for targets, points in panels:
                body = QueryRequest.model_validate({
                    "range": {"from": start.isoformat(), "to": end.isoformat()},
                    "intervalMs": (end - start) / timedelta(milliseconds=1) / points, "maxDataPoints": points,
                    "targets": targets})
                for target in parse.metric_queries(body, Limits()):
                    fitted = pipeline.fit(target)
                    if fitted.query is None or (only and label_of(fitted.query) not in only):
                        continue
                    key = repr(timeless(fitted.query))  # the same panel query whatever the tenant's zone
                    if key not in labels:  # the same metric asked another way (forecast.revenue's two series)
                        name = label_of(fitted.query)
                        labels[key] = name if name not in labels.values() else f"{name}#{len(labels)}"
                    if labels[key] not in members[board]:
                        members[board].append(labels[key])
                    if key not in seen:
                        seen.add(key)
                        times[labels[key]].append(await time_query(db, tenant, fitted.query, settings, again))
    return {k: statistics.median(v) for k, v in times.items()}, members


async def main(args: argparse.Namespace) -> None:
    async with bench_database() as db:
        info = await ensure_dataset(db, tenants=args.tenants, months=args.months, scale=args.scale,
                                    progress=lambda line: print(line, flush=True))
        async with db.tenant(info.tenants[0]) as conn:
            zone = (await load_settings(conn, info.tenants[0])).zone
        print(f"data set: {info.total_events:,} events, {len(info.tenants)} tenants, {info.months} months to "
              f"{info.end}; {args.reps} cold runs per query, each on the next tenant")
        if args.summarize:
            started = time.perf_counter()
            days = await summaries.summarize(db)
            while days:  # a round summarizes at most closed_days.REFRESH_DAYS a tenant
                days = await summaries.summarize(db)
            print(f"closed days summarized in {time.perf_counter() - started:.1f} s")
        boards = dashboard_panels()
        for label, rng in closed_ranges(info.end_time, zone).items():
            medians, members = await run_range(db, info.tenants, label, info.end_time, args.reps, boards,
                                               set(args.metrics.split(",")) if args.metrics else None, args.again)
            print(f"\n{label}: {rng[0].isoformat()} → {rng[1].isoformat()} in {info.tenants[0]}'s zone, the same "
                  f"local times in each tenant's (ms, median{', second computation' if args.again else ''})")
            for board, names in members.items() if not args.metrics else ():
                total = sum(medians[n] for n in names)
                print(f"  {board:24} sum {total:8.0f}  /2 cores {total / 2:8.0f}  slowest panel "
                      f"{max(medians[n] for n in names):7.0f}")
            print("  metrics, slowest first:")
            for name, ms in sorted(medians.items(), key=lambda kv: -kv[1])[:args.top]:
                print(f"    {name:40} {ms:8.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=6)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--metrics", help="time only these metrics (comma separated)")
    parser.add_argument("--again", action="store_true",
                        help="time each query's second computation on its connection: what is left once its pages "
                             "and catalog caches are loaded (the rest of a first load's time is those)")
    parser.add_argument("--summarize", action="store_true",
                        help="summarize every closed day first (query/summaries.py), as the service's loop does")
    asyncio.run(main(parser.parse_args()))
