"""Errors of the calculators package.

    CalculatorError
    ├── UnknownMetric          the name is not in the catalog (carries suggestions)
    ├── UnsupportedFilter      a filter names a dimension or operator the metric does not take
    ├── InvalidRange           the time range is empty, reversed or too long
    ├── OutOfScope             a filter reaches rows outside the caller's row scope
    └── UndefinedValue         the value does not exist for these inputs (e.g. ROI with zero costs)

Each carries the metric name so the protocol can report it under the right refId.
"""

from __future__ import annotations


class CalculatorError(Exception):
    def __init__(self, message: str, *, metric: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.metric = metric


class UnknownMetric(CalculatorError):
    def __init__(self, metric: str, suggestions: list[str] | None = None) -> None:
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown metric {metric!r}.{hint} POST /search lists the metrics you may query.", metric=metric)
        self.suggestions = suggestions or []


class UnsupportedFilter(CalculatorError):
    pass


class InvalidRange(CalculatorError):
    pass


class OutOfScope(CalculatorError):
    pass


class UndefinedValue(CalculatorError):
    pass
