"""Ingest's bulk path on NDJSON batches: rollups and typed rows equal a hand count, whatever repeats or fails
in the batches, and the fast JSON reading keeps what the standard library would (numbers past 64 bits, text
that merely looks like an escaped NUL)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from success_metrics.rbac import keys
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource.event_samples import iso
from tests.datasource.test_ingest import Ledger

NDJSON = {"Content-Type": "application/x-ndjson"}
HOUR = (datetime.now(UTC) - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)


@pytest.fixture
async def bulk(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], db: Database, new_tenant_id: Callable[[str], str]
) -> Ledger:
    tid = new_tenant_id("bulk")
    client = await make_client(TenantConfig(id=tid, name="Bulk Co"))
    async with db.tenant(tid) as conn:
        info, secret = await keys.create_key(conn, tid, "ingest", "engine")
    return Ledger(client, db, tid, secret, info.key_id)


def ndjson(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def calls() -> list[dict[str, Any]]:
    """30 calls of crm/hubspot in one hour, latency 100, 110, … 390 ms; every third (i = 0, 3, … 27) failed."""
    return [{"id": f"call-{i}", "type": "component.call", "occurred_at": iso(HOUR + timedelta(minutes=i)),
             "data": {"component": "crm", "service": "hubspot", "latency_ms": 100 + 10 * i, "ok": i % 3 != 0,
                      **({"error_category": "timeout"} if i % 3 == 0 else {})}} for i in range(30)]


def costs() -> list[dict[str, Any]]:
    """12 costs of category api in the same hour: 1.5, 3.0, … 18.0."""
    return [{"id": f"cost-{k}", "type": "cost.recorded", "occurred_at": iso(HOUR + timedelta(minutes=30 + k)),
             "data": {"category": "api", "amount": 1.5 * (k + 1), "month": HOUR.strftime("%Y-%m")}}
            for k in range(12)]


async def test_rollups_equal_a_hand_count_after_bulk_batches_with_repeats_and_rejections(bulk: Ledger) -> None:
    first = calls()[:20]
    bad = {"id": "call-bad", "type": "component.call", "occurred_at": iso(HOUR),
           "data": {"component": "crm", "service": "hubspot", "latency_ms": -5, "ok": True}}
    # one batch: 20 calls, one of them twice, a rejected call and half the costs
    response = await bulk.post(ndjson([*first, first[4], bad, *costs()[:6]]), NDJSON)
    assert response.status_code == 207
    assert response.json()["accepted"] == 26 and response.json()["duplicates"] == 1
    assert [r["pointer"] for r in response.json()["rejected"]] == ["/21/data/latency_ms"]
    # the next batch resends all of the first and adds the rest
    response = await bulk.post(ndjson([*calls(), *costs()]), NDJSON)
    assert response.json() == {"accepted": 16, "duplicates": 26, "rejected": []}
    bulk.expected = 42
    await bulk.still_consistent()

    async with bulk.db.tenant(bulk.tenant) as conn:
        rows = await conn.fetch("SELECT grain, type, bucket, k1, k2, k3, n, s1, s2, mx, hist FROM rollups "
                                "ORDER BY grain, type, k3")
        typed = await conn.fetchrow("SELECT count(*) AS n, count(*) FILTER (WHERE NOT ok) AS failed, "
                                    "sum(latency_ms) AS latency FROM component_calls")
    by = {(r["grain"], r["type"], r["k3"]): r for r in rows}
    assert len(rows) == 9  # per grain (hour, day, month): calls ok, calls failed (timeout), costs
    for grain in ("hour", "day", "month"):
        ok, failed, cost = by[grain, "component.call", ""], by[grain, "component.call", "timeout"], \
            by[grain, "cost.recorded", ""]
        # failed: i = 0, 3, … 27, latency 100 + 30 j for j = 0..9: sum 1000 + 30 * 45 = 2350, max 370
        assert (failed["n"], failed["s1"], failed["s2"], failed["mx"]) == (10, 0, 2350, 370)
        # ok: all 30 sum to 3000 + 10 * 435 = 7350, less the failed ones; the largest is i = 29
        assert (ok["n"], ok["s1"], ok["s2"], ok["mx"]) == (20, 20, 5000, 390)
        assert (ok["k1"], ok["k2"], failed["k1"], failed["k2"]) == ("crm", "hubspot", "crm", "hubspot")
        assert sum(ok["hist"].values()) == 20 and sum(failed["hist"].values()) == 10
        # costs: 1.5 * (1 + … + 12) = 117
        assert (cost["k1"], cost["n"], cost["s1"]) == ("api", 12, Decimal("117.0"))
    assert by["hour", "component.call", ""]["bucket"] == HOUR
    assert typed is not None and dict(typed) == {"n": 30, "failed": 10, "latency": 7350}


async def test_a_number_past_64_bits_is_stored_exactly(bulk: Ledger) -> None:
    huge = 123456789012345678901234567890
    event = {"id": "usage-1", "type": "api.usage", "occurred_at": iso(HOUR),
             "data": {"service": "apollo", "requests": huge, "rate_limit": 900, "rate_limit_used": 0.5}}
    for body, headers in ((ndjson([event]), NDJSON), (json.dumps([{**event, "id": "usage-2"}]), {})):
        response = await bulk.post(body, headers)
        assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    async with bulk.db.tenant(bulk.tenant) as conn:
        stored = await conn.fetch("SELECT payload->>'requests' AS r FROM events ORDER BY event_id")
    assert [r["r"] for r in stored] == [str(huge), str(huge)]


async def test_text_that_only_looks_like_an_escaped_nul_is_accepted(bulk: Ledger) -> None:
    # the JSON text holds an escaped backslash, then "u0000": not a NUL character
    event = {"id": "act-1", "type": "agent.activity", "occurred_at": iso(HOUR), "agent_id": "agent-1",
             "data": {"selling_minutes": 1, "admin_minutes": 2, "followup_minutes": 3, "agent_name": "Sam \\u0000"}}
    line = ndjson([event])
    assert "\\\\u0000" in line
    response = await bulk.post(line, NDJSON)
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    async with bulk.db.tenant(bulk.tenant) as conn:
        assert await conn.fetchval("SELECT payload->>'agent_name' FROM events") == "Sam \\u0000"
