"""Alert rules as data: validated against rule.schema.json, built-in defaults for the spec's four families,
and a tenant's changes stored in ``alert_rules`` (a stored rule replaces the default of the same id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import asyncpg
from jsonschema import Draft202012Validator

from success_metrics.calculators import Kind, UnknownMetric, get_metric
from success_metrics.notify.errors import DefaultRuleKept, RuleInvalid, UnknownRule

_SCHEMA_PATH = Path(__file__).with_name("rule.schema.json")


class Family(StrEnum):
    CRITICAL = "critical"
    PERFORMANCE = "performance"
    BUSINESS = "business"
    MAINTENANCE = "maintenance"


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    family: Family
    severity: Severity
    title: str
    condition: dict[str, Any]
    op: str
    threshold: float
    window_minutes: int = 15
    for_minutes: int = 0
    enabled: bool = True
    channels: tuple[str, ...] = ()  # empty: every channel of the tenant

    @property
    def kind(self) -> str:
        return str(self.condition["kind"])

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id, "family": self.family.value, "severity": self.severity.value, "title": self.title,
            "condition": dict(self.condition), "op": self.op, "threshold": self.threshold,
            "window_minutes": self.window_minutes, "for_minutes": self.for_minutes, "enabled": self.enabled,
            "channels": list(self.channels),
        }


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


def _metric_errors(name: str) -> list[dict[str, str]]:
    """A metric condition must name a single-value (STAT) metric of the catalog."""
    try:
        found = get_metric(name)
    except UnknownMetric as exc:
        return [{"pointer": "/condition/metric", "reason": exc.message}]
    if found.kind is not Kind.STAT:
        return [{"pointer": "/condition/metric",
                 "reason": f"{name!r} is a {found.kind.value}; an alert needs a single-value (stat) metric"}]
    return []


def parse(document: Any) -> Rule:
    """A rule document → Rule, or RuleInvalid listing every error with its JSON pointer."""
    errors = [
        {"pointer": "/" + "/".join(str(p) for p in err.absolute_path), "reason": err.message}
        for err in sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not errors and document["condition"]["kind"] == "metric":
        errors = _metric_errors(document["condition"]["metric"])
    if errors:
        where = "; ".join(f"{e['pointer']}: {e['reason']}" for e in errors[:5])
        raise RuleInvalid(f"The alert rule does not validate ({len(errors)} error(s)): {where}", errors)
    return Rule(
        id=document["id"], family=Family(document["family"]), severity=Severity(document["severity"]),
        title=document["title"], condition=dict(document["condition"]), op=document["op"],
        threshold=float(document["threshold"]), window_minutes=int(document.get("window_minutes", 15)),
        for_minutes=int(document.get("for_minutes", 0)), enabled=bool(document.get("enabled", True)),
        channels=tuple(document.get("channels", ())),
    )


def _default(id: str, family: str, severity: str, title: str, condition: dict[str, Any], op: str,
              threshold: float, window: int, hold: int) -> Rule:
    return parse({"id": id, "family": family, "severity": severity, "title": title, "condition": condition,
                  "op": op, "threshold": threshold, "window_minutes": window, "for_minutes": hold})


# The spec's "Custom Alert System" and "Action Items & Alerts", one rule each; thresholds are starting points
# a tenant's admin tunes through /api/admin/alert-rules.
DEFAULT_RULES: tuple[Rule, ...] = (
    _default("critical.downtime", "critical", "critical", "A component is down",
             {"kind": "component_failure_ratio", "min_calls": 5}, ">=", 0.9, 5, 2),
    _default("critical.auth_failures", "critical", "critical", "Burst of authentication failures",
             {"kind": "audit_events", "actions": ["auth.failure"]}, ">=", 20, 5, 0),
    _default("performance.sla", "performance", "warning", "A component is below its SLA success rate",
             {"kind": "component_success_rate", "min_calls": 20}, "<", 0.99, 60, 10),
    _default("performance.error_rate", "performance", "warning", "Error rate spike",
             {"kind": "error_rate"}, ">", 0.05, 15, 5),
    _default("performance.latency_p95", "performance", "warning", "Latency p95 over 2 s",
             {"kind": "latency_p95"}, ">", 2000, 15, 5),
    _default("business.conversion_drop", "business", "warning", "Conversion dropped more than 10 %",
             {"kind": "conversion_change", "stage": "appointment"}, "<", -0.10, 7 * 24 * 60, 60),
    _default("business.high_priority_waiting", "business", "warning", "High-priority leads waiting over 2 h",
             {"kind": "high_priority_waiting", "wait_minutes": 120}, ">", 0, 7 * 24 * 60, 0),
    _default("business.target_at_risk", "business", "info", "Monthly revenue target at risk by projection",
             {"kind": "target_projection", "measure": "revenue", "target": "revenue"}, "<", 0.9, 60, 0),
    _default("maintenance.database_growth", "maintenance", "info", "Database larger than 50 GiB",
             {"kind": "database_size"}, ">", 50 * 1024**3, 60, 0),
    _default("maintenance.retention", "maintenance", "info", "Oldest data leaves retention within 31 days",
             {"kind": "retention_headroom"}, "<", 31, 60, 0),
    # the daily dashboard self-check (success_metrics/query/selfcheck.py): its latest run in the last 25 h
    _default("maintenance.dashboard_check", "maintenance", "warning", "A dashboard panel failed the self-check",
             {"kind": "metric", "metric": "alerts.dashboard_failures"}, ">", 0, 25 * 60, 0),
    _default("maintenance.data_quality", "maintenance", "warning", "Data-quality checks found a problem",
             {"kind": "metric", "metric": "alerts.data_quality_issues"}, ">", 0, 24 * 60, 15),
    _default("maintenance.backup_age", "maintenance", "warning", "No good database backup in the last 26 hours",
             {"kind": "metric", "metric": "alerts.backup_age"}, ">", 26, 60, 0),
)
_DEFAULT_IDS = {r.id for r in DEFAULT_RULES}
# PUT /api/admin/alert-rules/{id} bodies (shown in /docs; a test PUTs each): a built-in rule changed, a rule of
# one's own
EXAMPLES: dict[str, dict[str, Any]] = {
    "tune": {"summary": "PUT …/performance.latency_p95: the built-in rule with a 1.5 s threshold",
             "value": {**next(r for r in DEFAULT_RULES if r.id == "performance.latency_p95").document(),
                       "threshold": 1500}},
    "off": {"summary": "PUT …/maintenance.database_growth: a built-in rule turned off",
            "value": {**next(r for r in DEFAULT_RULES if r.id == "maintenance.database_growth").document(),
                      "enabled": False}},
}


async def effective(conn: asyncpg.Connection) -> list[Rule]:
    """The tenant's rules: the defaults, each replaced by a stored rule of the same id, plus its own rules."""
    stored = {r["rule_id"]: parse(r["definition"])
              for r in await conn.fetch("SELECT rule_id, definition FROM alert_rules")}
    rules = [stored.pop(r.id, r) for r in DEFAULT_RULES]
    return rules + sorted(stored.values(), key=lambda r: r.id)


