"""One answer path: every reader of values (panels, reports, alerts, the warmer) authorizes through policy,
computes through the result cache and masks per principal; only policy builds a scoped query."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from success_metrics.calculators import MetricName, MetricQuery, ScopedQuery, TenantId
from success_metrics.query import warmer
from success_metrics.notify.alerts.conditions import add_months
from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.query.cache import ResultCache
from success_metrics.notify.reports.content import Recipient
from success_metrics.notify.reports.schedule import ReportKind, latest_due
from success_metrics.storage.pool import Database
from success_metrics.query.warmer import Warmer
from success_metrics.rbac import Role, policy
from tests.datasource.seed import client, tenant  # noqa: F401  (fixtures)
from tests.datasource.test_alert_evaluate import T, answers, fixture_tenant  # noqa: F401  (fixture)
from tests.datasource.test_pipeline import bearer, services_of, weighted_body
from tests.datasource.test_warmer import NOW, _thaw  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
# shared_query derives the key of an already authorized query, without its row scope, for a metric whose frame
# does not depend on it (a test in tests/calculators/test_compute.py checks every such metric)
MAY_BUILD_SCOPED_QUERIES = {"success_metrics/rbac/policy.py", "success_metrics/calculators/compute.py"}


def test_only_policy_builds_a_scoped_query() -> None:
    builders = set()
    for package in ("success_metrics",):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == \
                        "ScopedQuery":
                    builders.add(path.relative_to(ROOT).as_posix())
    assert builders == MAY_BUILD_SCOPED_QUERIES


async def test_the_warmer_is_authorized_by_policy(client: httpx.AsyncClient, tenant: str, token_for: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The warmer acts as the service's own principal under the built-in policy: what that policy refuses it
    does not compute (here a built-in policy whose admin may not see roi.*)."""
    document = json.loads(json.dumps(dict(policy.default_document())))
    document["roles"]["admin"]["deny_metrics"] = ["roi.*"]
    monkeypatch.setattr(policy, "default_policy", lambda: policy.parse(document))
    svc = services_of(client)
    state = await Warmer(svc).round(NOW, [tenant])
    roi_panels = [t for t, _ in warmer.dashboard_requests() for target in t if target["target"].startswith("roi.")]
    assert state.failed == len(roi_panels) * len(warmer.RANGES) > 0
    keys = {k.query.metric for k in svc.cache._entries}
    assert "revenue.monthly_trend" in keys and not any(k.startswith("roi.") for k in keys)


async def test_a_report_takes_its_figures_through_the_cache(client: httpx.AsyncClient, tenant: str) -> None:
    """Computed once through the result cache as the recipient (so masked as a panel is for that role): a second
    copy of the report computes nothing."""
    svc = services_of(client)
    period = latest_due(ReportKind.DAILY, time(8), ZoneInfo("UTC"), datetime(2026, 3, 3, 9, tzinfo=UTC)).period
    agent = Recipient(email="a1@example.com", role=Role.AGENT, agent_id="a1")
    before = svc.cache.stats.misses
    first, _ = await svc.reporter.render_for(tenant, ReportKind.DAILY, period, agent)
    computed = svc.cache.stats.misses - before
    second, _ = await svc.reporter.render_for(tenant, ReportKind.DAILY, period, agent)
    assert computed > 0 and svc.cache.stats.misses - before == computed
    assert first.sections == second.sections


async def test_alert_figures_are_catalog_metrics_with_their_sensitivity(client: httpx.AsyncClient, tenant: str,
                                                                        token_for: Any) -> None:
    body = weighted_body()
    body["targets"][0]["target"] = "security.audit_actions"
    auditor = await client.post("/query", json=body, headers=bearer(token_for(tenant, "auditor")))
    agent = await client.post("/query", json=body, headers=bearer(token_for(tenant, "agent", agent_id="a1")))
    assert [c["text"] for c in auditor.json()[0]["columns"]] == ["action", "records"]
    assert "may not query metric 'security.audit_actions'" in agent.json()[0]["meta"]["notices"][0]["text"]


def test_alert_conditions_hold_no_sql() -> None:
    source = (ROOT / "success_metrics/notify/alerts/conditions.py").read_text(encoding="utf-8")
    strings = [n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [s for s in strings if "SELECT" in s.upper() and "FROM" in s.upper()]


async def test_alert_evaluation_keeps_nothing_in_the_cache(db: Database, fixture_tenant: str) -> None:
    """An alert window ends at the evaluation's second: nobody asks for it again, so it must not take the place
    of a dashboard's entry. Retention headroom by hand: the oldest event is at T - 2 min, kept 24 months."""
    found = answers(db)
    found.cache = ResultCache(15, 900)
    await evaluate_tenant(found, fixture_tenant, T, retention_months=24)
    assert len(found.cache) == 0 and found.cache.stats.misses > 0
    async with db.tenant(fixture_tenant) as conn:
        rows = await conn.fetch("SELECT rule_id, last_value FROM alert_state")
    values = {r["rule_id"]: r["last_value"] for r in rows}
    # 2026-11-20 → 2028-11-20 is 365 + 366 days (29 February 2028), less the 2 minutes
    assert values["maintenance.retention"] == pytest.approx(731 - 2 / (24 * 60))
    assert values["maintenance.database_growth"] > 0


def test_add_months_clamps_the_day_as_postgresql_does() -> None:
    assert add_months(datetime(2026, 1, 31, 10, tzinfo=UTC), 1) == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC), 14) == datetime(2028, 2, 15, tzinfo=UTC)
    assert add_months(datetime(2026, 3, 31, tzinfo=UTC), -1) == datetime(2026, 2, 28, tzinfo=UTC)


async def test_a_one_off_computation_is_shared_while_it_runs_but_not_kept() -> None:
    cache = ResultCache(15, 900)
    day = MetricQuery(MetricName("errors.rate"), datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    key = ScopedQuery(TenantId("t"), day)  # a key as policy would build it: the cache itself is under test
    runs = []

    async def compute() -> Any:
        runs.append(1)
        return "frame"

    assert await cache.get_or_compute(key, compute, keep=False) == "frame"
    assert await cache.get_or_compute(key, compute, keep=False) == "frame"
    assert len(runs) == 2 and len(cache) == 0
