"""Monthly partitions of the event log: created ahead of need, dropped whole past retention.

Partitions are calendar months in UTC. Ingest calls ``ensure_months`` for the months of each batch, so a
late or early event still lands; the service also keeps the next months ready at start.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime

import asyncpg

from success_metrics.storage.errors import RetentionRefused

log = logging.getLogger(__name__)

MIN_RETENTION_MONTHS = 24
_LOCK_KEY = 0x9A_27_17_10


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + (month.month - 1) + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"events_y{month.year:04d}m{month.month:02d}"


async def existing_months(conn: asyncpg.Connection) -> set[date]:
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class p ON p.oid = i.inhparent
           WHERE p.relname = 'events'"""
    )
    months = set()
    for r in rows:
        name = r["relname"]
        months.add(date(int(name[8:12]), int(name[13:15]), 1))
    return months


async def ensure_months(conn: asyncpg.Connection, months: Iterable[date]) -> list[date]:
    """Create the partitions of these months that are missing; return the ones created."""
    wanted = sorted({month_start(m) for m in months})
    have = await existing_months(conn)
    missing = [m for m in wanted if m not in have]
    if not missing:
        return []
    created = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        have = await existing_months(conn)
        for m in missing:
            if m in have:
                continue
            upper = add_months(m, 1)
            await conn.execute(
                f"CREATE TABLE {partition_name(m)} PARTITION OF events "
                f"FOR VALUES FROM ('{m.isoformat()} 00:00:00+00') TO ('{upper.isoformat()} 00:00:00+00')"
            )
            created.append(m)
    if created:
        log.info("created event partitions: %s", ", ".join(partition_name(m) for m in created))
    return created


async def ensure_window(conn: asyncpg.Connection, now: datetime, retention_months: int, ahead: int = 3) -> None:
    """Keep every month from the retention horizon to ``ahead`` months past now ready."""
    first = retention_cutoff(now, retention_months)
    await ensure_months(conn, (add_months(first, i) for i in range(retention_months + ahead + 1)))


def retention_cutoff(now: datetime, retention_months: int) -> date:
    """The first month still kept: everything before it is dropped."""
    return add_months(month_start(now), -retention_months)


async def apply_retention(
    conn: asyncpg.Connection, retention_months: int, *, now: datetime | None = None, force: bool = False
) -> list[str]:
    """Drop whole partitions older than the retention; return the dropped partition names."""
    if retention_months < MIN_RETENTION_MONTHS and not force:
        raise RetentionRefused(
            f"Retention of {retention_months} months is shorter than the {MIN_RETENTION_MONTHS} months the "
            "product keeps for year-over-year analysis; pass --force to drop that much data anyway."
        )
    if retention_months < 1:
        raise RetentionRefused("Retention must be at least 1 month.")
    cutoff = retention_cutoff(now or datetime.now(UTC), retention_months)
    dropped = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        for m in sorted(await existing_months(conn)):
            if m < cutoff:
                await conn.execute(f"DROP TABLE {partition_name(m)}")
                dropped.append(partition_name(m))
        await conn.execute(
            "DELETE FROM event_ids WHERE occurred_at < $1",
            datetime(cutoff.year, cutoff.month, 1, tzinfo=UTC),
        )
    if dropped:
        log.info("retention dropped partitions: %s", ", ".join(dropped))
    return dropped
