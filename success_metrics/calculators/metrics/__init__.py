"""One module per dashboard area; importing this package registers every metric in the catalog."""

from success_metrics.calculators.metrics import (
    agents,
    alerts,
    audit,
    conditions,
    database,
    executive,
    kpis,
    leads,
    operations,
    system,
)

__all__ = ["agents", "alerts", "audit", "conditions", "database", "executive", "kpis", "leads", "operations",
           "system"]
