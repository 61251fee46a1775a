"""/openapi.json tells the truth about the Grafana routes: a bounded schemathesis run over each of them finds no
5xx and no answer that breaks the route's own declared schema (status, content type, body)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from datasource.settings import TenantConfig
from tests.datasource import seed

GRAFANA_ROUTES = ("/query", "/annotations", "/search", "/metrics", "/metric-payload-options", "/variable",
                  "/tag-keys", "/tag-values")
EXAMPLES = 15  # per route: 8 routes × 15 requests keep the run to a few seconds


@pytest.fixture
async def client(make_client: Callable[..., Awaitable[httpx.AsyncClient]], db: Any,
                 new_tenant_id: Callable[[str], str]) -> tuple[httpx.AsyncClient, str]:
    tid = new_tenant_id("fuzz")
    await seed.load(db, tid)
    return await make_client(TenantConfig(id=tid, name="Fuzz")), tid


async def test_openapi_declares_every_grafana_route_with_models(client: tuple[httpx.AsyncClient, str]) -> None:
    spec = (await client[0].get("/openapi.json")).json()
    for path in GRAFANA_ROUTES:
        post = spec["paths"][path]["post"]
        assert "requestBody" in post or path == "/tag-keys", path
        ok = post["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok, f"{path} has no declared response schema"
        assert {"400", "401", "403", "404", "413", "503"} <= set(post["responses"]), path
    docs = await client[0].get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_schemathesis_finds_no_server_error_and_no_schema_break(client: tuple[httpx.AsyncClient, str],
                                                                      token_for: Any) -> None:
    http, tenant = client
    spec = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {token_for(tenant, 'executive')}"}
    loop = asyncio.get_running_loop()
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]

    def run(path: str) -> None:
        operation = schema[path]["POST"]

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def one(case: Any) -> None:
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
            call = http.request(kwargs.pop("method"), kwargs.pop("url"), **{
                k: v for k, v in kwargs.items() if k in ("headers", "json", "content", "params", "cookies")})
            response = asyncio.run_coroutine_threadsafe(call, loop).result(timeout=60)
            case.validate_response(response, checks=checks)

        one()

    for path in GRAFANA_ROUTES:
        await asyncio.to_thread(run, path)
