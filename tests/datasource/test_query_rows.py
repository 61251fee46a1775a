"""POST /query/rows: one metric as row objects with typed columns, the shape Grafana's Infinity plugin reads with its
backend parser (root selector ``rows``, declared column types) — so alert rules and other server-side uses work.
Figures are worked by hand from tests/datasource/seed.py (one day, 2026-03-02)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from success_metrics.storage.pool import Database
from tests.datasource import seed
from tests.datasource.test_audit_edge import records

client, tenant = seed.client, seed.tenant  # the seed's fixtures

T0 = 1_772_409_600_000  # 2026-03-02T00:00Z
HOUR = 3_600_000
DAY = {"from": T0, "to": T0 + 24 * HOUR}  # as Infinity's ${__timeFrom} / ${__timeTo} put it: epoch ms


def infinity_backend(body: Any, root: str, columns: list[dict[str, str]]) -> dict[str, list[Any]]:
    """What Infinity's backend parser makes of a JSON answer, as its documentation describes it: the array under the
    root selector (a gjson path), each declared column read by its selector and converted to its type (number:
    JSON numbers and numeric text; timestamp_epoch: epoch ms; string; anything else null)."""
    for part in root.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    assert isinstance(body, list), "the root selector must reach an array"
    out: dict[str, list[Any]] = {c["text"]: [] for c in columns}
    for row in body:
        for c in columns:
            v = row.get(c["selector"])
            if c["type"] == "number":
                v = float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
            elif c["type"] == "timestamp_epoch":
                v = datetime.fromtimestamp(v / 1000, UTC) if isinstance(v, int | float) else None
            elif c["type"] == "string":
                v = v if isinstance(v, str) else None if v is None else str(v)
            out[c["text"]].append(v)
    return out


LONG = [{"selector": "time", "text": "time", "type": "timestamp_epoch"},
        {"selector": "series", "text": "series", "type": "string"},
        {"selector": "value", "text": "value", "type": "number"}]


@pytest.fixture
def as_role(tenant: str, token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(role: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(tenant, role, **claims)}"}
    return headers


def one(metric: str, ref_id: str = "A", **extra: Any) -> dict[str, Any]:
    return {"targets": [{"refId": ref_id, "target": metric, **extra}], "range": DAY, "maxDataPoints": 24}


async def test_a_time_series_is_long_rows_with_epoch_times(client: httpx.AsyncClient, as_role: Any,
                                                           db: Database) -> None:
    r = await client.post("/query/rows", json=one("pipeline.throughput"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["refId"], body["kind"]) == ("A", "timeseries")
    assert [(c["name"], c["type"]) for c in body["columns"]] == [("time", "time"), ("series", "string"),
                                                                  ("value", "number")]
    frame = infinity_backend(body, "rows", LONG)
    # leads created per hour: 01h L1+L2 = 2, 03h L3 = 1, 05h L4+L5 = 2, 0 in the other hours
    assert frame["time"] == [datetime.fromtimestamp((T0 + h * HOUR) / 1000, UTC) for h in range(24)]
    assert frame["value"] == [{1: 2.0, 3: 1.0, 5: 2.0}.get(h, 0.0) for h in range(24)]
    assert len(set(frame["series"])) == 1
    [rec] = await records(db, r)
    assert (rec["action"], rec["status"], rec["resource"]["metrics"]) == ("query", 200, ["pipeline.throughput"])


async def test_a_table_keeps_its_columns_one_object_per_row(client: httpx.AsyncClient, as_role: Any) -> None:
    r = await client.post("/query/rows", json=one("sources.performance"), headers=as_role("executive"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "table" and body["columns"][0] == {"name": "source", "type": "string", "unit": None,
                                                              "masked": False}
    rows = {row["source"]: row for row in body["rows"]}
    # referral: L3, L5 → volume 2, 1 appointment (50 %), 1 close of 500; website_form: L1, L2, L4 → 3
    assert rows["referral"]["volume"] == 2 and rows["referral"]["appointment_rate"] == pytest.approx(50.0)
    assert rows["referral"]["total_revenue"] == pytest.approx(500.0)
    assert rows["website_form"]["volume"] == 3


async def test_masking_is_the_same_as_query(client: httpx.AsyncClient, as_role: Any) -> None:
    """An agent's view of the per-agent table: what /query masks, /query/rows masks, and says so."""
    body = one("agents.scorecard")
    headers = as_role("agent", agent_id="a1")
    rows = await client.post("/query/rows", json=body, headers=headers)
    table = await client.post("/query", json=body, headers=headers)
    assert rows.status_code == table.status_code == 200, (rows.text, table.text)
    [item] = table.json()
    names = [c["text"] for c in item["columns"]]
    assert [dict(zip(names, row, strict=True)) for row in item["rows"]] == rows.json()["rows"]
    assert rows.json()["maskedFields"] and rows.json()["maskedFields"] == item["meta"]["custom"]["maskedFields"]
    assert rows.headers["x-masked-fields"] == table.headers["x-masked-fields"]


@pytest.mark.parametrize(("role", "body", "status", "says"), [
    ("agent", one("roi.monthly"), 403, "may not query metric 'roi.monthly'"),
    ("executive", one("pipeline.thruput"), 404, "Did you mean: pipeline.throughput"),
    ("executive", {**one("pipeline.throughput"), "targets": [{"refId": "A", "target": "pipeline.throughput"},
                                                              {"refId": "B", "target": "leads.volume"}]},
     400, "one metric per request"),
])
async def test_a_failed_target_fails_the_request_with_its_status(client: httpx.AsyncClient, as_role: Any,
                                                                 db: Database, role: str, body: dict[str, Any],
                                                                 status: int, says: str) -> None:
    """So an alert rule on it is in Error, not quietly No data."""
    r = await client.post("/query/rows", json=body, headers=as_role(role, agent_id="a1"))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.json()["message"]
    [rec] = await records(db, r)
    assert rec["status"] == status


async def test_without_credentials_it_is_401(client: httpx.AsyncClient) -> None:
    r = await client.post("/query/rows", json=one("pipeline.throughput"))
    assert r.status_code == 401
