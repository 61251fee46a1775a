"""validate → write: the one path every event takes, from the API, a CLI backfill or the demo.

Events stored into a closed day (before today, UTC) change frames every replica may have cached for closed
periods: the tenant's frames are then invalidated everywhere (storage/frame_cache.py), the CLI's included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from success_metrics.ingest import validate, writer
from success_metrics.ingest.validate import Rejection
from success_metrics.ingest.writer import Source
from success_metrics.storage import Database, frame_cache

# validating a large batch takes milliseconds of CPU: do it off the event loop so queries keep flowing
_THREAD_THRESHOLD = 500


@dataclass(frozen=True, slots=True)
class IngestReport:
    accepted: int
    duplicates: int
    rejected: list[Rejection]


async def ingest(
    db: Database, tenant_id: str, events: Sequence[Any], *, source: Source, retention_months: int = 24,
    run_id: str | None = None, key_id: str | None = None, extra_rejected: int = 0,
    now: datetime | None = None,
) -> IngestReport:
    """Validate each event, store the valid ones once; ``extra_rejected`` counts lines rejected before this."""
    if len(events) >= _THREAD_THRESHOLD:
        checked = await asyncio.to_thread(validate.check, events, now=now, retention_months=retention_months)
    else:
        checked = validate.check(events, now=now, retention_months=retention_months)
    reasons = [(r.type, r.rule) for r in checked.rejected] + [("", "unreadable line")] * extra_rejected
    result = await writer.write(db, tenant_id, checked.valid, source=source,
                                rejected=len(checked.rejected) + extra_rejected, run_id=run_id, key_id=key_id,
                                reasons=reasons, now=now)
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if result.accepted and any(v.event.occurred_at < today for v in checked.valid):
        async with db.tenant(tenant_id) as conn:
            await frame_cache.invalidate(conn, tenant_id)
    return IngestReport(accepted=result.accepted, duplicates=result.duplicates, rejected=checked.rejected)
