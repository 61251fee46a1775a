"""GET /api/branding: the caller's tenant branding, so a partner's Grafana (or portal) can theme itself.

The tenant comes from the caller's credentials only; there is no tenant parameter to get wrong.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from success_metrics.storage import tenants
from success_metrics.server.deps import PrincipalDep, ServicesDep

router = APIRouter(prefix="/api", tags=["branding"])


class BrandingOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    tenant: str = Field(examples=["acme"])
    name: str = Field(description="Product name shown in dashboard titles", examples=["Acme Insights"])
    logo_url: str | None = Field(None, examples=["https://acme.example/logo.svg"])
    primary_color: str = Field(examples=["#1f60c4"])
    secondary_color: str = Field(examples=["#73bf69"])
    custom_domain: str | None = Field(None, examples=["insights.acme.example"])


@router.get("/branding", response_model=BrandingOut, summary="The caller's tenant branding")
async def get_branding(who: PrincipalDep, services: ServicesDep) -> BrandingOut:
    async with services.db.tenant(who.tenant_id) as conn:
        settings = await tenants.load_settings(conn, who.tenant_id)
    b = settings.branding
    return BrandingOut(tenant=who.tenant_id, name=b.name, logo_url=b.logo_url, primary_color=b.primary_color,
                       secondary_color=b.secondary_color, custom_domain=b.custom_domain)
