"""Per-tenant API keys: ingest keys (→ tenant) and service keys (→ tenant and one role).

A secret reads ``smk_<key_id>_<random>`` (``key_id``: 16 hex digits; ``random``: 32 random bytes,
URL-safe base64) and is shown once, when the key is created. The database keeps only
``sha256(secret)`` as hex, next to the key's name, kind, role, creation, expiry and revocation.

Two ways to present a key:

* **Bearer**: ``Authorization: Bearer smk_…``. The key id is read from the secret, the row is found
  by key id, and the SHA-256 of the presented secret is compared in constant time with the stored one.
* **HMAC** (ingest only): ``X-SM-Key-Id: <key_id>`` and ``X-SM-Signature: sha256=<hex>``, where the
  hex is HMAC-SHA256 of the raw request body under the key ``sha256_hex(secret)`` (the 64 ASCII hex
  characters). The secret itself never travels; the server verifies with the stored digest and never
  holds the secret. The trade-off: whoever reads the stored digest could sign bodies (not present the
  bearer secret), so the key table is as sensitive as any HMAC key store. Replays are harmless:
  ingest is idempotent by event id.

Look-ups by key id happen on the system connection (the tenant is not known yet); everything else
takes a tenant connection, where row-level security applies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import asyncpg

from success_metrics.rbac.errors import Forbidden, Unauthenticated
from success_metrics.rbac.principal import Role

PREFIX = "smk"
_SECRET = re.compile(r"^smk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,128})$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


class KeyKind(StrEnum):
    INGEST = "ingest"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What may be shown about a key: everything but its secret."""

    tenant_id: str
    key_id: str
    kind: KeyKind
    name: str
    role: Role | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """A verified service key: the tenant and the one role it acts as."""

    tenant_id: str
    key_id: str
    name: str
    role: Role


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def hmac_key(secret: str) -> bytes:
    """The HMAC-SHA256 key for signing bodies: the hex SHA-256 of the secret, as ASCII bytes."""
    return sha256_hex(secret).encode("ascii")


def sign(secret: str, body: bytes) -> str:
    """The ``X-SM-Signature`` value a sender puts on ``body`` (for clients and tests)."""
    return "sha256=" + hmac.new(hmac_key(secret), body, hashlib.sha256).hexdigest()


def key_id_of(secret: str) -> str | None:
    match = _SECRET.match(secret)
    return match[1] if match else None


_COLUMNS = "tenant_id, key_id, kind, name, role, created_at, expires_at, revoked_at"


def _info(row: asyncpg.Record) -> KeyInfo:
    return KeyInfo(
        tenant_id=row["tenant_id"], key_id=row["key_id"], kind=KeyKind(row["kind"]), name=row["name"],
        role=Role(row["role"]) if row["role"] else None, created_at=row["created_at"],
        expires_at=row["expires_at"], revoked_at=row["revoked_at"],
    )


async def create_key(
    conn: asyncpg.Connection, tenant_id: str, kind: KeyKind | str, name: str, role: Role | str | None = None,
    expires_at: datetime | None = None,
) -> tuple[KeyInfo, str]:
    """Create a key and return it with its secret, which is never available again."""
    kind = KeyKind(kind)
    if kind is KeyKind.SERVICE and role is None:
        raise ValueError("a service key is bound to one role; name it (executive, manager, agent, admin, auditor)")
    if kind is KeyKind.INGEST and role is not None:
        raise ValueError("an ingest key carries no role; it only sends events")
    if not name.strip():
        raise ValueError("a key needs a name that says who uses it, e.g. 'n8n production'")
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError("expires_at needs a time zone")
    key_id = secrets.token_hex(8)
    secret = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = await conn.fetchrow(
        f"""INSERT INTO api_keys (tenant_id, key_id, kind, name, role, secret_sha256, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
        tenant_id, key_id, kind.value, name.strip(), Role(role).value if role else None, sha256_hex(secret),
        expires_at,
    )
    assert row is not None
    return _info(row), secret


async def list_keys(conn: asyncpg.Connection, tenant_id: str, kind: KeyKind | str | None = None) -> list[KeyInfo]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND ($2::text IS NULL OR kind = $2)
            ORDER BY created_at, key_id""",
        tenant_id, KeyKind(kind).value if kind else None,
    )
    return [_info(r) for r in rows]


