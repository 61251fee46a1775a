"""The service side of identity and audit: the Identifier built from settings, identity settings changed
through the admin API, the per-request identify step (every success and failure audited: they feed
``security.auth_events``), audit writes on the right connection, and the periodic audit checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any, NoReturn

import httpx
from fastapi import Request

from datasource.settings import ConfigError, Settings
from datasource.storage.pool import Database
from rbac import audit, audit_verify
from rbac.identity import Credentials, Identifier, parse_providers
from rbac.identity_config import IdentityProviderConfig
from rbac.errors import Forbidden, NoRole, Unauthenticated
from rbac.principal import Principal

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S = 60.0


def build_identifier(settings: Settings, http: httpx.AsyncClient) -> Identifier:
    try:
        providers = parse_providers({t.id: t.identity for t in settings.tenants})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Identifier(providers, http, dev_data_dir=settings.data_dir if settings.dev_issuer_enabled else None,
                      dev_issuer=settings.dev_issuer, dev_audience=settings.dev_audience)


async def load_overrides(db: Database, identifier: Identifier) -> None:
    """Identity settings saved through the admin API win over SM_CONFIG's."""
    async with db.system() as conn:
        rows = await conn.fetch("""SELECT DISTINCT ON (tenant_id) tenant_id, config FROM identity_settings
                                   ORDER BY tenant_id, version DESC""")
    for row in rows:
        identifier.replace(row["tenant_id"], IdentityProviderConfig.model_validate(row["config"]) if row["config"]
                           else None)


def checkpoint_path(settings: Settings) -> Path:
    return settings.data_dir / "audit" / audit_verify.CHECKPOINT_FILE


async def checkpoint_loop(db: Database, settings: Settings, secret: bytes) -> None:
    """Every minute, and once more on shutdown, sign each audit chain's head into a file under data_dir."""
    key = audit_verify.checkpoint_key(secret)

    async def once() -> None:
        try:
            async with db.system() as conn:
                await audit_verify.checkpoint(conn, checkpoint_path(settings), key)
        except Exception:  # the loop must outlive one failed round; the next round retries
            log.exception("audit checkpoint failed")

    try:
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL_S)
            await once()
    except asyncio.CancelledError:
        await once()
        raise


async def record(db: Database, rec: audit.AuditRecord) -> None:
    """Append to the record's tenant chain (AuditUnavailable when it cannot be written)."""
    if rec.tenant_id == audit.UNATTRIBUTED:
        async with db.system() as conn:
            await audit.append(conn, rec)
    else:
        async with db.tenant(rec.tenant_id) as conn:
            await audit.append(conn, rec)


def request_fields(request: Request) -> dict[str, Any]:
    """Who sent the request, as far as the connection tells (never a header that claims a user)."""
    return {
        "request_id": getattr(request.state, "request_id", None),
        "client_addr": request.client.host if request.client else None,
        "user_agent": (request.headers.get("user-agent") or "")[:512] or None,
    }


async def refuse(db: Database, who: Principal, request: Request, message: str) -> NoReturn:
    """Record that this principal was refused this route, then refuse (403): attempts are evidence too."""
    await record(db, audit.AuditRecord.of(who, "access.denied", "denied", 403, reason=message,
                                          resource={"route": f"{request.method} {request.url.path}"},
                                          **request_fields(request)))
    raise Forbidden(message)


async def identify_request(request: Request, identifier: Identifier, db: Database) -> Principal:
    """The caller's principal from Authorization / X-ID-Token; the attempt is audited either way."""
    started = time.perf_counter()
    creds = Credentials.from_headers(request.headers)
    resource = {"route": f"{request.method} {request.url.path}"}
    try:
        principal = await identifier.identify(creds, db.system)
    except (Unauthenticated, NoRole, Forbidden) as exc:
        status = 401 if isinstance(exc, Unauthenticated) else 403
        await record(db, audit.AuditRecord(
            tenant_id=getattr(exc, "tenant_id", None) or audit.UNATTRIBUTED, action="auth.failure", outcome="denied",
            status=status, subject=getattr(exc, "subject", None), resource=resource, reason=exc.message,
            latency_ms=(time.perf_counter() - started) * 1000, **request_fields(request)))
        raise
    await record(db, audit.AuditRecord.of(principal, "auth.success", "success", 200, resource=resource,
                                          latency_ms=(time.perf_counter() - started) * 1000,
                                          **request_fields(request)))
    return principal
