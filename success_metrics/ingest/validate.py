"""Each event → accepted, or rejected with a JSON pointer and a reason a person can act on.

The contract is one JSON Schema (draft 2020-12) per event type in ``schemas/``, each extending
``envelope.json``. Beyond the schema, ``occurred_at`` must fall after the retention horizon (older
events would be dropped at once) and no more than a year ahead (a clock or time-zone mistake).
Pointers are relative to the batch, e.g. ``/3/data/score`` for the fourth event's score.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import Any, cast

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from success_metrics.calculators import EventType, IngestedEvent
from success_metrics.storage import partitions

SCHEMA_BASE = "urn:success-metrics:ingest:"
ENVELOPE = "envelope"
MAX_FUTURE = timedelta(days=366)

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


@lru_cache(maxsize=16384)  # each occurred_at is read twice: by the schema's format check, then for the event
def parse_datetime(value: str) -> datetime | None:
    """An RFC 3339 date-time with an offset, as an aware UTC datetime; None when it is not one."""
    if not _RFC3339.match(value):
        return None
    text = value.upper()
    # Python takes at most 6 fractional digits
    if "." in text:
        head, _, rest = text.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = head + "." + rest[:min(digits, 6)] + rest[digits:]
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 pushed past the calendar by the offset
        return None


_formats = FormatChecker(["email", "date", "regex"])


@_formats.checks("date-time")
def _is_datetime(instance: object) -> bool:
    return not isinstance(instance, str) or parse_datetime(instance) is not None


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    id: str | None
    pointer: str
    reason: str
    # for the data-quality tallies: the event's type ('' when none or unknown) and what was wrong, as the field
    # (pointer inside the event) and the rule it broke, never a value the sender sent
    type: str = ""
    rule: str = ""


@dataclass(frozen=True, slots=True)
class ValidEvent:
    """An event that passed validation, and where it stood in the batch."""

    index: int
    event: IngestedEvent


@dataclass(frozen=True, slots=True)
class Checked:
    valid: list[ValidEvent]
    rejected: list[Rejection]


class EventSchemas:
    """The shipped schemas, their registry and one compiled validator per event type."""

    def __init__(self, documents: dict[str, dict[str, Any]]) -> None:
        self.documents = documents
        missing = [t.value for t in EventType if t.value not in documents]
        if missing or ENVELOPE not in documents:
            raise RuntimeError(f"event schemas missing for: {missing or [ENVELOPE]}")
        registry: Registry = Registry().with_resources(
            (doc["$id"], Resource.from_contents(doc, default_specification=DRAFT202012)) for doc in documents.values()
        )
        # validate against self-contained copies (refs inlined, envelope merged): same verdicts, 3x faster
        envelope = documents[ENVELOPE]
        flat = {EventType(name): _flatten(doc, envelope) for name, doc in documents.items() if name != ENVELOPE}
        self.validators = {
            kind: Draft202012Validator(schema, registry=registry, format_checker=_formats)
            for kind, schema in flat.items()
        }
        # the fast path: "valid" from it is final (the same schema, the same date-time check; its other
        # formats are at least as strict); "invalid" is re-checked by the validator above, which explains it
        self.fast = {
            kind: jsonschema_rs.Draft202012Validator(schema, validate_formats=True, formats={"date-time": _is_datetime})
            for kind, schema in flat.items()
        }

    @property
    def types(self) -> list[str]:
        return sorted(t.value for t in self.validators)

    def document(self, name: str) -> dict[str, Any] | None:
        return self.documents.get(name.removesuffix(".json"))


def _inline(node: Any, envelope: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        prefix = SCHEMA_BASE + ENVELOPE + "#/$defs/"
        if isinstance(ref, str) and ref.startswith(prefix) and len(node) == 1:
            return _inline(envelope["$defs"][ref.removeprefix(prefix)], envelope)
        return {k: _inline(v, envelope) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, envelope) for v in node]
    return node


def _flatten(doc: dict[str, Any], envelope: dict[str, Any]) -> dict[str, Any]:
    """One event type's schema with the envelope merged in: the type's properties narrow the envelope's."""
    assert doc.get("allOf") == [{"$ref": SCHEMA_BASE + ENVELOPE}], f"{doc['$id']} must extend the envelope"
    merged = {k: v for k, v in doc.items() if k not in ("allOf", "$id", "$schema")}
    merged["properties"] = {**envelope["properties"], **doc.get("properties", {})}
    merged["required"] = sorted(set(envelope["required"]) | set(doc.get("required", [])), key=merged_order)
    merged["additionalProperties"] = envelope["additionalProperties"]
    flat: dict[str, Any] = _inline(merged, envelope)
    return flat


