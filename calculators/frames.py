"""A columnar result: named columns of equal length, each with unit, type and sensitivity.

Computations return Frames; masking works column by column and records what it masked in
``notices``; the protocol serializers turn frames into each Grafana dialect's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from calculators.vocabulary import ColumnType, Kind, Sensitivity, Unit


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    values: tuple[Any, ...]
    unit: Unit | None = None
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    # the field a masking rule names, e.g. "agent", "revenue", "contact.email"; defaults to the column name
    field: str | None = None

    @property
    def field_name(self) -> str:
        return self.field or self.name

    def with_values(self, values: tuple[Any, ...]) -> Column:
        return replace(self, values=values)


@dataclass(frozen=True, slots=True)
class Frame:
    """One result. For a time series the first column is time (epoch ms) and each other column is a series."""

    name: str
    kind: Kind
    columns: tuple[Column, ...]
    notices: tuple[str, ...] = ()
    masked_fields: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {len(c.values) for c in self.columns}
        if len(lengths) > 1:
            raise ValueError(f"frame {self.name!r} has columns of unequal length: {sorted(lengths)}")

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
