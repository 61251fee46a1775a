"""The cache warmer: after a round, opening a provisioned dashboard over an analytics range is served from the
cache for every role, with the answer a cold computation gives; every dashboard query is valid."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from success_metrics.calculators import all_metrics
from success_metrics.query import warmer
from success_metrics.query.warmer import Warmer
from success_metrics.settings import TenantConfig
from tests.datasource.seed import client, tenant  # noqa: F401  (fixtures)
from tests.datasource.test_pipeline import bearer, services_of

NOW = datetime(2026, 3, 3, 9, 7, 12, tzinfo=UTC)  # the day after the seed day


def grafana_body(targets: list[dict[str, Any]], max_points: int, span: timedelta, now: datetime) -> dict[str, Any]:
    """As Grafana sends it: its own rounding of the interval (here to whole minutes), not the warmer's."""
    interval_ms = max(60_000, int(span / timedelta(minutes=1) / max_points) * 60_000)
    return {"range": {"from": (now - span).isoformat(), "to": now.isoformat(), "raw": {"from": "now-30d", "to": "now"}},
            "intervalMs": interval_ms, "interval": f"{interval_ms // 60_000}m", "maxDataPoints": max_points,
            "targets": targets, "adhocFilters": []}


def test_the_requests_are_every_panel_and_annotation_query_of_the_dashboards() -> None:
    requests = warmer.dashboard_requests()
    panels = [t for targets, _ in requests for t in targets if t.get("refId") != "Anno"]
    notes = {t["target"] for targets, _ in requests for t in targets if t.get("refId") == "Anno"}
    assert {t["target"] for t in panels} == {m.name for m in all_metrics() if m.dashboard}
    assert len(panels) == len({json.dumps([t["target"], t["payload"]], sort_keys=True) for t in panels})  # once each
    assert {"outages", "policy_changes"} <= notes
    assert all(isinstance(v, str) and not v.startswith("$") for t in panels
               for v in (t.get("payload") or {}).values())  # variables at "All"


def test_a_round_starts_just_after_the_next_quarter_hour() -> None:
    assert warmer.next_round_in(datetime(2026, 3, 3, 9, 7, 0, tzinfo=UTC)) == 8 * 60 + warmer.AFTER_STEP_S
    assert warmer.next_round_in(datetime(2026, 3, 3, 9, 15, 0, tzinfo=UTC)) == 15 * 60 + warmer.AFTER_STEP_S
    began = datetime(2026, 3, 3, 9, 14, 0, tzinfo=UTC)
    # a round of 40 s waits for 9:15:05; one that ran past 9:15:05 starts again at once (its frames are stale)
    assert warmer.next_wait(began, began + timedelta(seconds=40)) == 25
    assert warmer.next_wait(began, began + timedelta(seconds=90)) == 0


async def test_after_a_round_every_role_opens_a_dashboard_from_the_cache(
        client: httpx.AsyncClient, tenant: str, token_for: Any,
        make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    svc = services_of(client)
    state = await Warmer(svc).round(NOW, [tenant])
    assert state.failed == 0 and state.queries > 0 and state.computed > 0
    stats = svc.cache.stats
    panels = [(t, m) for t, m in warmer.dashboard_requests() if t[0]["target"] in
              ("roi.monthly", "revenue.monthly_trend", "errors.rate", "sources.performance")]
    assert len(panels) == 4
    answers = {}
    for role, claims in (("executive", {}), ("manager", {"teams": ["north"]}), ("agent", {"agent_id": "a1"})):
        misses = stats.misses
        for targets, max_points in panels:
            r = await client.post("/query", json=grafana_body(targets, max_points, timedelta(days=30), NOW),
                                  headers=bearer(token_for(tenant, role, **claims)))
            assert r.status_code == 200
            answers[role, targets[0]["target"]] = r.json()
        assert stats.misses == misses, role  # all four panels served from the warmed entries
    cold = await make_client(TenantConfig(id=tenant, name=tenant.title()), cache_ttl_live_s=0, cache_ttl_closed_s=0)
    for targets, max_points in panels:  # computed cold (a replica that keeps nothing): the same answer
        r = await cold.post("/query", json=grafana_body(targets, max_points, timedelta(days=30), NOW),
                              headers=bearer(token_for(tenant, "executive")))
        assert r.json() == answers["executive", targets[0]["target"]]


async def test_operational_ranges_and_other_tenants_are_not_warmed(client: httpx.AsyncClient, tenant: str,
                                                                   token_for: Any) -> None:
    svc = services_of(client)
    await Warmer(svc).round(NOW, [tenant])
    misses = svc.cache.stats.misses
    [(targets, max_points)] = [(t, m) for t, m in warmer.dashboard_requests() if t[0]["target"] == "errors.rate"][:1]
    r = await client.post("/query", json=grafana_body(targets, max_points, timedelta(hours=6), NOW),
                          headers=bearer(token_for(tenant, "executive")))
    assert r.status_code == 200 and svc.cache.stats.misses == misses + 1


async def test_after_the_first_round_only_tenants_whose_users_came_are_warmed(client: httpx.AsyncClient, tenant: str,
                                                                             token_for: Any) -> None:
    svc = services_of(client)
    warm = Warmer(svc, among=[tenant])  # other tests' tenants share the database
    warm.state.rounds = 1  # past the first round (which warms every tenant)
    assert (await warm.round(NOW)).queries == 0  # nobody came yet
    [(targets, max_points)] = [(t, m) for t, m in warmer.dashboard_requests() if t[0]["target"] == "roi.monthly"]
    r = await client.post("/query", json=grafana_body(targets, max_points, timedelta(hours=6), NOW),
                          headers=bearer(token_for(tenant, "executive")))
    assert r.status_code == 200
    state = await warm.round(NOW)
    assert state.queries > 0 and state.failed == 0