def merged_order(name: str) -> int:
    order = ["id", "type", "occurred_at", "lead_id", "agent_id", "data"]
    return order.index(name) if name in order else len(order)


@cache
def schemas() -> EventSchemas:
    folder = resources.files("success_metrics.ingest") / "schemas"
    docs = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            docs[entry.name.removesuffix(".json")] = json.loads(entry.read_text(encoding="utf-8"))
    return EventSchemas(docs)


def horizon(now: datetime, retention_months: int) -> datetime:
    """The oldest occurred_at still kept: the first day of the first month retention keeps."""
    first = partitions.retention_cutoff(now, retention_months)
    return datetime(first.year, first.month, 1, tzinfo=UTC)


def check(
    events: Sequence[Any], *, now: datetime | None = None, retention_months: int = 24, start_index: int = 0,
    fast: bool = True,
) -> Checked:
    """Validate a batch; ``start_index`` shifts indexes and pointers (a chunk of a larger file).

    ``fast=False`` skips the compiled fast path (tests compare both ways).
    """
    now = now or datetime.now(UTC)
    oldest = horizon(now, retention_months)
    newest = now + MAX_FUTURE
    found = schemas()
    compiled = found.validators
    quick = found.fast if fast else {}
    valid: list[ValidEvent] = []
    rejected: list[Rejection] = []
    for offset, event in enumerate(events):
        index = start_index + offset
        outcome = _check_one(event, index, compiled, quick, oldest, newest)
        if isinstance(outcome, ValidEvent):
            valid.append(outcome)
        else:
            rejected.append(outcome)
    return Checked(valid, rejected)


_TYPES = {t.value: t for t in EventType}


def _check_one(
    event: Any, index: int, compiled: dict[EventType, Draft202012Validator], quick: dict[EventType, Any],
    oldest: datetime, newest: datetime,
) -> ValidEvent | Rejection:
    where = f"/{index}"
    if not isinstance(event, dict):
        return Rejection(index, None, where, f"an event must be a JSON object, got {_json_type(event)}",
                         rule="not an object")
    event_id = event.get("id") if isinstance(event.get("id"), str) else None
    if not _all_storable(event) and (bad := _unstorable(event)) is not None:
        path, reason = bad
        return Rejection(index, None if event_id is None else printable(event_id),
                         where + printable(pointer_of(reversed(path))), reason, _known(event.get("type")),
                         "unstorable text")
    kind = event.get("type")
    if kind is None:
        return Rejection(index, event_id, where + "/type", "missing required field 'type'", rule="/type: required")
    event_type = _TYPES.get(kind) if isinstance(kind, str) else None  # a dict look-up: EventType() costs 10x
    if event_type is None:
        known = ", ".join(sorted(t.value for t in compiled))
        return Rejection(index, event_id, where + "/type", f"unknown event type {kind!r}; known types: {known}",
                         rule="/type: unknown type")
    fast = quick.get(event_type)
    errors = [] if fast is not None and fast.is_valid(event) else list(compiled[event_type].iter_errors(event))
    if errors:
        errors.sort(key=_relevance)
        pointer, reason = describe(errors[0])
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more problem(s) in this event)"
        return Rejection(index, event_id, where + pointer, reason, event_type.value,
                         f"{_unindexed(pointer)}: {errors[0].validator}")
    assert event_id is not None
    occurred = parse_datetime(event["occurred_at"])
    assert occurred is not None
    if occurred < oldest:
        return Rejection(
            index, event_id, where + "/occurred_at",
            f"occurred_at {event['occurred_at']} is older than the retention horizon "
            f"({oldest:%Y-%m-%d}); events that old are no longer kept", event_type.value,
            "/occurred_at: older than retention",
        )
    if occurred > newest:
        return Rejection(
            index, event_id, where + "/occurred_at",
            f"occurred_at {event['occurred_at']} is more than a year in the future; check the sender's clock "
            "and time zone offset", event_type.value, "/occurred_at: in the future",
        )
    return ValidEvent(index, IngestedEvent(event_id, event_type, occurred, event.get("lead_id"),
                                           event.get("agent_id"), event["data"]))


def _known(kind: Any) -> str:
    """The event's type if it names a known one, else ''."""
    return kind if isinstance(kind, str) and kind in EventType._value2member_map_ else ""


_INDEX = re.compile(r"/\d+(?=/|$)")


def _unindexed(pointer: str) -> str:
    """A pointer inside an event with array indexes as ``*`` and at most 100 characters: one reason per field."""
    return _INDEX.sub("/*", pointer)[:100]


