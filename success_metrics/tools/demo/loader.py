"""Store generated demo events through the real ingest path (source "demo"), chunk by chunk, as a backfill would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from success_metrics.tools.demo.generator import demo_end, generate
from success_metrics.tools.demo.profiles import Profile
from success_metrics.ingest.intake import ingest
from success_metrics.ingest.writer import Source
from success_metrics.storage import Database


@dataclass
class LoadStats:
    tenant_id: str
    generated: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


async def load(
    db: Database, profiles: Sequence[Profile], *, seed: int = 7, months: int = 24, end: datetime | None = None,
    scale: float = 1.0, retention_months: int = 24, chunk: int = 5000,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[LoadStats]:
    """Generate and ingest each tenant's events (source "demo"); ``progress(tenant, days_done, days_total)``."""
    end = demo_end(end)
    stats = []
    for p in profiles:
        s = LoadStats(p.tenant_id)
        run_id = f"demo-{p.tenant_id}-{seed}-{uuid.uuid4().hex[:8]}"
        days = generate(p, seed=seed, months=months, end=end, scale=scale)
        total_days = round(months * 30.44) + 1
        pending: list[dict[str, Any]] = []
        write: asyncio.Task[None] | None = None

        async def flush(events: list[dict[str, Any]], s: LoadStats = s, run_id: str = run_id) -> None:
            report = await ingest(db, s.tenant_id, events, source=Source.DEMO, retention_months=retention_months,
                                  run_id=run_id, now=end)
            s.accepted += report.accepted
            s.duplicates += report.duplicates
            s.rejected += len(report.rejected)
            s.reasons.extend(f"{r.pointer}: {r.reason}" for r in report.rejected[:3])

        for done, day_events in enumerate(days, start=1):
            pending.extend(day_events)
            s.generated += len(day_events)
            if len(pending) >= chunk:
                if write is not None:
                    await write
                write = asyncio.create_task(flush(pending))
                pending = []
                await asyncio.sleep(0)
            if progress and done % 7 == 0:
                progress(p.tenant_id, done, total_days)
        if write is not None:
            await write
        if pending:
            await flush(pending)
        if progress:
            progress(p.tenant_id, total_days, total_days)
        stats.append(s)
    return stats
