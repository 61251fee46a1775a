"""Idempotent insert of validated events, lead state and rollups, in one tenant transaction.

One call stores one batch: partitions for its months are made ready first (system connection), then in
a single ``db.tenant(t)`` transaction, set-based (never a statement per event):

1. claim the event ids in ``event_ids`` (``ON CONFLICT DO NOTHING RETURNING``): what comes back is new;
2. COPY the new events into the staging table (a temporary table of the connection, emptied at commit), and
   scrub contact data of erased leads there; every statement after reads the batch from it;
3. insert the new events into the partitioned log (``payload`` is the event's ``data``);
4. register agents, teams and locations the events name;
5. fold the new events into ``leads`` in SQL (rules below), scrubbing contact data of erased leads;
6. record the batch in ``ingest_batches``, and its tallies per event type in ``ingest_tallies``;
7. hand the new events to ``success_metrics.calculators.rollups.apply_events``.

The transaction commits before the caller answers, so an accepted event is durable.

Lead state does not depend on the order events arrive in: each column has a commutative rule, declared once
as data in ``success_metrics.calculators.entities`` (earliest first contact, any response ok, latest score and routing,
one deal per lead = the earliest deal.closed, ties by event id), which generates the SQL that folds each batch.
Once erasure is requested, contact data is gone from ``leads`` and from stored events, and stays gone for
events that arrive later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

import asyncpg
import orjson

from success_metrics.calculators import EventType, IngestedEvent, entities, rollups
from success_metrics.ingest import tallies
from success_metrics.ingest.errors import UnknownTenant
from success_metrics.ingest.validate import ValidEvent
from success_metrics.storage import Database, partitions


class Source(StrEnum):
    API = "api"
    CLI = "cli"
    DEMO = "demo"


@dataclass(frozen=True, slots=True)
class WriteResult:
    accepted: int
    duplicates: int
    stored: list[IngestedEvent]


async def ensure_tenant(db: Database, tenant_id: str) -> None:
    async with db.system() as conn:
        if not await conn.fetchval("SELECT 1 FROM tenants WHERE tenant_id = $1", tenant_id):
            raise UnknownTenant(tenant_id)


async def write(
    db: Database, tenant_id: str, events: Sequence[ValidEvent], *, source: Source, rejected: int = 0,
    run_id: str | None = None, key_id: str | None = None, reasons: Sequence[tuple[str, str]] = (),
    now: datetime | None = None,
) -> WriteResult:
    """Store a validated batch once; events already stored (by id) count as duplicates. ``reasons``: (type,
    rule) of each rejected event, tallied with the batch (``tallies``)."""
    unique: dict[str, IngestedEvent] = {}
    for v in events:
        unique.setdefault(v.event.event_id, v.event)
    batch = sorted(unique.values(), key=lambda e: e.event_id)  # one lock order for concurrent batches
    if batch:
        async with db.system() as conn:
            await partitions.ensure_months(conn, {partitions.month_start(e.occurred_at) for e in batch})
    try:
        async with db.tenant(tenant_id) as conn:
            stored = await _store(conn, tenant_id, batch)
            await conn.execute(
                """INSERT INTO ingest_batches (tenant_id, run_id, source, key_id, accepted, duplicates, rejected,
                                               first_occurred_at, last_occurred_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                tenant_id, run_id or uuid.uuid4().hex, source.value, key_id, len(stored),
                len(events) - len(stored), rejected,
                min((e.occurred_at for e in stored), default=None), max((e.occurred_at for e in stored), default=None),
            )
            now = now or datetime.now(UTC)
            await tallies.record(conn, tenant_id, source.value,
                                 tallies.tally([v.event for v in events], stored, reasons, now), now)
            await rollups.apply_events(conn, tenant_id, stored, STAGE)
    except asyncpg.ForeignKeyViolationError:
        raise UnknownTenant(tenant_id) from None
    return WriteResult(accepted=len(stored), duplicates=len(events) - len(stored), stored=stored)


