"""What is generated from the semantic model: each event type's JSON Schema, the ``sm_rollup_key`` SQL function
(slot values per type) and the ``rollup_<type>`` views (the rollups table with the model's names).

Generated, committed, and checked by tests (tests/calculators/test_semantic_model.py): a hand edit of a schema
file or of the migration fails the suite until ``success-metrics model generate`` is run.
"""

from __future__ import annotations

import json
from typing import Any

from success_metrics.calculators.semantic.events import EVENT_MODELS
from success_metrics.calculators.semantic.model import EventModel, Field, Slot

ENVELOPE_ID = "urn:success-metrics:ingest:envelope"
ENVELOPE_REQUIRED = ("id", "type", "occurred_at", "data")


def field_schema(f: Field) -> dict[str, Any]:
    """The JSON Schema of one field, keys in a fixed order (so the committed files diff cleanly)."""
    if f.ref is not None:
        return {"$ref": f"{ENVELOPE_ID}#/$defs/{f.ref}"}
    out: dict[str, Any] = {}
    pairs: tuple[tuple[str, Any], ...] = (
        ("type", f.type), ("additionalProperties", False if f.properties is not None else None),
        ("enum", list(f.enum) if f.enum else None), ("format", f.format), ("minimum", f.minimum),
        ("maximum", f.maximum), ("minLength", f.min_length), ("maxLength", f.max_length), ("pattern", f.pattern),
        ("default", f.default), ("description", f.description))
    out.update((k, v) for k, v in pairs if v is not None)
    if f.properties is not None:
        out["properties"] = {p.name: field_schema(p) for p in f.properties}
    return out


def event_schema(m: EventModel) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an event type: the envelope plus the type's ``data``."""
    data: dict[str, Any] = {
        "type": "object",
        "properties": {f.name: field_schema(f) for f in m.fields},
        "required": [f.name for f in m.fields if f.required],
        "additionalProperties": False,
    }
    if m.required_if is not None:
        name, value, then = m.required_if
        data["if"] = {"properties": {name: {"const": value}}, "required": [name]}
        data["then"] = {"required": [then]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:success-metrics:ingest:{m.type}",
        "title": m.type,
        "description": m.description,
        "allOf": [{"$ref": ENVELOPE_ID}],
        "properties": {"type": {"const": m.type}, "data": data},
        "required": [*ENVELOPE_REQUIRED, *m.envelope_requires],
    }


def schema_files() -> dict[str, str]:
    """File name -> text of every event type's schema (envelope.json stays hand-written: it is not per type)."""
    return {f"{m.type}.json": json.dumps(event_schema(m), indent=2) + "\n" for m in EVENT_MODELS}


# The slots' SQL types and what a type that does not use a slot puts in it.
_DEFAULTS = {Slot.K1: "''", Slot.K2: "''", Slot.K3: "''", Slot.S1: "0", Slot.S2: "0", Slot.S3: "0"}


def _slot_sql(slot: Slot) -> str:
    """One column of sm_rollup_key: a CASE over the event type of each type's expression for the slot."""
    if slot == Slot.N:
        return "1::bigint"
    whens = [f"        WHEN '{m.type}' THEN {x.sql}" for m in EVENT_MODELS
             for x in (*m.dimensions, *m.measures) if x.slot == slot]
    case = "CASE etype\n" + "\n".join(whens) + "\n    END" if whens else "NULL"
    return f"coalesce({case}, {_DEFAULTS[slot]})" if slot in _DEFAULTS else case


def rollup_key_sql() -> str:
    """CREATE OR REPLACE of sm_rollup_key: the rollup keys and sums of one event, as the model defines them."""
    cols = ",\n    ".join(_slot_sql(s) for s in Slot)
    return (
        "CREATE OR REPLACE FUNCTION sm_rollup_key(etype text, payload jsonb, agent text)\n"
        "    RETURNS TABLE (k1 text, k2 text, k3 text, n bigint, s1 numeric, s2 numeric, s3 numeric, mx numeric,"
        " h integer)\n"
        "    LANGUAGE sql IMMUTABLE PARALLEL SAFE\n"
        "    AS $$\n"
        f"SELECT\n    {cols}\n"
        "FROM (SELECT CASE WHEN jsonb_typeof(payload->'data') = 'object' THEN payload->'data' ELSE payload END AS d) x\n"
        "$$;\n")


def view_sql(m: EventModel) -> str:
    """A view of one type's rollups with the model's names. security_invoker: row-level security of
    ``rollups`` applies to whoever reads the view, as it does to the table."""
    named = [f"{'hist' if x.slot == Slot.H else x.slot.value} AS {x.name}" for x in (*m.dimensions, *m.measures)]
    return (f"CREATE VIEW {m.view} WITH (security_invoker = true) AS\n"
            f"    SELECT tenant_id, grain, bucket, {', '.join(named)}\n"
            f"    FROM rollups WHERE type = '{m.type}';\n")


GENERATED = "-- Generated from calculators/semantic by `success-metrics model generate`: do not edit below."


def generated_block() -> str:
    """The generated part of a model migration: the function, one view per type and their grants."""
    views = "".join(view_sql(m) for m in EVENT_MODELS)
    names = ", ".join(m.view for m in EVENT_MODELS)
    return (f"{GENERATED}\n{rollup_key_sql()}\nDROP VIEW IF EXISTS {names};\n{views}"
            f"GRANT SELECT ON {names} TO sm_app;\n")
