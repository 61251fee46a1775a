"""validate.py: every type accepted, every kind of mistake rejected with a pointer and a usable reason."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from success_metrics.calculators.events import EventType
from success_metrics.ingest import validate
from tests.datasource.event_samples import iso, one_of_each

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def check(events: list[Any]) -> validate.Checked:
    return validate.check(events, now=NOW)


def test_every_event_type_has_a_schema_that_is_valid_draft_2020_12() -> None:
    found = validate.schemas()
    assert found.types == sorted(t.value for t in EventType)
    for name in [validate.ENVELOPE, *found.types]:
        document = found.document(name)
        assert document is not None
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_event_type_accepted() -> None:
    events = one_of_each(at=NOW - timedelta(days=2))
    assert {e["type"] for e in events} == {t.value for t in EventType}
    checked = check(events)
    assert checked.rejected == []
    assert [v.event.event_id for v in checked.valid] == [e["id"] for e in events]
    assert checked.valid[0].event.occurred_at == NOW - timedelta(days=2)


def _one(event: dict[str, Any], index: int = 0) -> validate.Rejection:
    checked = validate.check([event], now=NOW, start_index=index)
    assert checked.valid == [] and len(checked.rejected) == 1
    return checked.rejected[0]


def _scored(**data: Any) -> dict[str, Any]:
    return {"id": "e1", "type": "lead.scored", "occurred_at": iso(NOW), "lead_id": "l1", "data": data}


MISTAKES = [
    (_scored(score=150), "/3/data/score", "greater than the maximum of 100"),
    (_scored(score="85"), "/3/data/score", "expected an integer, got string"),
    (_scored(score=8.5), "/3/data/score", "expected an integer, got number"),
    (_scored(), "/3/data/score", "missing required field 'score'"),
    (_scored(score=5, mood="happy"), "/3/data/mood", "unexpected field 'mood'"),
    ({**_scored(score=5), "lead_id": None}, "/3/lead_id", "expected a string, got null"),
    ({k: v for k, v in _scored(score=5).items() if k != "lead_id"}, "/3/lead_id", "missing required field 'lead_id'"),
    ({k: v for k, v in _scored(score=5).items() if k != "id"}, "/3/id", "missing required field 'id'"),
    ({**_scored(score=5), "occurred_at": "2026-06-15T12:00:00"}, "/3/occurred_at", "time zone offset"),
    ({**_scored(score=5), "occurred_at": "yesterday"}, "/3/occurred_at", "RFC 3339"),
    ({**_scored(score=5), "data": [1]}, "/3/data", "expected an object, got array"),
    ({**_scored(score=5), "id": ""}, "/3/id", "at least 1 characters"),
    ({**_scored(score=5), "id": "has space"}, "/3/id", "no white space"),
    ({"id": "e", "type": "lead.created", "occurred_at": iso(NOW), "lead_id": "l", "data": {"source": "tv"}},
     "/3/data/source", 'use one of: "website_form"'),
    ({"id": "e", "type": "lead.created", "occurred_at": iso(NOW), "lead_id": "l",
      "data": {"source": "referral", "contact": {"email": "not-an-email"}}}, "/3/data/contact/email", "valid email"),
    ({"id": "e", "type": "component.call", "occurred_at": iso(NOW),
      "data": {"component": "crm_sync", "latency_ms": 10, "ok": False}}, "/3/data/error_category",
     "missing required field 'error_category'"),
    ({"id": "e", "type": "lead.routed", "occurred_at": iso(NOW), "lead_id": "l", "data": {}}, "/3/agent_id",
     "missing required field 'agent_id'"),
    ({"id": "e", "type": "appointment.scheduled", "occurred_at": iso(NOW), "lead_id": "l",
      "data": {"scheduled_for": "2026-06-15 12:00"}}, "/3/data/scheduled_for", "RFC 3339"),
    ({**_scored(score=5), "occurred_at": "2026-02-30T12:00:00Z"}, "/3/occurred_at", "RFC 3339"),
]


@pytest.mark.parametrize(("event", "pointer", "words"), MISTAKES)
def test_mistakes_rejected_with_pointer_and_reason(event: dict[str, Any], pointer: str, words: str) -> None:
    rejection = _one(event, index=3)
    assert rejection.pointer == pointer
    assert words in rejection.reason


def test_unknown_type_and_non_objects() -> None:
    checked = check([
        {"id": "u1", "type": "lead.teleported", "occurred_at": iso(NOW), "data": {}},
        {"id": "u2", "occurred_at": iso(NOW), "data": {}},
        [1, 2],
        "lead.created",
        {"id": "u3", "type": 7, "occurred_at": iso(NOW), "data": {}},
    ])
    assert checked.valid == []
    by_index = {r.index: r for r in checked.rejected}
    assert by_index[0].pointer == "/0/type" and "unknown event type 'lead.teleported'" in by_index[0].reason
    assert "lead.created" in by_index[0].reason  # lists the known types
    assert by_index[0].id == "u1"
    assert by_index[1].pointer == "/1/type" and "missing required field 'type'" in by_index[1].reason
    assert by_index[2].pointer == "/2" and "must be a JSON object, got array" in by_index[2].reason
    assert by_index[3].pointer == "/3" and by_index[3].id is None
    assert by_index[4].pointer == "/4/type"


def test_retention_horizon_and_future_limit() -> None:
    base = _scored(score=1)
    horizon = validate.horizon(NOW, 24)
    assert horizon == datetime(2024, 6, 1, tzinfo=UTC)
    oldest_kept = {**base, "occurred_at": iso(horizon)}
    too_old = {**base, "occurred_at": iso(horizon - timedelta(seconds=1))}
    early = {**base, "occurred_at": iso(NOW + timedelta(days=300))}
    too_early = {**base, "occurred_at": iso(NOW + timedelta(days=400))}
    checked = check([oldest_kept, too_old, early, too_early])
    assert [v.index for v in checked.valid] == [0, 2]
    reasons = {r.index: r for r in checked.rejected}
    assert reasons[1].pointer == "/1/occurred_at" and "older than the retention horizon (2024-06-01)" in reasons[1].reason
    assert reasons[3].pointer == "/3/occurred_at" and "more than a year in the future" in reasons[3].reason


def test_offsets_and_fractions_are_normalised_to_utc() -> None:
    event = {**_scored(score=1), "occurred_at": "2026-06-15T14:00:00.123456789+02:00"}
    (valid,) = check([event]).valid
    assert valid.event.occurred_at == datetime(2026, 6, 15, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_date_time_past_the_calendar_is_rejected_not_a_crash(moment: str) -> None:
    for fast in (True, False):
        (rejection,) = validate.check([{**_scored(score=1), "occurred_at": moment}], now=NOW, fast=fast).rejected
        assert rejection.pointer == "/0/occurred_at" and "is not an RFC 3339 date-time" in rejection.reason
    appointment = {"id": "a1", "type": "appointment.scheduled", "occurred_at": iso(NOW), "lead_id": "l1",
                   "data": {"scheduled_for": moment}}
    (rejection,) = validate.check([appointment], now=NOW).rejected
    assert rejection.pointer == "/0/data/scheduled_for"


def test_several_problems_are_counted_in_the_reason() -> None:
    event = _scored(score=500, extra=1)
    rejection = _one(copy.deepcopy(event))
    assert "more problem(s)" in rejection.reason


def test_fast_path_and_reference_validator_agree() -> None:
    events = [*one_of_each(at=NOW - timedelta(days=1)), *(copy.deepcopy(m[0]) for m in MISTAKES)]
    assert validate.schemas().fast, "jsonschema-rs is a dependency: the fast path must be active"
    assert validate.check(events, now=NOW, fast=True) == validate.check(events, now=NOW, fast=False)


@pytest.mark.parametrize("fast", [True, False])
def test_unstorable_text_is_found_in_lists_and_keys_before_validation(fast: bool) -> None:
    # the compiled validator raised UnicodeEncodeError on a lone surrogate in a pattern-checked id
    poisoned = [{**_scored(score=5), "id": "e\ud83d"},
                {**_scored(score=5), "data": {"score": 5, "tags": ["ok", "x\udfff"]}},
                {**_scored(score=5), "data": {"score": 5, "a\x00": 1}}]
    checked = validate.check(poisoned, now=NOW, fast=fast)
    assert checked.valid == []
    assert [(r.id, r.pointer) for r in checked.rejected] == [
        ("e\\ud83d", "/0/id"), ("e1", "/1/data/tags/1"), ("e1", "/2/data/a\x00")]
    assert "\\udfff at character 1" in checked.rejected[1].reason
    assert "NUL character" in checked.rejected[2].reason
