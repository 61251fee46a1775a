"""The six dashboards as data: which metric each panel shows, how, and where.

A panel names a catalog metric and a visualisation; titles, units and descriptions come from the
catalog entry, so this file says only what the catalog cannot: grouping, order, size and
the fixed options a panel adds to the dashboard's variables. ``build.py`` turns these specs into Grafana JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from success_metrics.calculators import Dimension


class Viz(StrEnum):
    """Grafana panel plugin ids we use."""

    STAT = "stat"
    TIMESERIES = "timeseries"
    TABLE = "table"
    BARGAUGE = "bargauge"
    HEATMAP = "heatmap"
    BARCHART = "barchart"


@dataclass(frozen=True)
class PanelSpec:
    metric: str
    viz: Viz
    width: int = 12  # of Grafana's 24 columns; phones stack every panel full width
    height: int = 8
    title: str | None = None  # default: the catalog title
    payload: tuple[tuple[str, str], ...] = ()  # fixed options beside the dashboard's variables
    # a heatmap of a long table (one row per x, y, value) is pivoted by Grafana into one field per y
    # bucket, the shape the heatmap panel reads: (x column, y column, value column)
    matrix: tuple[str, str, str] | None = None
    roles: tuple[str, ...] | None = None  # the roles the panel is meant for, when not all of its dashboard's


@dataclass(frozen=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    variables: tuple[Dimension, ...]
    rows: tuple[RowSpec, ...]
    # annotation kinds the service marks on time axes (success_metrics/calculators/annotations.py), only those every
    # role meant for the dashboard may see: a kind asked for by name that the role may not see is refused
    annotations: tuple[str, ...]
    refresh: str = "1m"
    time_from: str = "now-30d"
    note: str | None = None  # markdown shown under the logo
    # the roles the dashboard is meant for: the dashboard self-check (success_metrics/query/selfcheck.py) reports a
    # panel refused to one of them as a failure, and a panel refused to any other role as refused as expected
    roles: tuple[str, ...] = ("executive", "manager", "agent", "admin")

    def roles_of(self, metric: str) -> tuple[str, ...]:
        """The roles meant to see the panel showing ``metric`` (or the dashboard's annotations)."""
        return next((p.roles for p in self.panels() if p.metric == metric and p.roles is not None), self.roles)

    def panels(self) -> tuple[PanelSpec, ...]:
        return tuple(p for row in self.rows for p in row.panels)


# who each panel is for (README, "What each role sees"): agents see no ROI, cost or revenue figures, executives and
# managers no security events, auditors only system health and the access audit
BUSINESS = ("executive", "manager", "admin")
SECURITY = ("admin", "auditor")
OPERATORS = ("executive", "admin", "auditor")  # the database's backups and performance (default policy)

EXECUTIVE = DashboardSpec(
    uid="sm-executive-summary",
    title="Executive Summary",
    description="ROI and business impact of the lead automation: headline KPIs against the previous period and target.",
    variables=(Dimension.TEAM, Dimension.LOCATION, Dimension.SOURCE),
    time_from="now-90d",
    refresh="5m",
    annotations=("outages", "alerts", "conversion_drops", "target_misses", "anomalies"),
    roles=BUSINESS,
    rows=(
        RowSpec("Primary ROI metrics", (
            PanelSpec("roi.monthly", Viz.STAT, 6, 5, "Total ROI"),
            PanelSpec("savings.monthly", Viz.STAT, 6, 5, "Monthly savings"),
            PanelSpec("revenue.attributed", Viz.STAT, 6, 5, "Revenue attribution"),
            PanelSpec("time_savings.hours", Viz.STAT, 6, 5, "Time savings"),
            PanelSpec("executive.kpi_summary", Viz.TABLE, 24, 7,
                      "Headline KPIs: month to date, projected month-end, target, previous month"),
        )),
        RowSpec("Key performance indicators", (
            PanelSpec("response_time.first_contact", Viz.TIMESERIES, 12, 8),
            PanelSpec("conversion.lead_to_appointment", Viz.STAT, 6, 4),
            PanelSpec("conversion.lead_to_close", Viz.STAT, 6, 4),
            PanelSpec("uptime.system", Viz.STAT, 6, 4),
            PanelSpec("errors.rate", Viz.STAT, 6, 4),
            PanelSpec("response_time.automated", Viz.TIMESERIES, 12, 8),
        )),
        RowSpec("Business impact", (
            PanelSpec("revenue.monthly_trend", Viz.TIMESERIES, 12, 8),
            PanelSpec("time_savings.cumulative", Viz.TIMESERIES, 12, 8),
            PanelSpec("conversion.before_after", Viz.BARCHART, 8, 8),
            PanelSpec("cost.avoidance", Viz.BARCHART, 8, 8),
            PanelSpec("cost.benefit", Viz.TABLE, 8, 8),
        )),
        RowSpec("Action items and alerts", (
            PanelSpec("alerts.action_items", Viz.TABLE, 24, 8),
            PanelSpec("recommendations.list", Viz.TABLE, 24, 7),
        )),
        RowSpec("Forecasts and year over year", (
            PanelSpec("forecast.revenue", Viz.TIMESERIES, 12, 8, "Revenue forecast (total)"),
            PanelSpec("forecast.revenue", Viz.TIMESERIES, 12, 8, "Revenue forecast (attributed)",
                      (("series", "attributed"),)),
            PanelSpec("kpis.year_over_year", Viz.TABLE, 24, 8),
        )),
    ),
)

OPERATIONS = DashboardSpec(
    uid="sm-operations-monitor",
    title="Operations Monitor",
    description="Real-time health of the lead pipeline: stage throughput and success, components, errors.",
    variables=(Dimension.SOURCE, Dimension.LOCATION),
    time_from="now-30d",
    refresh="30s",
    annotations=("outages", "degradations", "alerts", "backfills"),
    rows=(
        RowSpec("Lead processing pipeline", (
            PanelSpec("pipeline.stages", Viz.TABLE, 24, 7),
            PanelSpec("components.health", Viz.TABLE, 24, 8),
        )),
        RowSpec("Performance trending (30 days)", (
            PanelSpec("pipeline.throughput", Viz.TIMESERIES, 12, 8),
            PanelSpec("components.latency", Viz.TIMESERIES, 12, 8),
            PanelSpec("components.success_rate", Viz.TIMESERIES, 12, 8),
            PanelSpec("system.resources", Viz.TABLE, 12, 8),
        )),
        RowSpec("Error tracking and resolution", (
            PanelSpec("errors.active", Viz.TABLE, 12, 8),
            PanelSpec("errors.by_category", Viz.BARCHART, 12, 8),
            PanelSpec("errors.mttr", Viz.STAT, 6, 6),
            PanelSpec("errors.rate", Viz.TIMESERIES, 18, 6, "Error trend"),
        )),
    ),
)

LEADS = DashboardSpec(
    uid="sm-lead-analytics",
    title="Lead Analytics",
    description="Conversion funnel, lead sources and quality, contact behaviour, and attribution of revenue to "
                "the automation.",
    variables=(Dimension.SOURCE, Dimension.LOCATION, Dimension.CHANNEL, Dimension.TEAM),
    annotations=("outages", "alerts", "conversion_drops", "anomalies"),
    rows=(
        RowSpec("Conversion funnel", (
            PanelSpec("sources.performance", Viz.TABLE, 24, 8),
            PanelSpec("leads.quality_distribution", Viz.BARGAUGE, 12, 7),
            PanelSpec("attribution.tree", Viz.TABLE, 12, 7),
        )),
        RowSpec("Behavioural analytics", (
            PanelSpec("behavior.response_time_impact", Viz.BARCHART, 12, 8),
            PanelSpec("behavior.followup_effectiveness", Viz.BARCHART, 12, 8),
            PanelSpec("behavior.channel_performance", Viz.BARGAUGE, 12, 8),
            PanelSpec("behavior.best_contact_times", Viz.HEATMAP, 12, 8, matrix=("hour", "weekday", "response_rate")),
        )),
        RowSpec("Attribution and ROI by source", (
            PanelSpec("attribution.weighted", Viz.BARCHART, 24, 8),
            PanelSpec("attribution.model_comparison", Viz.BARCHART, 12, 9),
            PanelSpec("attribution.multi_touch", Viz.TABLE, 12, 9),
        )),
        RowSpec("Predictive scoring and leads at risk", (
            PanelSpec("scoring.quality", Viz.TABLE, 24, 6),
            PanelSpec("scoring.reliability", Viz.BARCHART, 12, 8),
            PanelSpec("scoring.leads", Viz.TABLE, 12, 8),
            PanelSpec("leads.at_risk", Viz.TABLE, 24, 8),
        )),
        RowSpec("Forecasts and anomalies", (
            PanelSpec("forecast.leads", Viz.TIMESERIES, 12, 8),
            PanelSpec("forecast.capacity", Viz.TIMESERIES, 12, 8),
            PanelSpec("anomalies.detected", Viz.TABLE, 12, 8),
            PanelSpec("forecast.backtest", Viz.TABLE, 12, 8),
        )),
    ),
)

AGENTS = DashboardSpec(
    uid="sm-agent-performance",
    title="Agent Performance",
    description="Agent scorecards with efficiency score, trends, workload balance, time allocation, goals and "
                "coaching.",
    variables=(Dimension.TEAM, Dimension.AGENT, Dimension.LOCATION),
    annotations=("outages", "alerts", "degradations"),
    rows=(
        RowSpec("Agent scorecard", (
            PanelSpec("agents.scorecard", Viz.TABLE, 24, 9),
        )),
        RowSpec("Team performance trends", (
            PanelSpec("agents.efficiency_trend", Viz.TIMESERIES, 12, 8),
            PanelSpec("agents.load_balance", Viz.BARCHART, 12, 8),
            PanelSpec("agents.time_allocation", Viz.BARCHART, 24, 7),
        )),
        RowSpec("Recognition and goals", (
            PanelSpec("agents.goals", Viz.BARGAUGE, 12, 8, roles=BUSINESS),
            PanelSpec("agents.top_performers", Viz.TABLE, 12, 8),
            PanelSpec("agents.coaching", Viz.TABLE, 24, 7),
        )),
    ),
)

SYSTEM = DashboardSpec(
    uid="sm-system-health",
    title="System Health",
    description="The service's resources and database, external API health with SLA compliance, security and "
                "compliance.",
    variables=(),
    refresh="1m",
    time_from="now-24h",
    annotations=("outages", "degradations", "backfills"),
    roles=("executive", "manager", "agent", "admin", "auditor"),
    rows=(
        RowSpec("Infrastructure", (
            PanelSpec("system.resources", Viz.TABLE, 24, 8),
            PanelSpec("uptime.system", Viz.STAT, 12, 4),
            PanelSpec("errors.rate", Viz.STAT, 12, 4),
        )),
        RowSpec("External API health", (
            PanelSpec("apis.health", Viz.TABLE, 24, 8),
        )),
        RowSpec("Security and compliance", (
            PanelSpec("security.auth_events", Viz.TIMESERIES, 12, 8, roles=SECURITY),
            PanelSpec("compliance.checks", Viz.TABLE, 12, 8, roles=SECURITY),
            PanelSpec("security.encryption", Viz.TABLE, 24, 8, roles=SECURITY),
        )),
        RowSpec("Database: backups and performance", (
            PanelSpec("backup.status", Viz.TABLE, 24, 6, roles=OPERATORS),
            PanelSpec("database.pool", Viz.TABLE, 8, 8, roles=OPERATORS),
            PanelSpec("database.growth", Viz.TABLE, 16, 8, roles=OPERATORS),
            PanelSpec("database.performance", Viz.TABLE, 24, 8, roles=OPERATORS),
            PanelSpec("database.indexes", Viz.TABLE, 24, 8, roles=OPERATORS),
        )),
        RowSpec("Self-checks and data quality", (
            PanelSpec("dashboards.health", Viz.TABLE, 24, 10),
            PanelSpec("data.quality", Viz.TABLE, 24, 10),
        )),
    ),
)

AUDIT = DashboardSpec(
    uid="sm-access-audit",
    title="Access Audit",
    description="For auditors: who accessed what and when, authentication failures and access denials, exports, "
                "policy changes, compliance and dashboard adoption, from the hash-chained access audit log.",
    variables=(),
    annotations=("policy_changes", "backfills", "outages"),
    roles=SECURITY,
    refresh="1m",
    time_from="now-7d",
    note=("**Who accessed what, when:** every query, export, policy change and failed sign-in is a row of the "
          "hash-chained audit log: `GET /api/audit/events` (filter by time, subject, action, outcome) and "
          "`GET /api/audit/export` (CSV or NDJSON; the export is itself audited). `success-metrics audit verify` "
          "proves no row was edited or removed. Policy changes are marked on the time axes below."),
    rows=(
        RowSpec("Who accessed what, when", (
            PanelSpec("audit.access_log", Viz.TABLE, 24, 12),
        )),
        RowSpec("Authentications, failures and denials", (
            PanelSpec("security.auth_events", Viz.TIMESERIES, 12, 8),
            PanelSpec("audit.failures", Viz.TIMESERIES, 12, 8),
        )),
        RowSpec("Exports", (
            PanelSpec("audit.exports", Viz.TABLE, 24, 8),
        )),
        RowSpec("Adoption and compliance", (
            PanelSpec("adoption.usage", Viz.TABLE, 12, 8),
            PanelSpec("compliance.checks", Viz.TABLE, 12, 8),
        )),
    ),
)

DASHBOARDS: tuple[DashboardSpec, ...] = (EXECUTIVE, OPERATIONS, LEADS, AGENTS, SYSTEM, AUDIT)
