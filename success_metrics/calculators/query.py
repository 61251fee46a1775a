"""What was asked (MetricQuery) and what may be computed (ScopedQuery).

A MetricQuery carries no tenant: it is what the protocol parsed. Only ``success_metrics.rbac.policy`` turns it into a
ScopedQuery, binding it to one tenant and one row scope, so nothing is computed unauthorized. Both are
frozen and hashable: the ScopedQuery is the cache key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from success_metrics.calculators.vocabulary import Dimension, MetricName, TenantId


class Operator(StrEnum):
    EQ = "="
    NE = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"
    LT = "<"
    GT = ">"


@dataclass(frozen=True, slots=True)
class Filter:
    dimension: Dimension
    operator: Operator
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetricQuery:
    metric: MetricName
    start: datetime  # inclusive, timezone-aware UTC
    end: datetime  # exclusive, timezone-aware UTC
    interval_ms: int = 3_600_000
    max_points: int = 1_000
    filters: tuple[Filter, ...] = ()
    options: tuple[tuple[str, str], ...] = ()  # metric-specific options, e.g. ("granularity", "day")

    def option(self, name: str, default: str | None = None) -> str | None:
        return dict(self.options).get(name, default)


class ScopeKind(StrEnum):
    TENANT = "tenant"
    TEAM = "team"
    SELF = "self"


@dataclass(frozen=True, slots=True)
class RowScope:
    """Which rows of per-agent and per-lead views the caller may see."""

    kind: ScopeKind = ScopeKind.TENANT
    teams: tuple[str, ...] = ()
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class ScopedQuery:
    tenant_id: TenantId
    query: MetricQuery
    scope: RowScope = field(default_factory=RowScope)
