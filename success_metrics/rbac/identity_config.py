"""A tenant's identity provider settings (the ``identity`` block of a tenant in SM_CONFIG, or set through
``PUT /api/admin/tenants/{id}/identity``), validated here so a wrong key is reported at start.

Example (Keycloak)::

    identity:
      issuer: https://sso.example.com/realms/acme
      audiences: [grafana, success-metrics]
      roles_claim: realm_access.roles
      role_map: {sm-exec: executive, sm-manager: manager, sm-agent: agent, sm-admin: admin, sm-audit: auditor}
      agent_id_claim: employee_id
      teams_claim: teams
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from success_metrics.rbac.principal import Role

# asymmetric algorithms only: a shared-secret (HS*) algorithm would let anyone holding the "public" key sign
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
# JWK key type each algorithm family needs, so a token cannot pair an algorithm with the wrong kind of key
KEY_TYPE_FOR = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}

TokenKind = Literal["access", "id"]


class IntrospectionConfig(BaseModel):
    """RFC 7662 introspection for opaque access tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoint: str | None = Field(None, pattern=r"^https?://")  # None → the discovery document's
    client_id: str
    client_secret: SecretStr
    cache_s: float = Field(30.0, ge=0, le=300)


class IdentityProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    issuer: str = Field(min_length=1)  # compared exactly with the token's iss
    audiences: tuple[str, ...] = Field(min_length=1)  # an ID token's aud is Grafana's client id: list it
    jwks_uri: str | None = Field(None, pattern=r"^https?://")  # None → OIDC discovery from the issuer
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    accept: tuple[TokenKind, ...] = ("access", "id")  # Authorization: Bearer (access) and/or X-ID-Token (id)
    typ: str | None = None  # required JOSE header typ, e.g. "at+jwt"
    leeway_s: int = Field(30, ge=0, le=300)
    max_token_bytes: int = Field(8192, ge=512, le=65536)
    # several tenants on one issuer: this claim must equal tenant_claim_value (default: the tenant id)
    tenant_claim: str | None = None
    tenant_claim_value: str | None = None
    roles_claim: str = "groups"  # dotted path, e.g. realm_access.roles
    role_map: dict[str, Role] = Field(default_factory=dict)  # group or role name at the provider → role here
    subject_claim: str = "sub"
    name_claim: str = "name"
    agent_id_claim: str | None = "agent_id"
    teams_claim: str | None = "teams"
    locations_claim: str | None = "locations"
    introspection: IntrospectionConfig | None = None

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in value if a not in ASYMMETRIC]
        if bad:
            raise ValueError(f"algorithms {bad} are not allowed; use asymmetric ones: {', '.join(ASYMMETRIC)}")
        if not value:
            raise ValueError("list at least one algorithm")
        return value

    @model_validator(mode="after")
    def _introspection_needs_access(self) -> IdentityProviderConfig:
        if self.introspection and "access" not in self.accept:
            raise ValueError("introspection is for access tokens: add 'access' to accept")
        return self


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``realm_access.roles``); a top-level key containing dots wins."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def as_strings(value: Any) -> tuple[str, ...]:
    """A claim that may be a string, a space-separated scope string, or a list → tuple of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split()) if " " in value else (value,)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


# when a person's groups map to several roles, the most capable one applies
ROLE_PRECEDENCE = (Role.ADMIN, Role.EXECUTIVE, Role.MANAGER, Role.AUDITOR, Role.AGENT)


def role_for(groups: tuple[str, ...], role_map: dict[str, Role]) -> Role | None:
    mapped = {role_map[g] for g in groups if g in role_map}
    return next((r for r in ROLE_PRECEDENCE if r in mapped), None)
