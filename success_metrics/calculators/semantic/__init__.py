"""The semantic model: every event type's fields, entities, rollup dimensions and named measures, as data
(``events``), and what is generated from it (``generate``). See docs/semantic-model.md."""

from success_metrics.calculators.semantic.events import EVENT_MODELS, MODELS
from success_metrics.calculators.semantic.model import Entity, EventModel, Field, RollupDimension, RollupMeasure, Slot

__all__ = ["EVENT_MODELS", "MODELS", "Entity", "EventModel", "Field", "RollupDimension", "RollupMeasure", "Slot"]
