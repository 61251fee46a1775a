"""Rollups maintained as events arrive (hourly in UTC, daily and monthly in the tenant's time zone, per key), and the
typed copies of component calls and contact attempts (one row per event, fields as columns).

Ingest calls ``apply_events`` inside the same transaction that stores the events, with only the events stored for the
first time, so a rollup never counts an event twice and a typed row is written once (its insert also skips a key already
present). ``rebuild`` recomputes a tenant's rollups and typed rows from its stored events (after a time-zone change, or
after a bulk load) with the same statements, reading the events table instead of the batch's staging table. Keys and
sums per event type are defined by ``sm_rollup_key``, generated from the semantic model
(success_metrics/calculators/semantic; the table's slots k1..k3, n, s1..s3, mx, hist are named per type by the
``rollup_<type>`` views), the typed fields by ``sm_call_fields`` / ``sm_contact_fields`` in migration 0007; daily
buckets start at the tenant-local midnight, monthly ones at the local midnight of the 1st. Monthly rows exist so that a
long range reads about one row per key and month, not per key and day (at a few events a day and key, daily rows grow
with the events).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from success_metrics.calculators.buckets import month_bounds
from success_metrics.calculators.events import EventType, IngestedEvent
from success_metrics.calculators.semantic import EVENT_MODELS, Slot

# An event's keys and sums are computed once (OFFSET 0 keeps the inlined sm_rollup_key from being evaluated again
# for each grain), summed per (grain, bucket, keys, histogram bin), and only the types with a latency histogram
# are grouped a second time to fold their bins into ``hist``; every other type's groups are final after the first.
# Rows are written in key order: a batch's new rows then lie in the table as its index orders them (a type's
# buckets side by side), which is what a long range reads; and two batches lock the rows they share in one order.
_UPSERT = """
WITH per_bin AS (
    SELECT g.grain, k.type, CASE g.grain WHEN 'hour' THEN k.hour WHEN 'day' THEN k.day ELSE k.month END AS bucket,
           k.k1, k.k2, k.k3, k.h, sum(k.n) AS n, sum(k.s1) AS s1, sum(k.s2) AS s2, sum(k.s3) AS s3, max(k.mx) AS mx
    FROM (SELECT s.type, date_bin('1 hour', s.at, timestamptz '2000-01-03 00:00:00+00') AS hour,
                 date_trunc('day', s.at AT TIME ZONE $2) AT TIME ZONE $2 AS day,
                 date_trunc('month', s.at AT TIME ZONE $2) AT TIME ZONE $2 AS month, r.*
          FROM ({source}) s CROSS JOIN LATERAL sm_rollup_key(s.type, s.payload, s.agent_id) r
          OFFSET 0) k
    CROSS JOIN (VALUES {grains}) g (grain)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
)
INSERT INTO rollups AS o (tenant_id, grain, type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist)
SELECT $1, grain, type, bucket, k1, k2, k3, n, s1, s2, s3, mx, '{{}}'::jsonb
FROM per_bin WHERE type <> ALL ({hist_types})
UNION ALL
SELECT $1, grain, type, bucket, k1, k2, k3, sum(n), sum(s1), sum(s2), sum(s3), max(mx),
       coalesce(jsonb_object_agg(h::text, n) FILTER (WHERE h IS NOT NULL), '{{}}'::jsonb)
FROM per_bin WHERE type = ANY ({hist_types})
GROUP BY grain, type, bucket, k1, k2, k3
ORDER BY grain, type, bucket, k1, k2, k3
ON CONFLICT (tenant_id, grain, type, bucket, k1, k2, k3) DO UPDATE SET
    n = o.n + EXCLUDED.n, s1 = o.s1 + EXCLUDED.s1, s2 = o.s2 + EXCLUDED.s2, s3 = o.s3 + EXCLUDED.s3,
    mx = GREATEST(o.mx, EXCLUDED.mx),
    hist = CASE WHEN EXCLUDED.hist = '{{}}'::jsonb THEN o.hist ELSE sm_hist_add(o.hist, EXCLUDED.hist) END
"""
_HIST_TYPES = "ARRAY[{}]::text[]".format(", ".join(
    f"'{m.type}'" for m in EVENT_MODELS if any(c.slot is Slot.H for c in m.columns)))
ALL_GRAINS = "('hour'), ('day'), ('month')"


def _upsert(source: str, grains: str = ALL_GRAINS) -> str:
    """The rollup upsert over ``source``, a query of rows (type, at, payload, agent_id), into ``grains``."""
    return _UPSERT.format(source=source, hist_types=_HIST_TYPES, grains=grains)


# The monthly rows of the tenant's months that begin in [$2, $3), as the sums of their daily rows (a rebuild redoes
# whole days, which may be part of a month; the month's other days are already right).
_MONTHS_FROM_DAYS = """
INSERT INTO rollups (tenant_id, grain, type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist)
SELECT $1, 'month', d.type, d.month, d.k1, d.k2, d.k3, sum(d.n), sum(d.s1), sum(d.s2), sum(d.s3), max(d.mx),
       coalesce((SELECT jsonb_object_agg(b.bin, b.c) FROM (
                   SELECT x.key AS bin, sum(x.value::bigint) AS c
                   FROM unnest(array_agg(d.hist)) h (hist) CROSS JOIN LATERAL jsonb_each_text(h.hist) x
                   GROUP BY x.key) b), '{}'::jsonb)
