"""validate → write: the one path every event takes, from the API, a CLI backfill or the demo."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from success_metrics.ingest import validate, writer
from success_metrics.ingest.validate import Rejection
from success_metrics.ingest.writer import Source
from success_metrics.storage import Database

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
    result = await writer.write(db, tenant_id, checked.valid, source=source,
                                rejected=len(checked.rejected) + extra_rejected, run_id=run_id, key_id=key_id)
    return IngestReport(accepted=result.accepted, duplicates=result.duplicates, rejected=checked.rejected)
