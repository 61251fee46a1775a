"""Idempotent insert of validated events, lead state and rollups, in one tenant transaction.

One call stores one batch: partitions for its months are made ready first (system connection), then in
a single ``db.tenant(t)`` transaction, set-based (arrays through ``unnest``, never a statement per event):

1. claim the event ids in ``event_ids`` (``ON CONFLICT DO NOTHING RETURNING``): what comes back is new;
2. insert the new events into the partitioned log (``payload`` is the event's ``data``);
3. register agents, teams and locations the events name;
4. fold the new events into ``leads`` (rules below) and scrub contact data of erased leads;
5. record the batch in ``ingest_batches``;
6. hand the new events to ``calculators.rollups.apply_events``.

The transaction commits before the caller answers, so an accepted event is durable.

Lead state does not depend on the order events arrive in: each column has a commutative rule.
``created_at`` and the lead's attributes come from its earliest ``lead.created``; first-response,
enrichment, nurture, first contact, appointment, unsubscribe, erasure request and erasure completion
keep the earliest time (``response_ok``/``enrichment_ok``: any success; ``first_response_at`` and
``enriched_at`` count successes only). ``first_response_at``/``response_ok`` are the automation's: a
``lead.responded`` sent by hand (``automated: false``) is the agent's contact instead. ``first_contact_at``
is the agent's first contact: the earliest contact attempt made by hand or successful response sent by hand
(automated attempts never count). One deal per lead: the earliest ``deal.closed`` by (occurred_at, event id)
wins, so a second deal.closed with another id changes nothing (``deal_event_id`` keeps the winner's id).
Score and routing (agent, team) follow the latest event by occurred_at (ties inside a batch: the greater
event id; ``team_id`` is the routing event's own, so send it there); ``touches`` counts contact attempts.
Once erasure is requested, contact data is gone from ``leads`` and from stored events, and stays gone for
events that arrive later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import asyncpg

from calculators import rollups
from calculators.events import EventType, IngestedEvent
from datasource.ingest.errors import UnknownTenant
from datasource.ingest.validate import ValidEvent
from datasource.storage import partitions
from datasource.storage.pool import Database

E = EventType


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
    run_id: str | None = None, key_id: str | None = None,
) -> WriteResult:
    """Store a validated batch once; events already stored (by id) count as duplicates."""
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
            await rollups.apply_events(conn, tenant_id, stored)
    except asyncpg.ForeignKeyViolationError:
        raise UnknownTenant(tenant_id) from None
    return WriteResult(accepted=len(stored), duplicates=len(events) - len(stored), stored=stored)


async def _store(conn: asyncpg.Connection, tenant_id: str, batch: list[IngestedEvent]) -> list[IngestedEvent]:
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

    lead_ids = sorted({e.lead_id for e in fresh if e.lead_id})
    erased = {e.lead_id for e in fresh if e.type is E.ERASURE_REQUESTED and e.lead_id}
    if lead_ids:
        erased.update(r["lead_id"] for r in await conn.fetch(
            "SELECT lead_id FROM leads WHERE tenant_id = $1 AND lead_id = ANY($2::text[]) "
            "AND erasure_requested_at IS NOT NULL", tenant_id, lead_ids))
    stored = [replace(e, data=_without_contact(e.data)) if e.lead_id in erased else e for e in fresh]
    await conn.execute(
        """INSERT INTO events (tenant_id, occurred_at, event_id, type, lead_id, agent_id, payload)
           SELECT $1, u.at, u.id, u.type, u.lead, u.agent, u.payload::jsonb
           FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                AS u(at, id, type, lead, agent, payload)""",
        tenant_id, [e.occurred_at for e in stored], [e.event_id for e in stored], [e.type.value for e in stored],
        [e.lead_id for e in stored], [e.agent_id for e in stored],
        [json.dumps(e.data, separators=(",", ":")) for e in stored],
    )
    await _register_people_and_places(conn, tenant_id, stored)
    if lead_ids:
        await _fold_leads(conn, tenant_id, stored, erased)
    if erased:
        await conn.execute(
            """UPDATE events SET payload = payload - 'contact'
               WHERE tenant_id = $1 AND lead_id = ANY($2::text[]) AND type = 'lead.created' AND payload ? 'contact'""",
            tenant_id, sorted(erased),
        )
    return stored


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
        if e.type is E.LEAD_CREATED:
            named(locations, d.get("location_id"), d.get("location_name"))
        if e.type in (E.LEAD_ROUTED, E.AGENT_ACTIVITY):
            named(teams, d.get("team_id"), d.get("team_name"))
            named(locations, d.get("location_id"), None)
        if e.agent_id:
            agent = agents.setdefault(e.agent_id, {"name": None, "team_id": None, "location_id": None})
            if e.type in (E.LEAD_ROUTED, E.AGENT_ACTIVITY):
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

@dataclass
class LeadDelta:
    """What one batch says about one lead, folded with the same rules as the SQL merge below."""

    created_at: datetime | None = None
    source: str | None = None
    location_id: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    priority: str | None = None
    consent_sms: bool | None = None
    first_response_at: datetime | None = None
    response_ok: bool | None = None
    enriched_at: datetime | None = None
    enrichment_ok: bool | None = None
    score: int | None = None
    scored_at: datetime | None = None
    routed_at: datetime | None = None
    agent_id: str | None = None
    team_id: str | None = None
    nurtured_at: datetime | None = None
    touches: int = 0
    first_contact_at: datetime | None = None
    appointment_at: datetime | None = None
    closed_at: datetime | None = None
    deal_value: Decimal | None = None
    attribution_class: str | None = None
    deal_event_id: str | None = None
    unsubscribed_at: datetime | None = None
    erasure_requested_at: datetime | None = None
    erased_at: datetime | None = None
    _latest: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def later(self, group: str, e: IngestedEvent) -> bool:
        """Is ``e`` the latest event of ``group`` seen so far (ties: the greater event id)?"""
        mark = (e.occurred_at, e.event_id)
        if group not in self._latest or mark > self._latest[group]:
            self._latest[group] = mark
            return True
        return False


def _earliest(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment < current else current


def _any(current: bool | None, value: bool) -> bool:
    return bool(current) or value


def manual(data: dict[str, Any]) -> bool:
    """A person did it: ``automated`` is false (or, in the older spelling, ``manual`` is true); as sm_is_manual."""
    automated = data.get("automated")
    return automated is False if automated is not None else bool(data.get("manual", False))


def fold(events: Sequence[IngestedEvent]) -> dict[str, LeadDelta]:
    """Each lead's delta from these events (pure: the SQL merge applies the same rules against storage)."""
    deltas: dict[str, LeadDelta] = {}
    for e in events:
        if not e.lead_id:
            continue
        d = deltas.setdefault(e.lead_id, LeadDelta())
        data, at = e.data, e.occurred_at
        match e.type:
            case E.LEAD_CREATED:
                if "created" not in d._latest or (at, e.event_id) < d._latest["created"]:
                    d._latest["created"] = (at, e.event_id)
                    contact = data.get("contact") or {}
                    consent = data.get("consent") or {}
                    d.created_at, d.source, d.location_id = at, data.get("source"), data.get("location_id")
                    d.contact_name, d.contact_email = contact.get("name"), contact.get("email")
                    d.contact_phone, d.priority, d.consent_sms = contact.get("phone"), data.get("priority"), consent.get("sms")
            case E.LEAD_RESPONDED if manual(data):
                if data.get("ok"):
                    d.first_contact_at = _earliest(d.first_contact_at, at)
            case E.LEAD_RESPONDED:
                d.response_ok = _any(d.response_ok, bool(data.get("ok")))
                if data.get("ok"):
                    d.first_response_at = _earliest(d.first_response_at, at)
            case E.LEAD_ENRICHED:
                d.enrichment_ok = _any(d.enrichment_ok, bool(data.get("ok")))
                if data.get("ok"):
                    d.enriched_at = _earliest(d.enriched_at, at)
            case E.LEAD_SCORED:
                if d.later("scored", e):
                    d.score, d.scored_at = int(data["score"]), at
            case E.LEAD_ROUTED:
                if d.later("routed", e):
                    d.routed_at, d.agent_id, d.team_id = at, e.agent_id, data.get("team_id")
            case E.LEAD_NURTURED:
                d.nurtured_at = _earliest(d.nurtured_at, at)
            case E.CONTACT_ATTEMPTED:
                d.touches += 1
                if manual(data):
                    d.first_contact_at = _earliest(d.first_contact_at, at)
                if data.get("outcome") == "unsubscribed":
                    d.unsubscribed_at = _earliest(d.unsubscribed_at, at)
            case E.APPOINTMENT_SCHEDULED:
                d.appointment_at = _earliest(d.appointment_at, at)
            case E.DEAL_CLOSED:
                if d.deal_event_id is None or (at, e.event_id) < (d.closed_at or at, d.deal_event_id):
                    d.closed_at, d.attribution_class, d.deal_event_id = at, data["attribution_class"], e.event_id
                    d.deal_value = Decimal(str(data["value"]))
            case E.ERASURE_REQUESTED:
                d.erasure_requested_at = _earliest(d.erasure_requested_at, at)
            case E.ERASURE_COMPLETED:
                d.erased_at = _earliest(d.erased_at, at)
            case E.AGENT_ACTIVITY | E.COMPONENT_CALL | E.API_USAGE | E.COST_RECORDED | E.ERROR_PREVENTED:
                pass  # these name a lead at most in passing
    return deltas


