"""/api/admin/…: the tenant's role policy, identity provider settings and API keys. Admin role only.

Every change is written together with its audit record in one tenant transaction. An admin manages only
their own tenant: the tenant comes from the verified principal, never from the path or body.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from success_metrics.guard import audit_note
from success_metrics.guard import append, record, recording
from success_metrics.guard import request_fields
from success_metrics.server.deps import AdminDep, ServicesDep
from success_metrics.server.problems import Problem
from success_metrics.rbac import audit, changes, keys, policy
from success_metrics.rbac import IdentityProviderConfig
from success_metrics.rbac import ProviderUnavailable
from success_metrics.rbac import PolicyVersion
from success_metrics.rbac import Role

router = APIRouter(prefix="/api/admin", tags=["admin"])


def _storable(value: Any, what: str) -> None:
    """PostgreSQL text and jsonb cannot hold a NUL character: say so instead of failing on insert."""
    if "\\u0000" in json.dumps(value):
        raise Problem(422, "Invalid characters", f"The {what} contains a NUL character (\\u0000); remove it.")


class PolicyOut(BaseModel):
    version: int
    document: dict[str, Any]
    changed_by: str
    changed_at: datetime | None
    comment: str

    @classmethod
    def of(cls, v: PolicyVersion) -> PolicyOut:
        return cls(version=v.version, document=v.document, changed_by=v.changed_by, changed_at=v.changed_at,
                   comment=v.comment)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any]
    comment: str = Field("", max_length=500)


class ValidationOut(BaseModel):
    valid: bool
    errors: list[dict[str, str]]


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="the version whose document becomes current again (0 = the default)")


@router.get("/policy", response_model=PolicyOut)
async def get_policy(who: AdminDep, svc: ServicesDep) -> PolicyOut:
    async with svc.db.tenant(who.tenant_id) as conn:
        return PolicyOut.of(await svc.policies.get(conn, who.tenant_id))


@router.post("/policy/validate", response_model=ValidationOut)
async def validate_policy(body: dict[str, Any], who: AdminDep) -> ValidationOut:
    errors = policy.schema_errors(body.get("document", body))
    return ValidationOut(valid=not errors, errors=errors)


@router.put("/policy", response_model=PolicyOut)
async def replace_policy(body: PolicyIn, who: AdminDep, svc: ServicesDep, request: Request) -> PolicyOut:
    _storable(body.model_dump(), "policy")
    async with recording(svc.db, who) as conn:
        version = await svc.policies.replace(conn, who.tenant_id, body.document, who, comment=body.comment,
                                             audit_fields=_change_fields(request))
    svc.policies.forget(who.tenant_id)  # committed now: the data path reads it from its next request
    return PolicyOut.of(version)


@router.get("/policy/history", response_model=list[PolicyOut])
async def policy_history(who: AdminDep, svc: ServicesDep) -> list[PolicyOut]:
    async with svc.db.tenant(who.tenant_id) as conn:
        return [PolicyOut.of(v) for v in await svc.policies.history(conn, who.tenant_id)]


@router.post("/policy/rollback", response_model=PolicyOut)
async def rollback_policy(body: RollbackIn, who: AdminDep, svc: ServicesDep, request: Request) -> PolicyOut:
    async with recording(svc.db, who) as conn:
        version = await svc.policies.rollback(conn, who.tenant_id, body.version, who,
                                              audit_fields=_change_fields(request))
    svc.policies.forget(who.tenant_id)  # committed now: the data path reads it from its next request
    return PolicyOut.of(version)


def _change_fields(request: Request) -> dict[str, Any]:
    """The request's fields for a policy change's record, written by the policy store: the request's one record,
    so it says how the caller authenticated as every request's record does."""
    return {**request_fields(request), "resource": audit_note.authenticated()}


# --- identity provider --------------------------------------------------------------------------------------

@router.get("/identity", response_model=dict[str, Any])
async def get_identity(who: AdminDep, svc: ServicesDep) -> dict[str, Any]:
    config = svc.identifier.providers.get(who.tenant_id)
    return config.model_dump(mode="json") if config else {}  # secrets dump as '**********'


# PUT /api/admin/identity bodies (shown in /docs)
IDENTITY_EXAMPLES: dict[str, dict[str, Any]] = {
    "keycloak": {"summary": "Keycloak realm, roles from realm roles", "value": {
        "issuer": "https://sso.acme.example/realms/acme", "audiences": ["grafana", "success-metrics"],
        "roles_claim": "realm_access.roles", "accept": ["access", "id"],
        "role_map": {"sm-exec": "executive", "sm-manager": "manager", "sm-agent": "agent", "sm-admin": "admin",
                     "sm-audit": "auditor"}, "agent_id_claim": "employee_id", "teams_claim": "teams"}},
}


@router.put("/identity", response_model=dict[str, Any],
            responses={409: {"description": "Another tenant trusts this issuer"}})
