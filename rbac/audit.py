"""The audit stage: one hash-chained record per access, change and authentication attempt.

Each tenant's rows form a chain: row n stores the hash of row n-1 (``prev_hash``) and its own ``hash`` =
sha256(prev_hash ‖ canonical JSON of its content). Appends are serialised per tenant by an advisory
transaction lock. An edit breaks a row's hash, a deletion breaks the next row's link or leaves a gap in
``seq``; a truncated tail is found against the signed checkpoint of each chain head that is written
outside the table (``checkpoint``). If a record cannot be written, ``append`` raises AuditUnavailable and
the request it records is not served (503).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rbac.errors import AuditUnavailable
from rbac.principal import Principal

GENESIS = "0" * 64
UNATTRIBUTED = "_unattributed"  # failures that name no known tenant (no real tenant id starts with "_")
LOCK_CLASS = 0x5A_0D_17  # advisory lock namespace of audit appends
LOCK_TIMEOUT = "3s"  # how long an append may wait for the table before the request fails closed

# anything shaped like a credential is dropped from free text before it is stored
_SECRETISH = re.compile(r"eyJ[\w-]{4,}\.[\w-]+\.[\w-]*|smk_\w+|sm[a-z]_\w{8,}|Bearer\s+\S+", re.IGNORECASE)

Outcome = Literal["success", "denied", "error"]
COLUMNS = ("tenant_id", "seq", "at", "subject", "role", "action", "resource", "outcome", "status", "masked_fields",
           "rows_returned", "latency_ms", "request_id", "client_addr", "user_agent", "auth_method", "reason")


# free-text columns are cut to these lengths rather than refused: a record must never fail on its own content
LIMITS = {"subject": 512, "role": 64, "auth_method": 64, "request_id": 64, "client_addr": 128, "user_agent": 512,
          "reason": 2000}
MAX_RESOURCE_BYTES = 16 * 1024


def _scrub(value: Any) -> Any:
    """Credentials redacted, NUL characters (which PostgreSQL text refuses) removed, at any depth."""
    if isinstance(value, str):
        return _SECRETISH.sub("[redacted]", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {_scrub(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


class AuditRecord(BaseModel):
    """What is recorded. There is no field for a token or secret, and free text is scrubbed of anything like one."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    tenant_id: str = Field(min_length=1, max_length=128)
    action: str = Field(pattern=r"^[a-z][a-z0-9_.-]{1,63}$")
    outcome: Outcome
    status: int = Field(ge=100, le=599)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = Field(None, max_length=512)
    role: str | None = None
    auth_method: str | None = None
    resource: dict[str, Any] = Field(default_factory=dict)
    masked_fields: tuple[str, ...] = ()
    rows_returned: int | None = Field(None, ge=0)
    latency_ms: float | None = Field(None, ge=0)
    request_id: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    reason: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, value in data.items():
            if name in ("tenant_id", "action", "outcome", "status", "at"):
                continue
            value = _scrub(value)
            if name in LIMITS and isinstance(value, str):
                value = value[:LIMITS[name]]
            if name == "resource" and len(json.dumps(value, default=str)) > MAX_RESOURCE_BYTES:
                value = {"truncated": True, "keys": sorted(value)[:50] if isinstance(value, dict) else []}
            out[name] = value
        return out

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        return value.astimezone(UTC)

    @classmethod
    def of(cls, principal: Principal, action: str, outcome: Outcome, status: int, **fields: Any) -> AuditRecord:
        return cls(tenant_id=principal.tenant_id, subject=principal.subject, role=principal.role.value,
                   auth_method=principal.auth_method.value, action=action, outcome=outcome, status=status, **fields)


def canonical(row: dict[str, Any]) -> bytes:
    """The bytes a row's hash covers: its content columns, sorted keys, no whitespace, times in UTC µs."""
    content = {k: row[k] for k in COLUMNS}
    content["at"] = row["at"].astimezone(UTC).isoformat(timespec="microseconds")
    content["masked_fields"] = list(row["masked_fields"] or [])
    content["resource"] = json.loads(json.dumps(row["resource"] or {}))
    content["latency_ms"] = None if row["latency_ms"] is None else float(row["latency_ms"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(row)).hexdigest()


async def append(conn: asyncpg.Connection, record: AuditRecord) -> tuple[int, str]:
    """Append one record to its tenant's chain; (seq, hash) of the new row. AuditUnavailable on any failure."""
    return (await append_many(conn, [record]))[0]


async def append_many(conn: asyncpg.Connection, records: list[AuditRecord]) -> list[tuple[int, str]]:
    """Append records of ONE tenant to its chain in order, in one transaction (all or none); (seq, hash) of
    each new row. AuditUnavailable on any failure."""
    tenant = records[0].tenant_id
    if any(r.tenant_id != tenant for r in records):
        raise ValueError("append_many takes the records of one tenant")
    rows = [r.model_dump() for r in records]
    names = (*COLUMNS, "prev_hash", "hash")
    slots = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, tenant)
            last = await conn.fetchrow(
                "SELECT seq, hash FROM audit_log WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1", tenant)
            seq, prev = (last["seq"], last["hash"]) if last else (0, GENESIS)
            for row in rows:
                seq += 1
                row["seq"], row["prev_hash"] = seq, prev
                row["hash"] = prev = chain_hash(prev, row)
            await conn.executemany(
                f"INSERT INTO audit_log ({', '.join(names)}) VALUES ({slots})",
                [[list(row[n]) if n == "masked_fields" else row[n] for n in names] for row in rows])
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise AuditUnavailable(
            f"The access could not be written to the audit log ({exc.__class__.__name__}), so it is not served; "
            "try again shortly.") from None
    return [(row["seq"], row["hash"]) for row in rows]
