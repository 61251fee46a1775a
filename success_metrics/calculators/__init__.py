"""What each number means and how it is computed. Other packages import only these names."""

from success_metrics.calculators import annotations, buckets, closed_days, entities, models, rollups, runtime
from success_metrics.calculators.catalog import (
    MetricDef,
    Option,
    alert_lineage,
    all_metrics,
    origins_of,
)
from success_metrics.calculators.catalog import get as get_metric
from success_metrics.calculators.compute import (
    check_agent_scope,
    compute,
    explain,
    needs_agent_scope_check,
    shared_query,
)
from success_metrics.calculators.dimensions import dimension_values
from success_metrics.calculators.errors import (
    CalculatorError,
    InvalidRange,
    OutOfScope,
    UndefinedValue,
    UnknownMetric,
    UnsupportedFilter,
)
from success_metrics.calculators.events import EventType, IngestedEvent
from success_metrics.calculators.frames import Column, Frame, Lineage, Origin
from success_metrics.calculators.measures import MEASURES, Measure
from success_metrics.calculators.metrics.executive import KPIS
from success_metrics.calculators.query import (
    Filter,
    MetricQuery,
    Operator,
    RowScope,
    ScopedQuery,
    ScopeKind,
)
from success_metrics.calculators.rollups import apply_events
from success_metrics.calculators.semantic.generate import (
    GENERATED,
    generated_block,
    schema_files,
)
from success_metrics.calculators.sql import fetch_one
from success_metrics.calculators.tenant_settings import Branding, MonthlyCosts, TenantSettings
from success_metrics.calculators.validate import check as check_catalog
from success_metrics.calculators.vocabulary import (
    ColumnType,
    Dimension,
    Kind,
    MetricName,
    Sensitivity,
    TenantId,
    Unit,
)

__all__ = [
    "Branding",
    "CalculatorError",
    "Column",
    "ColumnType",
    "Dimension",
    "EventType",
    "Filter",
    "Frame",
    "GENERATED",
    "IngestedEvent",
    "InvalidRange",
    "KPIS",
    "Kind",
    "Lineage",
    "MEASURES",
    "Measure",
    "MetricDef",
    "MetricName",
    "MetricQuery",
    "MonthlyCosts",
    "Operator",
    "Option",
    "Origin",
    "OutOfScope",
    "RowScope",
    "ScopeKind",
    "ScopedQuery",
    "Sensitivity",
    "TenantId",
    "TenantSettings",
    "UndefinedValue",
    "Unit",
    "UnknownMetric",
    "UnsupportedFilter",
    "alert_lineage",
    "all_metrics",
    "annotations",
    "apply_events",
    "buckets",
    "check_agent_scope",
    "check_catalog",
    "closed_days",
    "compute",
    "dimension_values",
    "entities",
    "explain",
    "fetch_one",
    "generated_block",
    "get_metric",
    "models",
    "needs_agent_scope_check",
    "origins_of",
    "rollups",
    "runtime",
    "schema_files",
    "shared_query",
]