# text PostgreSQL cannot store and UTF-8 cannot encode: NUL (text and jsonb refuse U+0000) and lone UTF-16
# surrogates (JSON's "\\ud83d" without its pair, from senders that cut a string inside an emoji)
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _all_storable(event: dict[str, Any]) -> bool:
    """True when no key or string of the event holds unstorable text, in one pass in C: orjson refuses a lone
    surrogate and writes NUL as ``\\u0000`` (False may be wrong, e.g. for an integer orjson does not write, or
    a text holding a backslash and "u0000": ``_unstorable`` then looks properly)."""
    try:
        return b"\\u0000" not in orjson.dumps(event)
    except TypeError:
        return False


def _unstorable(value: Any) -> tuple[list[Any], str] | None:
    """(path, reason) of the first key or string holding unstorable text, path innermost first; None if none.

    It runs before any validator sees the event: the compiled one raises on a surrogate, and a rejection's
    pointer or id carrying one could not be sent back as UTF-8. Paths are built only on a find.
    """
    kind = type(value)
    if kind is str:
        found = _UNSTORABLE.search(value)
        return None if found is None else ([], _bad_text_reason("the value", value, found.start()))
    if kind is dict:
        for key, item in value.items():
            if type(key) is str and (found := _UNSTORABLE.search(key)) is not None:
                return [key], _bad_text_reason("the key", key, found.start())
            if (inner := _unstorable(item)) is not None:
                inner[0].append(key)
                return inner
    elif kind is list:
        for position, item in enumerate(value):
            if (inner := _unstorable(item)) is not None:
                inner[0].append(position)
                return inner
    return None


def _bad_text_reason(what: str, text: str, at: int) -> str:
    char = text[at]
    if char == "\x00":
        return f"{what} contains a NUL character (\\u0000) at character {at}, which cannot be stored; remove it"
    return (f"{what} contains a lone UTF-16 surrogate (\\u{ord(char):04x} at character {at}) that is not valid "
            "Unicode, e.g. a string cut inside an emoji; send whole characters (or drop the broken one)")


def printable(text: str) -> str:
    """``text`` with lone surrogates written as their JSON escape, so an answer can carry it as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _relevance(error: ValidationError) -> tuple[int, int, str]:
    # errors about the data object's own fields first, deepest first, then a stable order
    return (0 if error.validator in ("required", "additionalProperties") else 1, -len(error.absolute_path),
            "/".join(map(str, error.absolute_path)))


def pointer_of(path: Iterable[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def describe(error: ValidationError) -> tuple[str, str]:
    """A JSON pointer (inside the event) and a sentence saying what to fix."""
    pointer = pointer_of(error.absolute_path)
    value = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    match error.validator:
        case "required":
            wanted = error.validator_value if isinstance(error.validator_value, list) else []
            missing = [name for name in wanted if isinstance(value, dict) and name not in value]
            name = missing[0] if missing else "?"
            return f"{pointer}/{name}", f"missing required field {name!r}"
        case "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            extra = sorted(set(value) - set(allowed)) if isinstance(value, dict) else []
            name = extra[0] if extra else "?"
            return f"{pointer}/{name}", f"unexpected field {name!r}; allowed here: {', '.join(allowed)}"
        case "type":
            return pointer, f"expected {_type_words(error.validator_value)}, got {_json_type(value)} {_short(value)}"
        case "enum":
            options = ", ".join(json.dumps(o) for o in cast(list[Any], error.validator_value))
            return pointer, f"{_short(value)} is not allowed; use one of: {options}"
        case "const":
            return pointer, f"{_short(value)} must be {json.dumps(error.validator_value)}"
        case "format":
            if error.validator_value == "date-time":
                return pointer, (f"{_short(value)} is not an RFC 3339 date-time with a time zone offset, "
                                 "e.g. 2025-03-14T09:26:53Z")
            return pointer, f"{_short(value)} is not a valid {error.validator_value}"
        case "pattern":
            hint = schema.get("description")
            return pointer, f"{_short(value)} has the wrong form" + (f": {hint}" if hint else
                                                                        f" (must match {error.validator_value})")
        case "minLength" | "maxLength":
            return pointer, f"{_short(value)} must be {'at least' if error.validator == 'minLength' else 'at most'} " \
                            f"{error.validator_value} characters long"
        case _:
            return pointer, error.message


def _type_words(expected: Any) -> str:
    words = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "true or false", "null": "null"}
    if isinstance(expected, list):
        return " or ".join(words.get(e, str(e)) for e in expected)
    return words.get(expected, str(expected))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."
