"""Grafana's "Save & test" (GET /) tests the data source's credentials: who they resolve to, or what is missing.
Each test is audited like any other request."""

from __future__ import annotations

from typing import Any

import httpx

from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource.test_audit_edge import bearer, records


async def test_without_credentials_it_says_what_to_configure_and_is_audited(
        make_client: Any, db: Database) -> None:
    client = await make_client()
    got = await client.get("/")
    assert got.status_code == 401
    assert got.headers["content-type"].startswith("application/problem+json")
    message = got.json()["message"]  # what Grafana shows
    assert "Forward OAuth Identity" in message and "service key" in message
    [rec] = await records(db, got)
    assert (rec["action"], rec["status"], rec["resource"]["route"]) == ("auth.failure", 401, "GET /")


async def test_a_garbage_token_is_refused_with_the_reason(make_client: Any, db: Database) -> None:
    client = await make_client()
    got = await client.get("/", headers=bearer("not-a-token"))
    assert got.status_code == 401
    assert got.json()["message"] and "Forward OAuth Identity" not in got.json()["message"]
    [rec] = await records(db, got)
    assert rec["action"] == "auth.failure"


async def test_a_token_answers_with_its_tenant_and_role(make_client: Any, new_tenant_id: Any, token_for: Any,
                                                        db: Database) -> None:
    tid = new_tenant_id("save")
    client = await make_client(TenantConfig(id=tid, name="Save"))
    got = await client.get("/", headers=bearer(token_for(tid, "manager", subject="maria")))
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["tenant"], body["role"], body["subject"]) == (tid, "manager", "maria")
    assert tid in body["message"] and "manager" in body["message"]
    [rec] = await records(db, got)
    assert (rec["tenant_id"], rec["action"], rec["status"], rec["subject"], rec["role"]) == (
        tid, "request", 200, "maria", "manager")
    assert rec["resource"] == {"route": "GET /", "authentication": "ok"}


async def test_a_service_key_answers_with_the_role_it_is_bound_to(make_client: Any, new_tenant_id: Any,
                                                                  token_for: Any) -> None:
    tid = new_tenant_id("save")
    client = await make_client(TenantConfig(id=tid, name="Save"))
    made = await client.post("/api/admin/keys", json={"kind": "service", "name": "infinity", "role": "auditor"},
                             headers=bearer(token_for(tid, "admin")))
    assert made.status_code == 201, made.text
    got = await client.get("/", headers=bearer(made.json()["secret"]))
    assert got.status_code == 200, got.text
    assert (got.json()["tenant"], got.json()["role"], got.json()["auth_method"]) == (tid, "auditor", "service_key")


async def test_a_token_for_another_audience_fails_at_save_not_on_every_panel(
        make_client: Any, new_tenant_id: Any, idp: Any) -> None:
    provider = idp()
    tid = new_tenant_id("aud")
    client: httpx.AsyncClient = await make_client(provider.tenant(tid))
    wrong = provider.sign({"groups": ["sm-executive"]}, aud="some-other-app")
    got = await client.get("/", headers=bearer(wrong))
    assert got.status_code == 401
    assert "aud" in got.json()["message"].lower()