async def revoke_key(conn: asyncpg.Connection, tenant_id: str, key_id: str) -> KeyInfo | None:
    """Revoke a key of this tenant (again is harmless); None when the tenant has no such key."""
    row = await conn.fetchrow(
        f"""UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
            WHERE tenant_id = $1 AND key_id = $2 RETURNING {_COLUMNS}""",
        tenant_id, key_id,
    )
    return _info(row) if row else None


async def _find(conn: asyncpg.Connection, key_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS}, secret_sha256 FROM api_keys WHERE key_id = $1", key_id)


def _usable(row: asyncpg.Record, now: datetime | None) -> KeyInfo:
    info = _info(row)
    if info.revoked_at is not None:
        raise Unauthenticated(f"API key {info.key_id} ('{info.name}') was revoked at "
                              f"{info.revoked_at:%Y-%m-%d %H:%M} UTC; ask an admin of the tenant for a new key.")
    if info.status(now) == "expired":
        assert info.expires_at is not None
        raise Unauthenticated(f"API key {info.key_id} ('{info.name}') expired at "
                              f"{info.expires_at:%Y-%m-%d %H:%M} UTC; ask an admin of the tenant for a new key.")
    return info


async def _verify_secret(conn: asyncpg.Connection, secret: str, now: datetime | None) -> KeyInfo:
    key_id = key_id_of(secret.strip())
    if key_id is None:
        raise Unauthenticated("Not an API key: expected 'smk_<key id>_<secret>' as shown when the key was created.")
    row = await _find(conn, key_id)
    # compare even when the key is unknown, so both paths take the same time
    stored = row["secret_sha256"] if row else "0" * 64
    if not hmac.compare_digest(stored, sha256_hex(secret.strip())) or row is None:
        raise Unauthenticated("Unknown API key: no key matches this secret (it may have been mistyped or deleted).")
    return _usable(row, now)


async def verify_ingest_key(conn: asyncpg.Connection, secret: str, *, now: datetime | None = None) -> str:
    """The tenant an ingest key sends for; ``Unauthenticated`` (unknown, revoked, expired) or ``Forbidden``."""
    info = await _verify_secret(conn, secret, now)
    if info.kind is not KeyKind.INGEST:
        raise Forbidden(f"API key {info.key_id} is a {info.kind.value} key; sending events needs an ingest key.")
    return info.tenant_id


async def verify_service_key(conn: asyncpg.Connection, secret: str, *, now: datetime | None = None) -> ServiceKey:
    """The tenant and role a service key acts as; ``Unauthenticated`` (unknown, revoked, expired) or ``Forbidden``."""
    info = await _verify_secret(conn, secret, now)
    if info.kind is not KeyKind.SERVICE or info.role is None:
        raise Forbidden(f"API key {info.key_id} is an {info.kind.value} key; it cannot read data. "
                        "Use a service key (bound to a role) or a user token.")
    return ServiceKey(tenant_id=info.tenant_id, key_id=info.key_id, name=info.name, role=info.role)


async def verify_ingest_signature(
    conn: asyncpg.Connection, key_id: str, signature: str, body: bytes, *, now: datetime | None = None
) -> str:
    """The tenant of an ingest key whose HMAC-SHA256 ``signature`` (``sha256=<hex>``) of ``body`` is right."""
    key_id = key_id.strip()
    match = _SIGNATURE.match(signature.strip())
    if match is None:
        raise Unauthenticated("X-SM-Signature must read 'sha256=<64 hex digits>': the HMAC-SHA256 of the raw body.")
    row = await _find(conn, key_id) if _KEY_ID.match(key_id) else None
    stored = row["secret_sha256"] if row else "0" * 64
    expected = hmac.new(stored.encode("ascii"), body, hashlib.sha256).hexdigest()
    if row is None:
        raise Unauthenticated(f"Unknown API key id {key_id!r} in X-SM-Key-Id.")
    if not hmac.compare_digest(expected, match[1].lower()):
        raise Unauthenticated(
            "X-SM-Signature does not match the body: sign the exact bytes sent with HMAC-SHA256, keyed with the "
            "hex SHA-256 of the key's secret."
        )
    info = _usable(row, now)
    if info.kind is not KeyKind.INGEST:
        raise Forbidden(f"API key {info.key_id} is a {info.kind.value} key; sending events needs an ingest key.")
    return info.tenant_id
