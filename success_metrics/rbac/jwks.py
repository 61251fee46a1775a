"""Signing keys per issuer: fetched with httpx, cached for the provider's ``Cache-Control: max-age`` (bounded by
``max_ttl_s``, and never under the cooldown), refetched on an unknown ``kid`` at most once per cooldown, and kept
working while the provider is down. A fetch that succeeds replaces the keys, so a key the provider dropped is
refused from then on; ``refresh`` fetches at once (the admin API's forced refresh).

PyJWKClient is not used: its fetch blocks, and this runs in the event loop. Fetches never follow redirects
(a redirect to another host would let that host choose our keys) and only http/https URLs are accepted.
One asyncio lock per issuer makes a flood of tokens with unknown kids cost one fetch, not one each.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from success_metrics.rbac.errors import Unauthenticated

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 256 * 1024
DEFAULT_MAX_TTL_S = 300.0  # keys are trusted this long without asking the provider again, unless it says less


class ProviderUnavailable(Exception):
    """The provider's JWKS or discovery document could not be fetched or read."""


@dataclass
class _IssuerState:
    keys: dict[str, PyJWK] = field(default_factory=dict)
    fetched_at: float | None = None  # last successful fetch
    ttl_s: float = 0.0  # how long that fetch's keys are fresh (the provider's max-age, bounded)
    attempted_at: float | None = None  # last attempt, successful or not
    jwks_uri: str | None = None
    discovery: dict[str, Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _check_url(url: str) -> str:
    if not url.lower().startswith(("https://", "http://")):
        raise ProviderUnavailable(f"refusing to fetch {url!r}: only http and https URLs are used")
    return url


async def fetch_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """GET a JSON object, no redirects, size-capped; any failure is ProviderUnavailable."""
    return (await fetch_document(client, url))[0]


def max_age(headers: httpx.Headers) -> float | None:
    """Seconds a response may be cached by its ``Cache-Control`` (less its ``Age``): 0 for no-store/no-cache,
    None when it says nothing."""
    control = headers.get("cache-control", "").lower()
    if re.search(r"(^|[\s,])(no-store|no-cache)\b", control):
        return 0.0
    found = re.search(r"(^|[\s,])max-age\s*=\s*\"?(\d{1,10})", control)
    if found is None:
        return None
    age = headers.get("age", "")
    return max(0.0, float(found.group(2)) - (float(age) if age.isdigit() else 0.0))


async def fetch_document(client: httpx.AsyncClient, url: str) -> tuple[dict[str, Any], httpx.Headers]:
    """``fetch_json`` with the response's headers."""
    try:
        response = await client.get(_check_url(url), follow_redirects=False, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"{url}: {exc.__class__.__name__}") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"{url}: HTTP {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(f"{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        data = response.json()
    except ValueError:
        raise ProviderUnavailable(f"{url}: not JSON") from None
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"{url}: not a JSON object")
    return data, response.headers


def parse_jwks(data: dict[str, Any]) -> dict[str, PyJWK]:
    """kid → key for each usable key; keys PyJWT cannot use (or meant for encryption) are skipped."""
    keys: dict[str, PyJWK] = {}
    for jwk in data.get("keys") or []:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[str(jwk.get("kid", ""))] = PyJWK(jwk)
        except PyJWKError:
            continue
    return keys


class JwksCache:
    """Keys per issuer. ``key_for`` is the one entry point the identity stage uses."""

    def __init__(self, client: httpx.AsyncClient, *, max_ttl_s: float = DEFAULT_MAX_TTL_S,
                 refetch_cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.max_ttl_s = max_ttl_s
        self.refetch_cooldown_s = refetch_cooldown_s
        self.clock = clock
        self._states: dict[str, _IssuerState] = {}

    def _state(self, issuer: str) -> _IssuerState:
        return self._states.setdefault(issuer, _IssuerState())

    async def discovery(self, issuer: str) -> dict[str, Any]:
        """The issuer's OpenID configuration, fetched once and checked to name the same issuer."""
        state = self._state(issuer)
        if state.discovery is None:
            url = issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = await fetch_json(self.client, url)
            if doc.get("issuer") != issuer:
                raise ProviderUnavailable(f"{url} names issuer {str(doc.get('issuer'))[:100]!r}, not {issuer!r}")
            state.discovery = doc
        return state.discovery

    async def _jwks_uri(self, issuer: str, configured: str | None) -> str:
        if configured:
            return configured
        uri = (await self.discovery(issuer)).get("jwks_uri")
        if not isinstance(uri, str):
            raise ProviderUnavailable(f"the OpenID configuration of {issuer} has no jwks_uri")
        return uri

    async def _fetch(self, issuer: str, jwks_uri: str | None, state: _IssuerState) -> None:
        """Replace the issuer's keys with what it publishes now; ProviderUnavailable keeps the cached ones."""
        state.attempted_at = self.clock()
        try:
            uri = await self._jwks_uri(issuer, jwks_uri)
            document, headers = await fetch_document(self.client, uri)
        except ProviderUnavailable as exc:
            log.warning("identity provider %s unavailable (%s); %d cached key(s) stay in use",
                        issuer, exc, len(state.keys))
            raise
        keys = parse_jwks(document)
        dropped = sorted(set(state.keys) - set(keys))
        if dropped and state.fetched_at is not None:
            log.info("identity provider %s no longer publishes key(s) %s; they are refused from now on",
                     issuer, ", ".join(k[:64] for k in dropped))
        provider_says = max_age(headers)
        state.keys = keys
        state.fetched_at = self.clock()
        state.ttl_s = max(self.refetch_cooldown_s, min(self.max_ttl_s, self.max_ttl_s if provider_says is None
                                                       else provider_says))

    async def _refresh(self, issuer: str, jwks_uri: str | None, state: _IssuerState) -> None:
        try:
            await self._fetch(issuer, jwks_uri, state)
        except ProviderUnavailable:
            pass  # logged; an outage is not a removal

    async def refresh(self, issuer: str, *, jwks_uri: str | None = None) -> list[str]:
        """Fetch the issuer's keys now, cooldown or not; the key ids it publishes. ProviderUnavailable when it
        cannot be fetched (the cached keys then stay in use)."""
        state = self._state(issuer)
        async with state.lock:
            await self._fetch(issuer, jwks_uri, state)
        return sorted(state.keys)

    def expire(self) -> None:
        """Treat every issuer's keys as stale: each is fetched again on its next use (cooldown permitting)."""
        for state in self._states.values():
            state.ttl_s = 0.0

    def _due(self, state: _IssuerState, kid: str) -> bool:
        now = self.clock()
        cooled = state.attempted_at is None or now - state.attempted_at >= self.refetch_cooldown_s
        stale = state.fetched_at is None or now - state.fetched_at >= state.ttl_s
        return cooled and (stale or kid not in state.keys)

    def trusted(self, issuer: str, kid: str | None) -> bool:
        """Whether a token verified earlier with this key may still be taken on trust: the key is still published
        and no refetch is due (else the caller verifies again, through ``key_for``)."""
        state = self._states.get(issuer)
        return state is not None and (kid or "") in state.keys and not self._due(state, kid or "")

    async def key_for(self, issuer: str, kid: str | None, *, jwks_uri: str | None = None) -> PyJWK:
        state = self._state(issuer)
        wanted = kid or ""
        if self._due(state, wanted):
            async with state.lock:
                if self._due(state, wanted):  # another task may have fetched while we waited
                    await self._refresh(issuer, jwks_uri, state)
        if wanted in state.keys:
            return state.keys[wanted]
        if kid is None and len(state.keys) == 1:
            return next(iter(state.keys.values()))
        if state.fetched_at is None:
            raise Unauthenticated(f"the signing keys of {issuer} cannot be fetched right now; try again shortly")
        if kid is None:
            raise Unauthenticated("the token header has no 'kid' and the issuer publishes several keys")
        raise Unauthenticated(f"the token was signed with key id {kid[:64]!r}, which {issuer} does not publish")
