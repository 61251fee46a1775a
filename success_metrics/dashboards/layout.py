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
    # annotation kinds the service marks on time axes (success_metrics/calculators/annotations.py), only those every role
    # meant for the dashboard may see: a kind asked for by name that the role may not see is refused
    annotations: tuple[str, ...]
    refresh: str = "1m"
    time_from: str = "now-30d"
    note: str | None = None  # markdown shown under the logo

    def panels(self) -> tuple[PanelSpec, ...]:
        return tuple(p for row in self.rows for p in row.panels)


S, TS, TB, BG, HM, BC = Viz.STAT, Viz.TIMESERIES, Viz.TABLE, Viz.BARGAUGE, Viz.HEATMAP, Viz.BARCHART
D = Dimension

EXECUTIVE = DashboardSpec(
    uid="sm-executive-summary",
    title="Executive Summary",
    description="ROI and business impact of the lead automation: headline KPIs against the previous period and target.",
    variables=(D.TEAM, D.LOCATION, D.SOURCE),
    time_from="now-90d",
    refresh="5m",
    annotations=("outages", "alerts", "conversion_drops", "target_misses"),
    rows=(
        RowSpec("Primary ROI metrics", (
            PanelSpec("roi.monthly", S, 6, 5, "Total ROI"),
            PanelSpec("savings.monthly", S, 6, 5, "Monthly savings"),
            PanelSpec("revenue.attributed", S, 6, 5, "Revenue attribution"),
            PanelSpec("time_savings.hours", S, 6, 5, "Time savings"),
            PanelSpec("executive.kpi_summary", TB, 24, 7,
                      "Headline KPIs: month to date, projected month-end, target, previous month"),
        )),
        RowSpec("Key performance indicators", (
            PanelSpec("response_time.first_contact", TS, 12, 8),
            PanelSpec("conversion.lead_to_appointment", S, 6, 4),
            PanelSpec("conversion.lead_to_close", S, 6, 4),
            PanelSpec("uptime.system", S, 6, 4),
            PanelSpec("errors.rate", S, 6, 4),
            PanelSpec("response_time.automated", TS, 12, 8),
        )),
        RowSpec("Business impact", (
            PanelSpec("revenue.monthly_trend", TS, 12, 8),
            PanelSpec("time_savings.cumulative", TS, 12, 8),
            PanelSpec("conversion.before_after", BC, 8, 8),
            PanelSpec("cost.avoidance", BC, 8, 8),
            PanelSpec("cost.benefit", TB, 8, 8),
        )),
        RowSpec("Action items and alerts", (
            PanelSpec("alerts.action_items", TB, 24, 8),
        )),
    ),
)

OPERATIONS = DashboardSpec(
    uid="sm-operations-monitor",
    title="Operations Monitor",
    description="Real-time health of the lead pipeline: stage throughput and success, components, errors.",
    variables=(D.SOURCE, D.LOCATION),
    time_from="now-30d",
    refresh="30s",
    annotations=("outages", "degradations", "alerts", "backfills"),
    rows=(
        RowSpec("Lead processing pipeline", (
            PanelSpec("pipeline.stages", TB, 24, 7),
            PanelSpec("components.health", TB, 24, 8),
        )),
        RowSpec("Performance trending (30 days)", (
            PanelSpec("pipeline.throughput", TS, 12, 8),
            PanelSpec("components.latency", TS, 12, 8),
            PanelSpec("components.success_rate", TS, 12, 8),
            PanelSpec("system.resources", TB, 12, 8),
        )),
        RowSpec("Error tracking and resolution", (
            PanelSpec("errors.active", TB, 12, 8),
            PanelSpec("errors.by_category", BC, 12, 8),
            PanelSpec("errors.mttr", S, 6, 6),
            PanelSpec("errors.rate", TS, 18, 6, "Error trend"),
        )),
    ),
)

