"""The sensitivity walk: every metric × role (and annotation kind × role, report × role), computed on real data
and masked by the real policy, must not let a role receive — as a value, text, title, label, notice or meta —
anything derived from a measure its policy hides.

Two checks, neither trusting the catalog's own labels:
- non-interference: tenant B is tenant A with every money figure the roles without ``financial`` may not see
  changed (other agents' deal values, costs, rates, money targets and goals, the financial alert's projection).
  Whatever such a role receives must be identical for A and B; a difference is a value derived from hidden money.
- canaries: other agents' ids and names, and leads' full contact data, must not appear anywhere in what a role
  receives unless its policy shows them (its own agent, its own team for managers, everything for admins).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from success_metrics.calculators import (
    Frame,
    Kind,
    MetricDef,
    MetricName,
    MetricQuery,
    Sensitivity,
    TenantId,
    all_metrics,
    compute,
    get_metric,
)
from success_metrics.calculators import annotations as annotation_kinds
from success_metrics.calculators.compute import load_settings
from success_metrics.notify.reports import content
from success_metrics.notify.reports.schedule import ReportKind, period_covering
from success_metrics.rbac import AuthMethod, Forbidden, Principal, Role, masking, policy
from success_metrics.storage.pool import Database
from tests.calculators import fixture
from tests.datasource.test_alert_delivery import KEYS
from tests.datasource.test_alert_evaluate import answers

KEY = b"k" * 32
OWN, TEAMMATE, OTHER = "agt-ann-7001", "agt-bob-7002", "agt-cat-7003"
NAMES = {"a1": OWN, "a2": TEAMMATE, "a3": OTHER, "Ann": "Annika Quist", "Bob": "Bobbie Vrell", "Cat": "Catrin Wolk"}
OWN_LEADS = ("L1", "L2")  # routed to OWN
SCALE = 1.5
# differ between two computations whoever asks: the host's live CPU and memory; each load's fresh run id
NOT_DETERMINISTIC = {"system.resources", "system.annotations.backfills",
                     # the server's statistics move between the two tenants' computations (calls, scans, sizes)
                     "database.performance", "database.indexes", "database.pool", "database.growth"}


def _rename(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rename(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v) for v in value]
    return NAMES.get(value, value) if isinstance(value, str) else value


def _money_changed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tenant B: other agents' deal values and every recorded cost changed; all else the same."""
    out = copy.deepcopy(events)
    for e in out:
        if e["type"] == "deal.closed" and e.get("agent_id") != OWN:
            e["data"]["value"] *= SCALE
        if e["type"] == "cost.recorded":
            e["data"]["amount"] *= SCALE
    return out


def _settings(scale: float) -> dict[str, Any]:
    s: dict[str, Any] = _rename(copy.deepcopy(fixture.SETTINGS_A))
    s["hourly_rate"] *= scale
    s["error_cost"] *= scale
    s["monthly_costs"] = {k: v * scale for k, v in s["monthly_costs"].items()}
    s["targets"] = {k: v * scale if k in ("revenue.attributed", "roi.monthly") else v for k, v in s["targets"].items()}
    s["team_goals"] = {k: v * scale for k, v in s["team_goals"].items()}
    return s


ALERT_END = datetime(2026, 2, 27, tzinfo=UTC)


async def _alerts(db: Database, tenant: str, projection: float) -> None:
    """Two alerts firing at February's end: a public one and the revenue projection (a financial figure)."""
    async with db.tenant(tenant) as conn:
        await conn.executemany(
            """INSERT INTO alert_events (tenant_id, rule_id, family, severity, state, started_at, title, summary,
                   value, threshold, inputs) VALUES ($1, $2, $3, $4, 'firing', $5, $6, $7, $8, $9, $10)""",
            [(tenant, "performance.sla", "performance", "warning", ALERT_END,
              "A component is below its SLA success rate",
              "A component is below its SLA success rate: 0.8 < 0.99 (component_success_rate over the last 60 min)",
              0.8, 0.99, ["alerts.component_calls"]),
             (tenant, "business.target_at_risk", "business", "info", ALERT_END,
              "Monthly revenue target at risk by projection",
              f"Monthly revenue target at risk by projection: {projection:.4g} < 0.9 (target_projection over the "
              "last 60 min)", projection, 0.9, ["alerts.month_projection", "money_targets", "nonmoney_targets"])])


SUBJECT = "subject-canary@walk.example"  # whom an audit record names: security data


async def _audit(db: Database, tenant: str) -> None:
    """Two queries and an authentication failure by one subject in February (adoption, audit, security)."""
    async with db.system() as conn:
        await conn.executemany(
            """INSERT INTO audit_log (tenant_id, seq, at, subject, role, action, outcome, status, resource,
                   prev_hash, hash) VALUES ($1, $2, $3, $4, 'executive', $5, $6, 200, $7, 'x', 'x')""",
            [(tenant, 1, fixture.t(3, 9), SUBJECT, "query", "success", {"metrics": ["roi.monthly"]}),
             (tenant, 2, fixture.t(3, 9, 10), SUBJECT, "query", "success", {"metrics": ["pipeline.stages"]}),
             (tenant, 3, fixture.t(4, 9), SUBJECT, "auth.failure", "denied", {})])


