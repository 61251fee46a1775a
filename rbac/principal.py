"""Who is asking: the result of the identify stage."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from calculators.vocabulary import TenantId


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
