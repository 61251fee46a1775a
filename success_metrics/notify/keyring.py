"""Secrets at rest: envelope encryption of the secrets the service stores (webhook signing keys).

Each secret gets its own random data key (AES-256-GCM, the secret's place, e.g. its tenant and channel, as
associated data, so a sealed value copied to another row does not open); the data key is wrapped by a
key-encryption key (KEK, a Fernet key). KEKs come from ``SM_SECRET_KEY`` (one or more, comma separated),
else the file ``secret_key_file`` names (one per line), else ``$SM_DATA_DIR/keys/secret-kek``, created on
first use with mode 0600. Every KEK listed opens; the first one wraps. Rotation re-wraps the data keys only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from success_metrics.settings import ConfigError, Settings
from success_metrics.rbac import read_or_create

PREFIX = "sm-sealed-v1:"
DEFAULT_KEY_FILE = Path("keys") / "secret-kek"
_NONCE_BYTES = 12


class SecretKeyError(ConfigError):
    """The key-encryption keys cannot be read or are not keys; the message says where they came from."""


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys opens (a wrong or missing key, or a damaged value)."""


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def new_key() -> str:
    """A fresh key-encryption key, as SM_SECRET_KEY or a key file line takes it."""
    return Fernet.generate_key().decode()


@dataclass(frozen=True, slots=True)
class Keyring:
    """The key-encryption keys: all of them open, the first wraps. ``source`` says where they came from."""

    keys: tuple[Fernet, ...]
    source: str
    fingerprint: str  # of the writing key: names it in messages without showing it

    def seal(self, plaintext: str, context: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(data_key).encrypt(nonce, plaintext.encode(), context.encode())
        wrapped = self.keys[0].encrypt(data_key).decode()
        return f"{PREFIX}{wrapped}:{_b64(nonce + sealed)}"

    def unseal(self, value: str, context: str) -> str:
        wrapped, body = _parts(value)
        try:
            data_key = MultiFernet(list(self.keys)).decrypt(wrapped)
            return AESGCM(data_key).decrypt(body[:_NONCE_BYTES], body[_NONCE_BYTES:], context.encode()).decode()
        except (InvalidToken, InvalidTag, ValueError):
            raise SecretUnreadable(self._unreadable()) from None

    def rewrap(self, value: str) -> str:
        """The same secret with its data key wrapped by the writing key (the secret itself is not decrypted)."""
        wrapped, body = _parts(value)
        try:
            rotated = MultiFernet(list(self.keys)).rotate(wrapped).decode()
        except InvalidToken:
            raise SecretUnreadable(self._unreadable()) from None
        return f"{PREFIX}{rotated}:{_b64(body)}"

    def _unreadable(self) -> str:
        return (f"a stored secret does not open with the {len(self.keys)} key(s) from {self.source}; add the key "
                "it was sealed with (SM_SECRET_KEY or secret_key_file, after the current one), or set the secret again")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _parts(value: str) -> tuple[bytes, bytes]:
    if not is_sealed(value):
        raise SecretUnreadable("a stored secret is not sealed; run `success-metrics migrate` to seal it")
    wrapped, _, body = value.removeprefix(PREFIX).partition(":")
    try:
        return wrapped.encode(), base64.urlsafe_b64decode(body)
    except (binascii.Error, ValueError):
        raise SecretUnreadable("a stored secret is damaged (not the sealed form); set the secret again") from None


def load(settings: Settings) -> Keyring:
    """The configured KEKs: SM_SECRET_KEY, else secret_key_file, else a generated file under the data dir."""
    if settings.secret_key is not None:
        return _keyring(settings.secret_key.get_secret_value().replace(",", "\n"), "SM_SECRET_KEY")
    if settings.secret_key_file is not None:
        path = settings.secret_key_file
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretKeyError(f"secret_key_file={path}: cannot read it ({exc.__class__.__name__}); "
                                 "write one key per line (success-metrics secrets new-key prints one)") from None
        return _keyring(text, f"secret_key_file={path}")
    path = settings.data_dir / DEFAULT_KEY_FILE
    text = read_or_create(path, lambda: (new_key() + "\n").encode()).decode("ascii", "replace")
    return _keyring(text, str(path))


def _keyring(text: str, source: str) -> Keyring:
    lines = [line.strip() for line in text.splitlines()]
    found = [line for line in lines if line and not line.startswith("#")]
    if not found:
        raise SecretKeyError(f"{source}: no key; give one or more keys (success-metrics secrets new-key prints one)")
    keys = []
    for number, key in enumerate(found, start=1):
        try:
            keys.append(Fernet(key))
        except (ValueError, binascii.Error):
            raise SecretKeyError(f"{source}: key {number} is not a key (32 bytes, URL-safe base64, as "
                                 "success-metrics secrets new-key prints)") from None
    fingerprint = hashlib.sha256(found[0].encode()).hexdigest()[:12]
    return Keyring(tuple(keys), source, fingerprint)
