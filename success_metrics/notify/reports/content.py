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
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from success_metrics.calculators import CalculatorError, Frame, Kind, MetricName, MetricQuery, TenantSettings, alert_lineage, get_metric
from success_metrics.calculators import KPIS
from success_metrics.storage import tenants
from success_metrics.query.answer import Answer, Answerer
from success_metrics.notify.reports.schedule import Period, ReportKind
from success_metrics.storage import Database
from success_metrics.rbac import AuthMethod, Forbidden, Principal, Role, masking, policy

log = logging.getLogger(__name__)


class Recipient(BaseModel):
    """Who gets a report and as which role; agent id and teams scope per-agent views like a token would."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: Role
    agent_id: str | None = None
    teams: tuple[str, ...] = ()

    def principal(self, tenant_id: str) -> Principal:
        return Principal(tenant_id=tenant_id, subject=self.email, role=self.role, auth_method=AuthMethod.SERVICE_KEY,
                         agent_id=self.agent_id, teams=self.teams)


Range = Literal["period", "previous", "year_before", "trailing_year"]


@dataclass(frozen=True, slots=True)
class SectionSpec:
    title: str
    metric: str
    range: Range = "period"


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


# The spec's "Automated reporting system": daily for operations, weekly for management, monthly for everyone.
SECTIONS: dict[ReportKind, tuple[SectionSpec, ...]] = {
    ReportKind.DAILY: (
        SectionSpec("Previous day: headline figures", "executive.kpi_summary"),
        SectionSpec("Lead volume and throughput", "pipeline.throughput"),
        SectionSpec("Lead-to-appointment conversion", "conversion.lead_to_appointment"),
        SectionSpec("Active errors", "errors.active"),
        SectionSpec("Error rate", "errors.rate"),
        SectionSpec("System health", "components.health"),
    ),
    ReportKind.WEEKLY: (
        SectionSpec("Week over week: headline figures", "executive.kpi_summary"),
        SectionSpec("ROI", "roi.monthly"),
        SectionSpec("Cost-benefit", "cost.benefit"),
        SectionSpec("Lead-to-close conversion", "conversion.lead_to_close"),
        SectionSpec("Agent rankings", "agents.scorecard"),
        SectionSpec("Monthly goal progress", "agents.goals"),
    ),
    ReportKind.MONTHLY: (
        SectionSpec("The month: headline figures", "executive.kpi_summary"),
        SectionSpec("Same month last year", "executive.kpi_summary", "year_before"),
        SectionSpec("ROI", "roi.monthly"),
        SectionSpec("Revenue, last 12 months", "revenue.monthly_trend", "trailing_year"),
        SectionSpec("Cost-benefit", "cost.benefit"),
        SectionSpec("Agent performance", "agents.scorecard"),
        SectionSpec("Conversion before and after automation", "conversion.before_after"),
    ),
}


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
            return period.end - timedelta(days=365), period.end


def _interval_ms(spec: SectionSpec, period: Period) -> int:
    """Hours for a day, days for a week or month, months for a year of trend."""
    if spec.range == "trailing_year":
        return 30 * 86_400_000
    return 3_600_000 if period.kind is ReportKind.DAILY else 86_400_000


def _query(spec: SectionSpec, period: Period, settings: TenantSettings) -> MetricQuery:
    start, end = _range(spec, period, settings)
    return MetricQuery(metric=MetricName(spec.metric), start=start, end=end, interval_ms=_interval_ms(spec, period),
                       max_points=400)


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
    known = [s for s in specs if _known(s.metric)]
    answered = iter(await answers.answer(answers.context(who, rules), [_query(s, period, settings) for s in known]))
    return tuple(_section(s, next(answered), who) if _known(s.metric)
                 else Section(s.title, s.metric, None, "Not available in this version of the service.") for s in specs)


def _known(metric: str) -> bool:
    try:
        get_metric(metric)
    except CalculatorError:
        return False
    return True


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
    sections = await _sections(answers, SECTIONS[kind], who, rules, period, settings)
    alerts = await _alerts(answers.db, who, rules, period) if kind is ReportKind.DAILY else ()
    extra = (*projection(sections), *recommendations(sections)) if kind is ReportKind.MONTHLY else ()
    return Report(tenant_id, name, kind, period, recipient, settings, sections, alerts,
                  (*highlights(sections), *extra), now or datetime.now(UTC))


# --- pure: what the figures say --------------------------------------------------------------------------

def _change(current: Any, previous: Any) -> float | None:
    if not isinstance(current, int | float) or not isinstance(previous, int | float) or not previous:
        return None
    return (current - previous) / abs(previous)


def _figure(value: Any) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def _summary_rows(section: Section) -> list[tuple[str, Any, Any, Any, str]]:
    """(title, current, previous, target, status) from a STAT frame or a KPI summary table."""
    frame = section.frame
    if frame is None or frame.row_count == 0:
        return []
    names = {c.name for c in frame.columns}
    if frame.kind is Kind.STAT and {"value", "previous", "status"} <= names:
        get = dict(zip((c.name for c in frame.columns), frame.rows()[0], strict=True))
        return [(section.title, get["value"], get["previous"], get.get("target"), get["status"])]
    if frame.kind is Kind.TABLE and "period" in names:  # the KPI summary: one row per period, a column per KPI
        rows = {r["period"]: r for r in (dict(zip((c.name for c in frame.columns), row, strict=True))
                                         for row in frame.rows())}
        now, before, goal = (rows.get(p, {}) for p in ("month_to_date", "previous_month", "target"))
        return [(k.title, now.get(k.column), before.get(k.column), goal.get(k.column),
                 now.get(f"{k.column}_status") or "") for k in KPIS if k.column in names]
    if frame.kind is Kind.TABLE and {"title", "current", "previous", "status"} <= names:
        cols = [c.name for c in frame.columns]
        return [(r[cols.index("title")], r[cols.index("current")], r[cols.index("previous")],
                 r[cols.index("target")] if "target" in cols else None, r[cols.index("status")])
                for r in frame.rows()]
    return []


def highlights(sections: Sequence[Section]) -> list[str]:
    """One line per headline figure of the report's own period: value and change against the previous one."""
    lines = []
    for section in sections:
        if section.spec_range != "period":
            continue
        for title, current, previous, _, _ in _summary_rows(section):
            if current is None:
                continue
            change = _change(current, previous)
            trend = "" if change is None else f" ({change:+.1%} against the previous period)"
            lines.append(f"{title}: {_figure(current)}{trend}")
    return lines


