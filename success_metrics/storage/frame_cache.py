"""The shared frame table (migration 0017): encoded frames every replica reads, by tenant and key.

Statements run in a tenant transaction (row-level security keeps each tenant to its rows; the tenant is also half
the primary key), except the sweep of expired rows, which runs as the owner across tenants. ``invalidate`` deletes
a tenant's rows, records when, and announces it on the settings channel, so each replica drops its in-process
copies (success_metrics/storage/replicas.py); a frame whose computation began before that moment is not written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from success_metrics.rbac import changes


@dataclass(frozen=True, slots=True)
class Stored:
    body: bytes
    ttl_s: float  # how much longer the row is fresh


async def read(conn: asyncpg.Connection, tenant_id: str, key: str, full_key: str) -> tuple[datetime, Stored | None]:
    """The database's time (when a computation that follows begins) and the fresh row for ``key``, if any; a row
    whose full key differs (a hash collision) is no answer."""
    row = await conn.fetchrow(
        """SELECT now() AS at, f.full_key, f.body, extract(epoch FROM f.expires_at - now())::float8 AS ttl_s
           FROM (SELECT 1) one
           LEFT JOIN frame_cache f ON f.tenant_id = $1 AND f.key = $2 AND f.expires_at > now()""",
        tenant_id, key)
    assert row is not None  # the LEFT JOIN gives one row, a frame or none
    found = None if row["full_key"] != full_key else Stored(row["body"], row["ttl_s"])
    return row["at"], found


async def write(conn: asyncpg.Connection, tenant_id: str, key: str, full_key: str, body: bytes, ttl_s: float,
                since: datetime) -> bool:
    """Keep ``body`` for ``ttl_s`` unless the tenant's frames were invalidated at or after ``since``; whether kept."""
    status: str = await conn.execute(
        """INSERT INTO frame_cache (tenant_id, key, full_key, expires_at, body)
           SELECT $1, $2, $3, now() + make_interval(secs => $4), $5
           WHERE NOT EXISTS (SELECT 1 FROM frame_cache_invalidations
                             WHERE tenant_id = $1 AND invalidated_at >= $6)
           ON CONFLICT (tenant_id, key) DO UPDATE
               SET full_key = EXCLUDED.full_key, expires_at = EXCLUDED.expires_at, body = EXCLUDED.body""",
        tenant_id, key, full_key, ttl_s, body, since)
    return status.endswith(" 1")


async def invalidate(conn: asyncpg.Connection, tenant_id: str) -> int:
    """Delete every frame of one tenant and tell every replica; returns how many rows went. Call it after the
    change that made them stale has committed (or in its transaction)."""
    status: str = await conn.execute("DELETE FROM frame_cache WHERE tenant_id = $1", tenant_id)
    await conn.execute(
        """INSERT INTO frame_cache_invalidations (tenant_id, invalidated_at) VALUES ($1, clock_timestamp())
           ON CONFLICT (tenant_id) DO UPDATE SET invalidated_at = EXCLUDED.invalidated_at""", tenant_id)
    await changes.announce(conn, tenant_id, "frames")
    return int(status.split()[-1])


async def sweep(conn: asyncpg.Connection, limit: int) -> int:
    """Delete at most ``limit`` expired rows (of any tenant: run as the owner); returns how many."""
    status: str = await conn.execute(
        """DELETE FROM frame_cache WHERE ctid = ANY (ARRAY(
               SELECT ctid FROM frame_cache WHERE expires_at <= now() LIMIT $1))""", limit)
    return int(status.split()[-1])
