"""/docs works offline — every file it loads is served by the service itself — with an Authorize button, and the
admin routes' request examples are real: each one, sent as /docs shows it, is accepted."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from success_metrics.settings import TenantConfig

ADMIN_BODIES = {  # route → the path /docs would fill in for each example
    ("put", "/api/admin/alert-channels/{channel_id}"): "/api/admin/alert-channels/{name}",
    ("put", "/api/admin/report-schedules/{kind}"): "/api/admin/report-schedules/weekly",
    ("put", "/api/admin/alert-rules/{rule_id}"): "/api/admin/alert-rules/{id}",
    ("put", "/api/admin/identity"): "/api/admin/identity",
    ("post", "/api/admin/keys"): "/api/admin/keys",
}


async def test_docs_load_nothing_from_elsewhere(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    client = await make_client()
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets and all(a.startswith("/") for a in assets), (page, assets)  # no CDN, no other host
        for asset in assets:
            got = await client.get(asset)
            assert got.status_code == 200 and len(got.content) > 1000, asset
    assert "persistAuthorization" in (await client.get("/docs")).text
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"  # the Authorize button


async def test_every_admin_example_is_accepted_as_shown(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], new_tenant_id: Callable[[str], str],
        token_for: Callable[..., str]) -> None:
    tid = new_tenant_id("docs")
    client = await make_client(TenantConfig(id=tid, name="Docs"))
    admin = {"Authorization": f"Bearer {token_for(tid, 'admin')}"}
    spec = (await client.get("/openapi.json")).json()
    sent = 0
    for (method, route), path in ADMIN_BODIES.items():
        body: dict[str, Any] = spec["paths"][route][method]["requestBody"]["content"]["application/json"]
        examples = [e["value"] for e in body.get("examples", {}).values()]
        if not examples:  # a pydantic model's examples are in its schema
            ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
            examples = spec["components"]["schemas"][ref]["examples"]
        assert examples, route
        for i, example in enumerate(examples):
            url = path.format(name=f"example-{i}", id=example.get("id"))
            got = await client.request(method.upper(), url, json=example, headers=admin)
            if route == "/api/admin/identity":  # needs the provider's discovery to answer: valid means not 422
                assert got.status_code != 422, got.text
            else:
                assert got.status_code in (200, 201), (route, example, got.text)
            sent += 1
    assert sent >= 9