# (column, SQL array type) in the order of the unnest below
_LEAD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("created_at", "timestamptz"), ("source", "text"), ("location_id", "text"), ("contact_name", "text"),
    ("contact_email", "text"), ("contact_phone", "text"), ("priority", "text"), ("consent_sms", "boolean"),
    ("first_response_at", "timestamptz"), ("response_ok", "boolean"), ("enriched_at", "timestamptz"),
    ("enrichment_ok", "boolean"), ("score", "smallint"), ("scored_at", "timestamptz"), ("routed_at", "timestamptz"),
    ("agent_id", "text"), ("team_id", "text"), ("nurtured_at", "timestamptz"), ("touches", "integer"),
    ("first_contact_at", "timestamptz"), ("appointment_at", "timestamptz"), ("closed_at", "timestamptz"),
    ("deal_value", "numeric"), ("attribution_class", "text"), ("unsubscribed_at", "timestamptz"),
    ("erasure_requested_at", "timestamptz"), ("erased_at", "timestamptz"), ("deal_event_id", "text"),
)


def _first(col: str) -> str:
    return f"{col} = LEAST(leads.{col}, EXCLUDED.{col})"


def _any_sql(col: str) -> str:
    return (f"{col} = CASE WHEN leads.{col} IS NULL THEN EXCLUDED.{col} WHEN EXCLUDED.{col} IS NULL "
            f"THEN leads.{col} ELSE leads.{col} OR EXCLUDED.{col} END")


