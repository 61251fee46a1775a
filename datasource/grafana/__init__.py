"""Dashboards as code: the six dashboards, the provisioning files, and each partner's white-label export."""

from datasource.grafana.build import DashboardGenerationError, Theme
from datasource.grafana.export import ExportError, export, export_stored, generate, render_dashboards, theme_for
from datasource.grafana.layout import DASHBOARDS
from datasource.grafana.query import DATASOURCE_UID, PLUGIN_ID

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
