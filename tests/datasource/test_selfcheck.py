"""The dashboard self-check (issue 16 item 1): every provisioned panel replayed as every role through the answer
path, each outcome kept and shown as dashboards.health, a failure raising the maintenance alert; with planted
faults (a panel whose query errors, a panel refused to a role it is meant for) it must catch."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from success_metrics.calculators import TenantId, all_metrics
from success_metrics.dashboards.layout import DASHBOARDS
from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.query import selfcheck
from success_metrics.query.answer import Answerer
from success_metrics.query.cache import ResultCache
from success_metrics.query.selfcheck import (
    PanelCheck,
    SelfCheck,
    classify,
    panel_checks,
)
from success_metrics.rbac import AuthMethod, Forbidden, Principal, Role, policy
from success_metrics.storage.pool import Database
from tests.datasource import seed
from tests.datasource.test_pipeline import bearer, services_of

client, tenant = seed.client, seed.tenant  # the seed day's fixtures
NOW = datetime(2026, 3, 3, 9, tzinfo=UTC)  # the day after the seed day
ROLES = len(Role)


def planted_error() -> PanelCheck:
    """A panel still naming a metric that was renamed: its query fails for every role."""
    return PanelCheck("sm-planted", "Renamed metric", ({"refId": "A", "target": "revenue.attributd", "payload": {}},),
                      100, timedelta(days=30), frozenset(r.value for r in Role))


async def managers_lose_agent_metrics(db: Database, svc: Any, tenant: str) -> None:
    """A policy edit that takes the agents.* metrics from managers, for whom Agent Performance is meant."""
    document = json.loads(json.dumps(dict(policy.default_document())))
    document["roles"]["manager"]["deny_metrics"] = ["security.*", "agents.*"]
    admin = Principal(tenant_id=TenantId(tenant), subject="admin@selfcheck", role=Role.ADMIN,
                      auth_method=AuthMethod.DEV)
    async with db.tenant(tenant) as conn:
        await svc.policies.replace(conn, tenant, document, admin, comment="no agent views for managers")


def test_the_checks_are_every_panel_and_annotation_of_every_dashboard() -> None:
    checks = panel_checks()
    panels = sum(len(spec.panels()) for spec in DASHBOARDS)
    notes = sum(len(spec.annotations) for spec in DASHBOARDS)
    assert len(checks) == panels + notes
    assert {c.metric for c in checks if not c.panel.startswith(selfcheck.ANNOTATIONS)} == {
        m.name for m in all_metrics() if m.dashboard}
    by_panel = {(c.dashboard, c.metric): c for c in checks}
    assert by_panel[("sm-agent-performance", "agents.goals")].roles == {"executive", "manager", "admin"}
    assert by_panel[("sm-agent-performance", "agents.scorecard")].roles == {"executive", "manager", "agent", "admin"}
    assert by_panel[("sm-system-health", "compliance.checks")].roles == {"admin", "auditor"}
    assert by_panel[("sm-system-health", "data.quality")].span == timedelta(hours=24)  # the dashboard's now-24h
    assert by_panel[("sm-executive-summary", "roi.monthly")].span == timedelta(days=90)


def test_an_outcome_says_what_went_wrong_and_whether_it_was_meant() -> None:
    refused = Forbidden("Role agent may not query metric 'roi.monthly'; ask an admin if you need it.")
    assert classify([], True, 40.0, 5000.0) == ("ok", "")
    assert classify([], True, 5000.0, 5000.0) == ("slow", "answered in 5000 ms (slow from 5000 ms)")
    assert classify([refused], False, 1.0, 5000.0) == ("refused", refused.message)
    assert classify([refused], True, 1.0, 5000.0) == (
        "error", f"refused to a role the panel is meant for: {refused.message}")
    assert classify([RuntimeError("boom")], True, 1.0, 5000.0)[0] == "error"


def test_the_daily_run_waits_for_the_configured_time_of_day() -> None:
    assert selfcheck.next_run_in(datetime(2026, 3, 3, 2, 30, tzinfo=UTC), time(3, 0)) == 30 * 60
    assert selfcheck.next_run_in(datetime(2026, 3, 3, 3, 0, tzinfo=UTC), time(3, 0)) == 24 * 3600
    assert selfcheck.next_run_in(datetime(2026, 3, 3, 9, 0, tzinfo=UTC), time(3, 0)) == 18 * 3600


async def test_with_the_built_in_policy_every_panel_is_ok_or_refused_as_expected(
        client: httpx.AsyncClient, tenant: str) -> None:
    found = (await SelfCheck(services_of(client)).run(NOW, [tenant]))[tenant]
    assert len(found) == ROLES * len(panel_checks())
    assert [o for o in found if o.outcome == "error"] == []
    refused = Counter((o.dashboard, o.role) for o in found if o.outcome == "refused")
    # by hand from layout.py and the built-in policy: the auditor may see uptime.system, errors.rate, the outages
    # annotation and the anomalies annotation (public; each row masked by the series it came from) of the Executive
    # Summary and nothing else of its 22 panels and 5 annotations
    assert refused[("sm-executive-summary", "auditor")] == 22 - 2 + 5 - 2
    # of the Access Audit dashboard's 6 panels executives see adoption.usage (public), and of its annotations
    # outages and backfills: refused 5 panels and the policy changes
    assert refused[("sm-access-audit", "executive")] == 5 + 1
    assert not [key for key in refused if key[1] == "admin"]  # the admin is refused nothing


async def test_planted_faults_are_caught_kept_shown_and_alerted(
        client: httpx.AsyncClient, db: Database, tenant: str, token_for: Any) -> None:
    svc = services_of(client)
    await managers_lose_agent_metrics(db, svc, tenant)
    found = (await SelfCheck(svc, checks=[*panel_checks(), planted_error()]).run(NOW, [tenant]))[tenant]
    errors = [o for o in found if o.outcome == "error"]
    # the renamed metric fails for all 5 roles; managers lose the 7 agents.* panels of Agent Performance, a
    # dashboard meant for them: 12 failures
    assert len(errors) == ROLES + 7
    assert {o.role for o in errors if o.dashboard == "sm-planted"} == {r.value for r in Role}
    assert all("Unknown metric" in o.message or "unknown metric" in o.message.lower()
               for o in errors if o.dashboard == "sm-planted")
    mine = [o for o in errors if o.dashboard == "sm-agent-performance"]
    assert {o.role for o in mine} == {"manager"} and len(mine) == 7
    assert all(o.message.startswith("refused to a role the panel is meant for") for o in mine)
    # the same refusal to the auditor, for whom the dashboard is not meant, is as expected
    auditor = [o.outcome for o in found if o.dashboard == "sm-agent-performance" and o.role == "auditor"
               and o.metric.startswith("agents.")]
    assert auditor == ["refused"] * 7

    # kept, and shown as dashboards.health: problems first, as the run left them
    body = {"range": {"from": (NOW - timedelta(days=1)).isoformat(), "to": (NOW + timedelta(minutes=1)).isoformat()},
            "intervalMs": 60_000, "maxDataPoints": 100,
            "targets": [{"refId": "A", "target": "dashboards.health", "type": "table"}]}
    shown = (await client.post("/query", json=body, headers=bearer(token_for(tenant, "auditor")))).json()[0]
    names = [c["text"] for c in shown["columns"]]
    rows = [dict(zip(names, r, strict=True)) for r in shown["rows"]]
    assert len(rows) == len(found)
    assert [r["outcome"] for r in rows[:len(errors)]] == ["error"] * len(errors)
    assert {r["outcome"] for r in rows[len(errors):]} <= {"refused", "ok", "slow"}
    assert {(r["dashboard"], r["role"]) for r in rows if r["outcome"] == "error"} == {
        (o.dashboard, o.role) for o in errors}

    # the maintenance alert: the latest run in the last 25 h had 12 failed panels
    answers = Answerer(db, ResultCache(0, 0), lambda t: b"k" * 32)
    changes = await evaluate_tenant(answers, tenant, NOW + timedelta(minutes=5), retention_months=24)
    fired = [c for c in changes if c.rule_id == "maintenance.dashboard_check"]
    assert [(c.transition.value, c.value) for c in fired] == [("firing", 12)]


@pytest.fixture
def stepping_clock() -> Iterator[Any]:
    """Every reading 6 s after the one before: each panel takes 6 s."""
    ticks = iter(range(0, 10**6, 6))
    yield lambda: float(next(ticks))


async def test_a_panel_answered_after_the_threshold_is_slow(client: httpx.AsyncClient, tenant: str,
                                                             stepping_clock: Any) -> None:
    system = [c for c in panel_checks() if c.dashboard == "sm-system-health"]
    found = (await SelfCheck(services_of(client), clock=stepping_clock, checks=system).run(NOW, [tenant]))[tenant]
    admin = {o.outcome for o in found if o.role == "admin"}
    assert admin == {"slow"}  # 6000 ms ≥ the default 5000 ms
    assert {o.latency_ms for o in found} == {6000.0}
    # a refusal is still a refusal, however long it took
    assert {o.outcome for o in found if o.role == "executive" and o.metric == "security.auth_events"} == {"refused"}


async def test_runs_are_kept_per_tenant(client: httpx.AsyncClient, db: Database, tenant: str,
                                        new_tenant_id: Any) -> None:
    from success_metrics.settings import TenantConfig
    from success_metrics.storage import tenants

    other = new_tenant_id("sc-other")
    async with db.system() as conn:
        await tenants.upsert(conn, TenantConfig(id=other, name=other))
    check = SelfCheck(services_of(client), checks=[planted_error()])
    await check.run(NOW, [tenant])
    await check.run(NOW + timedelta(days=31), [other])
    async with db.tenant(other) as conn:
        seen = await conn.fetch("SELECT DISTINCT tenant_id FROM dashboard_checks")
    assert [r["tenant_id"] for r in seen] == [other]  # row-level security: the other tenant's run only
    await check.run(NOW + timedelta(days=31), [tenant])
    async with db.tenant(tenant) as conn:
        runs = await conn.fetch("SELECT DISTINCT run_at FROM dashboard_checks")
    assert [r["run_at"] for r in runs] == [NOW + timedelta(days=31)]  # runs older than 30 days are dropped


async def test_the_check_dashboards_command_runs_keeps_and_fails_on_a_failure(
        client: httpx.AsyncClient, db: Database, tenant: str, data_dir: Any) -> None:
    """``success-metrics check dashboards`` against a running service's database: every panel of the tenant is
    checked and kept; after a policy edit refuses managers their Agent Performance panels it exits 1 naming them."""
    import asyncio

    from typer.testing import CliRunner

    from success_metrics.tools.cli import app

    assert db.dsn is not None
    env = {"DATABASE_URL": db.dsn, "SM_DATA_DIR": str(data_dir), "SM_CONFIG": ""}

    def check() -> Any:
        return CliRunner().invoke(app, ["check", "dashboards", "--tenant", tenant], env=env)

    clean = await asyncio.to_thread(check)
    assert clean.exit_code == 0, clean.output
    checks = ROLES * len(panel_checks())
    assert clean.stdout.startswith(f"{tenant}: ") and " 0 error" in clean.stdout
    async with db.tenant(tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM dashboard_checks") == checks

    await managers_lose_agent_metrics(db, services_of(client), tenant)
    failed = await asyncio.to_thread(check)
    assert failed.exit_code == 1, failed.output
    assert " 7 error" in failed.stdout
    assert failed.stdout.count("error sm-agent-performance / ") == 7 and " as manager " in failed.stdout
