"""What each number means and how it is computed. Other packages import only these names."""

from calculators.catalog import MetricDef, Option, alert_lineage, all_metrics, origins_of
from calculators.catalog import get as get_metric
from calculators.compute import check_agent_scope, compute, explain, needs_agent_scope_check, shared_query
from calculators.dimensions import dimension_values
from calculators.errors import CalculatorError, InvalidRange, UndefinedValue, UnknownMetric, UnsupportedFilter
from calculators.frames import Column, Frame, Lineage, Origin
from calculators.measures import MEASURES, Measure
from calculators.query import Filter, MetricQuery, Operator, RowScope, ScopedQuery, ScopeKind
from calculators.rollups import apply_events
from calculators.tenant import TenantSettings
from calculators.validate import check as check_catalog
from calculators.vocabulary import ColumnType, Dimension, Kind, MetricName, Sensitivity, TenantId, Unit

__all__ = [
    "check_agent_scope", "needs_agent_scope_check", "shared_query",
    "CalculatorError",
    "Column",
    "ColumnType",
    "Dimension",
    "Filter",
    "Frame",
    "InvalidRange",
    "Lineage",
    "MEASURES",
    "Measure",
    "Origin",
    "Kind",
    "MetricDef",
    "MetricName",
    "MetricQuery",
    "Operator",
    "Option",
    "RowScope",
    "ScopeKind",
    "ScopedQuery",
    "Sensitivity",
    "TenantId",
    "TenantSettings",
    "UndefinedValue",
    "UnknownMetric",
    "UnsupportedFilter",
    "Unit",
    "alert_lineage",
    "all_metrics",
    "apply_events",
    "check_catalog",
    "compute",
    "origins_of",
    "dimension_values",
    "explain",
    "get_metric",
]
