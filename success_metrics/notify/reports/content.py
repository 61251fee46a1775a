"""What a report says, for one recipient: each section's metric goes through the data source's one answer path
(``success_metrics/query/answer.py``) as the recipient — authorize (their role under the tenant's current policy) →
compute (cached) → mask — so a copy shows exactly what a Grafana panel shows that role. Sections the role may
not see are left out with a line saying so.

Highlights, the revenue projection and the recommendations are pure functions of the masked frames, so
they can only repeat what the recipient may see.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from success_metrics.calculators import (
    KPIS,
    CalculatorError,
    Dimension,
    Filter,
    Frame,
    Kind,
    MetricName,
    MetricQuery,
    Operator,
    TenantId,
    TenantSettings,
    Unit,
    alert_lineage,
    get_metric,
)
from success_metrics.notify.reports.format import change, figure, known, percent_change
from success_metrics.notify.reports.schedule import Period, ReportKind, complete_months
from success_metrics.query.answer import Answer, Answerer
from success_metrics.rbac import AuthMethod, Forbidden, Principal, Role, masking, policy
from success_metrics.storage import Database, tenants

log = logging.getLogger(__name__)


class Recipient(BaseModel):
    """Who gets a report and as which role; agent id and teams scope per-agent views like a token would."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: Role
    agent_id: str | None = None
    teams: tuple[str, ...] = ()

    def principal(self, tenant_id: str) -> Principal:
        return Principal(tenant_id=TenantId(tenant_id), subject=self.email, role=self.role,
                         auth_method=AuthMethod.SERVICE_KEY, agent_id=self.agent_id, teams=self.teams)


Range = Literal["period", "previous", "year_before", "trailing_year"]


MANAGEMENT = frozenset({Role.EXECUTIVE, Role.MANAGER, Role.ADMIN})
AGENTS = frozenset({Role.AGENT})


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """One section: its title, the catalog metric it shows, the range, and the roles it is written for (an
    agent's copy is about the agent, not a list of sections refused); ``optional``: left out, not announced as
    missing, while the catalog does not have the metric."""

    title: str
    metric: str
    range: Range = "period"
    roles: frozenset[Role] | None = None
    optional: bool = False
    own: bool = False  # narrowed to the recipient's own agent id (an agent's own rates and trend)


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    metric: str
    frame: Frame | None
    note: str | None = None
    spec_range: Range = "period"  # highlights speak of the report's own period only


@dataclass(frozen=True, slots=True)
class AlertLine:
    severity: str
    title: str
    summary: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Report:
    tenant_id: str
    tenant_name: str
    kind: ReportKind
    period: Period
    recipient: Recipient
    settings: TenantSettings
    sections: tuple[Section, ...]
    alerts: tuple[AlertLine, ...]
    highlights: tuple[str, ...]
    generated_at: datetime

    @property
    def masked_fields(self) -> tuple[str, ...]:
        return tuple(sorted({f for s in self.sections if s.frame for f in s.frame.masked_fields}))

    @property
    def rows(self) -> int:
        return sum(s.frame.row_count for s in self.sections if s.frame)


_TILES = (SectionSpec("Lead-to-appointment rate", "conversion.lead_to_appointment", roles=MANAGEMENT),
          SectionSpec("Lead-to-close rate", "conversion.lead_to_close", roles=MANAGEMENT),
          SectionSpec("Your lead-to-appointment rate", "conversion.lead_to_appointment", roles=AGENTS, own=True),
          SectionSpec("Your lead-to-close rate", "conversion.lead_to_close", roles=AGENTS, own=True),
          SectionSpec("Company lead-to-appointment rate", "conversion.lead_to_appointment", roles=AGENTS),
          SectionSpec("High-priority leads waiting", "alerts.high_priority_waiting", roles=AGENTS))
_ACTIONS = SectionSpec("Action items", "alerts.action_items")
_RANKINGS = (SectionSpec("Agent rankings", "agents.scorecard", roles=MANAGEMENT),
             SectionSpec("Your scorecard", "agents.scorecard", roles=AGENTS))

