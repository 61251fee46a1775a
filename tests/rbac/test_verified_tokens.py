"""Verified tokens are remembered (one signature check per token, not per panel request), but never past the
token's exp, never past MAX_AGE_S, and never after the tenant's identity settings change."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from success_metrics.rbac import Unauthenticated
from success_metrics.rbac.principal import AuthMethod, Principal, Role
from success_metrics.rbac.verified_tokens import VerifiedTokens
from tests.rbac.test_identity import Clock, ident, make

WHO = Principal(tenant_id="acme", subject="u1", role=Role.AGENT, auth_method=AuthMethod.JWT)  # type: ignore[arg-type]


def test_an_entry_lives_until_the_token_expires_or_max_age_whichever_is_first() -> None:
    clock = Clock()
    tokens = VerifiedTokens(max_age_s=60, clock=clock)
    short, long_ = tokens.digest("t1", "access"), tokens.digest("t2", "access")
    tokens.put(short, WHO, exp=clock.now + 10)
    tokens.put(long_, WHO, exp=clock.now + 3600)
    clock.now += 9.9
    assert tokens.get(short) is WHO and tokens.get(long_) is WHO
    clock.now += 0.1  # the short token's exp
    assert tokens.get(short) is None and tokens.get(long_) is WHO
    clock.now += 50  # 60 s after it was verified
    assert tokens.get(long_) is None


def test_tokens_without_a_numeric_future_exp_are_not_kept_and_size_is_bounded() -> None:
    clock = Clock()
    tokens = VerifiedTokens(max_entries=2, clock=clock)
    for i, exp in enumerate(["9999999999", None, True, clock.now - 1]):
        tokens.put(tokens.digest(f"bad{i}", "access"), WHO, exp=exp)
    assert len(tokens) == 0
    for i in range(3):
        tokens.put(tokens.digest(f"t{i}", "access"), WHO, exp=clock.now + 100)
    assert len(tokens) == 2 and tokens.get(tokens.digest("t0", "access")) is None


def test_expired_entries_are_dropped_when_another_is_kept() -> None:
    clock = Clock()
    tokens = VerifiedTokens(clock=clock)
    for i in range(3):  # one-off tokens, never presented again
        tokens.put(tokens.digest(f"once{i}", "access"), WHO, exp=clock.now + 10)
    clock.now += 10
    tokens.put(tokens.digest("next", "access"), WHO, exp=clock.now + 10)
    assert len(tokens) == 1


def test_the_same_token_as_access_and_as_id_token_are_different_entries() -> None:
    assert VerifiedTokens.digest("t", "access") != VerifiedTokens.digest("t", "id")


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens PyJWT is asked to verify (the signature check the memory spares)."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr("success_metrics.rbac.identity.jwt.decode", counting)
    return seen


async def test_a_token_is_verified_once_and_a_tampered_copy_is_still_checked(idp: Any, decoded: list[str]) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme"))
    token = provider.sign({"groups": ["sm-manager"]})
    first = await ident(identifier, token)
    for _ in range(5):
        assert await ident(identifier, token) == first
    assert len(decoded) == 1
    header, payload, signature = token.split(".")
    with pytest.raises(Unauthenticated):
        await ident(identifier, f"{header}.{payload}.{signature[:-4]}AAAA")
    assert len(decoded) == 2


async def test_a_token_past_its_exp_is_verified_again_not_served_from_memory(idp: Any, decoded: list[str]) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme"))
    token = provider.sign({"groups": ["sm-manager"], "exp": int(time.time()) - 1})
    await ident(identifier, token)  # past exp but inside the provider's leeway: accepted, and not remembered
    await ident(identifier, token)  # so checked again by PyJWT
    assert len(decoded) == 2


async def test_changed_identity_settings_apply_to_tokens_verified_before(idp: Any) -> None:
    provider = idp()
    identifier = make(provider, provider.tenant("acme"))
    token = provider.sign({"groups": ["sm-manager"]})
    await ident(identifier, token)
    identifier.replace("acme", None)  # the admin removed the tenant's provider
    with pytest.raises(Unauthenticated, match="not trusted"):
        await ident(identifier, token)
