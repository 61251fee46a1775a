"""Rendering time of the monthly business review for 20 tenants.

Loads 13 months of demo data (so year-over-year has a month to compare) for 20 synthesised tenants through
the real ingest, then renders each tenant's monthly report for an executive — every section through
authorize → compute → mask, then charts, HTML, CSVs and the PDF — one tenant after another, as one
scheduler tick would. Prints the total and the per-tenant figures (gathering vs rendering).

    python -m benchmarks.reports [--tenants 20] [--scale 0.1] [--months 13]

DATABASE_URL set → that server; unset → an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime

from success_metrics.tools import demo
from success_metrics.storage import tenants
from success_metrics.query.answer import Answerer
from success_metrics.query.cache import ResultCache
from success_metrics.notify.reports import content, render
from success_metrics.notify.reports.content import Recipient
from success_metrics.notify.reports.schedule import DEFAULT_TIMES, ReportKind, latest_due
from success_metrics.server.services import open_database
from success_metrics.settings import load_settings
from success_metrics.rbac import Role
from success_metrics.rbac.policy import default_policy


async def main(n_tenants: int, scale: float, months: int) -> None:
    with tempfile.TemporaryDirectory(prefix="sm-bench-reports-") as tmp:
        settings = load_settings(env={**os.environ, "SM_DATA_DIR": tmp})
        db, embedded = await open_database(settings)
        try:
            profiles = [demo.profile(f"bench{i:02d}") for i in range(n_tenants)]
            async with db.system() as conn:
                for p in profiles:
                    await tenants.upsert(conn, p.config())
            started = time.perf_counter()
            stats = await demo.load(db, profiles, months=months, scale=scale)
            events = sum(s.accepted for s in stats)
            print(f"loaded {events} events for {n_tenants} tenants in {time.perf_counter() - started:.1f} s")

            now = datetime.now(UTC)
            executive = Recipient(email="ceo@example.com", role=Role.EXECUTIVE)
            answers = Answerer(db, ResultCache(0, 0), lambda tenant: b"k" * 32)  # cold: each report computed anew
            gather, draw, sizes = [], [], []
            total = time.perf_counter()
            for p in profiles:
                period = latest_due(ReportKind.MONTHLY, DEFAULT_TIMES[ReportKind.MONTHLY], p.settings.zone, now).period
                t0 = time.perf_counter()
                report = await content.build(answers, p.tenant_id, ReportKind.MONTHLY, period, executive,
                                             default_policy(), now)
                t1 = time.perf_counter()
                rendered = await asyncio.to_thread(render.render, report)
                t2 = time.perf_counter()
                gather.append(t1 - t0)
                draw.append(t2 - t1)
                sizes.append(len(rendered.pdf) + sum(map(len, rendered.csvs.values())) + sum(map(len, rendered.images.values())))
                missing = [s.title for s in report.sections if s.frame is None]
                if missing:
                    print(f"  {p.tenant_id}: sections without data: {', '.join(missing)}")
            elapsed = time.perf_counter() - total
            per = [g + d for g, d in zip(gather, draw, strict=True)]
            print(f"monthly report x {n_tenants} tenants: {elapsed:.2f} s total")
            print(f"  per tenant: median {statistics.median(per) * 1000:.0f} ms, max {max(per) * 1000:.0f} ms "
                  f"(gather+compute median {statistics.median(gather) * 1000:.0f} ms, "
                  f"render median {statistics.median(draw) * 1000:.0f} ms)")
            print(f"  output per report: median {statistics.median(sizes) / 1024:.0f} KiB (PDF + CSVs + charts)")
        finally:
            await db.close()
            if embedded is not None:
                embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--months", type=int, default=13)
    args = parser.parse_args()
    asyncio.run(main(args.tenants, args.scale, args.months))
