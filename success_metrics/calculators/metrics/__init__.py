"""One module per dashboard area; importing this package registers every metric in the catalog."""

from success_metrics.calculators.metrics import agents, alerts, audit, conditions, executive, kpis, leads, operations, system
from success_metrics.calculators.metrics import quality  # data quality: System Health, and an alert figure (conditions)

__all__ = ["agents", "alerts", "audit", "conditions", "executive", "kpis", "leads", "operations", "quality", "system"]
