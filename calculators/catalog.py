"""The metric catalog: each metric is data (name, title, unit, kind, dimensions, sensitivity, options)
beside the async function that computes it. Registering a name twice fails at import; ``get`` suggests
close names for a typo.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from calculators.errors import UnknownMetric
from calculators.frames import Frame
from calculators.query import ScopedQuery
from calculators.tenant import TenantSettings
from calculators.vocabulary import Dimension, Kind, MetricName, Sensitivity, Unit

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
    inputs: tuple[MetricName, ...] = ()
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
        _REGISTRY[name] = MetricDef(
            name=MetricName(name), title=title, description=description, unit=unit, kind=kind, compute=fn,
            dimensions=frozenset(dims), options=options,
            inputs=tuple(MetricName(i) for i in extra.pop("inputs", ())), **extra)
        return fn

    return register


def get(name: str) -> MetricDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMetric(name, difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.6)) from None


def all_metrics() -> list[MetricDef]:
    return sorted(_REGISTRY.values(), key=lambda m: m.name)
