"""The data path as a whole: the cache never crosses roles or tenants, computations are shared, every request
leaves exactly one audit record, and a failed audit write means nothing is served."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from success_metrics.server.services import Services
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource import seed
from tests.datasource.seed import client, tenant  # noqa: F401  (fixtures)
from tests.datasource.grafana_shapes import fixture


def services_of(client: httpx.AsyncClient) -> Services:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    found: Services = transport.app.state.services  # type: ignore[attr-defined]
    return found


def weighted_body() -> dict[str, Any]:
    body = fixture("table_panel")
    body["targets"][0]["target"] = "attribution.weighted"
    return body


def load_balance_body() -> dict[str, Any]:
    body = fixture("table_panel")
    body["targets"][0]["target"] = "agents.load_balance"
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def tenant_wide_manager_policy(db: Database, svc: Services, tenant: str) -> None:
    """A tenant whose managers see the whole tenant (like executives) but with revenue hidden and deal values
    bucketed to 1000: same cache key as an executive, different mask."""
    from success_metrics.rbac import AuthMethod, Principal, Role, policy

    document = json.loads(json.dumps(dict(policy.default_document())))
    document["roles"]["manager"]["row_scope"] = "tenant"
    document["roles"]["manager"]["masks"] = [{"field": "revenue", "strategy": "hide"},
                                             {"field": "deal_value", "strategy": "bucket", "step": 1000}]
    admin = Principal(tenant_id=tenant, subject="admin@pipe", role=Role.ADMIN, auth_method=AuthMethod.DEV)
    async with db.tenant(tenant) as conn:
        await svc.policies.replace(conn, tenant, document, admin, comment="managers see the whole tenant")


async def test_one_cached_frame_is_masked_afresh_for_each_principal(client: httpx.AsyncClient, db: Database,
                                                                     tenant: str, token_for: Any) -> None:
    svc = services_of(client)
    await tenant_wide_manager_policy(db, svc, tenant)
    executive = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "executive")))
    manager = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "manager")))
    again = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "executive")))
    # one computation (tenant scope for all three); the manager's masked view did not replace the cached frame
    assert (svc.cache.stats.misses, svc.cache.stats.hits) == (1, 2)
    assert "X-Masked-Fields" not in executive.headers and executive.json() == again.json()
    assert manager.headers["X-Masked-Fields"] == "deal_value,revenue"
    names = [c["text"] for c in manager.json()[0]["columns"]]
    assert names == ["class", "deals", "revenue", "weight"]  # attributed_revenue (field revenue) hidden
    # deal values bucketed to 1000: direct 1000 → 1000, assisted 500 → 0, total 1500 → 1000
    assert [row[2] for row in manager.json()[0]["rows"]] == [1000, 0, 0, 1000]
    assert [row[2] for row in executive.json()[0]["rows"]] == [1000.0, 500.0, 0.0, 1500.0]


async def test_policy_change_shows_as_an_annotation_to_admins(client: httpx.AsyncClient, db: Database, tenant: str,
                                                              token_for: Any) -> None:
    await tenant_wide_manager_policy(db, services_of(client), tenant)
    now = datetime.now(UTC)
    body = {"range": {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()},
            "annotation": {"name": "Policy", "query": "policy_changes"}}
    r = await client.post("/annotations", json=body, headers=bearer(token_for(tenant, "admin")))
    assert r.status_code == 200, r.text
    [note] = r.json()
    assert (note["title"], note["text"], note["tags"]) == (
        "Role policy v1", "changed by admin@pipe: managers see the whole tenant", ["policy"])
    refused = await client.post("/annotations", json=body, headers=bearer(token_for(tenant, "executive")))
    assert refused.status_code == 403


async def test_same_scope_roles_share_the_computation_but_not_the_mask(client: httpx.AsyncClient, tenant: str,
                                                                        token_for: Any) -> None:
    stats = services_of(client).cache.stats
    admin = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "admin")))
    executive = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "executive")))
    auditor = await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "auditor")))
    assert (stats.misses, stats.hits) == (1, 1)  # admin computed, executive hit (both tenant scope); auditor refused
    assert admin.json() == executive.json()
    assert auditor.json()[0]["meta"]["notices"][0]["severity"] == "error"


async def test_managers_of_different_teams_get_different_entries(client: httpx.AsyncClient, tenant: str,
                                                                 token_for: Any) -> None:
    stats = services_of(client).cache.stats

    async def agents(team: str) -> list[str]:
        r = await client.post("/query", json=load_balance_body(),
                              headers=bearer(token_for(tenant, "manager", teams=[team])))
        [table] = r.json()
        column = [c["text"] for c in table["columns"]].index("agent_id")
        return [row[column] for row in table["rows"]]

    assert await agents("north") == ["a1"]
    assert await agents("south") == ["a2"]
    assert await agents("north") == ["a1"]
    assert (stats.misses, stats.hits) == (2, 1)


async def test_a_tenant_wide_figure_is_computed_once_for_every_role_and_team(client: httpx.AsyncClient, tenant: str,
                                                                             token_for: Any) -> None:
    """attribution.weighted does not read the row scope: executives, both teams' managers and an agent share one
    computation (compute.shared_query), each masked for themselves; agents.load_balance above does not."""
    stats = services_of(client).cache.stats
    callers = [token_for(tenant, "executive"), token_for(tenant, "manager", teams=["north"]),
               token_for(tenant, "manager", teams=["south"]), token_for(tenant, "agent", agent_id="a1")]
    answers = [await client.post("/query", json=weighted_body(), headers=bearer(t)) for t in callers]
    assert [a.status_code for a in answers] == [200] * 4
    assert (stats.misses, stats.hits) == (1, 3)
    assert answers[1].json() == answers[2].json()  # same role, same policy: same view of the shared frame


async def test_tenants_never_see_each_others_results(make_client: Any, db: Database, tenant: str,
                                                     new_tenant_id: Callable[[str], str], token_for: Any) -> None:
    other = new_tenant_id("pipe")
    async with db.system() as conn:
        from success_metrics.storage import tenants

        await tenants.upsert(conn, TenantConfig(id=other, name="Other"))
    from success_metrics.ingest import intake
    from success_metrics.ingest.writer import Source

    one_lead = [e for e in seed.events() if e["id"] in ("c-L3", "r-L3")]  # only L3: referral at 03:20
    await intake.ingest(db, other, one_lead, source=Source("api"))
    client = await make_client(TenantConfig(id=tenant, name="Pipe"), TenantConfig(id=other, name="Other"))
    body = fixture("timeseries_panel")
    mine = await client.post("/query", json=body, headers=bearer(token_for(tenant, "executive")))
    theirs = await client.post("/query", json=body, headers=bearer(token_for(other, "executive")))
    # same request, same minute: the other tenant's key differs, so its one lead (03h) is all it sees
    assert sum(p[0] for p in mine.json()[0]["datapoints"]) == 5
    assert [p for p in theirs.json()[0]["datapoints"] if p[0]] == [[1.0, 1_772_409_600_000 + 3 * 3_600_000]]
    assert services_of(client).cache.stats.misses == 2


async def test_concurrent_panels_share_one_computation(client: httpx.AsyncClient, tenant: str, token_for: Any) -> None:
    stats = services_of(client).cache.stats
    headers = bearer(token_for(tenant, "executive"))
    answers = await asyncio.gather(*(client.post("/query", json=fixture("table_panel"), headers=headers)
                                     for _ in range(6)))
    assert all(a.status_code == 200 for a in answers)
    assert len({a.text for a in answers}) == 1
    assert stats.misses == 1 and stats.joined + stats.hits == 5


async def audit_rows(db: Database, tenant: str) -> list[Any]:
    async with db.system() as conn:
        return list(await conn.fetch("SELECT * FROM audit_log WHERE tenant_id = $1 ORDER BY seq", tenant))


async def test_every_request_leaves_one_audit_record(client: httpx.AsyncClient, db: Database, tenant: str,
                                                     token_for: Any) -> None:
    await client.post("/query", json=weighted_body(), headers=bearer(token_for(tenant, "agent", agent_id="a1",
                                                                               subject="ann@pipe")))
    await client.post("/query", json=fixture("mixed_targets"), headers=bearer(token_for(tenant, "agent",
                                                                                        agent_id="a1")))
    await client.post("/variable", json=fixture("variable_query"), headers=bearer(token_for(tenant, "executive")))
    await client.post("/query", json=fixture("stat_panel"), headers={"Authorization": "Bearer not-a-jwt"})
    first, mixed, variable = await audit_rows(db, tenant)
    assert (first["action"], first["outcome"], first["status"], first["subject"], first["role"]) == \
        ("query", "success", 200, "ann@pipe", "agent")
    assert list(first["masked_fields"]) == ["deal_value", "revenue"]
    assert first["resource"]["metrics"] == ["attribution.weighted"]
    assert first["rows_returned"] == 4  # direct, assisted, influenced, total
    assert mixed["outcome"] == "success" and mixed["reason"] == "refused: D"  # roi.monthly refused, others served
    assert (variable["action"], variable["resource"]["variable"]) == ("discovery", "sources")


async def test_auth_failure_is_audited_under_the_tenant_it_claimed(client: httpx.AsyncClient, db: Database,
                                                                  tenant: str, token_for: Any) -> None:
    token = token_for(tenant, "executive")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = await client.post("/query", json=fixture("stat_panel"), headers=bearer(forged))
    assert r.status_code == 401
    [row] = await audit_rows(db, tenant)
    assert (row["action"], row["outcome"], row["status"]) == ("auth.failure", "denied", 401)


async def test_nothing_is_served_when_the_audit_log_cannot_be_written(client: httpx.AsyncClient, db: Database,
                                                                     tenant: str, token_for: Any) -> None:
    async with db.system() as conn:
        await conn.execute("REVOKE INSERT ON audit_log FROM sm_app")
    try:
        r = await client.post("/query", json=fixture("stat_panel"), headers=bearer(token_for(tenant, "executive")))
    finally:
        async with db.system() as conn:
            await conn.execute("GRANT INSERT ON audit_log TO sm_app")
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert "audit log" in r.json()["message"] and "datapoints" not in r.text and "rows" not in r.text


async def test_an_agent_cannot_filter_a_tenant_figure_down_to_another_agent(client: httpx.AsyncClient, tenant: str,
                                                                            token_for: Any) -> None:
    """conversion.lead_to_appointment is a tenant-wide figure that takes an agent filter: filtered to a2 it is
    a2's own conversion rate, which agent a1 sees only pseudonymised in a scorecard, so it is refused."""
    def body(agent: str) -> dict[str, Any]:
        b = fixture("table_panel")
        b["targets"][0]["target"] = "conversion.lead_to_appointment"
        b["adhocFilters"] = [{"key": "agent", "operator": "=", "value": agent}]
        return b

    headers = bearer(token_for(tenant, "agent", agent_id="a1", teams=["north"]))
    own = (await client.post("/query", json=body("a1"), headers=headers)).json()[0]
    assert own["rows"][0][0] == pytest.approx(100 / 3)  # a1: leads L1, L2, L5; appointment L1 → 1 / 3
    other = (await client.post("/query", json=body("a2"), headers=headers)).json()[0]
    assert "rows" not in other and "may filter agents only to themselves" in other["meta"]["notices"][0]["text"]
    regex = body("a.*")
    regex["adhocFilters"][0]["operator"] = "=~"
    refused = (await client.post("/query", json=regex, headers=headers)).json()[0]
    assert refused["meta"]["notices"][0]["severity"] == "error"
    executive = (await client.post("/query", json=body("a2"), headers=bearer(token_for(tenant, "executive"))))
    assert executive.json()[0]["rows"][0][0] == pytest.approx(50.0)  # a2: leads L3, L4; appointment L3 → 1 / 2


