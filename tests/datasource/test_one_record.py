"""One audit record per request for every family of /api routes (issue 11 item 2): a route's own record (a change
written in its transaction, a read, an export) is the request's one record and says how its caller authenticated
(``resource.authentication``), as the /query record and the audit edge's fallback say it; no ``auth.success``
beside it. Failures (401, 403) are one record each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from success_metrics.storage.pool import Database
from success_metrics.settings import TenantConfig
from success_metrics.rbac import keys
from success_metrics.rbac.policy import default_document
from tests.datasource.test_audit_edge import RANGE, bearer, records


RULE = {"id": "custom.p95", "family": "performance", "severity": "warning", "title": "Slow CRM",
        "condition": {"kind": "latency_p95", "component": "crm_sync"}, "op": ">", "threshold": 800,
        "window_minutes": 10, "for_minutes": 3}


@pytest.fixture
async def tenant(make_client: Any, new_tenant_id: Any) -> tuple[httpx.AsyncClient, str]:
    tid = new_tenant_id("one")
    return await make_client(TenantConfig(id=tid, name="One")), tid


def only(recs: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(recs) == 1, [(r["action"], r["status"]) for r in recs]
    return recs[0]


def authenticated(rec: dict[str, Any]) -> tuple[Any, ...]:
    return rec["tenant_id"], rec["subject"], rec["role"], rec["auth_method"], rec["resource"]["authentication"]


@pytest.mark.parametrize(("method", "path", "body", "status", "action"), [
    ("PUT", "/api/admin/policy", {"document": dict(default_document()), "comment": "c"}, 200, "policy.change"),
    ("POST", "/api/admin/policy/rollback", {"version": 0}, 200, "policy.change"),
    ("POST", "/api/admin/keys", {"kind": "ingest", "name": "engine"}, 201, "key.change"),
    ("PUT", "/api/admin/alert-rules/custom.p95", RULE, 200, "alert_rule.change"),
    ("PUT", "/api/admin/alert-channels/ops", {"kind": "webhook", "url": "https://hooks.example.com/a",
                                              "secret": "0123456789abcdef-secret"}, 200, "alert_channel.change"),
    ("GET", "/api/admin/policy", None, 200, "request"),
    ("GET", "/api/admin/policy/history", None, 200, "request"),
    ("GET", "/api/admin/identity", None, 200, "request"),
    ("GET", "/api/admin/alert-channels", None, 200, "request"),
    ("GET", "/api/admin/report-schedules", None, 200, "request"),
    ("GET", "/api/branding", None, 200, "request"),
    ("GET", "/api/admin/keys", None, 200, "request"),
    ("GET", "/api/admin/alert-rules", None, 200, "request"),
    ("POST", "/api/admin/policy/validate", {"document": {}}, 200, "request"),
    ("GET", "/api/audit/events", None, 200, "audit.read"),
    ("GET", "/api/audit/export", None, 200, "export"),
    ("GET", "/api/alerts", None, 200, "query"),
])
async def test_an_authenticated_api_request_leaves_one_record_saying_so(
        tenant: tuple[httpx.AsyncClient, str], db: Database, token_for: Any, method: str, path: str,
        body: Any, status: int, action: str) -> None:
    client, tid = tenant
    r = await client.request(method, path, json=body, headers=bearer(token_for(tid, "admin")))
    if r.status_code != status:  # a body this test got wrong is not what it is about: say what the route wanted
        pytest.fail(f"{r.status_code} {r.text}")
    rec = only(await records(db, r))
    assert (rec["action"], rec["status"], rec["outcome"]) == (action, status, "success")
    assert authenticated(rec) == (tid, f"admin@{tid}", "admin", "dev", "ok")


async def test_an_identity_change_a_revoked_key_and_a_refused_admin_request_leave_one_record_each(
        tenant: tuple[httpx.AsyncClient, str], db: Database, token_for: Any, idp: Any) -> None:
    client, tid = tenant
    admin = bearer(token_for(tid, "admin"))
    r = await client.put("/api/admin/identity", json=idp().tenant(tid).identity, headers=admin)
    assert r.status_code == 200, r.text
    rec = only(await records(db, r))
    assert (rec["action"], rec["resource"]["authentication"]) == ("identity.change", "ok")
    async with db.tenant(tid) as conn:
        info, _ = await keys.create_key(conn, tid, "ingest", "engine")
    r = await client.delete(f"/api/admin/keys/{info.key_id}", headers=admin)
    assert r.status_code == 200, r.text
    rec = only(await records(db, r))
    assert (rec["action"], rec["resource"]["op"], rec["resource"]["authentication"]) == ("key.change", "revoke", "ok")
    r = await client.delete("/api/admin/keys/0123456789abcdef", headers=admin)
    assert r.status_code == 404  # nothing changed, nothing written in the transaction: the edge's record
    rec = only(await records(db, r))
    assert (rec["action"], rec["status"], rec["subject"], rec["resource"]["authentication"]) == (
        "request", 404, f"admin@{tid}", "ok")
    r = await client.put("/api/admin/policy", json={"document": {"roles": {}}}, headers=admin)
    assert r.status_code == 422  # refused inside the change's transaction, which wrote nothing
    rec = only(await records(db, r))
    assert (rec["action"], rec["status"], rec["resource"]["authentication"]) == ("request", 422, "ok")
    r = await client.put("/api/admin/policy", json={"document": {}}, headers=bearer(token_for(tid, "agent")))
    assert r.status_code == 403
    rec = only(await records(db, r))
    assert (rec["action"], rec["status"]) == ("access.denied", 403)
    assert authenticated(rec) == (tid, f"agent@{tid}", "agent", "dev", "ok")


async def test_query_ingest_and_failed_authentication_leave_one_record_each(
        tenant: tuple[httpx.AsyncClient, str], db: Database, token_for: Any) -> None:
    client, tid = tenant
    r = await client.post("/query", json={"range": RANGE, "targets": []}, headers=bearer(token_for(tid, "executive")))
    assert r.status_code == 200, r.text
    rec = only(await records(db, r))
    assert rec["action"] == "query"
    assert authenticated(rec) == (tid, f"executive@{tid}", "executive", "dev", "ok")
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, "ingest", "engine")
    r = await client.post("/api/ingest/events", json=[], headers=bearer(secret))
    assert r.status_code == 200, r.text
    rec = only(await records(db, r))
    assert (rec["action"], rec["subject"], rec["resource"]["authentication"]) == (
        "ingest", f"ingest-key:{info.key_id}", "ok")
    for path in ("/api/admin/policy", "/api/audit/events", "/api/alerts"):
        r = await client.get(path, headers=bearer("not-a-token"))
        assert r.status_code == 401
        rec = only(await records(db, r))
        assert (rec["action"], rec["status"], rec["subject"]) == ("auth.failure", 401, None)
        assert rec["resource"]["authentication"].startswith("failed")
    r = await client.get("/api/audit/events", headers=bearer(token_for(tid, "agent")))
    assert r.status_code == 403
    rec = only(await records(db, r))
    assert (rec["action"], rec["tenant_id"], rec["resource"]["authentication"]) == ("access.denied", tid, "ok")


async def test_auth_events_counts_each_request_once_by_its_authentication(
        tenant: tuple[httpx.AsyncClient, str], token_for: Any) -> None:
    """Through the service: a plain admin read and a policy change (2 authenticated requests), an expired token
    naming the tenant (1 failure); then security.auth_events, whose own query is recorded after it answers."""
    client, tid = tenant
    admin = bearer(token_for(tid, "admin"))
    policy = await client.get("/api/admin/policy", headers=admin)
    assert policy.status_code == 200
    r = await client.put("/api/admin/policy", json={"document": policy.json()["document"]}, headers=admin)
    assert r.status_code == 200, r.text
    r = await client.get("/api/admin/keys", headers=bearer(token_for(tid, "admin", ttl=timedelta(seconds=-120))))
    assert r.status_code == 401
    now = datetime.now(UTC)
    window = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(minutes=1)).isoformat()}
    r = await client.post("/query", headers=bearer(token_for(tid, "auditor")), json={
        "range": window, "intervalMs": 3_600_000, "targets": [{"target": "security.auth_events", "refId": "A"}]})
    assert r.status_code == 200, r.text
    totals = {s["target"]: sum(v for v, _ in s["datapoints"] if v) for s in r.json()}
    assert totals == {"success": 2, "failure": 1}  # counting auth.success records only, as before: 0 successes
