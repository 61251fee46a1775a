"""Operator signals: GET /prometheus (off without a token, the token's alone), parsed with prometheus_client's own
parser; figures checked as deltas over requests made here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from success_metrics.calculators import Frame
from success_metrics.guard import signals
from success_metrics.notify.alerts import rules
from success_metrics.query.warmer import WarmerState
from success_metrics.rbac import keys
from success_metrics.server.health_routes import ServiceCollector
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource.event_samples import one_of_each
from tests.datasource.test_audit_edge import bearer, services
from tests.datasource.test_cache import key

TOKEN = "scrape-token-0123456789abcdef"
DAY = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    got = await client.get("/prometheus", headers=bearer(TOKEN))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(got.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def scraped(make_client: Callable[..., Awaitable[httpx.AsyncClient]],
                  new_tenant_id: Callable[[str], str]) -> tuple[httpx.AsyncClient, str]:
    tid = new_tenant_id("prom")
    return await make_client(TenantConfig(id=tid, name="Prom"), prometheus_token=SecretStr(TOKEN)), tid


async def test_off_without_a_token_and_only_the_token_opens_it(make_client: Any, scraped: Any) -> None:
    off = await (await make_client()).get("/prometheus", headers=bearer(TOKEN))
    assert off.status_code == 404 and "SM_PROMETHEUS_TOKEN" in off.json()["message"]
    client, _ = scraped
    for wrong in ({}, bearer("scrape-token-0123456789abcdeX"), bearer(TOKEN[:-1])):
        assert (await client.get("/prometheus", headers=wrong)).status_code == 401
    assert (await client.post("/metrics", json={})).status_code == 401  # the plugin's POST /metrics is untouched


async def test_request_latency_by_route_template_and_outcome(scraped: Any, token_for: Any) -> None:
    client, tid = scraped
    before = await scrape(client)
    query = {"targets": [{"refId": "A", "target": "pipeline.throughput"}], "range": DAY}
    for _ in range(2):
        assert (await client.post("/query", json=query, headers=bearer(token_for(tid, "executive")))).status_code == 200
    assert (await client.post("/query", json=query)).status_code == 401
    admin = bearer(token_for(tid, "admin"))
    off = rules.EXAMPLES["off"]["value"]
    assert (await client.put(f"/api/admin/alert-rules/{off['id']}", json=off, headers=admin)).status_code == 200
    assert (await client.get("/no/such/route/123")).status_code == 404
    after = await scrape(client)

    def delta(**labels: str) -> float:
        name = "sm_http_request_duration_seconds_count"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(route="/query", method="POST", outcome="success") == 2
    assert delta(route="/query", method="POST", outcome="denied") == 1
    assert delta(route="unmatched", method="GET", outcome="denied") == 1
    assert delta(route="/api/admin/alert-rules/{rule_id}", method="PUT", outcome="success") == 1
    assert not [k for k in after if "123" in str(k)]  # no path with ids in it becomes a label


async def test_cache_lookups_and_audit_writes(scraped: Any, token_for: Any) -> None:
    client, tid = scraped
    before = await scrape(client)
    query = {"targets": [{"refId": "A", "target": "sources.performance", "type": "table"}], "range": DAY}
    for _ in range(2):
        assert (await client.post("/query", json=query, headers=bearer(token_for(tid, "executive")))).status_code == 200
    after = await scrape(client)
    assert value(after, "sm_cache_lookups_total", result="miss") - value(before, "sm_cache_lookups_total",
                                                                          result="miss") == 1
    assert value(after, "sm_cache_lookups_total", result="hit") - value(before, "sm_cache_lookups_total",
                                                                         result="hit") == 1
    # two audited requests (each /query one record) at least; the scrape itself is not audited
    assert value(after, "sm_audit_write_duration_seconds_count") - value(
        before, "sm_audit_write_duration_seconds_count") >= 2
    assert value(after, "sm_db_pool_max") >= value(after, "sm_db_pool_connections") >= value(after, "sm_db_pool_idle")
    assert value(after, "sm_compute_lane_running", lane="analytics") == 0


async def test_ingest_events_by_result(scraped: Any, db: Database) -> None:
    client, tid = scraped
    async with db.tenant(tid) as conn:
        _, secret = await keys.create_key(conn, tid, "ingest", "engine")
    good = one_of_each("prom")[:3]
    bad = {**good[0], "id": "prom-bad", "data": {}}
    before = await scrape(client)
    first = await client.post("/api/ingest/events", json=[*good[:2], bad], headers=bearer(secret))
    again = await client.post("/api/ingest/events", json=good, headers=bearer(secret))
    assert (first.status_code, again.status_code) == (207, 200)
    after = await scrape(client)

    def delta(result: str) -> float:
        return value(after, "sm_ingest_events_total", result=result) - value(before, "sm_ingest_events_total",
                                                                             result=result)

    assert (delta("accepted"), delta("duplicate"), delta("rejected")) == (3, 2, 1)


async def test_warmer_progress_and_compute_lanes_queue(scraped: Any) -> None:
    client, _ = scraped
    svc = services(client)
    state = WarmerState(rounds=3, running=True, planned=8, done=2, last_round_s=12.5, failed=1)
    exposed = signals.exposition(ServiceCollector(svc, SimpleNamespace(state=state)))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(exposed.decode()) for s in f.samples}
    assert value(samples, "sm_warmer_rounds_total") == 3 and value(samples, "sm_warmer_running") == 1
    assert value(samples, "sm_warmer_progress_ratio") == 0.25  # 2 of 8
    assert value(samples, "sm_warmer_last_round_seconds") == 12.5

    # one analytics computation running, a second queued behind it (the lane holds MAX_COMPUTING = 2: fill it)
    cache = svc.cache
    release = asyncio.Event()

    async def slow() -> Frame:
        await release.wait()
        raise RuntimeError("not needed")

    from success_metrics.query.cache import MAX_COMPUTING
    tasks = [asyncio.ensure_future(cache.get_or_compute(key(metric=f"m{n}", span=timedelta(days=30)), slow))
             for n in range(MAX_COMPUTING + 1)]  # three 30-day (analytics) ranges
    lane = cache.lanes["analytics"]
    for _ in range(1000):  # they reach the lane once the shared table has answered their look-ups
        if (lane.running, lane.waiting) == (MAX_COMPUTING, 1):
            break
        await asyncio.sleep(0.01)
    after = await scrape(client)
    assert value(after, "sm_compute_lane_running", lane="analytics") == MAX_COMPUTING
    assert value(after, "sm_compute_lane_waiting", lane="analytics") == 1
    release.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert (cache.lanes["analytics"].running, cache.lanes["analytics"].waiting) == (0, 0)
