"""/api/admin and /api/audit through the real app: 401/403 outcomes, policy versions, keys, identity, audit reads."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from success_metrics.rbac import audit


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def actions(db: Database, tenant: str) -> list[tuple[str, str, str | None]]:
    async with db.system() as conn:
        rows = await conn.fetch("SELECT action, outcome, subject FROM audit_log WHERE tenant_id = $1 ORDER BY seq",
                                tenant)
    return [(r["action"], r["outcome"], r["subject"]) for r in rows]


async def test_no_or_bad_credentials_are_401_with_a_reason_and_audited(make_client: Any, token_for: Any,
                                                                       new_tenant_id: Any, db: Database) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    r = await client.get("/api/admin/policy", headers={"X-Grafana-User": "admin", "X-Grafana-Org-Id": "1"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert "no credentials" in r.json()["message"]
    expired = token_for(tid, "admin", ttl=timedelta(seconds=-120))  # 120 s past exp, beyond the 30 s leeway
    r = await client.get("/api/admin/policy", headers=bearer(expired))
    assert r.status_code == 401 and r.json()["message"] == "the token has expired; sign in again"
    assert expired not in r.text
    assert await actions(db, tid) == [("auth.failure", "denied", None)]  # the expired token named its tenant
    async with db.system() as conn:
        reason = await conn.fetchval("SELECT reason FROM audit_log WHERE tenant_id = $1", tid)
        unattributed = await conn.fetchval("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND reason LIKE "
                                           "'no credentials%'", audit.UNATTRIBUTED)
    assert reason == "the token has expired; sign in again" and unattributed >= 1


async def test_admin_routes_need_the_admin_role(make_client: Any, token_for: Any, new_tenant_id: Any,
                                                db: Database) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    r = await client.get("/api/admin/policy", headers=bearer(token_for(tid, "executive")))
    assert r.status_code == 403
    assert r.json()["message"] == f"Role executive may not manage tenant {tid}; the admin role is needed."
    assert await actions(db, tid) == [("access.denied", "denied", f"executive@{tid}")]  # the request's one record


async def test_policy_get_validate_replace_history_rollback(make_client: Any, token_for: Any,
                                                            new_tenant_id: Any, db: Database) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    h = bearer(token_for(tid, "admin", subject="ada"))
    current = (await client.get("/api/admin/policy", headers=h)).json()
    assert current["version"] == 0 and set(current["document"]["roles"]) == {
        "executive", "manager", "agent", "admin", "auditor"}
    bad = {"roles": {"agent": {"metrics": ["*"], "row_scope": "galaxy"}}}
    r = await client.post("/api/admin/policy/validate", json={"document": bad}, headers=h)
    assert r.status_code == 200 and r.json() == {"valid": False, "errors": [
        {"pointer": "/roles/agent", "reason": "'sensitivities' is a required property"},
        {"pointer": "/roles/agent/row_scope", "reason": "'galaxy' is not one of ['tenant', 'team', 'self']"}]}
    r = await client.put("/api/admin/policy", json={"document": bad}, headers=h)
    assert r.status_code == 422 and len(r.json()["errors"]) == 2 and "2 error(s)" in r.json()["message"]
    doc = current["document"]
    doc["roles"]["executive"]["export"] = False
    r = await client.put("/api/admin/policy", json={"document": doc, "comment": "no exports"}, headers=h)
    assert r.status_code == 200 and (r.json()["version"], r.json()["changed_by"]) == (1, "ada")
    r = await client.post("/api/admin/policy/rollback", json={"version": 0}, headers=h)
    assert r.json()["version"] == 2 and r.json()["document"]["roles"]["executive"]["export"] is True
    history = (await client.get("/api/admin/policy/history", headers=h)).json()
    assert [(v["version"], v["comment"]) for v in history] == [(2, "rollback to version 0"), (1, "no exports")]
    assert [a for a, _, _ in await actions(db, tid) if a == "policy.change"] == ["policy.change"] * 2


async def test_service_keys_created_once_listed_used_and_revoked(make_client: Any, token_for: Any,
                                                                 new_tenant_id: Any, db: Database) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    h = bearer(token_for(tid, "admin"))
    r = await client.post("/api/admin/keys", json={"kind": "service", "name": "alerting", "role": "auditor"},
                          headers=h)
    assert r.status_code == 201
    created = r.json()
    assert created["secret"].startswith("smk_") and created["status"] == "active"
    listed = (await client.get("/api/admin/keys", headers=h)).json()
    assert [k["key_id"] for k in listed] == [created["key_id"]] and "secret" not in listed[0]
    assert created["secret"] not in json.dumps(await actions(db, tid))
    r = await client.get("/api/audit/events", headers=bearer(created["secret"]))
    assert r.status_code == 200
    r = await client.delete(f"/api/admin/keys/{created['key_id']}", headers=h)
    assert r.json()["status"] == "revoked"
    r = await client.get("/api/audit/events", headers=bearer(created["secret"]))
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    r = await client.post("/api/admin/keys", json={"kind": "service", "name": "x"}, headers=h)
    assert r.status_code == 422 and "bound to one role" in r.json()["message"]
    r = await client.delete("/api/admin/keys/ffffffffffffffff", headers=h)
    assert r.status_code == 404


async def test_identity_settings_are_validated_stored_and_used_at_once(make_client: Any, token_for: Any,
                                                                       new_tenant_id: Any, idp: Any) -> None:
    tid = new_tenant_id("api")
    provider = idp()
    client = await make_client(TenantConfig(id=tid, name="T"))
    h = bearer(token_for(tid, "admin"))
    r = await client.put("/api/admin/identity", json={"issuer": provider.issuer, "audiences": []}, headers=h)
    assert r.status_code == 422 and "/audiences" in r.json()["message"]
    config = provider.tenant(tid).identity
    r = await client.put("/api/admin/identity", json=config, headers=h)
    assert r.status_code == 200 and r.json()["issuer"] == provider.issuer
    assert (await client.get("/api/admin/identity", headers=h)).json()["role_map"]["sm-auditor"] == "auditor"
    sso = provider.sign({"groups": ["sm-auditor"]})
    assert (await client.get("/api/audit/events", headers=bearer(sso))).status_code == 200


async def test_audit_events_filter_paginate_and_export(make_client: Any, token_for: Any, new_tenant_id: Any,
                                                       db: Database) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    auditor = bearer(token_for(tid, "auditor", subject="aud"))
    # what is there before: nothing; each call below adds its one record (audit.read), written before it reads
    r = await client.get("/api/audit/events", params={"limit": 1, "action": "audit.read"}, headers=auditor)
    page = r.json()
    assert [e["seq"] for e in page["events"]] == [1] and page["next_before_seq"] is None
    r = await client.get("/api/audit/events", params={"limit": 2}, headers=auditor)
    page = r.json()  # rows 1 and 2: the first row has nothing before it
    assert [e["seq"] for e in page["events"]] == [2, 1] and page["next_before_seq"] is None
    r = await client.get("/api/audit/events", params={"limit": 2, "outcome": "success"}, headers=auditor)
    page = r.json()  # rows 1, 2, 3 → newest first, two of them
    assert [(e["seq"], e["action"]) for e in page["events"]] == [(3, "audit.read"), (2, "audit.read")]
    assert page["next_before_seq"] == 2
    r = await client.get("/api/audit/events", params={"limit": 2, "before_seq": 2}, headers=auditor)
    assert [e["seq"] for e in r.json()["events"]] == [1]
    r = await client.get("/api/audit/export", params={"format": "csv", "action": "audit.read"}, headers=auditor)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["seq"] for row in table] == ["1", "2", "3", "4"] and {row["subject"] for row in table} == {"aud"}
    r = await client.get("/api/audit/export", params={"format": "ndjson"}, headers=auditor)
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines[-1]["action"] == "export" and [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    manager = bearer(token_for(tid, "manager"))
    r = await client.get("/api/audit/events", headers=manager)
    assert r.status_code == 403 and "may not read the audit log" in r.json()["message"]


async def test_export_follows_the_policy_export_flag(make_client: Any, token_for: Any, new_tenant_id: Any) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    admin = bearer(token_for(tid, "admin"))
    doc = (await client.get("/api/admin/policy", headers=admin)).json()["document"]
    doc["roles"]["auditor"]["export"] = False
    assert (await client.put("/api/admin/policy", json={"document": doc}, headers=admin)).status_code == 200
    r = await client.get("/api/audit/export", headers=bearer(token_for(tid, "auditor")))
    assert r.status_code == 403 and "may not export" in r.json()["message"]


async def test_audit_write_failure_blocks_the_request_with_503(make_client: Any, token_for: Any,
                                                               new_tenant_id: Any, db: Database,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    monkeypatch.setattr(audit, "LOCK_TIMEOUT", "100ms")
    async with db.system() as holder, holder.transaction():
        await holder.execute("LOCK TABLE audit_log IN EXCLUSIVE MODE")
        r = await client.get("/api/audit/events", headers=bearer(token_for(tid, "auditor")))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "not served" in r.json()["message"] and "events" not in r.json()
    assert await actions(db, tid) == []


async def test_bad_inputs_are_problems_that_say_what_to_fix(make_client: Any, token_for: Any,
                                                            new_tenant_id: Any) -> None:
    tid = new_tenant_id("api")
    client = await make_client(TenantConfig(id=tid, name="T"))
    admin = bearer(token_for(tid, "admin"))
    for method, url, kwargs, where in [
        ("GET", "/api/audit/events", {"params": {"since": "yesterday"}}, "/since"),
        ("GET", "/api/audit/events", {"params": {"limit": 5000}}, "/limit"),
        ("GET", "/api/audit/export", {"params": {"format": "xlsx"}}, "/format"),
        ("POST", "/api/admin/policy/rollback", {"json": {"version": -1}}, "/version"),
        ("PUT", "/api/admin/policy", {"json": ["not", "an", "object"]}, "/"),
        ("POST", "/api/admin/keys", {"json": {"kind": "root", "name": "x"}}, "/kind"),
        ("GET", "/api/audit/events", {"params": {"subject": "a\x00b"}}, "/subject"),
        ("GET", "/api/audit/events", {"params": {"action": "\x00"}}, "/action"),
        ("GET", "/api/audit/export", {"params": {"before_seq": 10**30}}, "/before_seq"),
        ("DELETE", "/api/admin/keys/%00", {}, "/key_id"),
        ("POST", "/api/admin/keys", {"json": {"kind": "service", "name": "a\x00", "role": "agent"}}, "NUL character"),
        ("PUT", "/api/admin/policy", {"json": {"document": {"roles": {}}, "comment": "\x00"}}, "NUL character"),
        ("PUT", "/api/admin/identity", {"json": {"issuer": "\x00", "audiences": ["a"]}}, "NUL character"),
        ("GET", "/api/audit/events", {"params": {"since": "0001-01-01T00:00:00+01:00"}}, "years 1 to 9999"),
        ("GET", "/api/audit/export", {"params": {"until": "9999-12-31T23:59:59-01:00"}}, "until="),
        ("POST", "/api/admin/keys",
         {"json": {"kind": "ingest", "name": "n", "expires_at": "0001-01-01T00:00:00+01:00"}}, "years 1 and 9999"),
    ]:
        r = await client.request(method, url, headers=admin, **kwargs)
        assert r.status_code == 422, (url, r.text)
        assert r.headers["content-type"] == "application/problem+json" and where in r.json()["message"]
    r = await client.post("/api/admin/policy/rollback", json={"version": 7}, headers=admin)
    assert r.status_code == 422 and "has no policy version 7" in r.json()["message"]


async def test_an_auditor_reads_only_their_own_tenants_log(make_client: Any, token_for: Any,
                                                           new_tenant_id: Any) -> None:
    mine, theirs = new_tenant_id("api"), new_tenant_id("api")
    client = await make_client(TenantConfig(id=mine, name="Mine"), TenantConfig(id=theirs, name="Theirs"))
    await client.get("/api/audit/events", headers=bearer(token_for(theirs, "auditor", subject="spy-target")))
    r = await client.get("/api/audit/events", headers=bearer(token_for(mine, "auditor", subject="me")))
    assert {e["tenant_id"] for e in r.json()["events"]} == {mine}
    assert "spy-target" not in r.text
    r = await client.get("/api/audit/events", params={"subject": "spy-target"},
                         headers=bearer(token_for(mine, "auditor")))
    assert r.json()["events"] == []


async def test_a_valid_sso_token_without_a_role_is_403_and_audited(make_client: Any, idp: Any, new_tenant_id: Any,
                                                                   db: Database) -> None:
    tid = new_tenant_id("api")
    provider = idp()
    client = await make_client(provider.tenant(tid))
    r = await client.get("/api/audit/events", headers=bearer(provider.sign({"groups": ["staff"]}, sub="carol")))
    assert r.status_code == 403 and r.json()["title"] == "No role"
    assert "none of your groups (staff) maps to a role" in r.json()["message"]
    async with db.system() as conn:
        row = await conn.fetchrow("SELECT action, outcome, status, subject FROM audit_log WHERE tenant_id = $1", tid)
    assert dict(row) == {"action": "auth.failure", "outcome": "denied", "status": 403, "subject": "carol"}