def _earliest_deal() -> list[str]:
    """The deal with the smaller (closed_at, deal_event_id) wins: the same winner whatever order batches come in."""
    earlier = ("(EXCLUDED.deal_event_id IS NOT NULL AND (leads.deal_event_id IS NULL OR "
               "(EXCLUDED.closed_at, EXCLUDED.deal_event_id) < (leads.closed_at, leads.deal_event_id)))")
    return [f"{c} = CASE WHEN {earlier} THEN EXCLUDED.{c} ELSE leads.{c} END"
            for c in ("closed_at", "deal_value", "attribution_class", "deal_event_id")]


def _latest(at: str, cols: Sequence[str]) -> list[str]:
    newer = f"(EXCLUDED.{at} IS NOT NULL AND (leads.{at} IS NULL OR EXCLUDED.{at} > leads.{at}))"
    return [f"{c} = CASE WHEN {newer} THEN EXCLUDED.{c} ELSE leads.{c} END" for c in (at, *cols)]


_ERASED = "coalesce(leads.erasure_requested_at, EXCLUDED.erasure_requested_at) IS NOT NULL"
_CREATED_NEWER = "(EXCLUDED.created_at IS NOT NULL AND (leads.created_at IS NULL OR EXCLUDED.created_at < leads.created_at))"
_MERGE = ", ".join([
    *(f"{c} = CASE WHEN {_CREATED_NEWER} THEN EXCLUDED.{c} ELSE leads.{c} END"
      for c in ("source", "location_id", "priority", "consent_sms")),
    *(f"{c} = CASE WHEN {_ERASED} THEN NULL WHEN {_CREATED_NEWER} THEN EXCLUDED.{c} ELSE leads.{c} END"
      for c in ("contact_name", "contact_email", "contact_phone")),
    _first("created_at"),  # after the columns that compare against it (all read the old row anyway)
    _first("first_response_at"), _any_sql("response_ok"), _first("enriched_at"), _any_sql("enrichment_ok"),
    *_latest("scored_at", ["score"]),
    *_latest("routed_at", ["agent_id", "team_id"]),
    _first("nurtured_at"), "touches = leads.touches + EXCLUDED.touches", _first("first_contact_at"),
    _first("appointment_at"),
    *_earliest_deal(),
    _first("unsubscribed_at"), _first("erasure_requested_at"), _first("erased_at"),
    "updated_at = now()",
])

_UPSERT_LEADS = (
    "INSERT INTO leads (tenant_id, lead_id, " + ", ".join(c for c, _ in _LEAD_COLUMNS) + ")\n"
    "SELECT $1, u.lead_id, " + ", ".join(f"u.{c}" for c, _ in _LEAD_COLUMNS) + "\n"
    "FROM unnest($2::text[], " + ", ".join(f"${i + 3}::{t}[]" for i, (_, t) in enumerate(_LEAD_COLUMNS)) + ")\n"
    "     AS u(lead_id, " + ", ".join(c for c, _ in _LEAD_COLUMNS) + ")\n"
    "ON CONFLICT (tenant_id, lead_id) DO UPDATE SET " + _MERGE
)


async def _fold_leads(conn: asyncpg.Connection, tenant_id: str, events: list[IngestedEvent], erased: set[str]) -> None:
    deltas = fold(events)
    for lead_id in erased & deltas.keys():
        d = deltas[lead_id]
        d.contact_name = d.contact_email = d.contact_phone = None
    ids = sorted(deltas)
    columns = [[getattr(deltas[i], c) for i in ids] for c, _ in _LEAD_COLUMNS]
    await conn.execute(_UPSERT_LEADS, tenant_id, ids, *columns)
    if erased:
        await conn.execute(
            """UPDATE leads SET contact_name = NULL, contact_email = NULL, contact_phone = NULL, updated_at = now()
               WHERE tenant_id = $1 AND lead_id = ANY($2::text[])
                 AND (contact_name IS NOT NULL OR contact_email IS NOT NULL OR contact_phone IS NOT NULL)""",
            tenant_id, sorted(erased))
