"""/openapi.json tells the truth: a bounded schemathesis run with every check, over every route, with and without
credentials, against the real service on a real socket, finds no 5xx, no undocumented status or content type and
no answer that breaks the route's declared schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS, load_all_checks

from success_metrics.storage import tenants as tenant_store
from success_metrics.settings import Limits, Settings, TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource import seed
from tests.datasource.live_server import serving

GRAFANA_ROUTES = ("/query", "/annotations", "/search", "/metrics", "/metric-payload-options", "/variable",
                  "/tag-keys", "/tag-values")
# bodies that are documents checked against their own JSON Schema (policy, identity, alert rules...) or against the
# present (a key's expiry): schema-valid as OpenAPI states them, and still 422 when they do not validate
DOCUMENTS = {"PUT /api/admin/policy", "POST /api/admin/policy/rollback", "PUT /api/admin/identity",
             "POST /api/admin/keys", "PUT /api/admin/alert-rules/{rule_id}",
             "PUT /api/admin/alert-channels/{channel_id}", "PUT /api/admin/report-schedules/{kind}"}
EXAMPLES = 3  # per route and credential: ~35 routes × 2 × 3 requests (plus the checks' own), about 20 s


@pytest.fixture
async def live(db: Database, base_settings: Settings, new_tenant_id: Callable[[str], str]
               ) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
    tid = new_tenant_id("fuzz")
    await seed.load(db, tid)
    tenant = TenantConfig(id=tid, name="Fuzz")
    async with db.system() as conn:
        await tenant_store.upsert(conn, tenant)
    # the run without credentials fails authentication hundreds of times from one address: limits out of its way
    limits = Limits(auth_failures_per_address=1_000_000, auth_failures_per_tenant=1_000_000)
    async with serving(base_settings.model_copy(update={"tenants": (tenant,), "limits": limits}), db) as (app, port):
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            spec = (await client.get("/openapi.json")).json()
        yield base, tid, spec


async def test_openapi_declares_the_edge_answers_and_a_bearer_scheme(make_client: Any) -> None:
    client = await make_client()
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"] == {**spec["components"]["securitySchemes"]["bearer"],
                                                               "type": "http", "scheme": "bearer"}
    for path in GRAFANA_ROUTES:
        post = spec["paths"][path]["post"]
        assert "requestBody" in post or path == "/tag-keys", path
        assert post["responses"]["200"]["content"]["application/json"]["schema"], path
        assert {"400", "401", "403", "404", "408", "413", "422", "429", "503"} <= set(post["responses"]), path
        assert post["security"] == [{"bearer": []}, {"idToken": []}]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if int(status) >= 400 and (path, status) != ("/readyz", "503"):
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
    assert "security" not in spec["paths"]["/healthz"]["get"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_schemathesis_with_every_check_over_every_route(live: tuple[str, str, dict[str, Any]],
                                                              token_for: Any) -> None:
    base, tenant, spec = live
    schema = schemathesis.openapi.from_dict(spec)
    # a schema-valid request may still ask what cannot be answered (an empty range, an unknown metric): the routes
    # answer 400 with what to change, which they document
    accepted = schema.config.checks.positive_data_acceptance
    answerable = ["2xx", "400", "401", "403", "404", "409", "429"]
    load_all_checks()
    checks = list(CHECKS.get_all())
    failures: list[str] = []

    def run(operation: Any, headers: dict[str, str]) -> None:
        accepted.expected_statuses = [*answerable, *(["422"] if operation.label in DOCUMENTS else [])]

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def one(case: Any) -> None:
            case.call_and_validate(base_url=base, headers=headers, checks=checks, timeout=60)

        try:
            one()
        except (Exception, BaseExceptionGroup) as exc:  # collected: one report of every route that fails
            failures.append(f"{operation.label} {'with' if headers else 'without'} credentials: {exc}")

    admin = {"Authorization": f"Bearer {token_for(tenant, 'admin')}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for headers in (admin, {}):
            await asyncio.to_thread(run, operation, headers)
    assert not failures, "\n\n".join(failures)