# The spec's "Automated reporting system": daily for operations, weekly for management, monthly for everyone.
SECTIONS: dict[ReportKind, tuple[SectionSpec, ...]] = {
    ReportKind.DAILY: (
        SectionSpec("Headline figures", "executive.kpi_summary", roles=MANAGEMENT),
        *_TILES,
        SectionSpec("Lead volume", "pipeline.throughput"),
        _ACTIONS,
        SectionSpec("Your response time", "response_time.first_contact", roles=AGENTS, own=True),
        SectionSpec("Active errors", "errors.active", roles=MANAGEMENT),
        SectionSpec("Error rate", "errors.rate", roles=MANAGEMENT),
        SectionSpec("System health", "components.health", roles=MANAGEMENT),
    ),
    ReportKind.WEEKLY: (
        SectionSpec("Headline figures", "executive.kpi_summary", roles=MANAGEMENT),
        *_TILES,
        SectionSpec("Cost-benefit", "cost.benefit", roles=MANAGEMENT),
        SectionSpec("Attribution by lead source", "attribution.weighted", roles=MANAGEMENT),
        *_RANKINGS,
        SectionSpec("Monthly goal progress", "agents.goals", roles=MANAGEMENT),
        SectionSpec("Response time to first contact", "response_time.first_contact", roles=MANAGEMENT),
        SectionSpec("Your response time", "response_time.first_contact", roles=AGENTS, own=True),
        SectionSpec("Company lead volume, last 12 months", "pipeline.throughput", "trailing_year", roles=AGENTS),
        _ACTIONS,
    ),
    ReportKind.MONTHLY: (
        SectionSpec("Headline figures", "executive.kpi_summary", roles=MANAGEMENT),
        *_TILES,
        SectionSpec("Revenue, last 12 months", "revenue.monthly_trend", "trailing_year", roles=MANAGEMENT),
        SectionSpec("Cost-benefit", "cost.benefit", roles=MANAGEMENT),
        SectionSpec("Attribution by lead source", "attribution.weighted", roles=MANAGEMENT),
        SectionSpec("Multi-touch attribution", "attribution.multi_touch", roles=MANAGEMENT, optional=True),
        *_RANKINGS,
        SectionSpec("Revenue goal progress", "agents.goals", roles=MANAGEMENT),
        SectionSpec("Your response time", "response_time.first_contact", roles=AGENTS, own=True),
        SectionSpec("Company lead volume, last 12 months", "pipeline.throughput", "trailing_year", roles=AGENTS),
        SectionSpec("Conversion before and after automation", "conversion.before_after", roles=MANAGEMENT),
        SectionSpec("Year over year", "kpis.year_over_year", roles=MANAGEMENT),
        SectionSpec("Revenue forecast", "forecast.revenue", roles=MANAGEMENT),
        SectionSpec("Lead forecast", "forecast.leads"),
        SectionSpec("Recommendations", "recommendations.list", roles=MANAGEMENT),
        _ACTIONS,
    ),
}


def specs_for(kind: ReportKind, role: Role) -> tuple[SectionSpec, ...]:
    """The sections of ``kind`` written for ``role``; optional ones only once the catalog has their metric."""
    return tuple(s for s in SECTIONS[kind] if (s.roles is None or role in s.roles) and (known(s.metric)
                                                                                        or not s.optional))


def _range(spec: SectionSpec, period: Period, settings: TenantSettings) -> tuple[datetime, datetime]:
    match spec.range:
        case "period":
            return period.start, period.end
        case "previous":
            prev = period.previous(settings.zone)
            return prev.start, prev.end
        case "year_before":
            year = period.year_before(settings.zone)
            return year.start, year.end
        case "trailing_year":
            return complete_months(period.end, settings.zone)


def _interval_ms(spec: SectionSpec, period: Period) -> int:
    """Hours for a day, days for a week, weeks for a month, months for a year of trend."""
    if spec.range == "trailing_year":
        return 30 * 86_400_000
    return {ReportKind.DAILY: 3_600_000, ReportKind.WEEKLY: 86_400_000}.get(period.kind, 7 * 86_400_000)


def _query(spec: SectionSpec, period: Period, settings: TenantSettings, who: Principal) -> MetricQuery:
    start, end = _range(spec, period, settings)
    mine = (Filter(Dimension.AGENT, Operator.EQ, (who.agent_id,)),) if spec.own and who.agent_id else ()
    monthly = spec.range == "trailing_year" and any(o.name == "granularity" and "month" in o.values
                                                   for o in get_metric(spec.metric).options)
    return MetricQuery(metric=MetricName(spec.metric), start=start, end=end, interval_ms=_interval_ms(spec, period),
                       max_points=400, filters=mine, options=(("granularity", "month"),) if monthly else ())


