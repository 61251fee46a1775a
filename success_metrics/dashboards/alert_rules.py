"""Example Grafana alert rules (file provisioning) for the four alert families, one rule each, on the Infinity data
source: Grafana's server evaluates them with the tenant's service key, which decides what they may read.

A stat metric answers one row; only its ``value`` column is declared, so the frame holds one number and the
threshold reads it directly. A time series answers long rows, wide again in Infinity's "timeseries" format, and is
reduced to its last point per series first. The service's own alerting (/api/admin/alert-rules) is independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from success_metrics.calculators import Kind
from success_metrics.dashboards import infinity


@dataclass(frozen=True)
class Example:
    family: str
    severity: str
    title: str
    metric: str
    kind: Kind
    op: str  # Grafana's threshold evaluator: gt, lt
    threshold: float
    range_s: int
    hold: str
    summary: str


EXAMPLES = (
    Example("critical", "critical", "System uptime below 99.5 %", "uptime.system", Kind.STAT, "lt", 99.5, 3600, "5m",
            "Uptime over the last hour is {{ $values.A }} % (below 99.5 %)."),
    Example("performance", "warning", "Error rate above 5 %", "errors.rate", Kind.TIMESERIES, "gt", 5.0, 3600, "10m",
            "The error rate is {{ $values.B }} % (above 5 %)."),
    Example("business", "warning", "Lead-to-appointment conversion below 20 %", "conversion.lead_to_appointment",
            Kind.STAT, "lt", 20.0, 7 * 86400, "1h", "Conversion over the last 7 days is {{ $values.A }} %."),
    Example("maintenance", "info", "Database larger than 50 GiB", "system.database_size", Kind.STAT, "gt",
            50.0 * 1024**3, 3600, "0s", "The database holds {{ $values.A }} bytes."),
)
HEADER = """\
# Grafana alert rules (file provisioning) for success-metrics, one per alert family, evaluated by Grafana's
# server through the Infinity data source ("{uid}") and its per-tenant service key: the key's role decides what
# the rules may read (an "executive" key reads all four; an "auditor" key only the critical and maintenance ones).
#
# 1. Provision datasources/success-metrics-infinity.yaml first (it has the key).
# 2. Copy this file to <grafana>/provisioning/alerting/ and restart Grafana. CHANGE the thresholds, ranges
#    and `for` below to your tenant's (they are starting points, like the service's own default rules).
# 3. Add a contact point and a notification policy for the labels (family, severity) in Grafana.
#
# Each query posts one metric to /query/rows; a refused or failed query answers an HTTP error, so the rule goes
# to Error (execErrState), never quietly to No data.
"""


def rule(example: Example, datasource_uid: str = infinity.DATASOURCE_UID) -> dict[str, Any]:
    """One provisioned rule: A the metric, then (time series) B its last point, then the threshold."""
    query = infinity.rows_query("A", example.metric, example.kind,
                                columns=None if example.kind is Kind.TIMESERIES else infinity.VALUE_COLUMN)
    query.pop("datasource")
    data: list[dict[str, Any]] = [{"refId": "A", "relativeTimeRange": {"from": example.range_s, "to": 0},
                                   "datasourceUid": datasource_uid, "model": query}]
    measured = "A"
    if example.kind is Kind.TIMESERIES:
        data.append({"refId": "B", "datasourceUid": "__expr__",
                     "model": {"refId": "B", "type": "reduce", "expression": "A", "reducer": "last"}})
        measured = "B"
    data.append({"refId": "C", "datasourceUid": "__expr__", "model": {
        "refId": "C", "type": "threshold", "expression": measured,
        "conditions": [{"evaluator": {"type": example.op, "params": [example.threshold]}}]}})
    return {
        "uid": f"sm-{example.family}-{example.metric.replace('.', '-').replace('_', '-')}"[:40],
        "title": example.title, "condition": "C", "data": data, "for": example.hold,
        "noDataState": "NoData", "execErrState": "Error",
        "labels": {"service": "success-metrics", "family": example.family, "severity": example.severity},
        "annotations": {"summary": example.summary, "metric": example.metric},
    }


def alert_rules(folder: str) -> str:
    """The provisioning file: one group per family, evaluated every minute, in the Infinity dashboards' folder."""
    groups = [{"orgId": 1, "name": f"success-metrics-{e.family}", "folder": folder, "interval": "1m",
               "rules": [rule(e)]} for e in EXAMPLES]
    return HEADER.format(uid=infinity.DATASOURCE_UID) + yaml.safe_dump(
        {"apiVersion": 1, "groups": groups}, sort_keys=False, allow_unicode=True, width=120)
