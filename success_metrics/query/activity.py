"""When each tenant's users last asked for values, kept in PostgreSQL (``tenant_activity``, migration 0018), so the
cache warmer's choice of tenants survives a restart and is the same on every replica.

A request only notes the time in memory (``note``); ``flush`` writes the tenants noted since the last flush in one
statement, and the service runs it every ``FLUSH_S`` (server/app.py), so a busy tenant costs each replica one
write a minute, not one per request. The warmer flushes before it reads (``ranked``), so what this replica has just
seen counts at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime

from success_metrics.storage import Database

FLUSH_S = 60.0  # how often the noted times are written (and so how stale another replica's view may be)


class Activity:
    def __init__(self, db: Database, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db = db
        self._now = now
        self._noted: dict[str, datetime] = {}  # tenant -> when its users last asked, not yet written

    def note(self, tenant_id: str) -> None:
        """A user of ``tenant_id`` asked for values now (in memory; written by the next ``flush``)."""
        self._noted[tenant_id] = self._now()

    async def flush(self) -> int:
        """Write the times noted since the last flush (a time only moves forward); returns how many tenants. Kept
        for the next flush if the write fails."""
        noted, self._noted = self._noted, {}
        if not noted:
            return 0
        try:
            async with self.db.system() as conn:
                await conn.execute(
                    """INSERT INTO tenant_activity (tenant_id, last_asked)
                       SELECT n.tenant_id, n.at FROM unnest($1::text[], $2::timestamptz[]) AS n(tenant_id, at)
                       JOIN tenants USING (tenant_id)
                       ON CONFLICT (tenant_id) DO UPDATE SET last_asked = EXCLUDED.last_asked
                       WHERE tenant_activity.last_asked < EXCLUDED.last_asked""",
                    list(noted), list(noted.values()))
        except BaseException:
            for tenant, at in noted.items():  # a note taken meanwhile is newer
                self._noted.setdefault(tenant, at)
            raise
        return len(noted)

    async def ranked(self, among: Collection[str] | None = None) -> list[tuple[str, datetime | None]]:
        """Every tenant (of ``among``, if given) with when its users last asked (None: never seen), most recent
        first, then those never seen by id. Service-internal tenants (ids starting with "_") are left out."""
        await self.flush()
        async with self.db.system() as conn:
            rows = await conn.fetch(
                """SELECT t.tenant_id, a.last_asked FROM tenants t LEFT JOIN tenant_activity a USING (tenant_id)
                   WHERE t.tenant_id NOT LIKE '\\_%' AND ($1::text[] IS NULL OR t.tenant_id = ANY($1))
                   ORDER BY a.last_asked DESC NULLS LAST, t.tenant_id""",
                None if among is None else list(among))
        return [(r["tenant_id"], r["last_asked"]) for r in rows]