async def _store(conn: asyncpg.Connection, tenant_id: str, batch: list[IngestedEvent]) -> list[IngestedEvent]:
    """The events stored for the first time (their data without contact data when their lead is erased), left in
    the staging table ``STAGE`` for the statements after."""
    if not batch:
        return []
    claimed = await conn.fetch(
        """INSERT INTO event_ids (tenant_id, event_id, occurred_at)
           SELECT $1, u.id, u.at FROM unnest($2::text[], $3::timestamptz[]) AS u(id, at)
           ON CONFLICT DO NOTHING RETURNING event_id""",
        tenant_id, [e.event_id for e in batch], [e.occurred_at for e in batch],
    )
    new_ids = {r["event_id"] for r in claimed}
    fresh = [e for e in batch if e.event_id in new_ids]
    if not fresh:
        return []
    fresh.sort(key=lambda e: (e.occurred_at, e.event_id))
    await conn.execute(_STAGE_TABLE)
    await conn.copy_to_table(STAGE, source=_chunk(_copy_text(fresh)), columns=_STAGE_COLUMNS, format="text")
    erased: set[str] = set()
    if any("contact" in e.data for e in fresh):
        erased.update(r["lead_id"] for r in await conn.fetch(_SCRUB_STAGE, tenant_id))
    await conn.execute(
        f"""INSERT INTO events (tenant_id, occurred_at, event_id, type, lead_id, agent_id, payload)
            SELECT $1, occurred_at, event_id, type, lead_id, agent_id, payload FROM {STAGE}""", tenant_id)
    stored = [replace(e, data=_without_contact(e.data)) if e.lead_id in erased else e for e in fresh]
    await _register_people_and_places(conn, tenant_id, stored)
    if any(e.lead_id and e.type in entities.SOURCE_TYPES for e in stored):
        await conn.execute(_UPSERT_LEADS, tenant_id)
    requested = sorted({e.lead_id for e in stored if e.type is EventType.ERASURE_REQUESTED and e.lead_id})
    if requested:  # events stored before this batch (a batch's own are scrubbed in the stage)
        await conn.execute(
            """UPDATE events SET payload = payload - 'contact'
               WHERE tenant_id = $1 AND lead_id = ANY($2::text[]) AND type = 'lead.created' AND payload ? 'contact'""",
            tenant_id, requested,
        )
    return stored


# --- the staging table: the batch's new events, copied in at once, read by every statement after ----------------

STAGE = "sm_ingest_stage"
_STAGE_COLUMNS = ("event_id", "occurred_at", "type", "lead_id", "agent_id", "payload")
# one per connection, emptied at each commit (or gone with a rollback's rows): no catalog churn per batch. The
# rollup statement's grouping of a batch of 5,000 events takes ~10 MB: past work_mem it would spill to disk
_STAGE_TABLE = f"""CREATE TEMP TABLE IF NOT EXISTS {STAGE} (
    event_id text NOT NULL, occurred_at timestamptz NOT NULL, type text NOT NULL, lead_id text, agent_id text,
    payload jsonb NOT NULL) ON COMMIT DELETE ROWS;
SET LOCAL work_mem = '32MB'"""
# contact data of leads whose erasure is requested, in this batch or before, is not stored
_SCRUB_STAGE = f"""UPDATE {STAGE} s SET payload = s.payload - 'contact'
WHERE s.payload ? 'contact' AND s.lead_id IS NOT NULL
  AND (EXISTS (SELECT 1 FROM {STAGE} r WHERE r.type = 'erasure.requested' AND r.lead_id = s.lead_id)
       OR EXISTS (SELECT 1 FROM leads l WHERE l.tenant_id = $1 AND l.lead_id = s.lead_id
                  AND l.erasure_requested_at IS NOT NULL))
RETURNING s.lead_id"""

# COPY's text format: a backslash starts an escape, tab ends a column, newline a row
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: str | None) -> str:
    if value is None:
        return "\\N"
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _copy_text(events: list[IngestedEvent]) -> bytes:
    """The events as COPY text rows in ``_STAGE_COLUMNS`` order (payload: the event's data as JSON)."""
    rows = ["\t".join((_copy_field(e.event_id), e.occurred_at.isoformat(), e.type.value, _copy_field(e.lead_id),
                       _copy_field(e.agent_id), _copy_field(_json(e.data)))) for e in events]
    rows.append("")
    return "\n".join(rows).encode()


