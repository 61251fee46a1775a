"""The claim checks every token passes, whether its claims come from a verified JWT or from an RFC 7662
introspection answer: issuer, audience, expiry, not-before, issued-at, tenant and subject.

One function for both paths, so an opaque token is held to exactly what a JWT is held to (RFC 9068 §4, RFC 7662
§4: the resource server still decides whether the token is meant for it). ``check`` raises ``Unauthenticated``
with a reason a person can act on; the reasons are those the JWT path always gave.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from success_metrics.rbac.errors import Unauthenticated
from success_metrics.rbac.identity_config import IdentityProviderConfig, claim_at

# claims a signed JWT must carry; an introspection answer needs no iat (the provider vouches for it live)
JWT_REQUIRED = ("exp", "iat", "sub", "iss", "aud")
INTROSPECTION_REQUIRED = ("exp", "sub", "aud")


def tenant_matches(claims: dict[str, Any], config: IdentityProviderConfig, tenant_id: str) -> bool:
    """True when the provider names no tenant claim, or the claim names this tenant."""
    return not config.tenant_claim or claim_at(claims, config.tenant_claim) == (config.tenant_claim_value or tenant_id)


def check(claims: dict[str, Any], config: IdentityProviderConfig, tenant_id: str, *, now: float,
          required: Collection[str]) -> str:
    """Every check a token's claims must pass for this tenant's provider; returns the subject."""
    def refuse(reason: str) -> Unauthenticated:
        return Unauthenticated(reason, tenant_id)

    for name in required:
        if claims.get(name) in (None, "", []):
            raise refuse(f"the token lacks the required claim {name!r}")
    if claims.get("iss", config.issuer) != config.issuer:
        raise refuse("the token's issuer is not this tenant's provider")
    aud = claims.get("aud")
    if aud is not None:
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
        if audiences is None or not all(isinstance(a, str) for a in audiences) or not set(audiences) & set(
                config.audiences):
            raise refuse("the token's audience is not accepted by this tenant; add it to identity.audiences")
    leeway = config.leeway_s
    exp, nbf, iat = (_time(claims, name, tenant_id) for name in ("exp", "nbf", "iat"))
    if exp is not None and exp <= now - leeway:
        raise refuse("the token has expired; sign in again")
    if (nbf is not None and nbf > now + leeway) or (iat is not None and iat > now + leeway):
        raise refuse("the token is not valid yet (nbf/iat in the future); check the clocks")
    if not tenant_matches(claims, config, tenant_id):
        raise refuse("the token's tenant claim does not match")
    subject = claim_at(claims, config.subject_claim)
    if not isinstance(subject, str) or not subject:
        raise refuse(f"the token lacks the subject claim {config.subject_claim!r}")
    return subject


def _time(claims: dict[str, Any], name: str, tenant_id: str) -> float | None:
    """A NumericDate claim (RFC 7519 §2), or None when absent; anything else is refused."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):  # NaN, ±inf
        raise Unauthenticated(f"the token's {name!r} claim is not a number of seconds", tenant_id)
    return float(value)
