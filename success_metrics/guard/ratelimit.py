"""Token buckets per key (a client address, a tenant): failed authentication and ingest requests are rate limited.

A bucket holds up to ``per_minute`` tokens and refills at ``per_minute`` a minute; spending one when none is left
is refused with the seconds until one is back (the Retry-After). Buckets live in a TTLCache whose entries expire a
minute after their last spend (a bucket is full again by then, so forgetting it changes nothing) and whose size is
bounded, so a flood of addresses costs bounded memory. The clock is injected, so tests never sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cachetools import TTLCache

from success_metrics.settings import Limits

Clock = Callable[[], float]
WINDOW_S = 60.0


class RateLimited(Exception):
    """A limit refused this request; ``retry_after`` seconds until it would be accepted (429 + Retry-After)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Buckets:
    def __init__(self, per_minute: int, *, clock: Clock = time.monotonic, max_keys: int = 100_000) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / WINDOW_S
        self.clock = clock
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(max_keys, ttl=WINDOW_S, timer=clock)

    def _level(self, key: str) -> tuple[float, float]:
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - at) * self.rate), now

    def wait(self, key: str) -> float | None:
        """None while ``key`` has a token left, else the seconds until it has one again (nothing spent)."""
        tokens, _ = self._level(key)
        return None if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, key: str) -> float | None:
        """Spend one token of ``key``: None when there was one, else the seconds until there is one."""
        tokens, now = self._level(key)
        if tokens < 1:
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return None


class Limiter:
    """The service's limits (``limits:`` in SM_CONFIG): failed authentications per client address and per
    tenant, ingest requests per tenant."""

    def __init__(self, limits: Limits, *, clock: Clock = time.monotonic) -> None:
        keys = limits.rate_limit_keys
        self.failures_by_address = Buckets(limits.auth_failures_per_address, clock=clock, max_keys=keys)
        self.failures_by_tenant = Buckets(limits.auth_failures_per_tenant, clock=clock, max_keys=keys)
        self.ingest_by_tenant = Buckets(limits.ingest_requests_per_tenant, clock=clock, max_keys=keys)

    def address_wait(self, address: str | None) -> float | None:
        """Seconds an address that used up its failed authentications must wait; None when it may try."""
        return self.failures_by_address.wait(address or "?")

    def failed(self, address: str | None, tenant: str | None) -> RateLimited | None:
        """Count one failed authentication against the address and the tenant it claimed (when it named one);
        the refusal when either had none left."""
        waits = [self.failures_by_address.take(address or "?")]
        if tenant is not None:
            waits.append(self.failures_by_tenant.take(tenant))
        wait = max((w for w in waits if w is not None), default=None)
        if wait is None:
            return None
        return RateLimited("Too many failed authentications from this address or for this tenant; wait "
                           f"{_seconds(wait)} s before trying again (limits.auth_failures_per_address, "
                           "limits.auth_failures_per_tenant).", wait)

    def ingest(self, tenant: str) -> None:
        """Count one ingest request of ``tenant``; RateLimited when it has sent its share of this minute."""
        wait = self.ingest_by_tenant.take(tenant)
        if wait is not None:
            raise RateLimited(f"Tenant {tenant!r} sent more ingest requests than "
                              f"limits.ingest_requests_per_tenant a minute allow; retry in {_seconds(wait)} s, or "
                              "send larger batches.", wait)

    def refused_address(self, wait: float) -> RateLimited:
        return RateLimited("Too many failed authentications from this address; wait "
                           f"{_seconds(wait)} s before trying again (limits.auth_failures_per_address).", wait)


def _seconds(wait: float) -> int:
    return max(1, int(-(-wait // 1)))  # whole seconds, rounded up: the Retry-After value
