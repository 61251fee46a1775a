"""The parts of the semantic model: an event type's typed fields, the entities it updates, its rollup
dimensions and its named rollup measures (after dbt-semantic-interfaces semantic models).

The physical ``rollups`` table is generic (slots k1..k3, n, s1..s3, mx, hist) so that every event type shares
one upsert path; the model names each slot per type, and the generated ``sm_rollup_key`` function and
``rollup_<type>`` views (``success_metrics.calculators.semantic.generate``) are the only places that know the slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from success_metrics.calculators.measures import MEASURES, Agg
from success_metrics.calculators.vocabulary import Sensitivity, Unit


class Entity(StrEnum):
    """What an event updates (dbt: an entity, the join key of a semantic model)."""

    LEAD = "lead"
    AGENT = "agent"
    TEAM = "team"
    COMPONENT = "component"
    SERVICE = "service"  # an external API
    TENANT = "tenant"


class Slot(StrEnum):
    """The generic rollup columns; which one holds what is per event type."""

    K1 = "k1"
    K2 = "k2"
    K3 = "k3"
    N = "n"
    S1 = "s1"
    S2 = "s2"
    S3 = "s3"
    MX = "mx"
    H = "h"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an event's ``data``, with its JSON Schema constraints. ``ref`` names a shared definition
    in envelope.json's ``$defs`` (then the other constraints live there)."""

    name: str
    type: str | None = None  # JSON type: string, number, integer, boolean, object
    required: bool = False
    ref: str | None = None
    enum: tuple[str, ...] | None = None
    format: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    default: Any = None
    description: str | None = None
    properties: tuple[Field, ...] | None = None  # an object's fields (no further properties allowed)


@dataclass(frozen=True, slots=True)
class RollupDimension:
    """A rollup key: grouped by, never added up. ``sql`` reads it from ``d`` (the event's data) or ``agent``."""

    name: str
    slot: Slot
    sql: str
    description: str


@dataclass(frozen=True, slots=True)
class RollupMeasure:
    """A named rollup figure. ``measure`` is the catalog measure (success_metrics.calculators.measures) whose sensitivity and
    policy field every value derived from it carries."""

    name: str
    slot: Slot
    agg: Agg
    unit: Unit
    measure: str
    description: str
    sql: str = "1"  # the expression over ``d`` (the n slot counts events and needs none)

    @property
    def sensitivity(self) -> Sensitivity:
        return MEASURES[self.measure].sensitivity


@dataclass(frozen=True, slots=True)
class EventModel:
    """One event type: its contract (fields, envelope ids it requires) and what it contributes."""

    type: str
    description: str
    entities: tuple[Entity, ...]  # the first is the one it updates
    fields: tuple[Field, ...]
    dimensions: tuple[RollupDimension, ...] = ()
    measures: tuple[RollupMeasure, ...] = ()
    envelope_requires: tuple[str, ...] = ()  # lead_id / agent_id
    required_if: tuple[str, Any, str] | None = None  # (field, value, then this field is required)

    @property
    def view(self) -> str:
        """The name of the rollup view with this type's named columns."""
        return "rollup_" + self.type.replace(".", "_")

    def slots(self) -> dict[Slot, str]:
        """Slot -> name, for the slots this type uses."""
        return {x.slot: x.name for x in (*self.dimensions, *self.measures)}

    def column(self, name: str) -> Slot:
        """The rollup slot of a dimension or measure name (KeyError names the known ones)."""
        for x in (*self.dimensions, *self.measures):
            if x.name == name:
                return x.slot
        raise KeyError(f"{self.type} has no rollup column {name!r}; known: {sorted(self.slots().values())}")
