"""Both Grafana dialects over real HTTP (ASGI app, real PostgreSQL, real ES256 tokens), with requests shaped as
Grafana sends them (fixtures/grafana) and answers checked against the shapes both plugins document.

Expected figures are worked by hand from tests/datasource/seed.py (one day, 2026-03-02).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from success_metrics.settings import TenantConfig
from tests.datasource import seed
from tests.datasource.seed import client, tenant  # noqa: F401  (fixtures)
from tests.datasource.grafana_shapes import check, fixture

T0 = 1_772_409_600_000  # 2026-03-02T00:00Z
HOUR = 3_600_000


@pytest.fixture
def as_role(tenant: str, token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(role: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(tenant, role, **claims)}"}
    return headers


def series(body: list[dict[str, Any]], ref_id: str) -> list[list[Any]]:
    [item] = [i for i in body if i.get("refId") == ref_id]
    points: list[list[Any]] = item["datapoints"]
    return points


def hourly(counts: dict[int, int]) -> list[list[Any]]:
    """24 hourly points of a day: the given hours' counts, 0 elsewhere (a count with no leads is 0, not a gap)."""
    return [[float(counts.get(h, 0)), T0 + h * HOUR] for h in range(24)]


async def test_time_series_panel_simplejson(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query", json=fixture("timeseries_panel"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    check("/query", r.json())
    # leads created per hour: 01h L1+L2 = 2, 03h L3 = 1, 05h L4+L5 = 2
    assert series(r.json(), "A") == hourly({1: 2, 3: 1, 5: 2})
    assert len(series(r.json(), "A")) <= fixture("timeseries_panel")["maxDataPoints"]


async def test_stat_panel_json_api(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query", json=fixture("stat_panel"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    check("/query", r.json())
    [table] = r.json()
    assert [c["text"] for c in table["columns"]] == ["value", "previous", "target", "status"]
    assert table["columns"][0]["unit"] == "percent"
    # 2 of the 5 leads created that day have an appointment (L1, L3): 2 / 5 = 40 %; the day before had no leads
    value, previous = table["rows"][0][:2]
    assert value == pytest.approx(40.0) and previous is None


async def test_table_panel_with_epoch_range(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query", json=fixture("table_panel"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    check("/query", r.json())
    [table] = r.json()
    names = [c["text"] for c in table["columns"]]
    assert [c["type"] for c in table["columns"]][:2] == ["string", "number"]
    rows = {row[0]: dict(zip(names, row, strict=True)) for row in table["rows"]}
    # referral: L3, L5 → volume 2, 1 appointment (50 %), 1 close of 500; website_form: L1, L2, L4 → 3, 1 of 1000
    assert rows["referral"]["volume"] == 2 and rows["referral"]["appointment_rate"] == pytest.approx(50.0)
    assert rows["referral"]["total_revenue"] == pytest.approx(500.0)
    assert rows["website_form"]["volume"] == 3
    assert rows["website_form"]["close_rate"] == pytest.approx(100 / 3, abs=0.01)


@pytest.mark.parametrize(("name", "counts"), [
    ("adhoc_filters", {3: 1, 5: 1}),  # source = referral: L3 at 03h, L5 at 05h
    ("adhoc_filters_legacy", {1: 2, 5: 1}),  # source != referral: L1, L2 at 01h, L4 at 05h
])
async def test_ad_hoc_filters_both_spellings(client: httpx.AsyncClient, as_role: Any, name: str,
                                             counts: dict[int, int]) -> None:
    r = await client.post("/query", json=fixture(name), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    assert series(r.json(), "A") == hourly(counts)


async def test_multi_value_variable_in_each_form(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query", json=fixture("multi_value_variable"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    every = hourly({1: 2, 3: 1, 5: 2})  # website_form + referral are all five leads; "All" likewise
    assert series(r.json(), "A") == every
    assert series(r.json(), "B") == every
    assert series(r.json(), "C") == every


async def test_hidden_and_empty_targets_are_not_answered(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query", json=fixture("hidden_target"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    assert {i["refId"] for i in r.json()} == {"A"}


async def test_mixed_targets_fail_one_by_one(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query", json=fixture("mixed_targets"), headers=as_role("agent", agent_id="a2"))
    assert r.status_code == 200, r.text
    check("/query", r.json())
    by_ref = {i["refId"]: i for i in r.json()}
    assert series(r.json(), "A") == hourly({1: 2, 3: 1, 5: 2})

    def error(ref: str) -> str:
        [notice] = by_ref[ref]["meta"]["notices"]
        assert notice["severity"] == "error" and by_ref[ref]["datapoints"] == []
        text: str = notice["text"]
        return text

    assert "Unknown metric 'pipeline.thruput'. Did you mean: pipeline.throughput" in error("B")
    assert "not valid JSON" in error("C")
    assert "Role agent may not query metric 'roi.monthly'" in error("D")
    assert "no option 'colour'" in error("E")


async def test_annotations_simplejson(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/annotations", json=fixture("annotation_simplejson"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    check("/annotations", r.json())
    assert [(a["time"], a["timeEnd"], a["title"], a["text"], a["tags"]) for a in r.json()] == [
        (T0 + 10 * HOUR, T0 + 11 * HOUR, "Outage: crm_sync", "8 of 10 calls failed (80 %)", ["outage", "crm_sync"]),
        (T0 + 12 * HOUR, T0 + 13 * HOUR, "Degraded: crm_sync", "2 of 10 calls failed (20 %)",
         ["degradation", "crm_sync"]),
    ]
    assert all(a["isRegion"] and a["annotation"]["name"] == "Outages" for a in r.json())


async def test_annotations_json_api_at_query_with_ref_id_anno(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query", json=fixture("annotation_jsonapi"), headers=as_role("auditor"))
    assert r.status_code == 200, r.text
    check("/query", r.json())
    [frame] = r.json()
    assert frame["refId"] == "Anno"
    assert [c["text"] for c in frame["columns"]] == ["time", "timeEnd", "title", "text", "tags"]
    assert frame["rows"] == [[T0 + 10 * HOUR, T0 + 11 * HOUR, "Outage: crm_sync", "8 of 10 calls failed (80 %)",
                              ["outage", "crm_sync"]]]


async def test_annotation_kinds_follow_the_role(client: httpx.AsyncClient, as_role: Any) -> None:
    body = fixture("annotation_simplejson") | {"annotation": {"name": "x", "query": "policy_changes"}}
    r = await client.post("/annotations", json=body, headers=as_role("agent", agent_id="a1"))
    assert r.status_code == 403
    assert "may not see role policy changes annotations" in r.json()["message"]


async def test_variable_query(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/variable", json=fixture("variable_query"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    check("/variable", r.json())
    assert sorted(v["__value"] for v in r.json()) == ["referral", "website_form"]


async def test_agents_variable_shows_what_the_caller_may_see(client: httpx.AsyncClient, as_role: Any) -> None:
    body = {"payload": {"target": "agents"}}
    everyone = await client.post("/variable", json=body, headers=as_role("executive"))
    north = await client.post("/variable", json=body, headers=as_role("manager", teams=["north"]))
    me = await client.post("/variable", json=body, headers=as_role("agent", agent_id="a2"))
    assert sorted(v["__value"] for v in everyone.json()) == ["a1", "a2"]
    assert [v["__value"] for v in north.json()] == ["a1"]
    assert [(v["__value"], v["__text"]) for v in me.json()] == [("a2", "Bob South")]
    bad = await client.post("/variable", json={"payload": {"target": "planets"}}, headers=as_role("executive"))
    assert bad.status_code == 400 and "use one of sources, agents" in bad.json()["message"]


async def test_metrics_list_follows_the_role(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/metrics", json=fixture("metrics"), headers=as_role("agent", agent_id="a1"))
    assert r.status_code == 200, r.text
    check("/metrics", r.json())
    names = {m["value"] for m in r.json()}
    assert "pipeline.throughput" in names and "roi.monthly" not in names
    [throughput] = [m for m in r.json() if m["value"] == "pipeline.throughput"]
    payloads = {p["name"]: p for p in throughput["payloads"]}
    assert payloads["source"]["type"] == "multi-select" and "options" not in payloads["source"]
    assert [o["value"] for o in payloads["granularity"]["options"]] == ["hour", "day", "week", "month"]
    auditor = await client.post("/metrics", json={}, headers=as_role("auditor"))
    assert auditor.status_code == 200 and "pipeline.throughput" not in {m["value"] for m in auditor.json()}


async def test_metric_payload_options(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/metric-payload-options", json=fixture("metric_payload_options"),
                          headers=as_role("executive"))
    assert r.status_code == 200, r.text
    check("/metric-payload-options", r.json())
    assert sorted(o["value"] for o in r.json()) == ["referral", "website_form"]
    bad = await client.post("/metric-payload-options", json={"metric": "pipeline.throughput", "payload": {},
                                                             "name": "colour"}, headers=as_role("executive"))
    assert bad.status_code == 400 and "has no option 'colour'" in bad.json()["message"]


async def test_search_metrics_and_variable_values(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/search", json=fixture("search"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    check("/search", r.json())
    assert {"text": "conversion.lead_to_appointment", "value": "conversion.lead_to_appointment"} in r.json()
    teams = await client.post("/search", json={"target": "teams"}, headers=as_role("executive"))
    assert sorted(t["value"] for t in teams.json()) == ["north", "south"]


async def test_tag_keys_and_values(client: httpx.AsyncClient, as_role: Any) -> None:
    keys = await client.post("/tag-keys", json={}, headers=as_role("executive"))
    assert keys.status_code == 200, keys.text
    check("/tag-keys", keys.json())
    assert {"type": "string", "text": "source"} in keys.json()
    values = await client.post("/tag-values", json=fixture("tag_values"), headers=as_role("executive"))
    check("/tag-values", values.json())
    assert sorted(v["text"] for v in values.json()) == ["referral", "website_form"]
    unknown = await client.post("/tag-values", json={"key": "colour"}, headers=as_role("executive"))
    assert unknown.status_code == 400 and "Unknown filter key 'colour'" in unknown.json()["message"]


def weighted(role_headers: dict[str, str]) -> dict[str, Any]:
    body = fixture("table_panel")
    body["targets"][0]["target"] = "attribution.weighted"
    return {"json": body, "headers": role_headers}


async def test_masking_of_each_role_is_visible(client: httpx.AsyncClient, as_role: Any) -> None:
    # attribution.weighted: direct 1 deal 1000 × 0.9 = 900; assisted 1 deal 500 × 0.5 = 250; total 1500 → 1150
    executive = await client.post("/query", **weighted(as_role("executive")))
    assert executive.status_code == 200 and "X-Masked-Fields" not in executive.headers
    [table] = executive.json()
    names = [c["text"] for c in table["columns"]]
    total = dict(zip(names, table["rows"][-1], strict=True))
    assert (total["revenue"], total["attributed_revenue"]) == (pytest.approx(1500.0), pytest.approx(1150.0))

    agent = await client.post("/query", **weighted(as_role("agent", agent_id="a1")))
    assert agent.status_code == 200, agent.text
    assert agent.headers["X-Masked-Fields"] == "deal_value,revenue"  # other agents' revenue is hidden
    [masked] = agent.json()
    assert [c["text"] for c in masked["columns"]] == ["class", "deals", "weight"]
    assert masked["meta"]["custom"]["maskedFields"] == ["deal_value", "revenue"]
    assert "Masked for role agent" in masked["meta"]["notices"][0]["text"]

    auditor = await client.post("/query", **weighted(as_role("auditor")))
    [refused] = auditor.json()
    assert "Role auditor may not query metric 'attribution.weighted'" in refused["meta"]["notices"][0]["text"]


async def test_row_scope_of_each_role(client: httpx.AsyncClient, as_role: Any) -> None:
    body = fixture("table_panel")
    body["targets"][0]["target"] = "agents.load_balance"

    async def agents(headers: dict[str, str]) -> dict[str, int]:
        r = await client.post("/query", json=body, headers=headers)
        assert r.status_code == 200, r.text
        [table] = r.json()
        names = [c["text"] for c in table["columns"]]
        return {row[names.index("agent_id")]: row[names.index("leads")] for row in table["rows"]}

    # a1 got L1, L2, L5 = 3 leads; a2 got L3, L4 = 2
    assert await agents(as_role("executive")) == {"a1": 3, "a2": 2}
    assert await agents(as_role("manager", teams=["north"])) == {"a1": 3}
    assert await agents(as_role("agent", agent_id="a2")) == {"a2": 2}


async def test_errors_grafana_can_show(client: httpx.AsyncClient, as_role: Any) -> None:
    missing = await client.post("/query", json=fixture("stat_panel"))
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "Authorization: Bearer" in missing.json()["message"]
    forged = await client.post("/query", json=fixture("stat_panel"), headers={"Authorization": "Bearer abc.def.ghi"})
    assert forged.status_code == 401 and forged.json()["message"]
    too_many = fixture("stat_panel") | {"maxDataPoints": 1_000_000}
    r = await client.post("/query", json=too_many, headers=as_role("executive"))
    assert r.status_code == 400 and "the limit of 10000 (limits.max_data_points)" in r.json()["message"]
    no_range = {k: v for k, v in fixture("stat_panel").items() if k != "range"}
    r = await client.post("/query", json=no_range, headers=as_role("executive"))
    assert r.status_code == 422 and "/range" in r.json()["message"]


async def test_body_and_target_limits(make_client: Any, tenant: str, as_role: Any) -> None:
    from success_metrics.settings import Limits

    small = await make_client(TenantConfig(id=tenant, name="Proto"),
                              limits=Limits(max_body_bytes=2_000, max_targets=2))
    body = fixture("timeseries_panel")
    body["targets"] = [{"target": "pipeline.throughput", "refId": f"R{i}"} for i in range(3)]
    r = await small.post("/query", json=body, headers=as_role("executive"))
    assert r.status_code == 400 and "3 targets; the limit is 2 (limits.max_targets)" in r.json()["message"]
    body["targets"] = [{"target": "pipeline.throughput", "refId": "A", "payload": {"pad": "x" * 3000}}]
    r = await small.post("/query", json=body, headers=as_role("executive"))
    assert r.status_code == 413 and "the limit is 2000 bytes" in r.json()["message"]
