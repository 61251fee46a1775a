"""The lead entity as data: one record per ``leads`` column, its source events and its fold rule.

Every rule is commutative, so lead state does not depend on the order events arrive in, and the SQL that
folds them is generated from the records below (nothing else writes these rules):

- ``aggregate``: a batch's (or the stored) events per lead, with SQL aggregates (order-independent);
- ``upsert_sql``: ingest — the batch's aggregate merged into the existing ``leads`` row with the same rule;
- ``recompute_sql``: chosen columns recomputed from the stored events (migrations, backfills).

Rules: ``earliest`` keeps the first time a matching event happened; ``any`` is true once any matching event
says true; ``count`` counts matching events; ``first`` / ``latest`` take their value from one winning event
per (rule, event type) group — the earliest or latest by (occurred_at, event id), so equal times resolve by
event id, in a batch and across batches alike. Each group stores its winner's time (``@occurred_at``) and
id (``@event_id``) so a later batch compares against them. ``erasable`` columns are NULL once erasure is
requested (contact data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from success_metrics.calculators.events import EventType as E


class Rule(StrEnum):
    EARLIEST = "earliest"
    ANY = "any"
    COUNT = "count"
    FIRST = "first"
    LATEST = "latest"


# named conditions on an event's data ``d`` (an automated event is one not made by hand: sm_is_manual, 0009)
CONDITIONS: dict[str, str] = {
    "ok": "coalesce((e.d->>'ok')::boolean, false)",
    "manual": "sm_is_manual(e.d)",
    "automated": "NOT sm_is_manual(e.d)",
    "unsubscribed": "e.d->>'outcome' = 'unsubscribed'",
}


@dataclass(frozen=True, slots=True)
class Source:
    """Events of one type that count, when all the named conditions hold."""

    event: E
    when: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``leads`` column: where its value comes from and how values from many events fold into one.

    ``value`` is a dotted path into the event's data, or ``@occurred_at`` / ``@event_id`` / ``@agent_id``.
    """

    column: str
    sql_type: str
    rule: Rule
    sources: tuple[Source, ...]
    value: str = "@occurred_at"
    erasable: bool = False


def _on(event: E, *when: str) -> tuple[Source, ...]:
    return (Source(event, when),)


def _group(rule: Rule, event: E, *columns: tuple[str, str, str], erasable: Sequence[str] = ()) -> list[Attribute]:
    return [Attribute(c, t, rule, _on(event), v, c in erasable) for c, t, v in columns]


LEAD: tuple[Attribute, ...] = (
    *_group(Rule.FIRST, E.LEAD_CREATED,
            ("created_at", "timestamptz", "@occurred_at"), ("created_event_id", "text", "@event_id"),
            ("source", "text", "source"), ("location_id", "text", "location_id"),
            ("contact_name", "text", "contact.name"), ("contact_email", "text", "contact.email"),
            ("contact_phone", "text", "contact.phone"), ("priority", "text", "priority"),
            ("consent_sms", "boolean", "consent.sms"),
            erasable=("contact_name", "contact_email", "contact_phone")),
    # the automation's first response; a response sent by hand is the agent's first contact instead
    Attribute("first_response_at", "timestamptz", Rule.EARLIEST, _on(E.LEAD_RESPONDED, "automated", "ok")),
    Attribute("response_ok", "boolean", Rule.ANY, _on(E.LEAD_RESPONDED, "automated"), "ok"),
    Attribute("enriched_at", "timestamptz", Rule.EARLIEST, _on(E.LEAD_ENRICHED, "ok")),
    Attribute("enrichment_ok", "boolean", Rule.ANY, _on(E.LEAD_ENRICHED), "ok"),
    *_group(Rule.LATEST, E.LEAD_SCORED,
            ("scored_at", "timestamptz", "@occurred_at"), ("scored_event_id", "text", "@event_id"),
            ("score", "smallint", "score")),
    *_group(Rule.LATEST, E.LEAD_ROUTED,  # team_id is the routing event's own
            ("routed_at", "timestamptz", "@occurred_at"), ("routed_event_id", "text", "@event_id"),
            ("agent_id", "text", "@agent_id"), ("team_id", "text", "team_id")),
    Attribute("nurtured_at", "timestamptz", Rule.EARLIEST, _on(E.LEAD_NURTURED)),
    Attribute("touches", "integer", Rule.COUNT, _on(E.CONTACT_ATTEMPTED)),
    # the agent's first contact: an attempt made by hand or a successful response sent by hand
    Attribute("first_contact_at", "timestamptz", Rule.EARLIEST,
              (Source(E.CONTACT_ATTEMPTED, ("manual",)), Source(E.LEAD_RESPONDED, ("manual", "ok")))),
    Attribute("appointment_at", "timestamptz", Rule.EARLIEST, _on(E.APPOINTMENT_SCHEDULED)),
    # one deal per lead: the earliest deal.closed wins
    *_group(Rule.FIRST, E.DEAL_CLOSED,
            ("closed_at", "timestamptz", "@occurred_at"), ("deal_event_id", "text", "@event_id"),
            ("deal_value", "numeric", "value"), ("attribution_class", "text", "attribution_class")),
    Attribute("unsubscribed_at", "timestamptz", Rule.EARLIEST, _on(E.CONTACT_ATTEMPTED, "unsubscribed")),
    Attribute("erasure_requested_at", "timestamptz", Rule.EARLIEST, _on(E.ERASURE_REQUESTED)),
    Attribute("erased_at", "timestamptz", Rule.EARLIEST, _on(E.ERASURE_COMPLETED)),
)

