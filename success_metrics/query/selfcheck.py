"""The dashboard self-check (spec: daily automated dashboard functionality checks).

Every panel and annotation query of the provisioned dashboards is replayed for every role of every tenant, over the
dashboard's default time range, through the one answer path Grafana's requests take (parsed by ``parse.metric_queries``
and fitted as ``/query`` does, then authorized by the tenant's policy, computed through the result cache and masked), as
``success_metrics.rbac.role_principal`` — the service acting as that role. Computations run in the cache's background
lane, so a run never holds up a user.

Each panel's outcome per role: ``ok``; ``slow`` (answered, after ``dashboard_check_slow_ms``); ``refused`` (the
policy refused a role the panel is not meant for, as expected: ``layout.DashboardSpec.roles_of``); ``error``
(a target failed, or a role the panel is meant for was refused). Runs are kept 30 days in
``dashboard_checks`` (``dashboards.health`` shows the latest; ``alerts.dashboard_failures`` counts its errors
for the maintenance alert). Daily at ``dashboard_check_at`` (UTC) in the service, or ``success-metrics check
dashboards``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

from success_metrics.calculators import CalculatorError, TenantSettings
from success_metrics.dashboards.export import render_dashboards, theme_for
from success_metrics.dashboards.layout import DASHBOARDS
from success_metrics.query import pipeline
from success_metrics.query.answer import Answer, Context, Query
from success_metrics.query.protocol import parse
from success_metrics.query.protocol.errors import ProtocolError
from success_metrics.query.protocol.requests import QueryRequest
from success_metrics.query.warmer import at_all, walk
from success_metrics.rbac import Forbidden, Role, role_principal
from success_metrics.server.services import Services

log = logging.getLogger(__name__)

KEEP = timedelta(days=30)
ANNOTATIONS = "annotation: "  # the panel name of a dashboard's annotation query, before its name
_RELATIVE = re.compile(r"^now-(\d+)([mhdwy])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1),
          "y": timedelta(days=365)}


@dataclass(frozen=True, slots=True)
class PanelCheck:
    """One panel's request as its dashboard first opens (variables at "All", the default time range)."""

    dashboard: str
    panel: str
    targets: tuple[dict[str, Any], ...]
    max_points: int
    span: timedelta
    roles: frozenset[str]  # the roles the panel is meant for (layout.py)

    @property
    def metric(self) -> str:
        return ",".join(str(t["target"]) for t in self.targets)


@dataclass(frozen=True, slots=True)
class Outcome:
    dashboard: str
    panel: str
    metric: str
    role: str
    outcome: str
    latency_ms: float
    message: str = ""


def span_of(time_from: str) -> timedelta:
    """Grafana's relative ``now-30d`` → 30 days."""
    found = _RELATIVE.match(time_from)
    if found is None:
        raise ValueError(f"dashboard time {time_from!r} is not of the form now-<n><m|h|d|w|y>")
    return int(found.group(1)) * _UNITS[found.group(2)]


def panel_checks(max_points_default: int = 1000) -> list[PanelCheck]:
    """Every panel and annotation query of every provisioned dashboard, in dashboard order."""
    specs = {spec.uid: spec for spec in DASHBOARDS}
    found: list[PanelCheck] = []
    for board in render_dashboards(theme_for(TenantSettings.model_validate({}))).values():
        uid, span = board["uid"], span_of(board["time"]["from"])
        for panel in walk(board.get("panels", [])):
            targets = tuple(at_all(t) for t in panel.get("targets", []) if t.get("target"))
            if targets:
                found.append(PanelCheck(uid, panel.get("title") or targets[0]["target"], targets,
                                        int(panel.get("maxDataPoints") or max_points_default), span,
                                        frozenset(specs[uid].roles_of(targets[0]["target"]))))
        for note in board.get("annotations", {}).get("list", []):
            if isinstance(note.get("target"), dict) and note["target"].get("target"):
                found.append(PanelCheck(uid, ANNOTATIONS + note["name"], (at_all(note["target"]),),
                                        max_points_default, span, frozenset(specs[uid].roles)))
    return found


def classify(errors: list[BaseException], meant_for: bool, latency_ms: float, slow_ms: float) -> tuple[str, str]:
    """(outcome, message) of one panel for one role from its targets' errors (none: answered)."""
    failed = [e for e in errors if not isinstance(e, Forbidden)]
    if failed:
        return "error", "; ".join(_message(e) for e in failed)
    if errors:
        said = "; ".join(_message(e) for e in errors)
        return ("error", f"refused to a role the panel is meant for: {said}") if meant_for else ("refused", said)
    if latency_ms >= slow_ms:
        return "slow", f"answered in {latency_ms:.0f} ms (slow from {slow_ms:.0f} ms)"
    return "ok", ""