async def _chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _json(data: dict[str, Any]) -> str:
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # an integer past 64 bits, which orjson does not write
        return json.dumps(data, separators=(",", ":"))


def _without_contact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "contact"} if "contact" in data else data


# --- agents, teams, locations -------------------------------------------------------------------

async def _register_people_and_places(conn: asyncpg.Connection, tenant_id: str, events: list[IngestedEvent]) -> None:
    teams: dict[str, str | None] = {}
    locations: dict[str, str | None] = {}
    agents: dict[str, dict[str, str | None]] = {}

    def named(table: dict[str, str | None], key: Any, name: Any) -> None:
        if isinstance(key, str) and (name or key not in table):
            table[key] = name or table.get(key)

    for e in events:  # in occurred_at order: a later name wins
        d = e.data
        if e.type is EventType.LEAD_CREATED:
            named(locations, d.get("location_id"), d.get("location_name"))
        if e.type in (EventType.LEAD_ROUTED, EventType.AGENT_ACTIVITY):
            named(teams, d.get("team_id"), d.get("team_name"))
            named(locations, d.get("location_id"), None)
        if e.agent_id:
            agent = agents.setdefault(e.agent_id, {"name": None, "team_id": None, "location_id": None})
            if e.type in (EventType.LEAD_ROUTED, EventType.AGENT_ACTIVITY):
                for k_src, k_dst in (("agent_name", "name"), ("team_id", "team_id"), ("location_id", "location_id")):
                    if d.get(k_src):
                        agent[k_dst] = d[k_src]
    await _upsert_named(conn, "teams", "team_id", tenant_id, teams)
    await _upsert_named(conn, "locations", "location_id", tenant_id, locations)
    if agents:
        ids = sorted(agents)
        await conn.execute(
            """INSERT INTO agents (tenant_id, agent_id, name, team_id, location_id)
               SELECT $1, u.id, coalesce(u.name, u.id), u.team, u.loc
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, name, team, loc)
               ON CONFLICT (tenant_id, agent_id) DO UPDATE SET
                   name = CASE WHEN EXCLUDED.name <> EXCLUDED.agent_id THEN EXCLUDED.name ELSE agents.name END,
                   team_id = coalesce(EXCLUDED.team_id, agents.team_id),
                   location_id = coalesce(EXCLUDED.location_id, agents.location_id)
               WHERE (EXCLUDED.name <> EXCLUDED.agent_id AND EXCLUDED.name IS DISTINCT FROM agents.name)
                  OR (EXCLUDED.team_id IS NOT NULL AND EXCLUDED.team_id IS DISTINCT FROM agents.team_id)
                  OR (EXCLUDED.location_id IS NOT NULL AND EXCLUDED.location_id IS DISTINCT FROM agents.location_id)""",
            tenant_id, ids, [agents[i]["name"] for i in ids], [agents[i]["team_id"] for i in ids],
            [agents[i]["location_id"] for i in ids])


async def _upsert_named(conn: asyncpg.Connection, table: Literal["teams", "locations"],
                        id_column: Literal["team_id", "location_id"], tenant_id: str,
                        names: dict[str, str | None]) -> None:
    """Register ids with their latest name; a name equal to the id means "no name given" and never replaces one."""
    if not names:
        return
    ids = sorted(names)
    await conn.execute(
        f"""INSERT INTO {table} (tenant_id, {id_column}, name)
            SELECT $1, u.id, coalesce(u.name, u.id) FROM unnest($2::text[], $3::text[]) AS u(id, name)
            ON CONFLICT (tenant_id, {id_column}) DO UPDATE SET name = EXCLUDED.name
            WHERE EXCLUDED.name <> EXCLUDED.{id_column} AND {table}.name IS DISTINCT FROM EXCLUDED.name""",
        tenant_id, ids, [names[i] for i in ids])


# --- lead state -------------------------------------------------------------------------------------

_UPSERT_LEADS = entities.upsert_sql(
    f"(SELECT lead_id, event_id, occurred_at, type, agent_id, payload AS d FROM {STAGE}\n"
    f" WHERE lead_id IS NOT NULL AND type IN ({', '.join(sorted(repr(t.value) for t in entities.SOURCE_TYPES))}))")
