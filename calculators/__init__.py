"""What each number means and how it is computed. Other packages import only these names."""

from calculators.errors import CalculatorError, InvalidRange, UndefinedValue, UnknownMetric, UnsupportedFilter
from calculators.frames import Column, Frame
from calculators.query import Filter, MetricQuery, Operator, RowScope, ScopedQuery, ScopeKind
from calculators.tenant import TenantSettings
from calculators.vocabulary import ColumnType, Dimension, Kind, MetricName, Sensitivity, TenantId, Unit

__all__ = [
    "CalculatorError",
    "Column",
    "ColumnType",
    "Dimension",
    "Filter",
    "Frame",
    "InvalidRange",
    "Kind",
    "MetricName",
    "MetricQuery",
    "Operator",
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
]
