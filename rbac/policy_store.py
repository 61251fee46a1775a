"""Versioned role policy per tenant: current, validate, replace, history, roll back — every change audited.

Versions are rows of ``policy_versions``; the highest is in force, and a tenant with none runs the
default policy (version 0). A replacement that does not validate raises PolicyInvalid and changes
nothing. The change and its audit record are written in the caller's transaction, so either both are
kept or neither. Parsed policies are cached in memory by (tenant, version); each read asks the database
only for the current version number, so replicas see a change at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from rbac import audit
from rbac.errors import PolicyInvalid
from rbac.policy import Policy, default_document, default_policy, parse
from rbac.principal import Principal

LOCK_CLASS = 0x5A_0D_18


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    tenant_id: str
    version: int
    document: dict[str, Any]
    changed_by: str
    changed_at: datetime | None
    comment: str


class PolicyStore:
    def __init__(self, max_entries: int = 1000) -> None:
        self._cache: dict[tuple[str, int], Policy] = {}
        self.max_entries = max_entries

    async def current(self, conn: asyncpg.Connection, tenant_id: str) -> tuple[int, Policy]:
        version = await conn.fetchval("SELECT max(version) FROM policy_versions WHERE tenant_id = $1", tenant_id)
        if version is None:
            return 0, default_policy()
        cached = self._cache.get((tenant_id, version))
        if cached is None:
            document = await conn.fetchval(
                "SELECT document FROM policy_versions WHERE tenant_id = $1 AND version = $2", tenant_id, version)
            cached = parse(document)
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[(tenant_id, version)] = cached
        return version, cached

    async def get(self, conn: asyncpg.Connection, tenant_id: str, version: int | None = None) -> PolicyVersion:
        if version == 0 or (version is None and (await self.current(conn, tenant_id))[0] == 0):
            return PolicyVersion(tenant_id, 0, dict(default_document()), "default", None, "the default policy")
        row = await conn.fetchrow(
            """SELECT * FROM policy_versions WHERE tenant_id = $1 AND ($2::int IS NULL OR version = $2)
               ORDER BY version DESC LIMIT 1""", tenant_id, version)
        if row is None:
            raise PolicyInvalid(f"Tenant {tenant_id} has no policy version {version}; see the history for versions.",
                                [{"pointer": "/version", "reason": f"no version {version}"}])
        return _version(row)

    async def history(self, conn: asyncpg.Connection, tenant_id: str) -> list[PolicyVersion]:
        rows = await conn.fetch("SELECT * FROM policy_versions WHERE tenant_id = $1 ORDER BY version DESC", tenant_id)
        return [_version(r) for r in rows]

    async def replace(self, conn: asyncpg.Connection, tenant_id: str, document: Any, by: Principal, *,
                      comment: str = "", audit_fields: dict[str, Any] | None = None) -> PolicyVersion:
        """Validate and store a new version (PolicyInvalid → nothing changes); audited in the same transaction."""
        parse(document)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, tenant_id)
            version = (await conn.fetchval(
                "SELECT coalesce(max(version), 0) FROM policy_versions WHERE tenant_id = $1", tenant_id)) + 1
            row = await conn.fetchrow(
                """INSERT INTO policy_versions (tenant_id, version, document, changed_by, comment)
                   VALUES ($1, $2, $3, $4, $5) RETURNING *""", tenant_id, version, document, by.subject, comment)
            await audit.append(conn, audit.AuditRecord.of(
                by, "policy.change", "success", 200, resource={"version": version, "comment": comment},
                **(audit_fields or {})))
        return _version(row)

    async def rollback(self, conn: asyncpg.Connection, tenant_id: str, to_version: int, by: Principal, *,
                       audit_fields: dict[str, Any] | None = None) -> PolicyVersion:
        """A new version whose document is that of ``to_version`` (0 = the default policy); history is kept."""
        old = await self.get(conn, tenant_id, to_version)
        return await self.replace(conn, tenant_id, old.document, by, comment=f"rollback to version {to_version}",
                                  audit_fields=audit_fields)


def _version(row: asyncpg.Record) -> PolicyVersion:
    return PolicyVersion(row["tenant_id"], row["version"], row["document"], row["changed_by"], row["changed_at"],
                         row["comment"])