@pytest.fixture(scope="module")
async def pair(db: Database) -> tuple[str, str]:
    a, b = f"walk-a-{os.getpid()}", f"walk-b-{os.getpid()}"
    events = _rename(fixture.EVENTS_A)
    await fixture.load(db, a, events, _settings(1.0))
    await fixture.load(db, b, _money_changed(events), _settings(SCALE))
    await _alerts(db, a, 0.4)
    await _alerts(db, b, 0.4 * SCALE)
    for tenant in (a, b):
        await _audit(db, tenant)
    return a, b


def principal(tenant: str, role: Role) -> Principal:
    scopes: dict[Role, dict[str, Any]] = {Role.AGENT: {"agent_id": OWN, "teams": ("t1",)},
                                          Role.MANAGER: {"teams": ("t1",)}}
    who = scopes.get(role, {})
    return Principal(tenant_id=TenantId(tenant), subject=f"{role.value}@walk", role=role,
                     auth_method=AuthMethod.SERVICE_KEY, **who)


def _canon(frame: Frame) -> str:
    """Everything of a masked frame that leaves the service, as one string."""
    return json.dumps({"name": frame.name, "kind": frame.kind, "notices": frame.notices, "meta": frame.meta,
                       "masked": frame.masked_fields,
                       "columns": [[c.name, c.type, c.unit, list(c.values)] for c in frame.columns]},
                      default=str, sort_keys=True, ensure_ascii=False)


def _hides_money(role: Role) -> bool:
    rules = policy.default_policy().role(role)
    return rules is not None and Sensitivity.FINANCIAL not in rules.visible


def _canaries(role: Role) -> list[str]:
    """Strings this role must never receive: other people's identities and full contact data."""
    agents = {OWN: NAMES["Ann"], TEAMMATE: NAMES["Bob"], OTHER: NAMES["Cat"]}
    seen = {Role.ADMIN: set(agents), Role.EXECUTIVE: set(agents), Role.MANAGER: {OWN, TEAMMATE},
            Role.AGENT: {OWN}, Role.AUDITOR: set()}[role]
    out = [s for agent, name in agents.items() if agent not in seen for s in (agent, name)]
    if role is not Role.ADMIN:
        out += [f"{n}@example.com" for n in ("L0", "L1", "L2", "L3", "L4", "L5")
                if not (role is Role.AGENT and n in OWN_LEADS)]
    if role not in (Role.ADMIN, Role.AUDITOR):
        out.append(SUBJECT)
    return out


FEB = fixture.FEB


def _query(name: str) -> MetricQuery:
    return MetricQuery(MetricName(name), FEB[0], FEB[1], interval_ms=86_400_000, max_points=100)


async def _masked(db: Database, tenant: str, role: Role, metric: Any, query: MetricQuery, annotation: bool) -> Frame:
    who = principal(tenant, role)
    grant = policy.authorize(who, query, metric, policy.default_policy())
    async with db.tenant(tenant) as conn:
        if annotation:
            settings = await load_settings(conn, tenant)
            frame = await annotation_kinds.compute(conn, grant.scoped, settings)
        else:
            frame = await compute(conn, grant.scoped)
    return masking.apply(frame, grant, KEY)


def _cases() -> Iterator[tuple[str, Role, bool]]:
    for m in all_metrics():
        for role in Role:
            yield m.name, role, False
    for k in annotation_kinds.KINDS.values():
        for role in Role:
            yield k.name, role, True


async def test_no_role_receives_what_its_policy_hides(db: Database, pair: tuple[str, str]) -> None:
    a, b = pair
    found: list[str] = []
    walked = 0
    admin_saw: list[str] = []
    for name, role, is_annotation in _cases():
        metric = (next(k for k in annotation_kinds.KINDS.values() if k.name == name) if is_annotation
                  else next(m for m in all_metrics() if m.name == name))
        if not policy.allowed(principal(a, role), metric, policy.default_policy()):
            continue
        try:
            seen_a = _canon(await _masked(db, a, role, metric, _query(name), is_annotation))
            seen_b = _canon(await _masked(db, b, role, metric, _query(name), is_annotation))
        except Forbidden:  # a refusal (aggregate-only …) gives nothing away
            continue
        walked += 1
        if role is Role.ADMIN:
            admin_saw.append(seen_a)
        # admins see every column: the declared ones must be there
        if role is Role.ADMIN and isinstance(metric, MetricDef):
            shown = {c[0] for c in json.loads(seen_a)["columns"]}
            declared = set(metric.lineage) | set(metric.declassify)
            if metric.kind is not Kind.TIMESERIES and not declared <= shown:
                found.append(f"{name}: declares lineage of columns it does not have: {sorted(declared - shown)}")
        if _hides_money(role) and name not in NOT_DETERMINISTIC and seen_a != seen_b:
            found.append(f"{name} as {role.value}: changes with money it may not see:\n  A {seen_a}\n  B {seen_b}")
        for canary in _canaries(role):
            if canary in seen_a:
                found.append(f"{name} as {role.value}: receives {canary!r}")
    assert walked > 100
    # the canaries are in the data: an admin receives them (no catalog metric returns contact data at all)
    assert all(c in "".join(admin_saw) for c in (OWN, TEAMMATE, OTHER, *NAMES.values(), SUBJECT))
    assert not found, "\n".join(found)


