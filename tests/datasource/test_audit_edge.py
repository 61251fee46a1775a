"""Every request leaves exactly one audit record (audit_edge.py), whatever refuses it first, naming how
authentication went; failed authentication and ingest are rate limited (ratelimit.py), with an injected clock."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from success_metrics.guard.ratelimit import Buckets, Limiter
from success_metrics.server.services import Services
from success_metrics.settings import Limits, TenantConfig
from success_metrics.storage.pool import Database
from success_metrics.rbac import audit, keys

RANGE = {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def records(db: Database, response: httpx.Response) -> list[dict[str, Any]]:
    """The audit rows of one request, found by the request id the response carries."""
    async with db.system() as conn:
        rows = await conn.fetch("SELECT tenant_id, action, outcome, status, subject, role, auth_method, resource, "
                                "reason FROM audit_log WHERE request_id = $1", response.headers["x-request-id"])
    return [{**dict(r), "resource": json.loads(r["resource"]) if isinstance(r["resource"], str) else r["resource"]}
            for r in rows]


def services(client: httpx.AsyncClient) -> Services:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    found: Services = transport.app.state.services  # type: ignore[attr-defined]
    return found


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def tenant(make_client: Any, new_tenant_id: Any) -> tuple[httpx.AsyncClient, str]:
    tid = new_tenant_id("edge")
    return await make_client(TenantConfig(id=tid, name="Edge"), limits=Limits(max_body_bytes=2048)), tid


# --- item 2: one record per request --------------------------------------------------------------------------

async def test_an_unauthenticated_bad_body_leaves_one_record(tenant: tuple[httpx.AsyncClient, str],
                                                             db: Database) -> None:
    client, _ = tenant
    r = await client.post("/query", json={"range": "yesterday", "targets": 3})
    assert r.status_code == 422
    [rec] = await records(db, r)
    assert (rec["tenant_id"], rec["action"], rec["outcome"], rec["status"]) == (audit.UNATTRIBUTED, "request",
                                                                                "denied", 422)
    assert rec["resource"] == {"route": "POST /query", "authentication": "none"}
    assert rec["reason"].startswith("The request body does not fit: /range")


async def test_an_authenticated_bad_body_leaves_one_record_naming_the_caller(
        tenant: tuple[httpx.AsyncClient, str], db: Database, token_for: Any) -> None:
    client, tid = tenant
    r = await client.post("/query", json={"range": "yesterday"}, headers=bearer(token_for(tid, "executive")))
    assert r.status_code == 422
    [rec] = await records(db, r)
    assert (rec["tenant_id"], rec["action"], rec["status"], rec["subject"], rec["role"]) == (
        tid, "request", 422, f"executive@{tid}", "executive")
    assert rec["resource"]["authentication"] == "ok"


async def test_a_bad_token_with_a_bad_body_is_an_auth_failure_of_the_tenant_it_named(
        tenant: tuple[httpx.AsyncClient, str], db: Database, token_for: Any) -> None:
    client, tid = tenant
    expired = token_for(tid, "executive", ttl=timedelta(seconds=-120))
    r = await client.post("/query", content=b"{not json", headers={**bearer(expired),
                                                                   "Content-Type": "application/json"})
    assert r.status_code == 422
    [rec] = await records(db, r)
    assert (rec["tenant_id"], rec["action"], rec["status"]) == (tid, "auth.failure", 422)
    assert rec["resource"]["authentication"] == "failed: the token has expired; sign in again"


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/query", b'{"targets": [' + b"1," * 2000 + b"1]}", 413),   # over limits.max_body_bytes
    ("GET", "/no/such/route", None, 404),
    ("DELETE", "/query", None, 405),
    ("POST", "/search", b"[", 422),  # malformed JSON
])
async def test_each_early_refusal_leaves_one_record(tenant: tuple[httpx.AsyncClient, str], db: Database,
                                                    token_for: Any, method: str, path: str, body: bytes | None,
                                                    status: int) -> None:
    client, tid = tenant
    for headers in ({}, bearer(token_for(tid, "agent"))):
        r = await client.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == status, r.text
        [rec] = await records(db, r)
        assert rec["status"] == status and rec["tenant_id"] == (tid if headers else audit.UNATTRIBUTED)


async def test_normal_requests_leave_one_record_and_probes_none(tenant: tuple[httpx.AsyncClient, str],
                                                                db: Database, token_for: Any) -> None:
    client, tid = tenant
    r = await client.post("/query", json={"range": RANGE, "targets": []}, headers=bearer(token_for(tid, "executive")))
    assert r.status_code == 200, r.text
    assert [(x["action"], x["status"]) for x in await records(db, r)] == [("query", 200)]
    r = await client.post("/query", json={"range": RANGE, "targets": []})  # no credentials: the pipeline's record
    assert r.status_code == 401
    assert [(x["action"], x["status"]) for x in await records(db, r)] == [("auth.failure", 401)]
    r = await client.get("/api/admin/policy", headers=bearer(token_for(tid, "admin")))
    assert r.status_code == 200  # a route that records nothing itself: the edge's record names the caller
    assert [(x["action"], x["subject"], x["resource"]["authentication"]) for x in await records(db, r)] == [
        ("request", f"admin@{tid}", "ok")]
    for probe in ("/healthz", "/openapi.json", "/api/ingest/schemas"):
        r = await client.get(probe)
        assert r.status_code == 200 and await records(db, r) == []


async def test_ingest_requests_are_recorded_once_under_the_key_tenant(tenant: tuple[httpx.AsyncClient, str],
                                                                      db: Database) -> None:
    client, tid = tenant
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, "ingest", "engine")
    r = await client.post("/api/ingest/events", json=[], headers=bearer(secret))
    assert r.status_code == 200, r.text
    [rec] = await records(db, r)
    assert (rec["tenant_id"], rec["action"], rec["subject"], rec["auth_method"]) == (
        tid, "ingest", f"ingest-key:{info.key_id}", "ingest_key")
    r = await client.post("/api/ingest/events", json=[], headers=bearer("smk_0123456789abcdef_nope"))
    assert r.status_code == 401
    [rec] = await records(db, r)
    assert (rec["tenant_id"], rec["action"], rec["status"]) == (audit.UNATTRIBUTED, "auth.failure", 401)


async def test_a_refusal_whose_record_cannot_be_written_is_answered_503(tenant: tuple[httpx.AsyncClient, str],
                                                                        db: Database) -> None:
    client, _ = tenant
    async with db.system() as conn:
        await conn.execute("REVOKE INSERT ON audit_log FROM sm_app")
    try:
        r = await client.post("/query", json={"range": "yesterday"})
    finally:
        async with db.system() as conn:
            await conn.execute("GRANT INSERT ON audit_log TO sm_app")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.headers["content-type"] == "application/problem+json" and "audit log" in r.json()["message"]


# --- item 4: rate limits ---------------------------------------------------------------------------------------

def test_a_bucket_refills_at_its_rate_and_forgets_beyond_its_size() -> None:
    clock = Clock()
    buckets = Buckets(3, clock=clock, max_keys=2)
    assert [buckets.take("a") for _ in range(3)] == [None, None, None]
    assert buckets.take("a") == pytest.approx(20.0)  # 3 a minute: one back every 20 s
    clock.now += 19.0
    assert buckets.wait("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("a") is None and buckets.take("a") == pytest.approx(20.0)
    buckets.take("b")
    buckets.take("c")
    assert len(buckets._buckets) == 2  # bounded: the least recently used key went


def limited_client(client: httpx.AsyncClient, clock: Clock, **limits: int) -> None:
    svc = services(client)
    svc.limiter = Limiter(svc.settings.limits.model_copy(update=limits), clock=clock)


async def test_failed_authentication_per_address_is_limited_then_refused_before_checking(
        tenant: tuple[httpx.AsyncClient, str], db: Database, token_for: Any) -> None:
    client, tid = tenant
    clock = Clock()
    limited_client(client, clock, auth_failures_per_address=3)
    bad = bearer("eyJhbGciOiJub25lIn0.e30.")
    colleague = bearer(token_for(tid, "agent", subject="colleague"))  # another user behind the same Grafana
    assert (await client.post("/query", json={"range": RANGE, "targets": []}, headers=colleague)).status_code == 200
    for _ in range(3):
        assert (await client.post("/query", json={"range": RANGE, "targets": []}, headers=bad)).status_code == 401
    r = await client.post("/query", json={"range": RANGE, "targets": []}, headers=bad)
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "20" and "limits.auth_failures_per_address" in r.json()["message"]
    assert [(x["action"], x["status"]) for x in await records(db, r)] == [("auth.limited", 429)]
    good = bearer(token_for(tid, "executive"))
    r = await client.post("/query", json={"range": RANGE, "targets": []}, headers=good)  # refused before checking
    assert r.status_code == 429 and r.headers["retry-after"] == "20"
    [rec] = await records(db, r)
    assert (rec["tenant_id"], rec["action"], rec["resource"]["authentication"]) == (
        audit.UNATTRIBUTED, "auth.limited", "not checked")
    # a token verified before the address was locked keeps working: one user's bad token locks out no one else
    assert (await client.post("/query", json={"range": RANGE, "targets": []}, headers=colleague)).status_code == 200
    clock.now += 20.0
    assert (await client.post("/query", json={"range": RANGE, "targets": []}, headers=good)).status_code == 200


async def test_failed_authentication_per_tenant_is_limited_but_never_locks_out_valid_users(
        tenant: tuple[httpx.AsyncClient, str], db: Database, token_for: Any) -> None:
    client, tid = tenant
    limited_client(client, Clock(), auth_failures_per_tenant=2)
    expired = bearer(token_for(tid, "executive", ttl=timedelta(seconds=-120)))
    statuses = [(await client.get("/api/admin/policy", headers=expired)).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    r = await client.get("/api/admin/policy", headers=expired)
    assert r.status_code == 429 and r.headers["retry-after"] == "30"
    [rec] = await records(db, r)
    assert (rec["tenant_id"], rec["action"]) == (tid, "auth.limited")
    assert (await client.get("/api/admin/policy", headers=bearer(token_for(tid, "admin")))).status_code == 200


async def test_ingest_requests_per_tenant_are_limited(tenant: tuple[httpx.AsyncClient, str], db: Database) -> None:
    client, tid = tenant
    clock = Clock()
    limited_client(client, clock, ingest_requests_per_tenant=2)
    async with db.tenant(tid) as conn:
        _, secret = await keys.create_key(conn, tid, "ingest", "engine")
    statuses = [(await client.post("/api/ingest/events", json=[], headers=bearer(secret))).status_code
                for _ in range(2)]
    r = await client.post("/api/ingest/events", json=[], headers=bearer(secret))
    assert statuses == [200, 200] and r.status_code == 429 and r.headers["retry-after"] == "30"
    assert "limits.ingest_requests_per_tenant" in r.json()["message"]
    assert [(x["tenant_id"], x["action"], x["status"]) for x in await records(db, r)] == [(tid, "ingest", 429)]
    clock.now += 30.0
    assert (await client.post("/api/ingest/events", json=[], headers=bearer(secret))).status_code == 200
