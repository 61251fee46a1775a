"""One module per dashboard area; importing this package registers every metric in the catalog."""

from success_metrics.calculators.metrics import (
    agents,
    alerts,
    anomalies,
    attribution,
    audit,
    comparisons,
    conditions,
    executive,
    forecasts,
    kpis,
    leads,
    operations,
    quality,
    recommendations,
    scoring,
    system,
)

__all__ = [
    "agents",
    "alerts",
    "anomalies",
    "attribution",
    "audit",
    "comparisons",
    "conditions",
    "executive",
    "forecasts",
    "kpis",
    "leads",
    "operations",
    "quality",
    "recommendations",
    "scoring",
    "system",
]
