"""Hostile Grafana bodies: times past the calendar, giant or broken intervals and sizes, payloads nested
thousands deep. Each gets a 400 problem naming the limit; never a 500. A fuzz of the range and interval
parsing (hypothesis) holds every input to "a query or a ProtocolError", and the HTTP routes to 200 or 400.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from success_metrics.calculators import buckets
from success_metrics.query.protocol import parse
from success_metrics.query.protocol.errors import ProtocolError
from success_metrics.query.protocol.requests import QueryRequest
from success_metrics.settings import Limits
from tests.datasource.grafana_shapes import fixture
from tests.datasource.seed import client, tenant  # noqa: F401  (fixtures)

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50 + "1" + "}" * 50


@pytest.fixture
def auth(tenant: str, token_for: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(tenant, 'admin')}"}


def _query(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("timeseries_panel"))
    for key, value in changes.items():
        if key in ("payload", "target"):
            body["targets"][0][key] = value
        else:
            body[key] = value
    return body


LIMIT = "1970-01-01 to 3000-01-01"
HOSTILE_QUERIES = [
    ("near year 9999", _query(range={"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59Z"}), LIMIT),
    ("year 9999 in ms", _query(range={"from": 253402300000000, "to": 253402300799000}), LIMIT),
    ("beyond year 9999", _query(range={"from": "2026-03-02T00:00:00Z", "to": 1e20}), LIMIT),
    ("offset past 9999", _query(range={"from": "2026-03-02T00:00:00Z", "to": "9999-12-31T23:00:00-05:00"}), LIMIT),
    ("before year 1", _query(range={"from": -62135596800001, "to": "2026-03-02T00:00:00Z"}), LIMIT),
    ("year 1", _query(range={"from": "0001-01-01T00:00:00Z", "to": "0001-01-01T06:00:00Z"}), LIMIT),
    ("now minus a million years", _query(range={"from": "now-999999y", "to": "now"}), LIMIT),
    ("intervalMs 1e308", _query(intervalMs=1e308), "longest range, 1098 days (limits.max_range_days)"),
    ("interval 99999999999y", _query(intervalMs=None, interval="99999999999y"), "limits.max_range_days"),
    ("interval of 400 digits", _query(intervalMs=None, interval="9" * 400 + "ms"), "limits.max_range_days"),
    ("negative intervalMs", _query(intervalMs=-1), "intervalMs must be a positive number"),
    ("huge maxDataPoints", _query(maxDataPoints=10**30), "limit of 10000 (limits.max_data_points)"),
    ("negative maxDataPoints", _query(maxDataPoints=-5), "maxDataPoints must be at least 1"),
    ("payload nested 100000 deep", _query(payload=DEEP), "nested more than 8 levels"),
    ("payload nested 50 deep", _query(payload=DEEP_OBJECT), "nested more than 8 levels"),
    ("payload object nested deep", _query(payload=json.loads(DEEP_OBJECT)), "nested more than 8 levels"),
    ("variable value nested deep", _query(payload={"source": "[" * 50_000 + "]" * 50_000}), None),
]


@pytest.mark.parametrize(("body", "limit"), [(b, w) for _, b, w in HOSTILE_QUERIES],
                         ids=[n for n, _, _ in HOSTILE_QUERIES])
async def test_a_hostile_query_gets_a_400_naming_the_limit(client: httpx.AsyncClient, auth: dict[str, str],
                                                          body: dict[str, Any], limit: str | None) -> None:
    response = await client.post("/query", json=body, headers=auth)
    if limit is None:  # a value like any other (a source named "[[[...]]]"): no such data
        assert response.status_code == 200, response.text
        assert {value for value, _ in response.json()[0]["datapoints"]} == {0.0}
        return
    if response.status_code == 200:  # a bad target is reported under its refId, as Grafana shows it in the panel
        [frame] = response.json()
        message = frame["meta"]["notices"][0]["text"] if "meta" in frame else json.dumps(frame)
    else:
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        message = response.json()["message"]
    assert limit in message, message


SIBLINGS = [
    ("/annotations", {**fixture("annotation_simplejson"), "range": {"from": 0, "to": 1e300}}, LIMIT),
    ("/annotations", {**fixture("annotation_simplejson"),
                      "range": {"from": "9999-12-31T23:58:00Z", "to": "9999-12-31T23:59:59.999Z"}}, LIMIT),
    ("/variable", {"payload": DEEP, "range": fixture("variable_query")["range"]}, "Unknown variable query '[[["),
    ("/variable", {"payload": {"target": "sources"}, "range": {"from": "0001-01-01T00:00:00Z", "to": "now"}}, None),
    ("/metric-payload-options", {**fixture("metric_payload_options"), "payload": DEEP}, None),
    ("/metrics", {"metric": "pipeline.throughput", "payload": DEEP}, None),
    ("/search", {"target": DEEP}, None),
    ("/tag-values", {"key": DEEP}, "Unknown filter key '[[["),
]


@pytest.mark.parametrize(("path", "body", "limit"), SIBLINGS, ids=[f"{p}-{i}" for i, (p, _, _) in enumerate(SIBLINGS)])
async def test_the_siblings_of_query_answer_or_say_400(client: httpx.AsyncClient, auth: dict[str, str], path: str,
                                                      body: dict[str, Any], limit: str | None) -> None:
    response = await client.post(path, json=body, headers=auth)
    if limit is None:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 400, response.text
        assert limit in response.json()["message"] and len(response.json()["message"]) < 400


# --- fuzz ------------------------------------------------------------------------------------------------

_units = st.sampled_from(["ms", "s", "m", "h", "d", "w", "y", "", "x"])
TIMES = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.sampled_from([UTC, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("America/Adak")]))
    .map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.builds(lambda n, u: f"now-{n}{u}", st.integers(min_value=0, max_value=10**7), _units),
    st.from_regex(r"-?\d{1,25}(\.\d{1,5})?", fullmatch=True),
    st.text(max_size=30),
)
INTERVALS = st.one_of(st.none(), st.builds(lambda n, u: f"{n}{u}", st.one_of(
    st.integers(min_value=0, max_value=10**40), st.floats(min_value=0, allow_infinity=False)), _units),
    st.text(max_size=12))
INTERVAL_MS = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
MAX_POINTS = st.one_of(st.none(), st.integers(min_value=-(10**20), max_value=10**20))
ZONES = [ZoneInfo(z) for z in ("UTC", "America/Chicago", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu")]


def _fuzz_body(start: Any, end: Any, interval: Any, interval_ms: Any, max_points: Any) -> QueryRequest:
    return QueryRequest.model_validate({
        "range": {"from": start, "to": end}, "interval": interval, "intervalMs": interval_ms,
        "maxDataPoints": max_points,
        "targets": [{"target": "pipeline.throughput", "refId": "A", "payload": {"granularity": "month"}},
                    {"target": "lead.volume", "refId": "B"}]})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TIMES, TIMES, INTERVALS, INTERVAL_MS, MAX_POINTS)
def test_fuzzed_ranges_and_intervals_give_a_query_or_a_protocol_error(
        start: Any, end: Any, interval: Any, interval_ms: Any, max_points: Any) -> None:
    body = _fuzz_body(start, end, interval, interval_ms, max_points)
    try:
        targets = parse.metric_queries(body, Limits())
    except ProtocolError as exc:
        assert exc.message and len(exc.message) < 400
        return
    for target in targets:
        q = target.query
        assert q is not None and parse.EARLIEST <= q.start < q.end <= parse.LATEST
        for zone in ZONES:  # what the calculators then do with the range: none of it may overflow
            width = buckets.series_width(q)
            starts = buckets.series_starts(q.start, q.end, width, zone)
            assert starts == sorted(starts)
            buckets.plan(q.start, q.end, zone)
            buckets.period_bounds(q)
            buckets.month_periods(q, zone)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TIMES, TIMES, INTERVALS, INTERVAL_MS)
async def test_fuzzed_ranges_over_http_give_a_frame_or_a_400(
        client: httpx.AsyncClient, auth: dict[str, str], start: Any, end: Any, interval: Any, interval_ms: Any
) -> None:
    body = _query(range={"from": start, "to": end}, interval=interval, intervalMs=interval_ms)
    response = await client.post("/query", content=json.dumps(body), headers={
        **auth, "Content-Type": "application/json"})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert isinstance(response.json(), list)
