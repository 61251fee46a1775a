"""A columnar result: named columns of equal length, each with unit, type, sensitivity and lineage.

Computations return Frames; masking works column by column (and, for tables whose rows come from
different inputs, row by row) and records what it masked in ``notices``; the protocol serializers turn
frames into each Grafana dialect's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, dataclass_transform

from success_metrics.calculators.vocabulary import ColumnType, Kind, Sensitivity, Unit


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """A measure a value was derived from, as masking needs to know it: the field a policy rule names and
    its sensitivity. ``pooled``: derived from every agent's rows, so no row is its agent's own in it."""

    measure: str
    field: str
    sensitivity: Sensitivity
    pooled: bool = False


Lineage = frozenset[Origin]


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def _value(cls: type[_T]) -> type[_T]:
    """A frozen dataclass to the type checker, a plain slotted one at run time: every computation builds each
    column and its frame twice (the shapes, then the lineage stamp), and a frozen dataclass's constructor, which
    sets each field through object.__setattr__, costs several times a plain one's. mypy --strict refuses any
    assignment to their fields, so nothing changes one after construction."""
    return dataclass(slots=True)(cls)


@_value
class Column:
    name: str
    type: ColumnType
    values: tuple[Any, ...]
    unit: Unit | None = None
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    # the field a masking rule names, e.g. "agent", "revenue", "contact.email"; defaults to the column name
    field: str | None = None
    # the measures the values derive from (success_metrics.calculators.lineage stamps it from the catalog); None: a
    # plain value outside the catalog, judged by field and sensitivity alone; empty: declassified by its metric
    lineage: Lineage | None = None

    @property
    def field_name(self) -> str:
        return self.field or self.name

    def with_values(self, values: tuple[Any, ...]) -> Column:
        return replace(self, values=values)


@_value
class Frame:
    """One result. For a time series the first column is time (epoch ms) and each other column is a series."""

    name: str
    kind: Kind
    columns: tuple[Column, ...]
    notices: tuple[str, ...] = ()
    masked_fields: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    # per row, the measures that row derives from beyond its columns' lineage (tables whose rows come from
    # different inputs, such as action items); empty: rows carry no lineage of their own
    row_lineage: tuple[Lineage, ...] = ()
    # everything the frame derives from: what its meta and notices may repeat
    lineage: Lineage | None = None

    def __post_init__(self) -> None:
        lengths = {len(c.values) for c in self.columns}
        if len(lengths) > 1:
            raise ValueError(f"frame {self.name!r} has columns of unequal length: {sorted(lengths)}")
        if self.row_lineage and len(self.row_lineage) != self.row_count:
            raise ValueError(f"frame {self.name!r} has {self.row_count} rows but {len(self.row_lineage)} row lineages")

    @property
    def row_count(self) -> int:
        return len(self.columns[0].values) if self.columns else 0

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def rows(self) -> list[tuple[Any, ...]]:
        return list(zip(*(c.values for c in self.columns), strict=True))
