"""Named measures: what the metrics read, each with its aggregation, unit and sensitivity class.

Modelled on dbt-semantic-interfaces measures (name, agg, description) plus what masking needs: the
sensitivity class of every value derived from the measure, and the field a policy rule names for it
(``revenue``, ``cost``, ``agent``, ``contact`` …). Metrics name their inputs (measures or other metrics)
in the catalog; ``success_metrics.calculators.lineage`` gives every output column the union of its inputs' origins, and
masking shows a value only to a role that may see every measure it came from.

To add a measure: one ``Measure(...)`` line below. Splitting one (automated vs manual responses) is a new
line each, and the metrics that read them name the new names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from success_metrics.calculators.frames import Lineage, Origin
from success_metrics.calculators.vocabulary import Sensitivity, Unit

P, F, PER, C, SEC = (Sensitivity.PUBLIC, Sensitivity.FINANCIAL, Sensitivity.PERSONAL, Sensitivity.CONTACT,
                     Sensitivity.SECURITY)
POOLED = "pooled:"  # prefix of an input read across every agent's rows (see Origin.pooled)


class Agg(StrEnum):
    """How a measure aggregates (dbt-semantic-interfaces AggregationType, plus the two we need)."""

    SUM = "sum"
    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    AVERAGE = "average"
    PERCENTILE = "percentile"  # a mergeable sketch where rollups hold it
    MAX = "max"
    LABEL = "label"  # an identity or text: grouped by, never added up
    SETTING = "setting"  # a tenant setting the formulas read (a rate, a target, a goal)


@dataclass(frozen=True, slots=True)
class Measure:
    name: str
    agg: Agg
    unit: Unit
    sensitivity: Sensitivity
    description: str
    field: str  # the field a policy mask rule names for values derived from it

    @property
    def origin(self) -> Origin:
        return Origin(self.name, self.field, self.sensitivity)


MEASURES: dict[str, Measure] = {m.name: m for m in (
    # leads and the funnel (lead state and lead events)
    Measure("leads", Agg.COUNT, Unit.COUNT, P, "Leads created (lead.created), by source, location, score band.",
            "leads"),
    Measure("lead_funnel", Agg.COUNT, Unit.COUNT, P, "Leads' funnel steps from lead state: responded, appointment "
            "scheduled, deal closed (counts, not values).", "leads"),
    Measure("lead_scores", Agg.AVERAGE, Unit.SCORE, P, "Lead scores (lead.scored), 0-100.", "leads"),
    Measure("first_contact_seconds", Agg.PERCENTILE, Unit.HOURS, P, "Time from a lead's creation to its first "
            "contact.", "response_time"),
    Measure("first_response_seconds", Agg.PERCENTILE, Unit.HOURS, P, "Time from a lead's creation to the "
            "automation's first response (lead.responded).", "response_time"),
    Measure("contact_attempts", Agg.COUNT, Unit.COUNT, P, "Contact attempts by channel and outcome.", "contacts"),
    Measure("automated_tasks", Agg.COUNT, Unit.COUNT, P, "Successful automated steps (responses, enrichments, "
            "scorings, routings, nurture steps, automated contact attempts).", "tasks"),
    Measure("hours_saved_per_task", Agg.SETTING, Unit.HOURS, P, "Tenant setting: manual hours one task replaces.",
            "tasks"),
    Measure("baseline", Agg.SETTING, Unit.PERCENT, P, "Tenant settings: pre-automation rates, hours and shares.",
            "baseline"),
    Measure("nonmoney_targets", Agg.SETTING, Unit.PERCENT, P, "Tenant targets of figures that are not money "
            "(hours, rates, uptime).", "target"),
    Measure("errors_prevented", Agg.SUM, Unit.COUNT, P, "Manual errors the automation prevented (error.prevented).",
            "errors"),
    # money
    Measure("deal_revenue", Agg.SUM, Unit.CURRENCY, F, "Value of closed deals (deal.closed), with attribution "
            "class.", "revenue"),
    Measure("attribution_weights", Agg.SETTING, Unit.RATIO, P, "Tenant setting: weight per attribution class.",
            "weights"),
    Measure("system_costs", Agg.SUM, Unit.CURRENCY, F, "Infrastructure, API and support costs (cost.recorded, "
            "else the configured monthly costs).", "cost"),
    Measure("hourly_rate", Agg.SETTING, Unit.CURRENCY, F, "Tenant setting: an agent's hourly cost.", "cost"),
    Measure("error_cost", Agg.SETTING, Unit.CURRENCY, F, "Tenant setting: what one manual error costs.", "cost"),
    Measure("money_targets", Agg.SETTING, Unit.CURRENCY, F, "Tenant targets of money figures (ROI, savings, "
            "revenue attribution).", "revenue_target"),
    Measure("revenue_goals", Agg.SETTING, Unit.CURRENCY, F, "Tenant settings: monthly revenue goal per agent and "
            "per team.", "revenue_goal"),
    # people
    Measure("agent_identity", Agg.LABEL, Unit.TEXT, PER, "Who an agent is: id and name.", "agent"),
    Measure("teams", Agg.LABEL, Unit.TEXT, P, "Team ids and names.", "team"),
    Measure("agent_activity", Agg.SUM, Unit.COUNT, P, "Agents' reported minutes by activity (agent.activity).",
            "activity"),
    Measure("lead_identity", Agg.LABEL, Unit.TEXT, PER, "Which lead: its id.", "lead_id"),
    Measure("lead_contact", Agg.LABEL, Unit.TEXT, C, "A lead's name, email and phone.", "contact.lead"),
    # the system
    Measure("component_calls", Agg.COUNT, Unit.COUNT, P, "Component calls: volume, outcome, error category.",
            "components"),
    Measure("component_latency_ms", Agg.PERCENTILE, Unit.MS, P, "Component call latency (log-histogram sketch "
            "in rollups).", "components"),
    Measure("api_usage", Agg.MAX, Unit.PERCENT, P, "External API rate-limit use (api.usage).", "apis"),
    Measure("sla", Agg.SETTING, Unit.PERCENT, P, "Tenant setting: SLA success rate.", "components"),
    Measure("host_resources", Agg.MAX, Unit.PERCENT, P, "This service's CPU, memory and database size, now.",
            "system"),
    Measure("ingest_batches", Agg.COUNT, Unit.COUNT, P, "Ingest runs: when, source, events loaded.", "ingest"),
    Measure("event_arrivals", Agg.COUNT, Unit.COUNT, P, "Events stored per type and hour (rollups) and the last "
            "one's time: freshness and volume.", "ingest"),
    Measure("ingest_tallies", Agg.COUNT, Unit.COUNT, P, "Per batch and event type: accepted, duplicates, late "
            "arrivals, rejections by field and rule (never a value).", "ingest"),
    Measure("dashboard_checks", Agg.COUNT, Unit.COUNT, P, "The dashboard self-check's outcome per panel and role.",
            "system"),
    Measure("backups", Agg.MAX, Unit.BYTES, P, "The database's backups and restore drills: when, size, outcome.",
            "system"),
    Measure("database_stats", Agg.MAX, Unit.COUNT, P, "PostgreSQL's own statistics: statements, indexes, "
            "connections, partition sizes.", "system"),
    Measure("encryption", Agg.LABEL, Unit.TEXT, SEC, "How connections and stored data are protected.", "security"),
    # security and compliance
    Measure("access_records", Agg.COUNT, Unit.COUNT, SEC, "The access audit log: who queried or exported what, "
            "authentication outcomes.", "audit"),
    Measure("audit_subjects", Agg.LABEL, Unit.TEXT, SEC, "Who an audit record names (subject).", "subject"),
    Measure("policy_versions", Agg.LABEL, Unit.TEXT, SEC, "Role policy versions: by whom, why.", "policy"),
    Measure("compliance_facts", Agg.COUNT, Unit.COUNT, SEC, "Consent, quiet hours, unsubscribes, erasures and "
            "retention of stored data.", "compliance"),
)}

def is_measure(name: str) -> bool:
    return name.removeprefix(POOLED) in MEASURES


def pooled(name: str) -> str:
    """An input read across every agent's rows: an others-only mask rule spares no row of a value derived from it."""
    return POOLED + name


def everything() -> Lineage:
    """The lineage of a value whose inputs are unknown: every measure, so only a role that sees all shows it."""
    return frozenset(m.origin for m in MEASURES.values())
