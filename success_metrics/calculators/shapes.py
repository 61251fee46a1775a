"""Builders of the three frame shapes every computation returns (time series, stat, table)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from success_metrics.calculators.buckets import epoch_ms
from success_metrics.calculators.formulas import status, target_in_unit
from success_metrics.calculators.frames import Column, Frame, Lineage
from success_metrics.calculators.vocabulary import ColumnType, Kind, Sensitivity, Unit


@dataclass(frozen=True, slots=True)
class Col:
    """A column's shape. ``sensitivity`` serves frames built outside the catalog (plain values, tests): a catalog
    metric's frame is stamped from its inputs (success_metrics/calculators/lineage.py), which sets every column's sensitivity."""

    name: str
    type: ColumnType = ColumnType.NUMBER
    unit: Unit | None = None
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    field: str | None = None


AGENT = Col("agent", ColumnType.STRING, sensitivity=Sensitivity.PERSONAL, field="agent")
AGENT_ID = Col("agent_id", ColumnType.STRING, sensitivity=Sensitivity.PERSONAL, field="agent_id")
TEAM = Col("team", ColumnType.STRING, field="team")  # the team's display name
TEAM_ID = Col("team_id", ColumnType.STRING, field="team_id")  # what masking compares with the caller's teams


def money(name: str, field: str = "revenue") -> Col:
    return Col(name, unit=Unit.CURRENCY, sensitivity=Sensitivity.FINANCIAL, field=field)


def num(name: str, unit: Unit | None = None) -> Col:
    return Col(name, unit=unit)


def text(name: str) -> Col:
    return Col(name, ColumnType.STRING)


def _plain(v: Any) -> Any:
    """Decimal → float, so frames hold JSON-friendly numbers."""
    if v is None or isinstance(v, (int, float, str, bool)):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def table(name: str, cols: Sequence[Col], rows: Sequence[Sequence[Any]], *, notices: Sequence[str] = (),
          meta: Mapping[str, Any] | None = None, row_lineage: Sequence[Lineage] = ()) -> Frame:
    """A table; ``row_lineage`` (one per row) when its rows derive from different inputs (catalog row_lineage)."""
    columns = tuple(
        Column(c.name, c.type, tuple(_plain(r[i]) for r in rows), c.unit, c.sensitivity, c.field)
        for i, c in enumerate(cols))
    return Frame(name, Kind.TABLE, columns, tuple(notices), meta=dict(meta or {}), row_lineage=tuple(row_lineage))


def series(
    name: str, starts: Sequence[datetime], values: Mapping[str, Mapping[datetime, Any]], unit: Unit | None, *,
    count: bool = False, sensitivity: Sensitivity = Sensitivity.PUBLIC, field: str | None = None,
    notices: Sequence[str] = (), meta: Mapping[str, Any] | None = None,
) -> Frame:
    """One column per series over the bucket starts; a bucket with no row is None (0 for counts)."""
    empty = 0 if count else None
    cols = [Column("time", ColumnType.TIME, tuple(epoch_ms(t) for t in starts))]
    for label, by_time in values.items():
        cols.append(Column(label, ColumnType.NUMBER, tuple(_plain(by_time.get(t, empty)) for t in starts),
                           unit, sensitivity, field))
    return Frame(name, Kind.TIMESERIES, tuple(cols), tuple(notices), meta={"unit": unit, **(meta or {})})


def stat(
    name: str, value: float | None, previous: float | None, target: float | None, unit: Unit, *,
    lower_is_better: bool = False, sensitivity: Sensitivity = Sensitivity.PUBLIC, field: str | None = None,
    notices: Sequence[str] = (), meta: Mapping[str, Any] | None = None, extra: Sequence[Column] = (),
    judged: Callable[[float | None], str] | None = None,
) -> Frame:
    """One row: value, previous, target, status (and any extra columns). ``judged`` gives the status from the
    target in the metric's unit when it is not value against target (a month in progress: its projection)."""
    value, previous = _plain(value), _plain(previous)
    target = target_in_unit(target, unit == Unit.PERCENT)
    verdict = judged(target) if judged else status(value, target, lower_is_better=lower_is_better).value
    cols = (
        Column("value", ColumnType.NUMBER, (value,), unit, sensitivity, field),
        Column("previous", ColumnType.NUMBER, (previous,), unit, sensitivity, field),
        Column("target", ColumnType.NUMBER, (target,), unit, sensitivity, field),
        Column("status", ColumnType.STRING, (verdict,)),
        *extra,
    )
    return Frame(name, Kind.STAT, cols, tuple(notices),
                 meta={"unit": unit, "lower_is_better": lower_is_better, **(meta or {})})
