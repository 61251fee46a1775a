"""success_metrics/rbac/keys.py against the session's PostgreSQL: hashed secrets, kinds, revocation, expiry, HMAC, RLS."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from success_metrics.storage import tenants as tenant_store
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from success_metrics.rbac import Forbidden, Role, Unauthenticated
from success_metrics.rbac import keys


async def _tenant(db: Database, new_tenant_id: Callable[[str], str]) -> str:
    tid = new_tenant_id("keys")
    async with db.system() as conn:
        await tenant_store.upsert(conn, TenantConfig(id=tid, name=tid))
    return tid


async def test_secret_shown_once_and_stored_only_hashed(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await _tenant(db, new_tenant_id)
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, "ingest", "n8n production")
    assert secret.startswith(f"smk_{info.key_id}_") and len(secret) > 50
    assert info.kind is keys.KeyKind.INGEST and info.role is None and info.status() == "active"
    async with db.system() as conn:
        row = await conn.fetchrow("SELECT * FROM api_keys WHERE key_id = $1", info.key_id)
        assert row["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in {str(v) for v in row.values()}
        assert await keys.verify_ingest_key(conn, secret) == tid


async def test_service_key_is_bound_to_one_role(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await _tenant(db, new_tenant_id)
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, keys.KeyKind.SERVICE, "grafana alerting", role=Role.AUDITOR)
        with pytest.raises(ValueError, match="one role"):
            await keys.create_key(conn, tid, "service", "no role")
        with pytest.raises(ValueError, match="no role"):
            await keys.create_key(conn, tid, "ingest", "with role", role="admin")
        _, ingest_secret = await keys.create_key(conn, tid, "ingest", "engine")
    async with db.system() as conn:
        found = await keys.verify_service_key(conn, secret)
        assert found == keys.ServiceKey(tenant_id=tid, key_id=info.key_id, name="grafana alerting", role=Role.AUDITOR)
        with pytest.raises(Forbidden, match="ingest key; it cannot read data"):
            await keys.verify_service_key(conn, ingest_secret)
        with pytest.raises(Forbidden, match="sending events needs an ingest key"):
            await keys.verify_ingest_key(conn, secret)


async def test_unknown_wrong_and_garbled_secrets(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await _tenant(db, new_tenant_id)
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, "ingest", "engine")
    async with db.system() as conn:
        tampered = secret[:-3] + ("aaa" if not secret.endswith("aaa") else "bbb")
        for bad, reason in [
            (tampered, "Unknown API key"),
            (f"smk_{'0' * 16}_{'x' * 43}", "Unknown API key"),
            ("eyJhbGciOiJIUzI1NiJ9.e30.x", "Not an API key"),
            ("", "Not an API key"),
        ]:
            with pytest.raises(Unauthenticated, match=reason):
                await keys.verify_ingest_key(conn, bad)


async def test_revoked_and_expired_keys(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await _tenant(db, new_tenant_id)
    soon = datetime.now(UTC) + timedelta(hours=1)
    async with db.tenant(tid) as conn:
        revoked, revoked_secret = await keys.create_key(conn, tid, "ingest", "old engine")
        expiring, expiring_secret = await keys.create_key(conn, tid, "service", "temp", role="manager", expires_at=soon)
        again = await keys.revoke_key(conn, tid, revoked.key_id)
        assert again is not None and again.revoked_at is not None and again.status() == "revoked"
        assert (await keys.revoke_key(conn, tid, revoked.key_id)).revoked_at == again.revoked_at  # type: ignore[union-attr]
        assert await keys.revoke_key(conn, tid, "0" * 16) is None
    async with db.system() as conn:
        with pytest.raises(Unauthenticated, match="was revoked"):
            await keys.verify_ingest_key(conn, revoked_secret)
        assert (await keys.verify_service_key(conn, expiring_secret)).role is Role.MANAGER
        with pytest.raises(Unauthenticated, match="expired"):
            await keys.verify_service_key(conn, expiring_secret, now=soon + timedelta(seconds=1))
    with pytest.raises(ValueError, match="time zone"):
        async with db.tenant(tid) as conn:
            await keys.create_key(conn, tid, "ingest", "naive", expires_at=datetime(2030, 1, 1))


async def test_hmac_signature(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    tid = await _tenant(db, new_tenant_id)
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, "ingest", "signer")
    body = b'[{"id":"x"}]'
    # documented derivation: HMAC-SHA256 keyed with the hex SHA-256 of the secret
    expected = hmac.new(hashlib.sha256(secret.encode()).hexdigest().encode(), body, hashlib.sha256).hexdigest()
    assert keys.sign(secret, body) == f"sha256={expected}"
    async with db.system() as conn:
        assert await keys.verify_ingest_signature(conn, info.key_id, keys.sign(secret, body), body) == tid
        assert await keys.verify_ingest_signature(conn, info.key_id, f"sha256={expected.upper()}", body) == tid
        with pytest.raises(Unauthenticated, match="does not match the body"):
            await keys.verify_ingest_signature(conn, info.key_id, keys.sign(secret, body), body + b" ")
        with pytest.raises(Unauthenticated, match="sha256=<64 hex"):
            await keys.verify_ingest_signature(conn, info.key_id, expected, body)
        with pytest.raises(Unauthenticated, match="Unknown API key id"):
            await keys.verify_ingest_signature(conn, "f" * 16, keys.sign(secret, body), body)
    async with db.tenant(tid) as conn:
        await keys.revoke_key(conn, tid, info.key_id)
    async with db.system() as conn:
        with pytest.raises(Unauthenticated, match="revoked"):
            await keys.verify_ingest_signature(conn, info.key_id, keys.sign(secret, body), body)


async def test_keys_are_confined_to_their_tenant(db: Database, new_tenant_id: Callable[[str], str]) -> None:
    a, b = await _tenant(db, new_tenant_id), await _tenant(db, new_tenant_id)
    async with db.tenant(a) as conn:
        info, _ = await keys.create_key(conn, a, "ingest", "a's key")
    async with db.tenant(b) as conn:
        assert await keys.list_keys(conn, a) == []  # row-level security hides a's keys even when asked
        assert await keys.revoke_key(conn, a, info.key_id) is None
        assert await conn.fetchval("SELECT count(*) FROM api_keys") == 0
    async with db.tenant(a) as conn:
        listed = await keys.list_keys(conn, a)
        assert [k.key_id for k in listed] == [info.key_id] and listed[0].revoked_at is None
        assert await keys.list_keys(conn, a, "service") == []
