"""RFC 7662 introspection of opaque access tokens, through Authlib's HTTPX OAuth client, cached briefly.

The cache is keyed by a hash of the token (the token itself is never kept as a key or logged) and an
entry lives at most ``cache_s`` seconds and never past the token's own ``exp``; a tenant's entries are dropped
when its identity settings change. At most ``max_entries``, least recently used going first; expired entries go
at every insertion (cachetools' TLRUCache, as in verified_tokens).
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from authlib.deprecate import AuthlibDeprecationWarning  # imported first: it sets its warnings to "always"
from cachetools import TLRUCache

with warnings.catch_warnings():
    # Authlib 1.9 asks for the httpx2 package and warns, on every start, when it falls back to httpx; httpx is what
    # this service depends on (the except clauses below name its errors), so the warning says nothing to act on.
    warnings.filterwarnings("ignore", "The httpx module is deprecated", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from success_metrics.rbac.claims import tenant_matches
from success_metrics.rbac.errors import Unauthenticated
from success_metrics.rbac.identity_config import IdentityProviderConfig
from success_metrics.rbac.jwks import JwksCache, ProviderUnavailable

log = logging.getLogger(__name__)

Result = tuple[str, dict[str, Any]]  # the tenant whose provider vouched for the token, and its answer
NEGATIVE_CACHE_S = 10.0


class Introspector:
    """Finds the tenant whose provider says an opaque token is active; the answer's claims are then checked by
    success_metrics.rbac.claims exactly as a JWT's are (the identify stage does that, on every use of a cached answer
    too)."""

    def __init__(self, client: httpx.AsyncClient, jwks: JwksCache, *, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.jwks = jwks
        self.max_entries = max_entries
        self.clock = clock
        # digest -> (valid until, answer); None: inactive, so a replay costs no call
        self._cache: TLRUCache[str, tuple[float, Result | None]] = TLRUCache(
            max_entries, ttu=lambda _digest, entry, _now: entry[0], timer=lambda: self.clock())

    async def introspect(self, token: str, providers: Mapping[str, IdentityProviderConfig]) -> Result:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        hit = self._cache.get(digest)  # an expired entry reads as missing
        if hit is not None:
            if hit[1] is None:
                raise Unauthenticated("the access token is not active at any provider that introspects tokens")
            return hit[1]
        other_tenant = False
        for tenant_id, config in providers.items():
            if config.introspection is None:
                continue
            answer = await self._ask(token, config)
            if answer.get("active") is not True:  # RFC 7662 §2.2: a boolean; "false" or 1 is not active
                continue
            if not tenant_matches(answer, config, tenant_id):  # another tenant of a shared provider
                other_tenant = True
                continue
            exp = answer.get("exp")
            until = now + config.introspection.cache_s
            if isinstance(exp, int | float) and not isinstance(exp, bool):
                until = min(until, exp)  # never past the token's own expiry
            result: Result = (tenant_id, answer)
            self._remember(digest, until, result)
            return result
        self._remember(digest, now + NEGATIVE_CACHE_S, None)
        if other_tenant:
            raise Unauthenticated("the token's tenant claim matches no tenant of this issuer")
        raise Unauthenticated("the access token is not active at any provider that introspects tokens")

    def forget(self, tenant_id: str) -> None:
        """Drop the answers cached for a tenant (its identity settings changed)."""
        for digest, (_, result) in list(self._cache.items()):
            if result is not None and result[0] == tenant_id:
                self._cache.pop(digest, None)

    def _remember(self, digest: str, until: float, result: Result | None) -> None:
        if until <= self.clock():
            return
        self._cache[digest] = (until, result)

    async def _ask(self, token: str, config: IdentityProviderConfig) -> dict[str, Any]:
        spec = config.introspection
        assert spec is not None
        try:
            endpoint = spec.endpoint or (await self.jwks.discovery(config.issuer)).get("introspection_endpoint")
            if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
                raise ProviderUnavailable(f"{config.issuer} names no http(s) introspection endpoint")
            async with AsyncOAuth2Client(client_id=spec.client_id, client_secret=spec.client_secret.get_secret_value(),
                                         follow_redirects=False, timeout=5.0) as oauth:
                response = await oauth.introspect_token(endpoint, token=token, token_type_hint="access_token")
        except (ProviderUnavailable, httpx.HTTPError) as exc:
            log.warning("token introspection at %s failed: %s", config.issuer, exc.__class__.__name__)
            raise Unauthenticated("the identity provider could not be asked about this token; try again") from None
        if response.status_code != 200:
            log.warning("token introspection at %s answered HTTP %d", config.issuer, response.status_code)
            raise Unauthenticated("the identity provider refused to introspect this token")
        try:
            data = response.json()
        except ValueError:
            raise Unauthenticated("the identity provider's introspection answer is not JSON") from None
        return data if isinstance(data, dict) else {}
