"""Per batch and event type, what the data-quality checks count: accepted, duplicates, late arrivals and
rejections by reason (``ingest_tallies``, migration 0015). ``ingest_batches`` keeps whole-batch counts only.

A late arrival is an event stored more than ``LATE`` after it occurred. A reason is the field and the rule
an event broke (``validate.Rejection.rule``), never a value it carried, so the tallies name no one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from success_metrics.calculators import IngestedEvent

LATE = timedelta(hours=1)

Tally = tuple[str, str, int, int, int, int]  # type, reason, accepted, duplicates, late, rejected


def tally(valid: Sequence[IngestedEvent], stored: Sequence[IngestedEvent], reasons: Sequence[tuple[str, str]],
          now: datetime) -> list[Tally]:
    """One row per event type seen (reason ''), one per (type, reason) rejected; sorted for a stable insert."""
    sent = Counter(e.type.value for e in valid)
    kept = Counter(e.type.value for e in stored)
    late = Counter(e.type.value for e in stored if now - e.occurred_at > LATE)
    rows: list[Tally] = [(t, "", kept[t], sent[t] - kept[t], late[t], 0) for t in sorted(sent)]
    rows += [(t, r, 0, 0, 0, n) for (t, r), n in sorted(Counter(reasons).items())]
    return rows


async def record(conn: asyncpg.Connection, tenant_id: str, source: str, rows: list[Tally], at: datetime) -> None:
    if not rows:
        return
    await conn.execute(
        """INSERT INTO ingest_tallies (tenant_id, at, source, type, reason, accepted, duplicates, late, rejected)
           SELECT $1, $2, $3, u.type, u.reason, u.accepted, u.duplicates, u.late, u.rejected
           FROM unnest($4::text[], $5::text[], $6::int[], $7::int[], $8::int[], $9::int[])
                AS u(type, reason, accepted, duplicates, late, rejected)""",
        tenant_id, at, source, *(list(col) for col in zip(*rows, strict=True)))
