"""The masked frames the answer path remembers (answer.Answerer.masked_frame): a cached refresh is not masked again,
and what is remembered never answers another tenant, another role or principal, or a changed policy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from success_metrics.ingest import intake
from success_metrics.ingest.writer import Source
from success_metrics.rbac import masking
from success_metrics.storage.pool import Database
from tests.datasource import seed
from tests.datasource.seed import client, tenant  # noqa: F401  (fixtures)
from tests.datasource.test_pipeline import (
    bearer,
    services_of,
    tenant_wide_manager_policy,
    weighted_body,
)


@pytest.fixture
def maskings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The role of every masking pass made from now on."""
    done: list[str] = []
    real = masking.apply

    def counted(frame: Any, grant: Any, key: bytes) -> Any:
        done.append(masking._masks(grant).principal.role.value)
        return real(frame, grant, key)

    monkeypatch.setattr(masking, "apply", counted)
    return done


async def test_a_cached_refresh_is_not_masked_again(client: httpx.AsyncClient, db: Database, tenant: str,
                                                    token_for: Any, maskings: list[str]) -> None:
    await tenant_wide_manager_policy(db, services_of(client), tenant)
    manager = bearer(token_for(tenant, "manager"))
    first = await client.post("/query", json=weighted_body(), headers=manager)
    again = await client.post("/query", json=weighted_body(), headers=manager)
    other = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "manager",
                                                                                       subject="m2@x")))
    assert maskings == ["manager"]  # the second request and another manager of the same scope: remembered
    assert first.content == again.content == other.content
    assert again.headers["X-Masked-Fields"] == "deal_value,revenue"


async def test_a_lesser_role_never_gets_what_was_masked_for_a_greater(client: httpx.AsyncClient, db: Database,
                                                                      tenant: str, token_for: Any) -> None:
    """Executive and manager share one computed frame (tenant scope under this policy), in either order."""
    await tenant_wide_manager_policy(db, services_of(client), tenant)
    for role in ("executive", "manager", "executive", "manager"):
        r = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, role,
                                                                                       subject="same@x")))
        # deal values: executive 1000, 500, 0, 1500 as computed; manager bucketed to 1000 (1000, 0, 0, 1000)
        expected = [1000.0, 500.0, 0.0, 1500.0] if role == "executive" else [1000, 0, 0, 1000]
        assert [row[2] for row in r.json()[0]["rows"]] == expected, role
        assert ("X-Masked-Fields" in r.headers) == (role == "manager")


async def test_a_policy_change_is_seen_by_the_next_request(client: httpx.AsyncClient, db: Database, tenant: str,
                                                           token_for: Any) -> None:
    manager = bearer(token_for(tenant, "manager", teams=["t1"]))
    before = await client.post("/query", json=weighted_body(), headers=manager)
    assert "X-Masked-Fields" not in before.headers
    await tenant_wide_manager_policy(db, services_of(client), tenant)  # revenue hidden, deal values bucketed
    after = await client.post("/query", json=weighted_body(), headers=manager)
    assert after.headers["X-Masked-Fields"] == "deal_value,revenue"
    assert [row[2] for row in after.json()[0]["rows"]] == [1000, 0, 0, 1000]


async def test_another_tenant_never_gets_the_first_tenants_answer(client: httpx.AsyncClient, db: Database,
                                                                  tenant: str, new_tenant_id: Any,
                                                                  token_for: Any) -> None:
    """The same query, role and subject in two tenants whose data differ by one deal (L2: 2000, direct)."""
    other = new_tenant_id("memo")
    await seed.load(db, other)
    deal = {"id": "d-L2", "type": "deal.closed", "occurred_at": f"{seed.DAY}T10:00:00Z", "lead_id": "L2",
            "agent_id": "a1", "data": {"value": 2000, "attribution_class": "direct"}}
    report = await intake.ingest(db, other, [deal], source=Source("api"))
    assert not report.rejected, report.rejected
    svc = services_of(client)
    for tenant_id in (tenant, other):
        await tenant_wide_manager_policy(db, svc, tenant_id)
    expected = {  # deal values by class (direct, assisted, influenced, total), as computed and bucketed to 1000
        (tenant, "executive"): [1000.0, 500.0, 0.0, 1500.0], (tenant, "manager"): [1000, 0, 0, 1000],
        (other, "executive"): [3000.0, 500.0, 0.0, 3500.0], (other, "manager"): [3000, 0, 0, 3000]}
    for tenant_id, role in [*expected, *expected]:
        r = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant_id, role,
                                                                                       subject="same@x")))
        assert [row[2] for row in r.json()[0]["rows"]] == expected[tenant_id, role], (tenant_id, role)
