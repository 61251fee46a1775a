"""Tokens already verified, so a dashboard's dozen panel requests (and every 10 s refresh) check one token's
ES256/RS256 signature once, not once per request (~0.4 ms of CPU each, a fifth of a cached /query).

An entry is the principal a token verified to, usable until the token's ``exp`` and for at most
``MAX_AGE_S`` — so a signing key dropped from the provider's JWKS, or a provider changed through the admin
API (``Identifier.replace`` also clears everything), stops being honoured within that bound. Entries are keyed
by the token's SHA-256, never the token itself: no bearer secret stays in memory longer than its request.
At most ``max_entries``, least recently used going first; expired entries go at every insertion (cachetools'
TLRUCache), so a flood of one-off tokens does not keep dead principals until the bound evicts them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from cachetools import TLRUCache

from rbac.principal import Principal

MAX_AGE_S = 60.0
MAX_ENTRIES = 10_000


class VerifiedTokens:
    def __init__(self, *, max_age_s: float = MAX_AGE_S, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._clock = clock
        # digest -> (valid until, who)
        self._entries: TLRUCache[bytes, tuple[float, Principal]] = TLRUCache(
            max_entries, ttu=lambda _digest, entry, _now: entry[0], timer=clock)

    @staticmethod
    def digest(token: str, kind: str) -> bytes:
        return hashlib.sha256(f"{kind}:{token}".encode()).digest()

    def get(self, digest: bytes) -> Principal | None:
        entry = self._entries.get(digest)  # an expired entry reads as missing
        return None if entry is None else entry[1]

    def put(self, digest: bytes, principal: Principal, exp: object) -> None:
        """Remember a verified token until min(its exp, now + max_age); a token without a numeric exp is not kept."""
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return
        now = self._clock()
        until = min(float(exp), now + self.max_age_s)
        if until <= now:
            return
        self._entries[digest] = (until, principal)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
