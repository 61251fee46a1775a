"""Forecasts, backtest, year over year and anomalies through the real app: the background trainer fits a small
history (15 months), panels read the stored fit, and each role sees what its policy allows.

History (tenant in UTC, the trainer's clock and the ranges' end at 2026-03-15 12:00): every month from January 2025 to
March 2026 has, on the 10th, website_form leads (3 in 2025, 4 in 2026) and one paid_ads lead, all routed to agent a1 of
team north, and on the 12th one direct deal (1000 in 2025, 1500 in 2026) of its first website_form lead.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from success_metrics.calculators import models
from success_metrics.calculators.metrics import anomalies
from success_metrics.ingest import intake
from success_metrics.ingest.writer import Source
from success_metrics.query.cache import ResultCache
from success_metrics.query.trainer import ModelTrainer
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
RANGE = {"from": "2025-03-15T12:00:00Z", "to": "2026-03-15T12:00:00Z"}


def events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for year, month in [(2025, m) for m in range(1, 13)] + [(2026, m) for m in range(1, 4)]:
        ym = f"{year}-{month:02d}"
        sources = ["website_form"] * (3 if year == 2025 else 4) + ["paid_ads"]
        for i, source in enumerate(sources):
            lead = f"{ym}-{i}"
            out.append({"id": f"c-{lead}", "type": "lead.created", "occurred_at": f"{ym}-10T09:00:00Z",
                        "lead_id": lead, "data": {"source": source, "location_id": "downtown"}})
            out.append({"id": f"r-{lead}", "type": "lead.routed", "occurred_at": f"{ym}-10T09:05:00Z",
                        "lead_id": lead, "agent_id": "a1", "data": {"team_id": "north", "agent_name": "Ann"}})
        out.append({"id": f"d-{ym}", "type": "deal.closed", "occurred_at": f"{ym}-12T15:00:00Z", "lead_id": f"{ym}-0",
                    "agent_id": "a1", "data": {"value": 1000 if year == 2025 else 1500, "attribution_class": "direct"}})
    return out


async def load(db: Database, tenant: str) -> None:
    async with db.system() as conn:
        await conn.execute("INSERT INTO tenants (tenant_id, name, settings) VALUES ($1, $1, '{}')", tenant)
    report = await intake.ingest(db, tenant, events(), source=Source("api"), now=NOW)
    assert not report.rejected, report.rejected


@pytest.fixture(scope="module")
async def fitted(db: Database) -> str:
    tenant = f"analytics-{os.getpid() % 10000}"
    await load(db, tenant)
    await ModelTrainer(db, ResultCache(15, 900), clock=lambda: NOW).round(NOW, [tenant])
    return tenant


def body(metric: str, kind: str = "timeserie", **payload: Any) -> dict[str, Any]:
    return {"range": RANGE, "intervalMs": 86_400_000, "maxDataPoints": 500,
            "targets": [{"target": metric, "refId": "A", "type": kind, "payload": payload}]}


async def ask(client: httpx.AsyncClient, headers: dict[str, str], metric: str, kind: str = "timeserie",
              **payload: Any) -> list[dict[str, Any]]:
    r = await client.post("/query", json=body(metric, kind, **payload), headers=headers)
    assert r.status_code == 200, r.text
    answer: list[dict[str, Any]] = r.json()
    return answer


def notices(answer: list[dict[str, Any]]) -> list[str]:
    return [n["text"] for item in answer for n in (item.get("meta") or {}).get("notices", [])]


def points(answer: list[dict[str, Any]], name: str) -> list[float | None]:
    [item] = [i for i in answer if i["target"] == name]
    return [p[0] for p in item["datapoints"]]


def table(answer: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [item] = answer
    names = [c["text"] for c in item["columns"]]
    return [dict(zip(names, row, strict=True)) for row in item["rows"]]


Client = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_a_panel_asked_before_the_first_fit_says_so(db: Database, make_client: Client,
                                                          token_for: Callable[..., str]) -> None:
    tenant = f"unfitted-{os.getpid() % 10000}"
    await load(db, tenant)
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    headers = {"Authorization": f"Bearer {token_for(tenant, 'executive')}"}
    answer = await ask(client, headers, "forecast.revenue")
    assert models.NOT_FITTED in notices(answer)
    assert all(not i["datapoints"] for i in answer)
    async with db.tenant(tenant) as conn:  # the request fitted nothing
        assert await conn.fetchval("SELECT count(*) FROM fitted_models") == 0


async def test_revenue_forecast_for_an_executive(fitted: str, make_client: Client,
                                                 token_for: Callable[..., str]) -> None:
    client = await make_client(TenantConfig(id=fitted, name=fitted))
    headers = {"Authorization": f"Bearer {token_for(fitted, 'executive')}"}
    answer = await ask(client, headers, "forecast.revenue", horizon="3")
    # complete months in the range: April 2025 … February 2026 (March 2025 starts before it): 9 × 1000, 2 × 1500
    assert points(answer, "actual") == [1000.0] * 9 + [1500.0] * 2 + [None] * 3
    forecast, low, high = points(answer, "forecast"), points(answer, "lower_95"), points(answer, "upper_95")
    assert forecast[:11] == [None] * 11 and all(v is not None for v in forecast[11:])
    for f, lo, hi, lo80, hi80 in zip(forecast[11:], low[11:], high[11:], points(answer, "lower_80")[11:],
                                     points(answer, "upper_80")[11:], strict=True):
        assert lo <= lo80 <= f <= hi80 <= hi  # type: ignore[operator]
    attributed = await ask(client, headers, "forecast.revenue", series="attributed")
    assert points(attributed, "actual")[:11] == [900.0] * 9 + [1350.0] * 2  # direct weight 0.9


async def test_an_agent_may_not_see_revenue_forecasts_but_sees_lead_forecasts(
        fitted: str, make_client: Client, token_for: Callable[..., str]) -> None:
    client = await make_client(TenantConfig(id=fitted, name=fitted))
    agent = {"Authorization": f"Bearer {token_for(fitted, 'agent', agent_id='a1')}"}
    refused = await ask(client, agent, "forecast.revenue")
    assert any("may not query metric 'forecast.revenue'" in n for n in notices(refused))
    leads = await ask(client, agent, "forecast.leads")
    assert points(leads, "actual")[:11] == [4.0] * 9 + [5.0] * 2
    rows = table(await ask(client, agent, "forecast.backtest", "table"))
    by_series = {r["series"]: r for r in rows}
    # the revenue rows are left out for a role that may not see revenue
    assert set(by_series) == {"leads", "leads:website_form", "leads:paid_ads", "capacity", "capacity:north"}
    assert by_series["leads"]["origins"] > 0


async def test_an_auditor_sees_no_forecast(fitted: str, make_client: Client, token_for: Callable[..., str]) -> None:
    client = await make_client(TenantConfig(id=fitted, name=fitted))
    auditor = {"Authorization": f"Bearer {token_for(fitted, 'auditor')}"}
    for metric in ("forecast.leads", "forecast.capacity", "forecast.backtest", "kpis.year_over_year"):
        assert any("may not query" in n for n in notices(await ask(client, auditor, metric))), metric


async def test_year_over_year_by_hand(fitted: str, make_client: Client, token_for: Callable[..., str]) -> None:
    client = await make_client(TenantConfig(id=fitted, name=fitted))
    executive = {"Authorization": f"Bearer {token_for(fitted, 'executive')}"}
    rows = {r["kpi"]: r for r in table(await ask(client, executive, "kpis.year_over_year", "table"))}
    # March to the 15th: 5 leads (2026) vs 4 (2025), one deal each, 1500 vs 1000; year to date three months each
    assert rows["Leads"] | {} == {"kpi": "Leads", "unit": "count", "this_month": 5, "same_month_last_year": 4,
                                  "month_change": 25, "ytd": 15, "last_ytd": 12, "ytd_change": 25}
    assert (rows["Deals Closed"]["this_month"], rows["Deals Closed"]["month_change"]) == (1, 0)
    assert (rows["Revenue"]["ytd"], rows["Revenue"]["last_ytd"], rows["Revenue"]["ytd_change"]) == (4500, 3000, 50)
    assert (rows["Revenue Attribution"]["this_month"], rows["Revenue Attribution"]["same_month_last_year"]) == (
        1350, 900)
    agent = {"Authorization": f"Bearer {token_for(fitted, 'agent', agent_id='a1')}"}
    masked = {r["kpi"]: r for r in table(await ask(client, agent, "kpis.year_over_year", "table"))}
    assert masked["Leads"]["this_month"] == 5
    assert set(masked) == {"Leads", "Deals Closed", "Time Savings"}  # money rows are left out


async def test_capacity_forecast_per_team(fitted: str, make_client: Client, token_for: Callable[..., str]) -> None:
    client = await make_client(TenantConfig(id=fitted, name=fitted))
    manager = {"Authorization": f"Bearer {token_for(fitted, 'manager', teams=['north'])}"}
    answer = await ask(client, manager, "forecast.capacity", horizon="2")
    actual = points(answer, "actual")
    # one agent: leads routed per week are the month's leads in its week of the 10th, 0 in the others
    assert set(actual[:-2]) == {0.0, 4.0, 5.0} and actual[-2:] == [None, None]
    assert len(points(answer, "forecast")) == len(actual)
    assert set(points(answer, "capacity")) == {0.0}  # nobody first contacted a lead: no handled volume


async def test_anomalies_feed_annotations_and_the_alert_figure_masked_per_role(
        db: Database, make_client: Client, token_for: Callable[..., str]) -> None:
    tenant = f"anomalous-{os.getpid() % 10000}"
    await load(db, tenant)
    day = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)
    scan = anomalies.Scan(anomalies=[
        anomalies.Anomaly(time=day, series="leads", value=40, expected=5, score=9.5),
        anomalies.Anomaly(time=day, series="revenue", value=90000, expected=1200, score=12.0)],
        scanned={"leads": 300, "revenue": 300})
    async with db.tenant(tenant) as conn:  # as the trainer stores a scan
        await models.replace_kind(conn, tenant, anomalies.KIND, {"scan": models.encode(scan)}, "test", NOW)
    client = await make_client(TenantConfig(id=tenant, name=tenant))
    note = {"range": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-15T00:00:00Z"},
            "annotation": {"name": "Anomalies", "query": "anomalies"}}

    async def titles(headers: dict[str, str]) -> list[str]:
        r = await client.post("/annotations", json=note, headers=headers)
        assert r.status_code == 200, r.text
        return [a["title"] for a in r.json()]

    executive = {"Authorization": f"Bearer {token_for(tenant, 'executive')}"}
    agent = {"Authorization": f"Bearer {token_for(tenant, 'agent', agent_id='a1')}"}
    assert await titles(executive) == ["Anomaly: leads", "Anomaly: revenue"]
    assert await titles(agent) == ["Anomaly: leads"]  # the revenue anomaly names a figure the agent may not see
    rows = table(await ask(client, executive, "anomalies.detected", "table"))
    assert [(r["series"], r["value"], r["expected"], r["score"]) for r in rows] == [
        ("leads", 40, 5, 9.5), ("revenue", 90000, 1200, 12.0)]
    r = await client.post("/query", json=body("alerts.anomalies", "table") | {
        "range": {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}}, headers=executive)
    assert table(r.json())[0]["value"] == 2


async def test_year_over_year_of_a_whole_month_ended_at_midnight(fitted: str, make_client: Client,
                                                                 token_for: Callable[..., str]) -> None:
    """A report for February asks up to 1 March 00:00: last year's February and year to date still count."""
    client = await make_client(TenantConfig(id=fitted, name=fitted))
    executive = {"Authorization": f"Bearer {token_for(fitted, 'executive')}"}
    query = body("kpis.year_over_year", "table") | {"range": {"from": "2026-02-01T00:00:00Z",
                                                                "to": "2026-03-01T00:00:00Z"}}
    r = await client.post("/query", json=query, headers=executive)
    assert r.status_code == 200, r.text
    rows = {row["kpi"]: row for row in table(r.json())}
    # February: 4 website_form + 1 paid_ads leads in 2026 against 3 + 1 in 2025; January and February to date
    assert (rows["Leads"]["this_month"], rows["Leads"]["same_month_last_year"]) == (5, 4)
    assert (rows["Leads"]["ytd"], rows["Leads"]["last_ytd"]) == (10, 8)
    assert (rows["Revenue"]["this_month"], rows["Revenue"]["same_month_last_year"]) == (1500, 1000)
