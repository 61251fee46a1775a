"""RFC 7662 introspection of opaque access tokens, through Authlib's HTTPX OAuth client, cached briefly.

The cache is keyed by a hash of the token (the token itself is never kept as a key or logged) and an
entry lives at most ``cache_s`` seconds and never past the token's own ``exp``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client

from rbac.errors import Unauthenticated
from rbac.identity_config import IdentityProviderConfig
from rbac.jwks import JwksCache, ProviderUnavailable

log = logging.getLogger(__name__)

Result = tuple[str, IdentityProviderConfig, dict[str, Any]]
NEGATIVE_CACHE_S = 10.0


class Introspector:
    def __init__(self, client: httpx.AsyncClient, jwks: JwksCache, *, max_entries: int = 10_000) -> None:
        self.client = client
        self.jwks = jwks
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Result | None]] = {}  # None: inactive, so a replay costs no call

    async def introspect(self, token: str, providers: Mapping[str, IdentityProviderConfig]) -> Result:
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = time.time()
        hit = self._cache.get(digest)
        if hit and hit[0] > now:
            if hit[1] is None:
                raise Unauthenticated("the access token is not active at any provider that introspects tokens")
            return hit[1]
        for tenant_id, config in providers.items():
            if config.introspection is None:
                continue
            claims = await self._ask(token, config)
            if not claims.get("active"):
                continue
            if config.tenant_claim and claims.get(config.tenant_claim) != (config.tenant_claim_value or tenant_id):
                continue
            if claims.get("iss", config.issuer) != config.issuer:
                continue
            exp = claims.get("exp")
            if isinstance(exp, int | float) and exp <= now:
                raise Unauthenticated("the token has expired; sign in again", tenant_id)
            claims.setdefault("iss", config.issuer)
            result: Result = (tenant_id, config, claims)
            self._remember(digest, min(now + config.introspection.cache_s,
                                       exp if isinstance(exp, int | float) else now + 3600), result)
            return result
        self._remember(digest, now + NEGATIVE_CACHE_S, None)
        raise Unauthenticated("the access token is not active at any provider that introspects tokens")

    def _remember(self, digest: str, until: float, result: Result | None) -> None:
        if len(self._cache) >= self.max_entries:
            now = time.time()
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            if len(self._cache) >= self.max_entries:
                return  # full of live entries: answer without caching rather than grow
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