ERASURE = "erasure_requested_at"
BY_COLUMN: dict[str, Attribute] = {a.column: a for a in LEAD}
SOURCE_TYPES: frozenset[E] = frozenset(s.event for a in LEAD for s in a.sources)


def _key(a: Attribute) -> tuple[Rule, E]:
    return a.rule, a.sources[0].event


def group(column: str) -> list[str]:
    """The columns that take their value from the same winning event as ``column`` (a first/latest one)."""
    a = BY_COLUMN[column]
    return [b.column for b in LEAD if b.rule in (Rule.FIRST, Rule.LATEST) and _key(b) == _key(a)]


def winner_keys(a: Attribute) -> tuple[str, str]:
    """The (time, event id) columns of the group ``a`` belongs to (a first/latest attribute)."""
    members = [BY_COLUMN[c] for c in group(a.column)]
    at = [b.column for b in members if b.value == "@occurred_at"]
    ids = [b.column for b in members if b.value == "@event_id"]
    if len(at) != 1 or len(ids) != 1:
        raise ValueError(f"{a.column}: its {a.rule} group needs one @occurred_at and one @event_id column")
    return at[0], ids[0]


# --- SQL over a relation e(lead_id, event_id, occurred_at, type, agent_id, d jsonb) -----------------------

def _value(a: Attribute) -> str:
    if a.value.startswith("@"):
        return f"e.{a.value[1:]}"
    *path, last = a.value.split(".")
    reached = "".join(f"->'{p}'" for p in path)
    text = f"e.d{reached}->>'{last}'"
    return text if a.sql_type == "text" else f"({text})::{a.sql_type}"


def _match(a: Attribute) -> str:
    return " OR ".join(
        "(" + " AND ".join([f"e.type = '{s.event.value}'", *(CONDITIONS[c] for c in s.when)]) + ")"
        for s in a.sources)


def _aggregate(a: Attribute) -> str:
    where = f"FILTER (WHERE {_match(a)})"
    match a.rule:
        case Rule.EARLIEST:
            expr = f"min(e.occurred_at) {where}"
        case Rule.ANY:
            expr = f"bool_or(coalesce({_value(a)}, false)) {where}"
        case Rule.COUNT:
            expr = f"(count(*) {where})::integer"
        case Rule.FIRST | Rule.LATEST:
            order = "e.occurred_at, e.event_id" if a.rule is Rule.FIRST else "e.occurred_at DESC, e.event_id DESC"
            expr = f"(array_agg({_value(a)} ORDER BY {order}) {where})[1]"
    if a.erasable:
        expr = f"CASE WHEN {_aggregate(BY_COLUMN[ERASURE])} IS NULL THEN {expr} END"
    return expr


def aggregate(relation: str, group_by: Sequence[str], attributes: Sequence[Attribute] = LEAD) -> str:
    """SELECT the grouping columns and ``attributes`` (all lead columns), aggregated over ``relation`` as ``e``."""
    keys = ", ".join(f"e.{k}" for k in group_by)
    columns = ",\n       ".join(f"{_aggregate(a)} AS {a.column}" for a in attributes)
    return f"SELECT {keys},\n       {columns}\nFROM {relation} e\nGROUP BY {keys}"