async def put_identity(body: Annotated[dict[str, Any], Body(openapi_examples=IDENTITY_EXAMPLES)], who: AdminDep, svc: ServicesDep, request: Request) -> dict[str, Any]:
    _storable(body, "identity settings")
    try:
        config = IdentityProviderConfig.model_validate(body)
    except ValidationError as exc:
        errors = [{"pointer": "/" + "/".join(map(str, e["loc"])), "reason": e["msg"]} for e in exc.errors()]
        raise Problem(422, "Invalid identity settings", "The identity settings do not validate: " + "; ".join(
            f"{e['pointer']}: {e['reason']}" for e in errors[:5]), errors=errors) from None
    shared = [t for t, c in svc.identifier.providers.items() if c.issuer == config.issuer and t != who.tenant_id]
    if shared:
        raise Problem(409, "Issuer in use", "Another tenant trusts this issuer; a shared issuer (told apart by a "
                      "tenant claim) is set up by the operator in SM_CONFIG.")
    async with recording(svc.db, who) as conn:
        version = await conn.fetchval("SELECT coalesce(max(version), 0) + 1 FROM identity_settings "
                                      "WHERE tenant_id = $1", who.tenant_id)
        stored = config.model_dump(mode="json")
        if config.introspection:  # the secret is stored; the dump above masks it
            stored["introspection"]["client_secret"] = config.introspection.client_secret.get_secret_value()
        await conn.execute("INSERT INTO identity_settings (tenant_id, version, config, changed_by) "
                           "VALUES ($1, $2, $3, $4)", who.tenant_id, version, stored, who.subject)
        await append(conn, audit.AuditRecord.of(who, "identity.change", "success", 200,
                                                resource={"version": version, "issuer": config.issuer},
                                                **request_fields(request)))
        await changes.announce(conn, who.tenant_id, "identity")  # other replicas reload it once this commits
    svc.identifier.replace(who.tenant_id, config)
    return config.model_dump(mode="json")


class JwksRefreshOut(BaseModel):
    issuer: str
    key_ids: list[str] = Field(description="the key ids the provider publishes now; tokens signed with others fail")


@router.post("/identity/jwks/refresh", response_model=JwksRefreshOut,
             responses={404: {"description": "The tenant has no identity provider"},
                        502: {"description": "The identity provider did not answer; the cached keys stay in use"}})
async def refresh_jwks(who: AdminDep, svc: ServicesDep, request: Request) -> JwksRefreshOut:
    """Fetch the provider's signing keys now: a key it stopped publishing is refused at once, not after the cache."""
    config = svc.identifier.providers.get(who.tenant_id)
    if config is None:
        raise Problem(404, "No identity provider", f"Tenant {who.tenant_id} has no identity provider whose keys "
                      "could be refreshed; PUT /api/admin/identity sets one.")
    try:
        key_ids = await svc.identifier.refresh_keys(who.tenant_id)
    except ProviderUnavailable:
        await record(svc.db, audit.AuditRecord.of(who, "identity.jwks_refresh", "error", 502,
                                                  resource={"issuer": config.issuer}, **request_fields(request)))
        raise Problem(502, "Identity provider unreachable", f"The signing keys of {config.issuer} could not be "
                      "fetched; the cached keys stay in use. Check the provider and try again.") from None
    await record(svc.db, audit.AuditRecord.of(who, "identity.jwks_refresh", "success", 200,
                                              resource={"issuer": config.issuer, "key_ids": key_ids},
                                              **request_fields(request)))
    async with svc.db.system() as conn:  # the other replicas refetch too: a dropped key must not live on there
        await changes.announce(conn, who.tenant_id, "jwks")
    return JwksRefreshOut(issuer=config.issuer, key_ids=key_ids)


# --- API keys -----------------------------------------------------------------------------------------------

class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "service", "name": "grafana alerting", "role": "executive"},
        {"kind": "ingest", "name": "n8n", "expires_at": "2027-12-31T23:59:59Z"}]})
    kind: Literal["service", "ingest"]
    name: str = Field(min_length=1, max_length=200)
    role: Role | None = None
    expires_at: datetime | None = None


class KeyOut(BaseModel):
    key_id: str
    kind: str
    name: str
    role: Role | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    status: str

    @classmethod
    def of(cls, info: keys.KeyInfo) -> KeyOut:
        return cls(key_id=info.key_id, kind=info.kind.value, name=info.name, role=info.role,
                   created_at=info.created_at, expires_at=info.expires_at, revoked_at=info.revoked_at,
                   status=info.status())


class NewKeyOut(KeyOut):
    secret: str = Field(description="shown only now; store it in the data source or the sender")


@router.post("/keys", response_model=NewKeyOut, status_code=201)
async def create_key(body: KeyIn, who: AdminDep, svc: ServicesDep, request: Request) -> NewKeyOut:
    _storable(body.model_dump(mode="json"), "key")
    async with recording(svc.db, who) as conn:
        try:
            info, secret = await keys.create_key(conn, who.tenant_id, body.kind, body.name, body.role,
                                                 body.expires_at)
        except ValueError as exc:
            raise Problem(422, "Invalid key", str(exc)) from None
        await append(conn, audit.AuditRecord.of(
            who, "key.change", "success", 201, resource={"op": "create", "key_id": info.key_id, "kind": body.kind,
                                                         "name": info.name}, **request_fields(request)))
    return NewKeyOut(**KeyOut.of(info).model_dump(), secret=secret)


@router.get("/keys", response_model=list[KeyOut])
async def list_keys(who: AdminDep, svc: ServicesDep, kind: Literal["service", "ingest"] | None = None
                    ) -> list[KeyOut]:
    async with svc.db.tenant(who.tenant_id) as conn:
        return [KeyOut.of(k) for k in await keys.list_keys(conn, who.tenant_id, kind)]


@router.delete("/keys/{key_id}", response_model=KeyOut, responses={404: {"description": "No such key"}})
async def revoke_key(key_id: Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}$")], who: AdminDep, svc: ServicesDep,
                     request: Request) -> KeyOut:
    async with recording(svc.db, who) as conn:
        info = await keys.revoke_key(conn, who.tenant_id, key_id)
        if info is None:
            raise Problem(404, "Unknown key", f"Tenant {who.tenant_id} has no key {key_id[:32]!r}; "
                          "GET /api/admin/keys lists them.")
        await append(conn, audit.AuditRecord.of(
            who, "key.change", "success", 200, resource={"op": "revoke", "key_id": info.key_id},
            **request_fields(request)))
    return KeyOut.of(info)
