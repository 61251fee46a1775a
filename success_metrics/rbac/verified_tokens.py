"""Tokens already verified, so a dashboard's dozen panel requests (and every 10 s refresh) check one token's
ES256/RS256 signature once, not once per request (~0.4 ms of CPU each, a fifth of a cached /query).

An entry is the principal a token verified to, usable until the token's ``exp`` and for at most
``MAX_AGE_S``, and only while the key that verified it is still trusted (the caller's ``key_trusted``: a key the
provider dropped, or whose keys are due for a refetch, sends the token back to full verification). A tenant's
entries are forgotten when its identity settings change. Entries are keyed by the token's SHA-256, never the
token itself: no bearer secret stays in memory longer than its request.
At most ``max_entries``, least recently used going first; expired entries go at every insertion (cachetools'
TLRUCache), so a flood of one-off tokens does not keep dead principals until the bound evicts them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from cachetools import TLRUCache

from success_metrics.rbac.principal import Principal

MAX_AGE_S = 60.0
MAX_ENTRIES = 10_000

KeyRef = tuple[str, str | None]  # (issuer, kid) of the key a token was verified with


class VerifiedTokens:
    def __init__(self, *, max_age_s: float = MAX_AGE_S, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.time) -> None:
        self.max_age_s = max_age_s
        self.max_entries = max_entries
        self._clock = clock
        # digest -> (valid until, who, the key that verified it; None for a key that is never dropped)
        self._entries: TLRUCache[bytes, tuple[float, Principal, KeyRef | None]] = TLRUCache(
            max_entries, ttu=lambda _digest, entry, _now: entry[0], timer=clock)

    @staticmethod
    def digest(token: str, kind: str) -> bytes:
        return hashlib.sha256(f"{kind}:{token}".encode()).digest()

    def get(self, digest: bytes, key_trusted: Callable[[KeyRef], bool] | None = None) -> Principal | None:
        entry = self._entries.get(digest)  # an expired entry reads as missing
        if entry is None:
            return None
        _, principal, key = entry
        if key is not None and key_trusted is not None and not key_trusted(key):
            del self._entries[digest]
            return None
        return principal

    def put(self, digest: bytes, principal: Principal, exp: object, key: KeyRef | None = None) -> None:
        """Remember a verified token until min(its exp, now + max_age); a token without a numeric exp is not kept."""
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            return
        now = self._clock()
        until = min(float(exp), now + self.max_age_s)
        if until <= now:
            return
        self._entries[digest] = (until, principal, key)

    def forget(self, tenant_id: str) -> None:
        """Drop the tenant's entries (its identity settings changed, or its keys were refreshed by force)."""
        for digest in [d for d, (_, who, _) in list(self._entries.items()) if who.tenant_id == tenant_id]:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)