def _section(spec: SectionSpec, answer: Answer, who: Principal) -> Section:
    if answer.frame is not None:
        return Section(spec.title, spec.metric, answer.frame, None, spec.range)
    match answer.error:
        case Forbidden():
            return Section(spec.title, spec.metric, None, f"Not included for the {who.role.value} role.")
        case CalculatorError() as exc:
            return Section(spec.title, spec.metric, None, f"Could not be computed: {exc}")
        case exc:  # one broken metric must not cost the recipient the rest of the report
            log.error("report section %s (%s) failed for tenant %s", spec.title, spec.metric, who.tenant_id,
                      exc_info=exc)
            return Section(spec.title, spec.metric, None, "Could not be computed; the failure has been logged.")


async def _sections(answers: Answerer, specs: Sequence[SectionSpec], who: Principal, rules: policy.Policy,
                    period: Period, settings: TenantSettings) -> tuple[Section, ...]:
    """Each section as ``who`` may see it; a metric this version does not know is said so. A storage failure
    fails the whole report (the next tick tries again)."""
    asked = [s for s in specs if known(s.metric)]
    queries = [_query(s, period, settings, who) for s in asked]
    answered = iter(await answers.answer(answers.context(who, rules), queries))
    return tuple(_section(s, next(answered), who) if known(s.metric)
                 else Section(s.title, s.metric, None, "Not available yet: this section fills in once the service "
                              "computes it.") for s in specs)




async def _alerts(db: Database, who: Principal, rules: policy.Policy, period: Period) -> tuple[AlertLine, ...]:
    """Alerts firing now or during the period: operations needs both. A line derived from what the recipient's
    role may not see (a revenue projection for an agent) is left out (alert_events.inputs)."""
    masks = policy.field_masks(who, rules)
    async with db.tenant(who.tenant_id) as conn:
        rows = await conn.fetch(
            """SELECT severity, title, summary, started_at, inputs FROM alert_events
               WHERE state = 'firing' OR (started_at < $2 AND coalesce(resolved_at, 'infinity') >= $1)
               ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, started_at DESC
               LIMIT 50""", period.start, period.end)
    return tuple(AlertLine(r["severity"], r["title"], r["summary"], r["started_at"]) for r in rows
                 if masking.shows(alert_lineage(r["inputs"]), masks))


async def build(answers: Answerer, tenant_id: str, kind: ReportKind, period: Period, recipient: Recipient,
                rules: policy.Policy, now: datetime | None = None) -> Report:
    """The report of ``kind`` for ``period`` as ``recipient`` may see it."""
    async with answers.db.tenant(tenant_id) as conn:
        settings = await tenants.load_settings(conn, tenant_id)
        name = await conn.fetchval("SELECT name FROM tenants WHERE tenant_id = $1", tenant_id) or tenant_id
    who = recipient.principal(tenant_id)
    sections = await _sections(answers, specs_for(kind, recipient.role), who, rules, period, settings)
    alerts = await _alerts(answers.db, who, rules, period) if kind is ReportKind.DAILY else ()
    return Report(tenant_id, name, kind, period, recipient, settings, sections, alerts,
                  tuple(highlights(sections, settings.currency)), now or datetime.now(UTC))


# --- pure: what the figures say --------------------------------------------------------------------------

def _summary_rows(section: Section) -> list[tuple[str, Unit | None, Any, Any]]:
    """(title, unit, current, previous) from a STAT frame or the KPI summary table."""
    frame = section.frame
    if frame is None or frame.row_count == 0:
        return []
    names = {c.name for c in frame.columns}
    if frame.kind is Kind.STAT and {"value", "previous"} <= names:
        value, previous = frame.column("value"), frame.column("previous")
        return [(section.title, value.unit, value.values[0], previous.values[0])]
    if frame.kind is Kind.TABLE and "period" in names:  # the KPI summary: one row per period, a column per KPI
        rows = {r["period"]: r for r in (dict(zip((c.name for c in frame.columns), row, strict=True))
                                         for row in frame.rows())}
        now, before = rows.get("month_to_date", {}), rows.get("previous_month", {})
        return [(k.title, k.unit, now.get(k.column), before.get(k.column)) for k in KPIS if k.column in names]
    return []


def highlights(sections: Sequence[Section], currency: str = "USD") -> list[str]:
    """One line per headline figure of the report's own period: value in its unit, change against the
    previous period (the plain-text part of the mail)."""
    lines = []
    for section in sections:
        if section.spec_range != "period":
            continue
        for title, unit, current, previous in _summary_rows(section):
            if current is None:
                continue
            moved = change(current, previous)
            trend = "" if moved is None else f" ({percent_change(moved)} vs previous period)"
            lines.append(f"{title}: {figure(current, unit, currency)}{trend}")
    return lines
