"""Lineage: which measures each output value derives from, worked out from the catalog rather than labelled by hand.

A metric names its inputs (measures, or metrics whose inputs count in turn). Every column of its frame,
text, labels and status included, inherits all of them — unless the metric narrows a column to some of them
(``lineage``) or declassifies it with a stated reason (``declassify``). A table whose rows come from different
inputs (action items) gives each row its own lineage (``row_lineage``): a row derived from a measure the
caller may not see is dropped whole by masking, so no title, text or value of it leaves the service.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from success_metrics.calculators.frames import Column, Frame, Lineage, Origin
from success_metrics.calculators.measures import MEASURES, POOLED, everything, is_measure
from success_metrics.calculators.vocabulary import ColumnType, Sensitivity


class Declared(Protocol):
    """What a catalog entry says about its lineage (MetricDef, AnnotationKind)."""

    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> tuple[str, ...]: ...
    @property
    def lineage(self) -> Mapping[str, tuple[str, ...]]: ...
    @property
    def declassify(self) -> Mapping[str, str]: ...
    @property
    def row_lineage(self) -> bool: ...


Lookup = Callable[[str], Declared]


class LineageError(ValueError):
    """A catalog entry names an input that is neither a measure nor a metric, or metrics read each other."""


def origins(names: Iterable[str], lookup: Lookup, _path: tuple[str, ...] = ()) -> Lineage:
    out: set[Origin] = set()
    for name in names:
        if is_measure(name):
            origin = MEASURES[name.removeprefix(POOLED)].origin
            out.add(replace(origin, pooled=True) if name.startswith(POOLED) else origin)
            continue
        if name in _path:
            raise LineageError(f"metrics read each other: {' → '.join((*_path, name))}")
        try:
            entry = lookup(name)
        except Exception:
            raise LineageError(f"input {name!r} is neither a measure (success_metrics/calculators/measures.py) "
                               "nor a metric") from None
        out |= origins(entry.inputs, lookup, (*_path, name))
    return frozenset(out)


RANK = {s: i for i, s in enumerate(Sensitivity)}


@functools.lru_cache(maxsize=1024)  # a lineage per catalog input list: the catalog bounds them
def strictest(lineage: Lineage) -> Sensitivity:
    """The one class to show for a column (masking decides by the whole lineage, not by this)."""
    return max((o.sensitivity for o in lineage), key=RANK.__getitem__, default=Sensitivity.PUBLIC)


@dataclass(frozen=True, slots=True)
class Resolved:
    whole: Lineage
    columns: Mapping[str, Lineage]


def resolve(entry: Declared, lookup: Lookup) -> Resolved:
    # an entry that names no inputs derives from anything, as far as anyone can tell: deny by default
    whole = origins(entry.inputs, lookup) if entry.inputs else everything()
    columns = {c: origins(names, lookup) for c, names in entry.lineage.items()}
    for c, found in columns.items():
        outside = {o.measure for o in found} - {o.measure for o in whole}
        if outside:
            raise LineageError(f"column {c!r} derives from {sorted(outside)}, which are not inputs")
    return Resolved(whole, columns | {c: frozenset() for c in entry.declassify})


def resolve_named(entry: Declared, lookup: Lookup) -> Resolved:
    """``resolve``, its error naming the entry."""
    try:
        return resolve(entry, lookup)
    except LineageError as exc:
        raise LineageError(f"{entry.name}: {exc}") from None


def stamp(entry: Declared, frame: Frame, found: Resolved, *, meta: Mapping[str, Any] | None = None) -> Frame:
    """The frame with every column's (and row's) lineage set from the catalog entry's resolved lineage, and with
    ``meta`` instead of its own when given (one new frame, not two: this runs for every frame computed)."""
    if frame.row_lineage and not entry.row_lineage:
        raise LineageError(f"{entry.name}: the frame has row lineage but the entry does not declare row_lineage")
    if entry.row_lineage and frame.row_count and not frame.row_lineage:
        raise LineageError(f"{entry.name}: declares row_lineage but its frame gives none")
    if frame.row_lineage:
        measures = {o.measure for o in found.whole}
        for row in frame.row_lineage:
            outside = {o.measure for o in row} - measures
            if outside:
                raise LineageError(f"{entry.name}: a row derives from {sorted(outside)}, which are not inputs")
    # rows that carry their own lineage carry it for every cell, so their columns start from nothing
    default = frozenset() if entry.row_lineage else found.whole
    columns = tuple(c if c.type is ColumnType.TIME else _with_lineage(c, found.columns.get(c.name, default))
                    for c in frame.columns)
    return Frame(name=frame.name, kind=frame.kind, columns=columns, notices=frame.notices,
                 masked_fields=frame.masked_fields, meta=dict(meta) if meta is not None else frame.meta,
                 row_lineage=frame.row_lineage, lineage=found.whole)


def _with_lineage(c: Column, lineage: Lineage) -> Column:
    # the constructor, not dataclasses.replace: this runs for every column of every frame computed
    return Column(c.name, c.type, c.values, c.unit, strictest(lineage), c.field, lineage)