def _report_text(report: content.Report) -> str:
    parts = [*report.highlights, *(f"{x.title} {x.summary}" for x in report.alerts)]
    for s in report.sections:
        parts.append(f"{s.title} {s.note}")
        if s.frame is not None:
            parts.append(_canon(s.frame))
    return "\n".join(parts)


@pytest.mark.parametrize("kind", list(ReportKind))
@pytest.mark.parametrize("role", [Role.AGENT, Role.AUDITOR])
async def test_reports_give_no_hidden_money(db: Database, pair: tuple[str, str], kind: ReportKind,
                                            role: Role) -> None:
    a, b = pair
    recipient = content.Recipient(email="r@walk.example", role=role,
                                  agent_id=OWN if role is Role.AGENT else None, teams=("t1",))
    period = period_covering(kind, datetime(2026, 2, 26, 12, tzinfo=UTC), fixture_zone())
    texts = [_report_text(await content.build(answers(db), t, kind, period, recipient, policy.default_policy(),
                                              now=ALERT_END)) for t in (a, b)]
    assert texts[0] == texts[1]
    for canary in _canaries(role):
        assert canary not in texts[0]


def fixture_zone() -> Any:
    from zoneinfo import ZoneInfo
    return ZoneInfo("America/New_York")


async def test_action_items_keep_what_the_role_may_see_and_drop_the_revenue_items(
        db: Database, pair: tuple[str, str]) -> None:
    """February: attributed revenue 0.9 × 1000 + 0.5 × 2000 + 0.25 × 400 = 2000 against a target of 5000, hours
    saved 18 tasks × 0.5 = 9 against 10; L5 (another agent's) waiting; two alerts firing. An agent keeps the hours
    item and the SLA alert."""
    a, _ = pair
    items = {}
    for role in (Role.EXECUTIVE, Role.AGENT):
        frame = await _masked(db, a, role, get_metric("alerts.action_items"), _query("alerts.action_items"), False)
        items[role] = list(frame.column("item").values)
    assert "revenue.attributed projects to 2,000 against a target of 5,000" in items[Role.EXECUTIVE]
    assert len(items[Role.EXECUTIVE]) == 5
    assert items[Role.AGENT] == [
        "time_savings.hours projects to 9 against a target of 10",
        "A component is below its SLA success rate: A component is below its SLA success rate: 0.8 < 0.99 "
        "(component_success_rate over the last 60 min)"]


async def test_an_agents_own_efficiency_score_is_hidden_because_it_pools_every_agents_revenue(
        db: Database, pair: tuple[str, str]) -> None:
    a, _ = pair
    frame = await _masked(db, a, Role.AGENT, get_metric("agents.scorecard"), _query("agents.scorecard"), False)
    names = [c.name for c in frame.columns]
    assert "efficiency_score" not in names and frame.column("revenue").values == (3000.0,)  # own revenue stays
    manager = await _masked(db, a, Role.MANAGER, get_metric("agents.scorecard"), _query("agents.scorecard"), False)
    assert "efficiency_score" in [c.name for c in manager.columns]


async def test_alert_notifications_reach_only_channels_whose_audience_may_see_them(
        db: Database, new_tenant_id: Any) -> None:
    """A revenue projection (financial) and an authentication-failure burst (security) fire at T: an admin channel
    gets both, an auditors' channel only the burst, a channel for agents neither."""
    from success_metrics.notify.alerts import channels, rules
    from success_metrics.notify.alerts.evaluate import evaluate_tenant
    from tests.datasource.test_alert_evaluate import MIN, T, add_auth_failures, make_tenant

    tid = new_tenant_id("walk-notify")
    await make_tenant(db, tid, targets={"revenue.attributed": 1000})
    await add_auth_failures(db, tid, T - MIN, 25)
    async with db.tenant(tid) as conn:
        await rules.put(conn, tid, "business.projection", {
            "id": "business.projection", "family": "business", "severity": "warning", "title": "Revenue projection",
            "condition": {"kind": "target_projection", "measure": "revenue", "target": "revenue.attributed"},
            "op": "<", "threshold": 10, "window_minutes": 60}, "admin@walk")
        for cid, audience in (("ops", "admin"), ("audit", "auditor"), ("team", "agent")):
            await channels.put(conn, tid, cid, channels.parse_config(
                {"kind": "slack", "url": f"https://hooks.slack.example.com/{cid}", "audience": audience}), KEYS)
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    async with db.tenant(tid) as conn:
        rows = await conn.fetch("SELECT e.rule_id, d.channel_id FROM alert_deliveries d JOIN alert_events e "
                                "USING (tenant_id, event_id)")
    assert sorted((r["rule_id"], r["channel_id"]) for r in rows) == [
        ("business.projection", "ops"), ("critical.auth_failures", "audit"), ("critical.auth_failures", "ops")]
