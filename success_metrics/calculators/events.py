"""The event vocabulary shared by ingest (which validates and stores events) and the computations.

Every event is an envelope ``{id, type, occurred_at, lead_id?, agent_id?, data}``; ``data`` holds the
type's own fields, described by one JSON Schema per type in success_metrics/ingest/schemas/, generated from the
semantic model (success_metrics/calculators/semantic/events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from success_metrics.calculators.semantic.events import EVENT_MODELS


class EventType(StrEnum):
    """One member per event type of the semantic model, spelled out so a type checker sees every name."""

    LEAD_CREATED = "lead.created"
    LEAD_RESPONDED = "lead.responded"
    LEAD_ENRICHED = "lead.enriched"
    LEAD_SCORED = "lead.scored"
    LEAD_ROUTED = "lead.routed"
    LEAD_NURTURED = "lead.nurtured"
    CONTACT_ATTEMPTED = "contact.attempted"
    APPOINTMENT_SCHEDULED = "appointment.scheduled"
    DEAL_CLOSED = "deal.closed"
    AGENT_ACTIVITY = "agent.activity"
    COMPONENT_CALL = "component.call"
    API_USAGE = "api.usage"
    COST_RECORDED = "cost.recorded"
    ERROR_PREVENTED = "error.prevented"
    ERASURE_REQUESTED = "erasure.requested"
    ERASURE_COMPLETED = "erasure.completed"


if {t.value for t in EventType} != {m.type for m in EVENT_MODELS}:
    # the members are spelled out (a type checker cannot see those of an enum computed from the model), so the
    # import fails if they drift from the model
    raise RuntimeError("EventType and semantic.events.EVENT_MODELS differ: add or remove the member "
                       f"{sorted({t.value for t in EventType} ^ {m.type for m in EVENT_MODELS})}")


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    """An event that passed validation; ``rollups.apply_events`` gets only those stored for the first time."""

    event_id: str
    type: EventType
    occurred_at: datetime
    lead_id: str | None
    agent_id: str | None
    data: dict[str, Any]
