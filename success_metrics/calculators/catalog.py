"""The metric catalog: each metric is data (name, title, unit, kind, dimensions, sensitivity, options, inputs)
beside the async function that computes it. Registering a name twice fails at import; ``get`` suggests
close names for a typo.

``inputs`` names the measures (success_metrics/calculators/measures.py) and metrics a metric reads; every frame computed
through the catalog is stamped with that lineage (success_metrics/calculators/lineage.py), so each output column
inherits the sensitivity of what it was derived from. ``sensitivity`` is the metric's gate: which roles may query it.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from success_metrics.calculators import lineage as lineage_
from success_metrics.calculators.errors import UnknownMetric
from success_metrics.calculators.frames import Frame, Lineage
from success_metrics.calculators.measures import everything
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import Dimension, Kind, MetricName, Sensitivity, Unit

Compute = Callable[[asyncpg.Connection, ScopedQuery, TenantSettings], Awaitable[Frame]]


@dataclass(frozen=True, slots=True)
class Option:
    """A per-metric payload option: fixed allowed values, or a dimension whose values come from the data."""

    name: str
    label: str
    values: tuple[str, ...] = ()
    dimension: Dimension | None = None
    multi: bool = False
    default: str | None = None


GRANULARITY = Option("granularity", "Granularity", ("hour", "day", "week", "month"))


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: MetricName
    title: str
    description: str
    unit: Unit
    kind: Kind
    compute: Compute = field(repr=False, compare=False)
    dimensions: frozenset[Dimension] = frozenset()
    sensitivity: Sensitivity = Sensitivity.PUBLIC
    options: tuple[Option, ...] = ()
    # the measures and metrics it reads; every output column derives from all of them unless narrowed below
    inputs: tuple[str, ...] = ()
    # column → the inputs it alone derives from (a subset of inputs)
    lineage: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # column → why it may be shown whatever its inputs (e.g. "a count of leads names no one")
    declassify: Mapping[str, str] = field(default_factory=dict, compare=False)
    # rows come from different inputs: the frame gives each row its own lineage (success_metrics.calculators.lineage)
    row_lineage: bool = False
    dashboard: bool = True
    lower_is_better: bool = False
    # the computation reads the row scope (per-agent rows); any other metric's frame is the same for every scope,
    # so one computation answers every role (compute.shared_query)
    row_scoped: bool = False
    # a table whose columns have units of their own (name → unit): the dashboards give each column its unit
    column_units: tuple[tuple[str, Unit], ...] = ()

    @property
    def area(self) -> str:
        return self.name.split(".", 1)[0]


_REGISTRY: dict[str, MetricDef] = {}


class DuplicateMetric(Exception):
    pass


def metric(
    name: str, title: str, description: str, unit: Unit, kind: Kind, **extra: Any
) -> Callable[[Compute], Compute]:
    """Decorator: register the decorated computation under ``name`` with its catalog entry."""

    def register(fn: Compute) -> Compute:
        if name in _REGISTRY:
            raise DuplicateMetric(f"metric {name!r} is registered twice ({fn.__module__}.{fn.__name__})")
        dims = extra.pop("dimensions", ())
        own = tuple(extra.pop("options", ()))
        options = own + tuple(
            Option(d.value, d.value.replace("_", " ").title(), dimension=d, multi=True) for d in dims
            if d.value not in {o.name for o in own})
        entry = MetricDef(
            name=MetricName(name), title=title, description=description, unit=unit, kind=kind,
            compute=_stamped(fn, name), dimensions=frozenset(dims), options=options,
            inputs=tuple(extra.pop("inputs", ())), **extra)
        _REGISTRY[name] = entry
        return fn

    return register


def _stamped(fn: Compute, name: str) -> Compute:
    """The computation as the catalog runs it: its frame stamped with the entry's lineage, and labelled with the
    tenant's currency (money columns are in it; the serializers say so)."""

    async def compute(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
        frame = await fn(conn, sq, s)
        return lineage_.stamp(_REGISTRY[name], frame, _resolved(name), meta={**frame.meta, "currency": s.currency})

    return compute


@functools.cache
def _resolved(name: str) -> lineage_.Resolved:
    """A metric's lineage, worked out at its first computation (the catalog is complete and fixed by then), not
    at every one: walking the inputs cost up to a millisecond a frame."""
    return lineage_.resolve_named(_REGISTRY[name], get)


def origins_of(names: tuple[str, ...] | list[str]) -> Lineage:
    """The origins of measures and metrics by name (a row's lineage in a table with row_lineage)."""
    return _origins(tuple(names))


@functools.lru_cache(maxsize=512)  # metrics' own input lists, and the inputs alert rules stored
def _origins(names: tuple[str, ...]) -> Lineage:
    return lineage_.origins(names, get)


def alert_lineage(inputs: list[str] | None) -> Lineage:
    """What an alert firing derives from: what its rule read (alert_events.inputs); unknown → everything."""
    try:
        return origins_of(inputs) if inputs else everything()
    except lineage_.LineageError:  # a rule naming a metric this version no longer has
        return everything()


def get(name: str) -> MetricDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMetric(name, difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.6)) from None


def all_metrics() -> list[MetricDef]:
    return sorted(_REGISTRY.values(), key=lambda m: m.name)
