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

# One member per event type of the semantic model (LEAD_CREATED = "lead.created", …): adding a type is one
# model entry, not a second list to keep in step.
EventType = StrEnum(  # type: ignore[misc]
    "EventType", [(m.type.replace(".", "_").upper(), m.type) for m in EVENT_MODELS])


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    """An event that passed validation; ``rollups.apply_events`` gets only those stored for the first time."""

    event_id: str
    type: EventType
    occurred_at: datetime
    lead_id: str | None
    agent_id: str | None
    data: dict[str, Any]
