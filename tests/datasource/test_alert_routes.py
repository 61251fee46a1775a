"""GET /api/alerts and the admin routes for rules, channels and report schedules, through the real app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource.test_alert_evaluate import MIN, T, add_auth_failures, answers

Client = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def setup(make_client: Client, token_for: Callable[..., str], new_tenant_id: Callable[[str], str]
                ) -> tuple[httpx.AsyncClient, str, Callable[..., dict[str, str]]]:
    tid = new_tenant_id("routes")
    client = await make_client(TenantConfig(id=tid, name="Routes Inc"))

    def auth(role: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(tid, role, **claims)}"}

    return client, tid, auth


async def test_history_lists_the_tenants_alerts(db: Database, setup: Any, make_client: Client,
                                                token_for: Callable[..., str],
                                                new_tenant_id: Callable[[str], str]) -> None:
    client, tid, auth = setup
    await add_auth_failures(db, tid, T - MIN, 30)
    await evaluate_tenant(answers(db), tid, T, retention_months=24)
    # the burst has left the window: resolved
    await evaluate_tenant(answers(db), tid, T + 10 * MIN, retention_months=24)
    response = await client.get("/api/alerts", headers=auth("admin"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(a["rule_id"], a["state"], a["value"]) for a in body] == [("critical.auth_failures", "resolved", 30.0)]
    # an authentication-failure burst is security data: a manager's history leaves it out
    assert (await client.get("/api/alerts", headers=auth("manager"))).json() == []
    assert body[0]["resolved_at"].startswith("2026-11-20T12:10:00")
    assert (await client.get("/api/alerts?state=firing", headers=auth("admin"))).json() == []
    # another tenant's admin sees none of it
    other = new_tenant_id("routes")
    other_client = await make_client(TenantConfig(id=other, name="Other"))
    response = await other_client.get("/api/alerts", headers={"Authorization": f"Bearer {token_for(other, 'admin')}"})
    assert response.json() == []
    async with db.tenant(tid) as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE resource->>'route' = '/api/alerts'") == 3


async def test_history_needs_a_token(setup: Any) -> None:
    client, _, _ = setup
    response = await client.get("/api/alerts")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_admin_manages_rules(setup: Any) -> None:
    client, _, auth = setup
    listed = (await client.get("/api/admin/alert-rules", headers=auth("admin"))).json()
    assert {r["rule"]["family"] for r in listed} == {"critical", "performance", "business", "maintenance"}
    # 10 rules of the four families, and the dashboard self-check, data-quality and backup-age maintenance rules
    assert len(listed) == 13 and all(r["builtin"] and r["state"] == "inactive" for r in listed)

    rule = {"id": "custom.p95", "family": "performance", "severity": "warning", "title": "Slow CRM",
            "condition": {"kind": "latency_p95", "component": "crm_sync"}, "op": ">", "threshold": 800,
            "window_minutes": 10, "for_minutes": 3}
    response = await client.put("/api/admin/alert-rules/custom.p95", json=rule, headers=auth("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["threshold"] == 800
    listed = (await client.get("/api/admin/alert-rules", headers=auth("admin"))).json()
    assert [r["rule"]["id"] for r in listed][-1] == "custom.p95" and not listed[-1]["builtin"]

    assert (await client.delete("/api/admin/alert-rules/custom.p95", headers=auth("admin"))).status_code == 204
    response = await client.delete("/api/admin/alert-rules/critical.downtime", headers=auth("admin"))
    assert response.status_code == 409 and "disable it" in response.json()["message"]
    response = await client.delete("/api/admin/alert-rules/nope", headers=auth("admin"))
    assert response.status_code == 404


async def test_bad_rules_get_every_error_with_a_pointer(setup: Any) -> None:
    client, _, auth = setup
    bad = {"id": "x.bad", "family": "urgent", "severity": "warning", "title": "t",
           "condition": {"kind": "latency_p95", "colour": "red"}, "op": "~", "threshold": "high"}
    response = await client.put("/api/admin/alert-rules/x.bad", json=bad, headers=auth("admin"))
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/family", "/op", "/threshold", "/condition"} <= pointers
    response = await client.put("/api/admin/alert-rules/other", json=bad | {"family": "critical", "op": ">",
                                "threshold": 1, "condition": {"kind": "error_rate"}}, headers=auth("admin"))
    assert response.status_code == 422 and "differs from the id in the path" in response.json()["message"]


async def test_only_admins_manage(db: Database, setup: Any) -> None:
    client, tid, auth = setup
    paths = ("/api/admin/alert-rules", "/api/admin/alert-channels", "/api/admin/report-schedules")
    for path in paths:
        response = await client.get(path, headers=auth("executive"))
        assert response.status_code == 403, path
        assert "admin role is needed" in response.json()["message"]
    async with db.tenant(tid) as conn:  # each refusal is evidence in the audit log
        denied = [r["route"] for r in await conn.fetch(
            "SELECT resource->>'route' AS route FROM audit_log WHERE action = 'access.denied' ORDER BY seq")]
    assert denied == [f"GET {path}" for path in paths]


async def test_channels_and_schedules(setup: Any) -> None:
    client, _, auth = setup
    secret = "0123456789abcdef-secret"
    response = await client.put("/api/admin/alert-channels/ops", headers=auth("admin"),
                                json={"kind": "webhook", "url": "https://hooks.example.com/a", "secret": secret})
    assert response.status_code == 200
    listed = await client.get("/api/admin/alert-channels", headers=auth("admin"))
    assert listed.json()["ops"]["has_secret"] is True and secret not in listed.text
    response = await client.put("/api/admin/alert-channels/ops", headers=auth("admin"),
                                json={"kind": "webhook", "url": "https://hooks.example.com/a"})
    assert response.status_code == 422 and "needs a secret" in response.json()["message"]

    response = await client.put("/api/admin/report-schedules/weekly", headers=auth("admin"), json={
        "at": "09:30", "recipients": [{"email": "boss@example.com", "role": "executive"}]})
    assert response.status_code == 200, response.text
    assert response.json() == [{"kind": "weekly", "enabled": True, "at": "09:30", "last_period": None,
                                "recipients": [{"email": "boss@example.com", "role": "executive",
                                                "agent_id": None, "teams": []}]}]
    response = await client.put("/api/admin/report-schedules/hourly", headers=auth("admin"), json={})
    assert response.status_code == 422


async def test_values_postgresql_cannot_hold_are_422_saying_what_to_fix(setup: Any) -> None:
    client, _, auth = setup
    for method, url, body in (
            ("PUT", "/api/admin/alert-channels/ops", {"kind": "slack", "url": "https://hooks.example.com/a\u0000"}),
            ("PUT", "/api/admin/report-schedules/daily", {"recipients": [{"email": "a\u0000@b.co", "role": "agent"}]}),
            ("GET", "/api/alerts?since=0001-01-01T00:00:00%2B01:00", None)):
        response = await client.request(method, url, json=body, headers=auth("admin"))
        assert response.status_code == 422, (url, response.text)
        assert "remove NUL characters" in response.json()["message"], url


async def test_bad_history_queries_say_what_to_fix(setup: Any) -> None:
    client, _, auth = setup
    for query, pointer in (("since=yesterday", "/since"), ("limit=0", "/limit"), ("state=burning", "/state")):
        response = await client.get(f"/api/alerts?{query}", headers=auth("admin"))
        assert response.status_code == 422, query
        assert response.headers["content-type"] == "application/problem+json"
        assert pointer in response.json()["message"]


async def test_auditors_may_not_read_business_alerts(db: Database, setup: Any) -> None:
    client, tid, auth = setup
    response = await client.get("/api/alerts", headers=auth("auditor"))
    assert response.status_code == 403
    assert f"may not see alerts of tenant {tid}" in response.json()["message"]
    async with db.tenant(tid) as conn:
        rows = await conn.fetch("SELECT action, outcome, resource->>'route' AS route FROM audit_log")
    assert [tuple(r) for r in rows] == [("access.denied", "denied", "GET /api/alerts")]


async def test_an_agent_reads_no_alert_derived_from_money(db: Database, setup: Any) -> None:
    """Two alerts fire: an SLA breach (component calls) and a revenue projection (deal revenue, money targets)."""
    client, tid, auth = setup
    async with db.tenant(tid) as conn:
        await conn.executemany(
            """INSERT INTO alert_events (tenant_id, rule_id, family, severity, state, started_at, title, summary,
                   value, threshold, inputs)
               VALUES ($1, $2, 'business', 'warning', 'firing', $3, $2, $4, $5, 0.9, $6)""",
            [(tid, "performance.sla", T, "0.8 < 0.99", 0.8, ["alerts.component_calls"]),
             (tid, "business.target_at_risk", T + MIN, "projection 0.4 < 0.9", 0.4,
              ["alerts.month_projection", "money_targets", "nonmoney_targets"])])
    agent = await client.get("/api/alerts", headers=auth("agent", agent_id="a1"))
    executive = await client.get("/api/alerts", headers=auth("executive"))
    assert [a["rule_id"] for a in agent.json()] == ["performance.sla"]
    assert [a["rule_id"] for a in executive.json()] == ["business.target_at_risk", "performance.sla"]
