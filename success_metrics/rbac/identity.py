"""The identify stage: credentials (bearer token, ID token or service key) → Principal.

Every check of a JWT is made here, against the tenant's provider: size, header, algorithm from the
allow-list and matching the key type, signature with a key from the issuer's JWKS (never from the token's
own ``jku``/``x5u``/``jwk`` members, which are ignored), ``typ`` where configured; then the claims (exact ``iss``,
``aud``, ``exp``/``iat``/``sub`` required, ``nbf``, tenant) by success_metrics/rbac/claims.py, which checks an opaque token's
introspection answer the same way. A failure raises ``Unauthenticated`` with a reason a person
can act on and never the token; a valid identity whose groups map to no role raises ``NoRole``.
Unsigned headers such as ``X-Grafana-User`` are never read.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt.types import Options
from pydantic import SecretStr, ValidationError

from success_metrics.calculators import TenantId
from success_metrics.rbac import claims as claim_checks
from success_metrics.rbac import dev_issuer as dev_keys
from success_metrics.rbac import keys
from success_metrics.rbac.errors import NoRole, Unauthenticated
from success_metrics.rbac.identity_config import KEY_TYPE_FOR, IdentityProviderConfig, TokenKind, as_strings, claim_at, role_for
from success_metrics.rbac.introspection import Introspector
from success_metrics.rbac.jwks import JwksCache
from success_metrics.rbac.principal import AuthMethod, Principal, Role
from success_metrics.rbac.verified_tokens import VerifiedTokens

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 16 * 1024  # before anything is parsed
MAX_HEADER_BYTES = 1024
SERVICE_KEY_PREFIX = "smk_"
DEV_TENANT_PATTERN = r"^[a-z][a-z0-9_-]{1,62}$"

ConnFactory = Callable[[], AbstractAsyncContextManager[Any]]


@dataclass(frozen=True, slots=True)
class Credentials:
    authorization: SecretStr | None = None  # the bearer of "Authorization: Bearer …"
    id_token: SecretStr | None = None  # "X-ID-Token"
    # "X-SM-Tenant": which tenant's provider to ask about an opaque token. Routing only, never trusted: the
    # provider's answer must pass that tenant's checks. Needed when several tenants introspect, so that no
    # provider is shown another tenant's token.
    tenant: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Credentials:
        auth = headers.get("authorization") or ""
        scheme, _, value = auth.strip().partition(" ")
        bearer = value.strip() if scheme.lower() == "bearer" and value.strip() else None
        id_token = (headers.get("x-id-token") or "").strip() or None
        tenant = (headers.get("x-sm-tenant") or "").strip()[:100] or None
        return cls(SecretStr(bearer) if bearer else None, SecretStr(id_token) if id_token else None, tenant)

    @property
    def present(self) -> bool:
        return self.authorization is not None or self.id_token is not None


@dataclass(frozen=True, slots=True)
class Provider:
    tenant_id: str
    config: IdentityProviderConfig
    dev: bool = False


def parse_providers(tenants: Mapping[str, Mapping[str, Any]]) -> dict[str, IdentityProviderConfig]:
    """tenant id → validated config; tenants with an empty identity block have no provider. Raises ValueError."""
    out: dict[str, IdentityProviderConfig] = {}
    for tenant_id, raw in tenants.items():
        if not raw:
            continue
        try:
            out[tenant_id] = IdentityProviderConfig.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'identity'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"tenants[{tenant_id}].identity: {problems}") from None
    return out


def _segment(token: str, index: int, what: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise Unauthenticated("the token is not a JWT (expected three dot-separated parts)")
    if index == 0 and len(parts[0]) > MAX_HEADER_BYTES:
        raise Unauthenticated(f"the token header is larger than {MAX_HEADER_BYTES} bytes")
    try:
        raw = base64.urlsafe_b64decode(parts[index] + "=" * (-len(parts[index]) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Unauthenticated(f"the token {what} is not valid base64url JSON") from None
    if not isinstance(value, dict):
        raise Unauthenticated(f"the token {what} is not a JSON object")
    return value


# PyJWT checks the signature only; the claims are checked by success_metrics.rbac.claims, as an introspection answer's are
SIGNATURE_ONLY: Options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                           "verify_iss": False}


def _reason(exc: jwt.InvalidTokenError) -> str:
    match exc:
        case jwt.InvalidSignatureError():
            return "the token's signature does not verify"
        case jwt.InvalidAlgorithmError():
            return "the token's algorithm does not match its key"
        case jwt.DecodeError():
            return "the token is malformed"
    return f"the token was rejected ({exc.__class__.__name__})"


class Identifier:
    """Built once at start from the tenants' identity blocks (plus the dev issuer when enabled)."""

    def __init__(self, providers: Mapping[str, IdentityProviderConfig], client: httpx.AsyncClient, *,
                 dev_data_dir: Path | None = None, dev_issuer: str = dev_keys.DEFAULT_ISSUER,
                 dev_audience: str = dev_keys.DEFAULT_AUDIENCE, jwks: JwksCache | None = None) -> None:
        self.client = client
        self.jwks = jwks or JwksCache(client)
        self.introspector = Introspector(client, self.jwks)
        self.dev_data_dir = dev_data_dir
        self._dev = IdentityProviderConfig(
            issuer=dev_issuer, audiences=(dev_audience,), algorithms=(dev_keys.ALGORITHM,), typ="JWT",
            tenant_claim=dev_keys.TENANT_CLAIM, roles_claim=dev_keys.ROLES_CLAIM,
            role_map={r.value: r for r in Role}, locations_claim="locations",
        ) if dev_data_dir is not None else None
        self.providers: dict[str, IdentityProviderConfig] = dict(providers)
        self._dev_jwk: jwt.PyJWK | None = None  # read from data_dir on first use
        self.verified = VerifiedTokens()

    def _dev_key(self) -> jwt.PyJWK:
        if self._dev_jwk is None:
            assert self.dev_data_dir is not None
            self._dev_jwk = jwt.PyJWK(dev_keys.public_jwk(self.dev_data_dir))
        return self._dev_jwk

    def replace(self, tenant_id: str, config: IdentityProviderConfig | None) -> None:
        """Use a new provider configuration for one tenant (admin API); None removes it."""
        if config is None:
            self.providers.pop(tenant_id, None)
        else:
            self.providers[tenant_id] = config
        # a token verified (or an introspection answer chosen) under the old settings must be checked again
        self.verified.forget(tenant_id)
        self.introspector.forget(tenant_id)

    async def identify(self, creds: Credentials, conn_factory: ConnFactory) -> Principal:
        if not creds.present:
            raise Unauthenticated("no credentials: send 'Authorization: Bearer <token>' (or X-ID-Token)")
        bearer = creds.authorization.get_secret_value() if creds.authorization else None
        if bearer and bearer.startswith(SERVICE_KEY_PREFIX):
            return await self._service_key(bearer, conn_factory)
        candidates: list[tuple[str, TokenKind]] = []
        if bearer:
            candidates.append((bearer, "access"))
        if creds.id_token:
            candidates.append((creds.id_token.get_secret_value(), "id"))
        last: Unauthenticated | None = None
        for token, kind in candidates:
            if len(token) > MAX_TOKEN_BYTES:
                raise Unauthenticated(f"the token is larger than {MAX_TOKEN_BYTES} bytes")
            try:
                return await self._token(token, kind, creds.tenant)
            except _NotForUs as exc:  # e.g. an access token meant for another API; try the ID token
                last = Unauthenticated(exc.reason, tenant_id=exc.tenant_id)
        assert last is not None
        raise last

    async def _service_key(self, secret: str, conn_factory: ConnFactory) -> Principal:
        async with conn_factory() as conn:
            key = await keys.verify_service_key(conn, secret)
        return Principal(tenant_id=TenantId(key.tenant_id), subject=f"service-key:{key.name}", role=Role(key.role),
                         auth_method=AuthMethod.SERVICE_KEY, name=key.name)

    async def _token(self, token: str, kind: TokenKind, tenant_hint: str | None = None) -> Principal:
        if token.count(".") != 2:
            if kind == "access" and any(p.introspection for p in self.providers.values()):
                tenant_id, answer = await self.introspector.introspect(token, self._introspecting(tenant_hint))
                config = self.providers.get(tenant_id)
                if config is None:  # its provider was removed while the introspection ran
                    raise Unauthenticated("the token's tenant no longer trusts its provider", tenant_id)
                return self._principal(Provider(tenant_id, config), answer, AuthMethod.INTROSPECTION,
                                       claim_checks.INTROSPECTION_REQUIRED)
            raise _NotForUs("the token is not a JWT and no provider introspects opaque tokens")
        digest = self.verified.digest(token, kind)
        known = self.verified.get(digest, self._key_trusted)
        if known is not None:
            return known
        header = _segment(token, 0, "header")
        unverified = _segment(token, 1, "payload")
        provider = self._provider_for(unverified, kind)
        config = provider.config
        if len(token) > config.max_token_bytes:
            raise Unauthenticated(f"the token is larger than {config.max_token_bytes} bytes", provider.tenant_id)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in config.algorithms:
            raise Unauthenticated(f"the token's algorithm {str(alg)[:20]!r} is not allowed; this tenant accepts "
                                  f"{', '.join(config.algorithms)}", provider.tenant_id)
        if config.typ and str(header.get("typ", "")).lower() != config.typ.lower():
            raise Unauthenticated(f"the token's typ must be {config.typ!r}", provider.tenant_id)
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        if provider.dev:
            jwk = self._dev_key()
        else:
            jwk = await self._key(config, kid, provider.tenant_id)
        if jwk.key_type != KEY_TYPE_FOR.get(alg[:2]):
            raise Unauthenticated("the token's algorithm does not match its signing key", provider.tenant_id)
        try:
            claims = jwt.decode(token, jwk.key, algorithms=[alg], options=SIGNATURE_ONLY)
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(_reason(exc), provider.tenant_id) from None
        method = AuthMethod.DEV if provider.dev else (AuthMethod.JWT if kind == "access" else AuthMethod.ID_TOKEN)
        principal = self._principal(provider, claims, method, claim_checks.JWT_REQUIRED)
        self.verified.put(digest, principal, claims.get("exp"), None if provider.dev else (config.issuer, kid))
        return principal

    def _introspecting(self, tenant_hint: str | None) -> dict[str, IdentityProviderConfig]:
        """The one provider an opaque token may be shown to: the named tenant's, or the only one that introspects."""
        found = {t: c for t, c in self.providers.items() if c.introspection is not None
                 and (tenant_hint is None or t == tenant_hint)}
        if tenant_hint is not None and not found:
            raise Unauthenticated(f"tenant {tenant_hint[:64]!r} does not introspect opaque tokens here")
        if len(found) > 1:
            raise Unauthenticated("several tenants introspect opaque tokens here: name yours in the X-SM-Tenant header "
                                  "(in Grafana, a custom HTTP header of the data source)")
        return found

    def _key_trusted(self, key: tuple[str, str | None]) -> bool:
        return self.jwks.trusted(*key)

    async def refresh_keys(self, tenant_id: str) -> list[str]:
        """Fetch the tenant's provider keys now (admin API): a key it dropped is refused at once, also for tokens
        verified before. The key ids published; ProviderUnavailable when the provider cannot be reached."""
        config = self.providers.get(tenant_id)
        if config is None:
            raise Unauthenticated(f"tenant {tenant_id} has no identity provider", tenant_id)
        kids = await self.jwks.refresh(config.issuer, jwks_uri=config.jwks_uri)
        self.verified.forget(tenant_id)
        return kids

    async def _key(self, config: IdentityProviderConfig, kid: str | None, tenant_id: str) -> jwt.PyJWK:
        try:
            return await self.jwks.key_for(config.issuer, kid, jwks_uri=config.jwks_uri)
        except Unauthenticated as exc:
            raise Unauthenticated(exc.message, tenant_id) from None

    def _provider_for(self, unverified: dict[str, Any], kind: TokenKind) -> Provider:
        """The tenant whose provider issued this token: exact issuer, then the tenant claim if issuers are shared."""
        iss = unverified.get("iss")
        if not isinstance(iss, str):
            raise Unauthenticated("the token has no issuer (iss)")
        if self._dev is not None and iss == self._dev.issuer:
            tenant = unverified.get(dev_keys.TENANT_CLAIM)
            if not isinstance(tenant, str) or not _dev_tenant_ok(tenant):
                raise Unauthenticated("the dev token names no valid tenant")
            return Provider(tenant, self._dev, dev=True)
        matches = [(t, c) for t, c in self.providers.items() if c.issuer == iss]
        if not matches:
            raise Unauthenticated(f"tokens of issuer {iss[:100]!r} are not trusted here")
        accepted = [(t, c) for t, c in matches if kind in c.accept]
        if not accepted:
            raise _NotForUs(f"this tenant does not accept {kind} tokens", matches[0][0] if len(matches) == 1 else None)
        if len(accepted) > 1 or accepted[0][1].tenant_claim:
            accepted = [(t, c) for t, c in accepted if c.tenant_claim and claim_checks.tenant_matches(unverified, c, t)]
            if len(accepted) != 1:
                raise Unauthenticated("the token's tenant claim matches no tenant of this issuer")
        return Provider(*accepted[0])

    def _principal(self, provider: Provider, claims: dict[str, Any], method: AuthMethod,
                   required: tuple[str, ...]) -> Principal:
        config = provider.config
        subject = claim_checks.check(claims, config, provider.tenant_id, now=time.time(), required=required)
        groups = as_strings(claim_at(claims, config.roles_claim))
        role = role_for(groups, config.role_map)
        if role is None:
            shown = ", ".join(groups[:5]) or "none"
            raise NoRole(f"you are signed in, but none of your groups ({shown}) maps to a role in tenant "
                         f"{provider.tenant_id}; ask an admin to map one in identity.role_map",
                         provider.tenant_id, subject)
        return Principal(
            tenant_id=TenantId(provider.tenant_id), subject=subject, role=role, auth_method=method,
            name=_scalar(claims, config.name_claim), agent_id=_scalar(claims, config.agent_id_claim),
            teams=as_strings(claim_at(claims, config.teams_claim)) if config.teams_claim else (),
            locations=as_strings(claim_at(claims, config.locations_claim)) if config.locations_claim else (),
        )


class _NotForUs(Exception):
    def __init__(self, reason: str, tenant_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tenant_id = tenant_id


def _dev_tenant_ok(tenant: str) -> bool:
    return re.fullmatch(DEV_TENANT_PATTERN, tenant) is not None


def _scalar(claims: dict[str, Any], path: str | None) -> str | None:
    value = claim_at(claims, path) if path else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
