"""GET /api/branding: each caller gets their own tenant's branding, and only with valid credentials."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from success_metrics.calculators import TenantSettings
from success_metrics.calculators.tenant_settings import Branding
from success_metrics.settings import TenantConfig

Client = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_each_tenant_sees_its_own_branding(
    make_client: Client, new_tenant_id: Callable[[str], str], token_for: Callable[..., str]
) -> None:
    def bearer(tenant: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(tenant, role)}"}

    acme, globex = new_tenant_id("acme"), new_tenant_id("globex")
    client = await make_client(
        TenantConfig(id=acme, name="Acme", settings=TenantSettings(branding=Branding(
            name="Acme Insights", logo_url="https://acme.example/logo.svg", primary_color="#aa0000",
            secondary_color="#00aa00", custom_domain="insights.acme.example"))),
        TenantConfig(id=globex, name="Globex"),
    )
    got = await client.get("/api/branding", headers=bearer(acme, "agent"))
    assert got.status_code == 200, got.text
    assert got.json() == {"tenant": acme, "name": "Acme Insights", "logo_url": "https://acme.example/logo.svg",
                          "primary_color": "#aa0000", "secondary_color": "#00aa00",
                          "custom_domain": "insights.acme.example"}
    other = await client.get("/api/branding", headers=bearer(globex, "auditor"))
    assert other.status_code == 200, other.text
    # a tenant without branding gets the product defaults, never another tenant's
    assert other.json() == {"tenant": globex, "name": "Success Metrics", "logo_url": None,
                            "primary_color": "#1f60c4", "secondary_color": "#73bf69", "custom_domain": None}


async def test_branding_needs_valid_credentials(make_client: Client, new_tenant_id: Callable[[str], str]) -> None:
    tid = new_tenant_id("brand")
    client = await make_client(TenantConfig(id=tid, name="T"))
    missing = await client.get("/api/branding")
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["message"]
    forged = await client.get("/api/branding", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert "Success Metrics" not in forged.text
