"""What each number means and how it is computed. Other packages import only these names."""

from success_metrics.calculators.catalog import MetricDef, Option, alert_lineage, all_metrics, origins_of
from success_metrics.calculators.catalog import get as get_metric
from success_metrics.calculators.compute import check_agent_scope, compute, explain, needs_agent_scope_check, shared_query
from success_metrics.calculators.dimensions import dimension_values
from success_metrics.calculators.errors import CalculatorError, InvalidRange, UndefinedValue, UnknownMetric, UnsupportedFilter
from success_metrics.calculators.frames import Column, Frame, Lineage, Origin
from success_metrics.calculators.measures import MEASURES, Measure
from success_metrics.calculators.query import Filter, MetricQuery, Operator, RowScope, ScopedQuery, ScopeKind
from success_metrics.calculators.rollups import apply_events
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.validate import check as check_catalog
from success_metrics.calculators.vocabulary import ColumnType, Dimension, Kind, MetricName, Sensitivity, TenantId, Unit

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