async def get(conn: asyncpg.Connection, rule_id: str) -> Rule:
    for rule in await effective(conn):
        if rule.id == rule_id:
            return rule
    raise UnknownRule(f"No alert rule {rule_id!r}; GET /api/admin/alert-rules lists the tenant's rules.")


async def put(conn: asyncpg.Connection, tenant_id: str, rule_id: str, document: Any, changed_by: str) -> Rule:
    rule = parse(document)
    if rule.id != rule_id:
        raise RuleInvalid(f"The rule's id {rule.id!r} differs from the id in the path {rule_id!r}.",
                          [{"pointer": "/id", "reason": f"must be {rule_id!r}"}])
    await conn.execute(
        """INSERT INTO alert_rules (tenant_id, rule_id, definition, updated_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id, rule_id) DO UPDATE
           SET definition = EXCLUDED.definition, updated_by = EXCLUDED.updated_by, updated_at = now()""",
        tenant_id, rule_id, rule.document(), changed_by,
    )
    return rule


async def delete(conn: asyncpg.Connection, rule_id: str) -> None:
    if rule_id in _DEFAULT_IDS:
        stored = await conn.fetchval("SELECT 1 FROM alert_rules WHERE rule_id = $1", rule_id)
        if not stored:
            raise DefaultRuleKept(f"{rule_id!r} is a built-in rule: disable it with PUT and \"enabled\": false.")
        # deleting a changed default restores the built-in version
    deleted = await conn.execute("DELETE FROM alert_rules WHERE rule_id = $1", rule_id)
    if deleted == "DELETE 0":
        raise UnknownRule(f"No alert rule {rule_id!r}; GET /api/admin/alert-rules lists the tenant's rules.")
    await conn.execute("DELETE FROM alert_state WHERE rule_id = $1 AND state <> 'firing'", rule_id)
