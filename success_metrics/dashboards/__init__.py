"""Dashboards as code: the six dashboards, the provisioning files, and each partner's white-label export."""

from success_metrics.dashboards.build import DashboardGenerationError, Theme
from success_metrics.dashboards.export import (
    ExportError,
    export,
    export_stored,
    generate,
    render_dashboards,
    theme_for,
)
from success_metrics.dashboards.layout import DASHBOARDS
from success_metrics.dashboards.query import DATASOURCE_UID, PLUGIN_ID

__all__ = [
    "DASHBOARDS",
    "DATASOURCE_UID",
    "DashboardGenerationError",
    "ExportError",
    "PLUGIN_ID",
    "Theme",
    "export",
    "export_stored",
    "generate",
    "render_dashboards",
    "theme_for",
]
