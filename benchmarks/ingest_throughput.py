"""Ingest throughput: a 100k-event NDJSON backfill through `success-metrics ingest`'s code path.

    python benchmarks/ingest_throughput.py [--events 100000] [--batch-size 5000]

Generates demo events for one tenant into an NDJSON file (not timed), then backfills it through
validate → writer on a fresh embedded PostgreSQL (or DATABASE_URL), and prints events/s for the first
load and for resending the same file (all duplicates). Run it on the 2-core machine the spec targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from success_metrics.tools import demo
from success_metrics.storage import tenants as tenant_store
from success_metrics.ingest.backfill import backfill
from success_metrics.server.services import open_database
from success_metrics.settings import Settings


def write_events(path: Path, tenant: str, wanted: int) -> int:
    profile = demo.profile(tenant)
    end = demo.demo_end(datetime.now(UTC))
    # one tenant at scale 1 gives ~90k events in 24 months; scale up for the rest
    scale = wanted / 90_000
    written = 0
    with path.open("w") as out:
        for day in demo.generate(profile, seed=11, months=24, end=end, scale=scale):
            for event in day:
                if written == wanted:
                    return written
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
                written += 1
    return written


async def main(events: int, batch_size: int) -> None:
    console = Console()
    with tempfile.TemporaryDirectory(prefix="sm-bench-") as tmp:
        path = Path(tmp) / "events.ndjson"
        started = time.perf_counter()
        count = write_events(path, "acme", events)
        console.print(f"generated {count:,} events ({path.stat().st_size / 1e6:.1f} MB) in "
                      f"{time.perf_counter() - started:.1f} s")
        settings = Settings(data_dir=Path(tmp), database_url=os.environ.get("DATABASE_URL") or None,
                            tenants=(demo.profile("acme").config(),))
        db, embedded = await open_database(settings)
        try:
            async with db.system() as conn:
                await tenant_store.upsert(conn, settings.tenants[0])
            first = await backfill(db, settings, path, "acme", batch_size, console=console)
            again = await backfill(db, settings, path, "acme", batch_size, console=console)
        finally:
            await db.close()
            if embedded is not None:
                embedded.stop()
    console.print(f"[bold]first load:[/] {first.accepted:,} events in {first.seconds:.1f} s = "
                  f"{first.accepted / first.seconds:,.0f} events/s (batch size {batch_size})")
    console.print(f"[bold]resend:[/]     {again.duplicates:,} duplicates in {again.seconds:.1f} s = "
                  f"{again.duplicates / again.seconds:,.0f} events/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch_size))
