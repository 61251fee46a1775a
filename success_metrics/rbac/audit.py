"""The audit stage: one hash-chained record per access, change and authentication attempt.

Each tenant's rows form a chain: row n stores the hash of row n-1 (``prev_hash``) and its own ``hash`` =
sha256(prev_hash ‖ canonical JSON of its content). Appends are serialised per tenant by an advisory
transaction lock, under which the database function ``audit_append`` (migration 0006) inserts rows only if
they continue the head their hashes were computed from, so a writer that knows the head appends in one
statement. An edit breaks a row's hash, a deletion breaks the next row's link or leaves a gap in
``seq``; a truncated tail is found against the signed checkpoint of each chain head that is written
outside the table (``checkpoint``). If a record cannot be written, ``append`` raises AuditUnavailable and
the request it records is not served (503).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from success_metrics.rbac.errors import AuditUnavailable
from success_metrics.rbac.principal import Principal

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
    """Credentials redacted, NUL characters (which PostgreSQL text refuses) removed and lone surrogates (which
    UTF-8 cannot encode) replaced by '?', at any depth."""
    if isinstance(value, str):
        if not value.isascii():
            value = value.encode("utf-8", "replace").decode("utf-8")
        return _SECRETISH.sub("[redacted]", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {_scrub(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _as_jsonb(value: Any) -> Any:
    """A resource as the jsonb column gives it back, so that its hash covers what `audit verify` reads. jsonb keeps
    numbers as numeric: a float of 1e16 or more (always integral) reads back as an integer, -0.0 as 0.0. NaN,
    infinities and anything that is not JSON (a datetime) have no JSON form and are kept as text."""
    if isinstance(value, dict):
        return {k: _as_jsonb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_jsonb(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 1e16:
            return int(value)
        return 0.0 if value == 0 else value  # -0.0 == 0
    if value is None or isinstance(value, str | int):
        return value
    return str(value)


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
            if name == "resource":
                value = _as_jsonb(value)
                if len(json.dumps(value)) > MAX_RESOURCE_BYTES:
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


def _content(row: dict[str, Any]) -> dict[str, Any]:
    """A row's content columns as its hash covers them: times in UTC µs, masked fields a list, resource as JSON."""
    content = {k: row[k] for k in COLUMNS}
    content["at"] = row["at"].astimezone(UTC).isoformat(timespec="microseconds")
    content["masked_fields"] = list(row["masked_fields"] or [])
    content["resource"] = json.loads(json.dumps(row["resource"] or {}))
    content["latency_ms"] = None if row["latency_ms"] is None else float(row["latency_ms"])
    return content


def _encode(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _link(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _encode(content)).hexdigest()


def canonical(row: dict[str, Any]) -> bytes:
    """The bytes a row's hash covers: its content columns, sorted keys, no whitespace, times in UTC µs."""
    return _encode(_content(row))


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    return _link(prev_hash, _content(row))


Head = tuple[int, str]  # (seq, hash) of a chain's last row; (0, GENESIS) for an empty chain
OPTIMISTIC_CALLS = 2  # statements that may find the head moved before an append holds the lock throughout

# one statement per append (migration 0006): lock, read the head, insert if it is the expected one
_APPEND = "SELECT appended, head_seq, head_hash FROM audit_append($1, $2, $3, $4::text::jsonb, $5)"


def _chained(rows: list[dict[str, Any]], head: Head) -> list[dict[str, Any]]:
    """The rows as the next links after ``head``, as audit_append takes them: the content the hash covers plus
    seq, prev_hash and hash, each value reading back from jsonb as exactly what the hash covered (times are
    UTC with microseconds; masked fields a list, the text[] column; latency a JSON string of repr(), which
    float8 parses to the same double, where a JSON number could not carry inf)."""
    seq, prev = head
    out = []
    for row in rows:
        seq += 1
        content = _content({**row, "seq": seq})
        linked = {**content, "prev_hash": prev, "hash": _link(prev, content)}
        if content["latency_ms"] is not None:
            linked["latency_ms"] = repr(content["latency_ms"])
        prev = linked["hash"]
        out.append(linked)
    return out


def _wire(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, separators=(",", ":"))


async def _call(conn: asyncpg.Connection, tenant: str, head: Head | None,
                rows: list[dict[str, Any]] | None) -> tuple[bool, Head]:
    expected = head or (None, None)
    found = await conn.fetchrow(_APPEND, tenant, expected[0], expected[1], None if rows is None else _wire(rows),
                                LOCK_TIMEOUT)
    return found["appended"], (found["head_seq"], found["head_hash"])


async def append(conn: asyncpg.Connection, record: AuditRecord) -> tuple[int, str]:
    """Append one record to its tenant's chain; (seq, hash) of the new row. AuditUnavailable on any failure."""
    return (await append_many(conn, [record]))[0]


async def append_many(conn: asyncpg.Connection, records: list[AuditRecord], head: Head | None = None) -> list[Head]:
    """Append records of ONE tenant to its chain in order, all or none; (seq, hash) of each new row.
    AuditUnavailable on any failure.

    ``head`` is the chain head the caller last saw (the GroupCommit keeps one per tenant). If it is still the
    head, the append is one statement (audit_append, migration 0006). If another writer moved the head, the
    statement inserts nothing and answers with the real head, from which the rows are chained again. After
    OPTIMISTIC_CALLS such answers (writers overtaking each other), the head is read and the rows inserted in one
    transaction that holds the chain's lock between the two, so the append cannot be overtaken and never fails
    for contention alone. Inside a caller's transaction the first call already keeps the lock until commit."""
    tenant = records[0].tenant_id
    if any(r.tenant_id != tenant for r in records):
        raise ValueError("append_many takes the records of one tenant")
    rows = [r.model_dump() for r in records]
    try:
        for _ in range(OPTIMISTIC_CALLS):
            chained = None if head is None else _chained(rows, head)
            appended, head = await _call(conn, tenant, head, chained)
            if appended and chained is not None:
                return [(row["seq"], row["hash"]) for row in chained]
        async with conn.transaction():
            _, head = await _call(conn, tenant, None, None)  # takes the lock until this transaction ends
            chained = _chained(rows, head)
            appended, _ = await _call(conn, tenant, head, chained)
            if not appended:  # only a writer that ignores the lock can move the head now
                raise unavailable("the chain head moved while its lock was held")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
        raise unavailable(exc.__class__.__name__) from None
    return [(row["seq"], row["hash"]) for row in chained]


def unavailable(why: str) -> AuditUnavailable:
    """The error for an append that failed: the request it records is not served."""
    return AuditUnavailable(f"The access could not be written to the audit log ({why}), so it is not served; "
                            "try again shortly.")
