"""The dev issuer: a local ES256 key under the data directory that signs tokens for the demo and tests.

Its tokens are ordinary JWTs (iss = the configured dev issuer, aud = the dev audience, ``tenant`` and
``roles`` claims), verified by ``success_metrics.rbac.identity`` exactly like a real provider's, and trusted only when
the configuration sets ``dev_issuer_enabled`` (the demo does; the default configuration does not).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from success_metrics.rbac.local_keys import read_or_create
from success_metrics.rbac.principal import Role

KEY_FILE = "dev-issuer-es256.pem"
DEFAULT_ISSUER = "success-metrics-dev"
DEFAULT_AUDIENCE = "success-metrics"
ALGORITHM = "ES256"
TENANT_CLAIM = "tenant"
ROLES_CLAIM = "roles"


def _new_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def signing_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    pem = read_or_create(Path(data_dir) / "keys" / KEY_FILE, _new_key_pem)
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def public_jwk(data_dir: Path) -> dict[str, Any]:
    """The verification key as a JWK, with a kid derived from the key itself."""
    public = signing_key(data_dir).public_key()
    jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(public))
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    jwk.update(kid=hashlib.sha256(der).hexdigest()[:16], alg=ALGORITHM, use="sig")
    return jwk


def mint(data_dir: Path, tenant_id: str, role: Role | str, subject: str | None = None, agent_id: str | None = None,
         teams: tuple[str, ...] | list[str] = (), ttl: timedelta = timedelta(hours=12), *,
         issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE, **claims: Any) -> str:
    """A signed token for one person of one tenant with one role. Extra claims override the defaults."""
    role = Role(role)
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or f"{role.value}@{tenant_id}",
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        TENANT_CLAIM: tenant_id,
        ROLES_CLAIM: [role.value],
        "name": subject or f"{role.value.title()} ({tenant_id})",
    }
    if agent_id:
        payload["agent_id"] = agent_id
    if teams:
        payload["teams"] = list(teams)
    payload.update(claims)
    jwk = public_jwk(data_dir)
    return jwt.encode(payload, signing_key(data_dir), algorithm=ALGORITHM, headers={"kid": jwk["kid"], "typ": "JWT"})
