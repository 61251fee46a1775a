"""Versioned role policy per tenant: current, validate, replace, history, roll back — every change audited.

Versions are rows of ``policy_versions``; the highest is in force, and a tenant with none runs the
default policy (version 0). A replacement that does not validate raises PolicyInvalid and changes
nothing. The change and its audit record are written in the caller's transaction, so either both are
kept or neither. Parsed policies are cached in memory by (tenant, version); ``current`` asks the database
only for the current version number. The data path reads ``recent`` first, which answers from memory for
CURRENT_TTL_S after the last ``current(remember=True)`` (saving a transaction per request): a change made through this
store is seen at once (``replace`` and ``forget`` drop the tenant's entry), one made by another replica (or the CLI)
as soon as its announcement (success_metrics/rbac/changes.py, sent in the change's transaction) reaches this replica's listener,
and within CURRENT_TTL_S if that listener is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from success_metrics.rbac import audit, changes
from success_metrics.rbac.errors import PolicyInvalid
from success_metrics.rbac.policy import Policy, default_document, default_policy, parse
from success_metrics.rbac.principal import Principal

LOCK_CLASS = 0x5A_0D_18
CURRENT_TTL_S = 5.0  # how long another replica's policy change may go unseen by the data path


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    tenant_id: str
    version: int
    document: dict[str, Any]
    changed_by: str
    changed_at: datetime | None
    comment: str


class PolicyStore:
    def __init__(self, max_entries: int = 1000, current_ttl_s: float = CURRENT_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._cache: dict[tuple[str, int], Policy] = {}
        self._current: dict[str, tuple[float, int, Policy]] = {}  # tenant -> (read until, version, policy)
        self._changes: dict[str, int] = {}  # tenant -> forget() calls, so a read racing a change is not kept
        self._forgot_all = 0  # forget_all() calls, likewise
        self.max_entries = max_entries
        self.current_ttl_s = current_ttl_s
        self._clock = clock

    def recent(self, tenant_id: str) -> tuple[int, Policy] | None:
        """The tenant's policy as ``current`` found it less than CURRENT_TTL_S ago, if it did and nothing changed."""
        entry = self._current.get(tenant_id)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1], entry[2]

    def forget(self, tenant_id: str) -> None:
        """Drop what ``recent`` remembers of a tenant (its policy changed)."""
        self._current.pop(tenant_id, None)
        self._changes[tenant_id] = self._changes.get(tenant_id, 0) + 1

    def forget_all(self) -> None:
        """Drop everything ``recent`` remembers (changes may have gone unannounced to this replica)."""
        self._current.clear()
        self._forgot_all += 1

    async def current(self, conn: asyncpg.Connection, tenant_id: str, *, remember: bool = False) -> tuple[int, Policy]:
        """The version in force and its policy; ``remember`` it for ``recent`` (only from a transaction that
        changes nothing, so what is remembered has been committed)."""
        read_at, forgets = self._clock(), (self._changes.get(tenant_id, 0), self._forgot_all)
        version, found = await self._read(conn, tenant_id)
        # a forget while reading: a change may have committed meanwhile, so what was read is not kept
        if remember and forgets == (self._changes.get(tenant_id, 0), self._forgot_all):
            if len(self._current) >= self.max_entries:
                self._current.clear()
            self._current[tenant_id] = (read_at + self.current_ttl_s, version, found)
        return version, found

    async def _read(self, conn: asyncpg.Connection, tenant_id: str) -> tuple[int, Policy]:
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
        """Validate and store a new version (PolicyInvalid → nothing changes); audited in the same transaction,
        the record taking ``audit_fields`` (entries of its "resource" join the change's)."""
        parse(document)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, tenant_id)
            version = (await conn.fetchval(
                "SELECT coalesce(max(version), 0) FROM policy_versions WHERE tenant_id = $1", tenant_id)) + 1
            row = await conn.fetchrow(
                """INSERT INTO policy_versions (tenant_id, version, document, changed_by, comment)
                   VALUES ($1, $2, $3, $4, $5) RETURNING *""", tenant_id, version, document, by.subject, comment)
            fields = dict(audit_fields or {})
            await audit.append(conn, audit.AuditRecord.of(
                by, "policy.change", "success", 200,
                resource={"version": version, "comment": comment, **fields.pop("resource", {})}, **fields))
            await changes.announce(conn, tenant_id, "policy")
        self.forget(tenant_id)  # the caller forgets again once its transaction has committed
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
