"""The benchmark data set: 24 months of demo events for 20 tenants (≥ 5 million events), built once.

    python benchmarks/dataset.py [--tenants 20] [--months 24] [--scale 3.0]

Kept under SM_DATA_DIR (default ~/.cache/success-metrics-bench: the embedded PostgreSQL lives there), or on
DATABASE_URL. Events come from the demo generator (``success_metrics.tools.demo.generate``, a synthesised profile per
tenant ``bench-01`` …) and are stored by the ingest writer (``success_metrics.ingest.writer.write``), so lead
state and rollups are filled exactly as ingest fills them. JSON Schema validation is skipped (the generator's
events are valid by construction; that is what makes 5 M events take minutes, not an hour). Building is
resumable: a tenant is recorded in ``dataset.json`` once complete, and the writer ignores events already
stored. Every call then summarizes the closed days not yet summarized, as the service's background round does.

Other benchmarks use it as::

    async with bench_database() as db:
        info = await ensure_dataset(db)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr

from success_metrics.calculators.events import EventType, IngestedEvent
from success_metrics.ingest import writer
from success_metrics.ingest.validate import ValidEvent
from success_metrics.query import summaries
from success_metrics.server.services import open_database
from success_metrics.settings import Settings
from success_metrics.storage import tenants as tenant_store
from success_metrics.storage.pool import Database
from success_metrics.tools import demo

DEFAULT_DIR = Path.home() / ".cache" / "success-metrics-bench"
CHUNK = 5000


def data_dir() -> Path:
    return Path(os.environ.get("SM_DATA_DIR") or DEFAULT_DIR)


@dataclass
class DatasetInfo:
    tenants: list[str]
    months: int
    scale: float
    seed: int
    end: str  # ISO time the generated data ends at
    events: dict[str, int] = field(default_factory=dict)  # per complete tenant

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    @property
    def end_time(self) -> datetime:
        return datetime.fromisoformat(self.end)


@asynccontextmanager
async def bench_database(directory: Path | None = None) -> AsyncIterator[Database]:
    """The data set's database: DATABASE_URL, or the embedded server under SM_DATA_DIR (migrated)."""
    url = os.environ.get("DATABASE_URL")
    settings = Settings(database_url=None if url is None else SecretStr(url), data_dir=directory or data_dir())
    db, embedded = await open_database(settings)
    try:
        yield db
    finally:
        await db.close()
        if embedded is not None:
            embedded.stop()


def _valid(events: list[dict[str, Any]]) -> list[ValidEvent]:
    return [ValidEvent(i, IngestedEvent(e["id"], EventType(e["type"]), datetime.fromisoformat(e["occurred_at"]),
                                        e.get("lead_id"), e.get("agent_id"), e["data"])) for i, e in enumerate(events)]


async def _load_tenant(db: Database, tenant: str, info: DatasetInfo, progress: Callable[[str], None]) -> int:
    profile = demo.profile(tenant)
    async with db.system() as conn:
        await tenant_store.upsert(conn, profile.config())
    stored = 0
    pending: list[dict[str, Any]] = []
    write: asyncio.Task[writer.WriteResult] | None = None
    started = time.monotonic()
    for day in demo.generate(profile, seed=info.seed, months=info.months, end=info.end_time, scale=info.scale):
        pending.extend(day)
        if len(pending) >= CHUNK:
            if write is not None:  # generate the next chunk while PostgreSQL stores this one
                stored += (await write).accepted
                progress(f"{tenant}: {stored:,} events ({stored / (time.monotonic() - started):,.0f}/s)")
            write = asyncio.create_task(writer.write(db, tenant, _valid(pending), source=writer.Source.DEMO))
            pending = []
    if write is not None:
        stored += (await write).accepted
    if pending:
        stored += (await writer.write(db, tenant, _valid(pending), source=writer.Source.DEMO)).accepted
    async with db.system() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM events WHERE tenant_id = $1", tenant))


async def ensure_dataset(db: Database, *, tenants: int = 20, months: int = 24, scale: float = 4.0, seed: int = 7,
                         progress: Callable[[str], None] = lambda _: None, directory: Path | None = None
                         ) -> DatasetInfo:
    """Build whatever part of the data set is missing; return what it holds."""
    marker = (directory or data_dir()) / "dataset.json"
    if marker.exists():
        info = DatasetInfo(**json.loads(marker.read_text()))
    else:
        info = DatasetInfo([f"bench-{i + 1:02d}" for i in range(tenants)], months, scale, seed,
                           demo.demo_end().isoformat())
    for tenant in info.tenants:
        if tenant in info.events:
            continue
        info.events[tenant] = await _load_tenant(db, tenant, info, progress)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(asdict(info), indent=2))
        progress(f"{tenant}: done, {info.events[tenant]:,} events")
    # the closed days' summaries a running service keeps (its background round, query/summaries.py): without them
    # uptime.system and errors.mttr would be timed on their raw fallback, a state no running service is in
    days = 0
    while done := await summaries.summarize(db):
        days += done
    if days:
        progress(f"closed days: {days:,} summarized")
    async with db.system() as conn:
        await conn.execute("ANALYZE")
    return info


async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    async with bench_database() as db:
        info = await ensure_dataset(db, tenants=args.tenants, months=args.months, scale=args.scale,
                                    progress=lambda line: print(line, flush=True))
    where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else data_dir()
    print(f"{info.total_events:,} events over {len(info.tenants)} tenants, {info.months} months ending {info.end}; "
          f"{time.monotonic() - started:.0f} s; data in {where}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--scale", type=float, default=4.0, help="demo volume multiplier (4.0: ~265k events a tenant)")
    asyncio.run(main(parser.parse_args()))
