"""Secrets kept under the data directory: created on first use, readable by the owner only (0600).

The service secret is the root of the keys derived per purpose and tenant (pseudonyms, audit
checkpoints), so one tenant's pseudonym key tells nothing about another's.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

SERVICE_SECRET_FILE = "service-secret"


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes; if it does not exist, write ``make()`` with mode 0600 (O_EXCL: a racing writer wins once)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


def service_secret(data_dir: Path) -> bytes:
    return read_or_create(Path(data_dir) / "keys" / SERVICE_SECRET_FILE, lambda: secrets.token_bytes(32))


def derive_key(secret: bytes, purpose: str, tenant_id: str = "") -> bytes:
    """A key for one purpose (and tenant): HMAC-SHA256 of the service secret over both names."""
    return hmac.new(secret, f"{purpose}\x00{tenant_id}".encode(), hashlib.sha256).digest()