def _message(exc: BaseException) -> str:
    said = getattr(exc, "message", None)
    return said if isinstance(said, str) else f"{type(exc).__name__}: the computation failed (see the service log)"


class SelfCheck:
    """Runs the self-check over a service's answer path; ``clock`` (seconds) measures each panel's latency;
    ``checks``: the panels to replay (default: every provisioned one, ``panel_checks``)."""

    def __init__(self, svc: Services, clock: Callable[[], float] = time.perf_counter,
                 checks: list[PanelCheck] | None = None) -> None:
        self.svc = svc
        self.clock = clock
        self._checks = checks

    async def run(self, now: datetime | None = None, tenant_ids: list[str] | None = None) -> dict[str, list[Outcome]]:
        """Check every tenant's dashboards (or ``tenant_ids``'), keep each tenant's outcomes, return them."""
        now = now or datetime.now(UTC)
        if tenant_ids is None:
            async with self.svc.db.system() as conn:
                tenant_ids = [r["tenant_id"] for r in await conn.fetch(
                    "SELECT tenant_id FROM tenants WHERE tenant_id NOT LIKE '\\_%' ORDER BY tenant_id")]
        found = {}
        for tenant in tenant_ids:
            found[tenant] = outcomes = await self.check_tenant(tenant, now)
            await self._keep(tenant, now, outcomes)
            failed = sum(o.outcome == "error" for o in outcomes)
            log.info("dashboard self-check of %s: %d panel checks, %d failed", tenant, len(outcomes), failed)
        return found

    async def check_tenant(self, tenant: str, now: datetime) -> list[Outcome]:
        if self._checks is None:
            self._checks = panel_checks()
        async with self.svc.db.tenant(tenant) as conn:
            _, rules = await self.svc.policies.current(conn, tenant)
        outcomes = []
        for role in Role:
            ctx = self.svc.answers.context(role_principal(tenant, role, "selfcheck"), rules)
            for check in self._checks:
                started = self.clock()
                errors = await self._errors(ctx, check, now)
                latency_ms = (self.clock() - started) * 1000
                for exc in errors:
                    if not isinstance(exc, Forbidden | CalculatorError | ProtocolError):  # a bug: keep its trace
                        log.error("dashboard self-check: %s / %s as %s failed", check.dashboard, check.panel,
                                  role.value, exc_info=exc)
                outcome, message = classify(errors, role.value in check.roles, latency_ms,
                                            self.svc.settings.dashboard_check_slow_ms)
                outcomes.append(Outcome(check.dashboard, check.panel, check.metric, role.value, outcome,
                                        latency_ms, message))
        return outcomes

    async def _errors(self, ctx: Context, check: PanelCheck, now: datetime) -> list[BaseException]:
        """The panel's request answered as ``ctx``: each failed target's error."""
        body = QueryRequest.model_validate({
            "range": {"from": (now - check.span).isoformat(), "to": now.isoformat()},
            "intervalMs": check.span / timedelta(milliseconds=1) / check.max_points,
            "maxDataPoints": check.max_points, "targets": list(check.targets)})
        try:
            fitted = [pipeline.fit(t) for t in parse.metric_queries(body, self.svc.settings.limits)]
        except ProtocolError as exc:
            return [exc]
        queries: list[Query] = [f.query for f in fitted if f.query is not None]
        answers: list[Answer] = await self.svc.answers.answer(ctx, queries, background=True) if queries else []
        errors: list[BaseException] = [f.error for f in fitted if f.error is not None]
        return errors + [a.error for a in answers if a.error is not None]

    async def _keep(self, tenant: str, now: datetime, outcomes: list[Outcome]) -> None:
        async with self.svc.db.tenant(tenant) as conn:
            await conn.execute("DELETE FROM dashboard_checks WHERE tenant_id = $1 AND run_at < $2", tenant, now - KEEP)
            await conn.executemany(
                """INSERT INTO dashboard_checks (tenant_id, run_at, dashboard, panel, metric, role, outcome,
                                                 latency_ms, message) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                [(tenant, now, o.dashboard, o.panel, o.metric, o.role, o.outcome, o.latency_ms, o.message or None)
                 for o in outcomes])


def next_run_in(now: datetime, at: time_of_day) -> float:
    """Seconds until the next ``at`` (a UTC time of day) after ``now``."""
    today = now.replace(hour=at.hour, minute=at.minute, second=at.second, microsecond=0)
    upcoming = today if today > now else today + timedelta(days=1)
    return (upcoming - now).total_seconds()