LEADS = DashboardSpec(
    uid="sm-lead-analytics",
    title="Lead Analytics",
    description="Conversion funnel, lead sources and quality, contact behaviour, and attribution of revenue to "
                "the automation.",
    variables=(D.SOURCE, D.LOCATION, D.CHANNEL, D.TEAM),
    annotations=("outages", "alerts", "conversion_drops"),
    rows=(
        RowSpec("Conversion funnel", (
            PanelSpec("sources.performance", TB, 24, 8),
            PanelSpec("leads.quality_distribution", BG, 12, 7),
            PanelSpec("attribution.tree", TB, 12, 7),
        )),
        RowSpec("Behavioural analytics", (
            PanelSpec("behavior.response_time_impact", BC, 12, 8),
            PanelSpec("behavior.followup_effectiveness", BC, 12, 8),
            PanelSpec("behavior.channel_performance", BG, 12, 8),
            PanelSpec("behavior.best_contact_times", HM, 12, 8, matrix=("hour", "weekday", "response_rate")),
        )),
        RowSpec("Attribution and ROI by source", (
            PanelSpec("attribution.weighted", BC, 24, 8),
        )),
    ),
)

AGENTS = DashboardSpec(
    uid="sm-agent-performance",
    title="Agent Performance",
    description="Agent scorecards with efficiency score, trends, workload balance, time allocation, goals and "
                "coaching.",
    variables=(D.TEAM, D.AGENT, D.LOCATION),
    annotations=("outages", "alerts", "degradations"),
    rows=(
        RowSpec("Agent scorecard", (
            PanelSpec("agents.scorecard", TB, 24, 9),
        )),
        RowSpec("Team performance trends", (
            PanelSpec("agents.efficiency_trend", TS, 12, 8),
            PanelSpec("agents.load_balance", BC, 12, 8),
            PanelSpec("agents.time_allocation", BC, 24, 7),
        )),
        RowSpec("Recognition and goals", (
            PanelSpec("agents.goals", BG, 12, 8),
            PanelSpec("agents.top_performers", TB, 12, 8),
            PanelSpec("agents.coaching", TB, 24, 7),
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
    rows=(
        RowSpec("Infrastructure", (
            PanelSpec("system.resources", TB, 24, 8),
            PanelSpec("uptime.system", S, 12, 4),
            PanelSpec("errors.rate", S, 12, 4),
        )),
        RowSpec("External API health", (
            PanelSpec("apis.health", TB, 24, 8),
        )),
        RowSpec("Security and compliance", (
            PanelSpec("security.auth_events", TS, 12, 8),
            PanelSpec("compliance.checks", TB, 12, 8),
            PanelSpec("security.encryption", TB, 24, 8),
        )),
        RowSpec("Database: backups and performance", (
            PanelSpec("backup.status", TB, 24, 6),
            PanelSpec("database.pool", TB, 8, 8),
            PanelSpec("database.growth", TB, 16, 8),
            PanelSpec("database.performance", TB, 24, 8),
            PanelSpec("database.indexes", TB, 24, 8),
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
    refresh="1m",
    time_from="now-7d",
    note=("**Who accessed what, when:** every query, export, policy change and failed sign-in is a row of the "
          "hash-chained audit log: `GET /api/audit/events` (filter by time, subject, action, outcome) and "
          "`GET /api/audit/export` (CSV or NDJSON; the export is itself audited). `success-metrics audit verify` "
          "proves no row was edited or removed. Policy changes are marked on the time axes below."),
    rows=(
        RowSpec("Who accessed what, when", (
            PanelSpec("audit.access_log", TB, 24, 12),
        )),
        RowSpec("Authentications, failures and denials", (
            PanelSpec("security.auth_events", TS, 12, 8),
            PanelSpec("audit.failures", TS, 12, 8),
        )),
        RowSpec("Exports", (
            PanelSpec("audit.exports", TB, 24, 8),
        )),
        RowSpec("Adoption and compliance", (
            PanelSpec("adoption.usage", TB, 12, 8),
            PanelSpec("compliance.checks", TB, 12, 8),
        )),
    ),
)

DASHBOARDS: tuple[DashboardSpec, ...] = (EXECUTIVE, OPERATIONS, LEADS, AGENTS, SYSTEM, AUDIT)