def _merged(a: Attribute) -> str:
    c = a.column
    match a.rule:
        case Rule.EARLIEST:
            return f"LEAST(leads.{c}, EXCLUDED.{c})"
        case Rule.ANY:
            return f"coalesce(leads.{c} OR EXCLUDED.{c}, leads.{c}, EXCLUDED.{c})"
        case Rule.COUNT:
            return f"leads.{c} + EXCLUDED.{c}"
        case Rule.FIRST | Rule.LATEST:
            at, ids = winner_keys(a)
            beats = "<" if a.rule is Rule.FIRST else ">"
            # a row stored before its group kept an event id compares as the smallest id
            wins = (f"EXCLUDED.{ids} IS NOT NULL AND (leads.{at} IS NULL OR "
                    f"(EXCLUDED.{at}, EXCLUDED.{ids}) {beats} (leads.{at}, coalesce(leads.{ids}, '')))")
            erased = (f"WHEN coalesce(leads.{ERASURE}, EXCLUDED.{ERASURE}) IS NOT NULL THEN NULL "
                      if a.erasable else "")
            return f"CASE {erased}WHEN {wins} THEN EXCLUDED.{c} ELSE leads.{c} END"


def _stored_events(types: frozenset[E]) -> str:
    """The stored events as the relation ``e`` (an envelope's "data" or the payload itself, as 0003 reads it)."""
    listed = ", ".join(f"'{t.value}'" for t in sorted(types))
    return ("(SELECT ev.tenant_id, ev.lead_id, ev.event_id, ev.occurred_at, ev.type, ev.agent_id,\n"
            "        CASE WHEN jsonb_typeof(ev.payload->'data') = 'object' THEN ev.payload->'data'"
            " ELSE ev.payload END AS d\n"
            f" FROM events ev WHERE ev.lead_id IS NOT NULL AND ev.type IN ({listed}))")


def upsert_sql(batch: str) -> str:
    """Fold a batch into ``leads``: $1 tenant, ``batch`` a relation of the batch's lead events (lead_id,
    event_id, occurred_at, type, agent_id, d jsonb), aggregated per lead and merged into each existing row with
    the same rules (rows in lead id order, so concurrent batches lock shared leads in one order)."""
    columns = ", ".join(a.column for a in LEAD)
    merge = ",\n    ".join([*(f"{a.column} = {_merged(a)}" for a in LEAD), "updated_at = now()"])
    return (f"INSERT INTO leads (tenant_id, lead_id, {columns})\n"
            f"SELECT $1, a.* FROM ({aggregate(batch, ['lead_id'])}) a\n"
            "ORDER BY a.lead_id\n"  # one lock order for concurrent batches
            f"ON CONFLICT (tenant_id, lead_id) DO UPDATE SET\n    {merge}")


def recompute_sql(columns: Sequence[str]) -> str:
    """Set ``columns`` of every lead from all its stored events, with the same rules. A first/latest column is
    set only where its group's stored time is the recomputed winner's (events since dropped by retention may
    have decided it)."""
    chosen = [BY_COLUMN[c] for c in columns]
    needed = {*columns, *(k for a in chosen if a.rule in (Rule.FIRST, Rule.LATEST) for k in winner_keys(a)),
              *([ERASURE] if any(a.erasable for a in chosen) else [])}
    used = [a for a in LEAD if a.column in needed]
    types = frozenset(s.event for a in used for s in a.sources)

    def assigned(a: Attribute) -> str:
        if a.rule in (Rule.FIRST, Rule.LATEST):
            at = winner_keys(a)[0]
            return f"{a.column} = CASE WHEN l.{at} = r.{at} THEN r.{a.column} ELSE l.{a.column} END"
        return f"{a.column} = r.{a.column}"

    return (f"UPDATE leads l SET {', '.join(assigned(a) for a in chosen)}\n"
            f"FROM ({aggregate(_stored_events(types), ['tenant_id', 'lead_id'], used)}) r\n"
            "WHERE l.tenant_id = r.tenant_id AND l.lead_id = r.lead_id")
