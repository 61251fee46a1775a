"""Who is asking: the result of the identify stage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from success_metrics.calculators import TenantId


class Role(StrEnum):
    EXECUTIVE = "executive"
    MANAGER = "manager"
    AGENT = "agent"
    ADMIN = "admin"
    AUDITOR = "auditor"


class AuthMethod(StrEnum):
    JWT = "jwt"
    ID_TOKEN = "id_token"
    INTROSPECTION = "introspection"
    SERVICE_KEY = "service_key"
    DEV = "dev"
    CLI = "cli"  # an operator at the command line (policy changes), recorded as such in the audit log
    SYSTEM = "system"  # the service itself, for one tenant (system_principal)


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: TenantId
    subject: str
    role: Role
    auth_method: AuthMethod
    name: str | None = None
    agent_id: str | None = None
    teams: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()


def system_principal(tenant_id: str, job: str) -> Principal:
    """The service itself acting for one tenant (the cache warmer, alert evaluation): the admin role, tenant-wide,
    authorized by ``success_metrics.rbac.policy`` against the built-in policy (``policy.default_policy``) like any caller, so a
    tenant's own policy cannot take from the service what it needs, and nothing it computes skips authorize."""
    return Principal(tenant_id=TenantId(tenant_id), subject=f"system:{job}", role=Role.ADMIN,
                     auth_method=AuthMethod.SYSTEM)