FROM (SELECT r.*, date_trunc('month', r.bucket AT TIME ZONE $4) AT TIME ZONE $4 AS month FROM rollups r
      WHERE r.tenant_id = $1 AND r.grain = 'day' AND r.bucket >= $2 AND r.bucket < $3) d
GROUP BY d.type, d.month, d.k1, d.k2, d.k3
"""

# One statement fills both typed tables from a source of rows (type, at, event_id, lead_id, payload).
_TYPED = """
WITH s AS ({source}),
calls AS (
    INSERT INTO component_calls (tenant_id, occurred_at, event_id, component, service, ok, error_category, latency_ms)
    SELECT $1, s.at, s.event_id, f.component, f.service, f.ok, f.error_category, f.latency_ms
    FROM s CROSS JOIN LATERAL sm_call_fields(s.payload) f WHERE s.type = 'component.call'
    ON CONFLICT DO NOTHING
)
INSERT INTO contact_attempts (tenant_id, occurred_at, event_id, lead_id, channel, outcome, manual, consent,
                              recipient_local_time)
SELECT $1, s.at, s.event_id, s.lead_id, f.channel, f.outcome, f.manual, f.consent, f.recipient_local_time
FROM s CROSS JOIN LATERAL sm_contact_fields(s.payload) f WHERE s.type = 'contact.attempted'
ON CONFLICT DO NOTHING
"""
TYPED_TYPES = (EventType.COMPONENT_CALL, EventType.CONTACT_ATTEMPTED)
_TYPED_STAGED = ("SELECT type, occurred_at AS at, event_id, lead_id, payload FROM {stage} "
                 "WHERE type IN ('component.call', 'contact.attempted')")
_TYPED_STORED = ("SELECT type, occurred_at AS at, event_id, lead_id, payload FROM events WHERE tenant_id = $1 "
                 "AND type IN ('component.call', 'contact.attempted') AND occurred_at >= $2 AND occurred_at < $3")

_STAGED = "SELECT type, occurred_at AS at, payload, agent_id FROM {stage}"
_STORED = ("SELECT type, occurred_at AS at, payload, agent_id FROM events "
           "WHERE tenant_id = $1 AND occurred_at >= $3 AND occurred_at < $4")


async def tenant_timezone(conn: asyncpg.Connection, tenant_id: str) -> str:
    tz = await conn.fetchval("SELECT settings->>'timezone' FROM tenants WHERE tenant_id = $1", tenant_id)
    return tz or "UTC"


async def apply_events(conn: asyncpg.Connection, tenant_id: str, events: Sequence[IngestedEvent],
                       stage: str) -> None:
    """Fold newly stored events into the rollup tables, in one set-based statement. ``stage``: the table holding
    exactly these events, with columns (event_id, occurred_at, type, lead_id, agent_id, payload jsonb)."""
    if not events:
        return
    tz = await tenant_timezone(conn, tenant_id)
    await conn.execute(_upsert(_STAGED.format(stage=stage)), tenant_id, tz)
    if any(e.type in TYPED_TYPES for e in events):
        await conn.execute(_TYPED.format(source=_TYPED_STAGED.format(stage=stage)), tenant_id)


async def rebuild(conn: asyncpg.Connection, tenant_id: str, start: datetime, end: datetime) -> None:
    """Recompute the tenant's rollups and typed rows of [start, end) from stored events (the range should be
    whole days): hours and days from the events, then every month the range touches from its days."""
    tz = await tenant_timezone(conn, tenant_id)
    await conn.execute("DELETE FROM rollups WHERE tenant_id = $1 AND grain <> 'month' AND bucket >= $2 AND bucket < $3",
                       tenant_id, start, end)
    await conn.execute(_upsert(_STORED, "('hour'), ('day')"), tenant_id, tz, start, end)
    zone = ZoneInfo(tz)
    first, last = month_bounds(start, zone)[0], month_bounds(end - timedelta(microseconds=1), zone)[1]
    await conn.execute("DELETE FROM rollups WHERE tenant_id = $1 AND grain = 'month' AND bucket >= $2 AND bucket < $3",
                       tenant_id, first, last)
    await conn.execute(_MONTHS_FROM_DAYS, tenant_id, first, last, tz)
    for table in ("component_calls", "contact_attempts"):
        await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3",
                           tenant_id, start, end)
    await conn.execute(_TYPED.format(source=_TYPED_STORED), tenant_id, start, end)
