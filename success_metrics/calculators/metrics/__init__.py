"""One module per dashboard area; importing this package registers every metric in the catalog."""

from success_metrics.calculators.metrics import (
    agents,
    alerts,
    anomalies,
    audit,
    comparisons,
    conditions,
    executive,
    forecasts,
    kpis,
    leads,
    operations,
    system,
)

__all__ = ["agents", "alerts", "anomalies", "audit", "comparisons", "conditions", "executive", "forecasts", "kpis",
           "leads", "operations", "system"]
