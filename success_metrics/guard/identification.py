"""Who sent a request: the Identifier built from settings, identity settings changed through the admin API,
and the per-request identify step (a failure is its request's record; a success is told by the request's one
record, which names the caller)."""

from __future__ import annotations

import logging
import time
from typing import Any, NoReturn

import httpx
from fastapi import Request

from success_metrics.guard import audit_note
from success_metrics.guard.audit_writer import record
from success_metrics.rbac import audit
from success_metrics.rbac import Forbidden, NoRole, Unauthenticated
from success_metrics.rbac import Credentials, Identifier, parse_providers
from success_metrics.rbac import IdentityProviderConfig
from success_metrics.rbac import JwksCache
from success_metrics.rbac import Principal
from success_metrics.settings import ConfigError, Settings
from success_metrics.storage import Database

log = logging.getLogger(__name__)


def build_identifier(settings: Settings, http: httpx.AsyncClient) -> Identifier:
    try:
        providers = parse_providers({t.id: t.identity for t in settings.tenants})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Identifier(providers, http, dev_data_dir=settings.data_dir if settings.dev_issuer_enabled else None,
                      dev_issuer=settings.dev_issuer, dev_audience=settings.dev_audience,
                      jwks=JwksCache(http, max_ttl_s=settings.jwks_cache_max_s))


async def load_overrides(db: Database, identifier: Identifier, tenant_id: str | None = None) -> None:
    """Identity settings saved through the admin API win over SM_CONFIG's: every tenant's, or one tenant's."""
    async with db.system() as conn:
        rows = await conn.fetch("""SELECT DISTINCT ON (tenant_id) tenant_id, config FROM identity_settings
                                   WHERE $1::text IS NULL OR tenant_id = $1
                                   ORDER BY tenant_id, version DESC""", tenant_id)
    for row in rows:
        identifier.replace(row["tenant_id"], IdentityProviderConfig.model_validate(row["config"]) if row["config"]
                           else None)


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
    """The caller's principal from Authorization / X-ID-Token. A failure is recorded (auth.failure); a success is
    noted for the request's one record (the route's own, else the audit edge's), which names the caller."""
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
    audit_note.note_identity(principal)
    return principal
