"""Tenants from SM_CONFIG are written to the ``tenants`` table at start; the table is what computes read."""

from __future__ import annotations

import asyncpg

from success_metrics.calculators import TenantSettings
from success_metrics.settings import TenantConfig


async def upsert(conn: asyncpg.Connection, tenant: TenantConfig) -> bool:
    """Write the tenant's row; whether it was new or changed."""
    status: str = await conn.execute(
        """INSERT INTO tenants (tenant_id, name, settings) VALUES ($1, $2, $3)
           ON CONFLICT (tenant_id) DO UPDATE SET name = EXCLUDED.name, settings = EXCLUDED.settings,
               updated_at = now()
           WHERE tenants.name IS DISTINCT FROM EXCLUDED.name OR tenants.settings IS DISTINCT FROM EXCLUDED.settings""",
        tenant.id, tenant.name, tenant.settings.model_dump(mode="json"),
    )
    return status.endswith(" 1")


async def load_settings(conn: asyncpg.Connection, tenant_id: str) -> TenantSettings:
    """The tenant's settings as stored; defaults where the tenant has none yet."""
    raw = await conn.fetchval("SELECT settings FROM tenants WHERE tenant_id = $1", tenant_id)
    return TenantSettings.model_validate(raw or {})
