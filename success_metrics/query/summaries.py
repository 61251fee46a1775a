"""Closed days summarized ahead of the ranges that read them (``calculators.closed_days``).

Every quarter hour (with ``cache_warm``), each tenant's closed days whose component-call summary is missing or
stale (a backfill changed the day's call count) are summarized again, so a closed range's uptime and MTTR read a
row a day instead of the day's calls; until then those days are read raw, with the same figures. Every replica runs
the round; a tenant's summaries are made under a transaction-scoped advisory lock, so while one replica makes them
the others pass that tenant by instead of making the same rows again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from success_metrics.calculators import closed_days
from success_metrics.storage import Database

log = logging.getLogger(__name__)

ROUND_S = 900.0


async def summarize(db: Database, now: datetime | None = None) -> int:
    """Summarize every tenant's missing or stale closed days (at most closed_days.REFRESH_DAYS a tenant a round);
    return how many days were summarized."""
    at = now or datetime.now(UTC)
    async with db.system() as conn:
        tenants = [r["tenant_id"] for r in await conn.fetch(
            "SELECT tenant_id FROM tenants WHERE tenant_id NOT LIKE '\\_%' ORDER BY tenant_id")]
    done = 0
    for tenant in tenants:
        async with db.tenant(tenant) as conn:
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended('sm.closed_days:' || $1, 0))",
                                   tenant):
                done += await closed_days.refresh(conn, tenant, at)
    if done:
        log.info("closed days summarized: %d days of %d tenants", done, len(tenants))
    return done