def recommendations(sections: Sequence[Section]) -> list[str]:
    """A line for each figure below its target, and for each that fell by more than 10 %."""
    lines = []
    for section in sections:
        if section.spec_range != "period":
            continue
        for title, current, previous, target, status in _summary_rows(section):
            change = _change(current, previous)
            if status == "below_target":
                lines.append(f"Recommendation: {title} is at {_figure(current)} against a target of "
                             f"{_figure(target)}; review what drives it before next month.")
            elif status == "at_risk":
                lines.append(f"Recommendation: {title} is at {_figure(current)} so far and does not project to "
                             f"its target of {_figure(target)}; review what drives it this month.")
            elif change is not None and change < -0.10:
                lines.append(f"Recommendation: {title} fell {-change:.0%} on the previous period; "
                             f"look into the cause.")
    return lines


def projection(sections: Sequence[Section]) -> list[str]:
    """Next month's revenue: the last month's figure grown by the average growth of the last three months."""
    trend = next((s.frame for s in sections if s.metric == "revenue.monthly_trend" and s.frame), None)
    if trend is None or trend.kind is not Kind.TIMESERIES or len(trend.columns) < 2:
        return []
    values = [v for v in trend.columns[1].values if isinstance(v, int | float)]
    if len(values) < 4:
        return []
    growth = [c for a, b in zip(values[-4:-1], values[-3:], strict=True) if (c := _change(b, a)) is not None]
    if not growth:
        return []
    rate = sum(growth) / len(growth)
    return [f"Projection: next month's revenue ≈ {_figure(round(values[-1] * (1 + rate), 2))} "
            f"(last month {_figure(values[-1])}, average monthly growth {rate:+.1%} over the last three months)."]
