"""Template-variable values, limited by the row scope."""

from __future__ import annotations

from success_metrics.calculators import Dimension, RowScope, ScopeKind, dimension_values
from success_metrics.storage.pool import Database


async def values(db: Database, tenant: str, dim: Dimension, scope: RowScope = RowScope()) -> list[tuple[str, str]]:
    async with db.tenant(tenant) as conn:
        return await dimension_values(conn, tenant, dim, scope)


async def test_dimension_values(db: Database, tenant_a: str) -> None:
    assert await values(db, tenant_a, Dimension.AGENT) == [("a1", "Ann"), ("a2", "Bob"), ("a3", "Cat")]
    assert await values(db, tenant_a, Dimension.AGENT, RowScope(ScopeKind.TEAM, teams=("t1",))) == [
        ("a1", "Ann"), ("a2", "Bob")]
    assert await values(db, tenant_a, Dimension.AGENT, RowScope(ScopeKind.SELF, agent_id="a3")) == [("a3", "Cat")]
    assert await values(db, tenant_a, Dimension.TEAM, RowScope(ScopeKind.SELF, agent_id="a3")) == [("t2", "t2")]
    assert [v for v, _ in await values(db, tenant_a, Dimension.SOURCE)] == ["paid_ads", "referral", "website_form"]
    assert [v for v, _ in await values(db, tenant_a, Dimension.COMPONENT)] == ["crm_sync", "sms_gateway"]
    assert [v for v, _ in await values(db, tenant_a, Dimension.SERVICE)] == ["gohighlevel", "twilio"]
    assert [v for v, _ in await values(db, tenant_a, Dimension.CHANNEL)] == ["email", "phone", "sms"]
    assert [v for v, _ in await values(db, tenant_a, Dimension.SCORE_BAND)] == ["hot", "warm", "cold"]
    assert await values(db, tenant_a, Dimension.LOCATION) == [("loc1", "loc1")]