async def test_a_target_served_empty_beside_a_refused_one_is_audited_as_served(
        client: httpx.AsyncClient, db: Database, tenant: str, token_for: Any) -> None:
    """An agent token without an agent id: its self scope matches no agent, so agents.load_balance is served
    with 0 rows; roi.monthly is refused. The response is a 200 holding target A, so the record is no 403."""
    body = load_balance_body()
    body["targets"].append({"refId": "B", "target": "roi.monthly", "type": "table"})
    r = await client.post("/query", json=body, headers=bearer(token_for(tenant, "agent")))
    assert r.status_code == 200
    served, refused = r.json()
    assert (served["refId"], served["rows"]) == ("A", []) and refused["meta"]["notices"][0]["severity"] == "error"
    [row] = await audit_rows(db, tenant)
    assert (row["outcome"], row["status"], row["reason"], row["rows_returned"]) == ("success", 200, "refused: B", 0)


async def test_a_manager_cannot_filter_a_tenant_figure_down_to_another_team(client: httpx.AsyncClient, tenant: str,
                                                                            token_for: Any) -> None:
    """A manager of north sees tenant totals, and per-agent figures of north only: a tenant-wide rate filtered to
    south's agent a2, or to team south, is south's own figure, so both are refused; north's agent a1 is fine."""
    def body(key: str, value: str) -> dict[str, Any]:
        b = fixture("table_panel")
        b["targets"][0]["target"] = "conversion.lead_to_appointment"
        b["adhocFilters"] = [{"key": key, "operator": "=", "value": value}]
        return b

    headers = bearer(token_for(tenant, "manager", teams=["north"]))
    own = (await client.post("/query", json=body("agent", "a1"), headers=headers)).json()[0]
    assert own["rows"][0][0] == pytest.approx(100 / 3)  # a1 (north): leads L1, L2, L5; appointment L1 → 1 / 3
    other_agent = (await client.post("/query", json=body("agent", "a2"), headers=headers)).json()[0]
    assert "rows" not in other_agent and "agents of your team" in other_agent["meta"]["notices"][0]["text"]
    other_team = (await client.post("/query", json=body("team", "south"), headers=headers)).json()[0]
    assert "rows" not in other_team and "teams only to their own" in other_team["meta"]["notices"][0]["text"]
    own_team = (await client.post("/query", json=body("team", "north"), headers=headers)).json()[0]
    assert own_team["rows"][0][0] == pytest.approx(100 / 3)  # north = a1's leads only
