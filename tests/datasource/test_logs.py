"""SM_LOG_FORMAT=json: one JSON line per request naming request id, tenant, role, route, status and latency — and
no credential of any kind, in any log line of any logger, whatever the request carried."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from success_metrics.rbac import keys
from success_metrics.server.middleware import json_log_formatter
from success_metrics.settings import TenantConfig
from success_metrics.storage.pool import Database
from tests.datasource.event_samples import one_of_each

DAY = {"from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z"}


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every record of every logger, at DEBUG, written as the service writes it with SM_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_log_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_one_json_line_per_request_with_who_and_how_long(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], new_tenant_id: Callable[[str], str],
        token_for: Callable[..., str], log_lines: Callable[[], list[dict[str, Any]]]) -> None:
    tid = new_tenant_id("logs")
    client = await make_client(TenantConfig(id=tid, name="Logs"))
    got = await client.post("/query", json={"targets": [{"refId": "A", "target": "pipeline.throughput"}],
                                            "range": DAY}, headers={"Authorization": f"Bearer {token_for(tid, 'executive')}"})
    assert got.status_code == 200
    [line] = [r for r in log_lines() if r.get("request_id") == got.headers["x-request-id"]]
    assert line["logger"] == "success_metrics.access" and line["level"] == "INFO"
    assert (line["tenant"], line["role"], line["route"], line["method"], line["status"]) == (
        tid, "executive", "/query", "POST", 200)
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0


async def test_no_credential_is_ever_logged(
        make_client: Callable[..., Awaitable[httpx.AsyncClient]], new_tenant_id: Callable[[str], str],
        token_for: Callable[..., str], db: Database, log_lines: Callable[[], list[dict[str, Any]]]) -> None:
    tid = new_tenant_id("logs")
    client = await make_client(TenantConfig(id=tid, name="Logs"))
    async with db.tenant(tid) as conn:
        _, ingest_key = await keys.create_key(conn, tid, "ingest", "engine")
        _, service_key = await keys.create_key(conn, tid, "service", "grafana", role="executive")
    token = token_for(tid, "executive")
    forged = token[:-8] + "AAAAAAAA"  # a signature that fails
    secrets = [token, forged, ingest_key, service_key, "opaque-garbage-credential-42"]
    query = {"targets": [{"refId": "A", "target": "pipeline.throughput"}], "range": DAY}
    for secret in secrets:
        for headers in ({"Authorization": f"Bearer {secret}"}, {"X-ID-Token": secret}):
            await client.get("/", headers=headers)
            await client.post("/query", json=query, headers=headers)
            await client.post("/query/rows", json=query, headers=headers)
    await client.post("/api/ingest/events", json=one_of_each("logs")[:2], headers={"Authorization": f"Bearer {ingest_key}"})
    await client.post("/api/ingest/events", content=b"{not json", headers={"Authorization": f"Bearer {ingest_key}"})
    lines = log_lines()
    assert len([r for r in lines if r["logger"] == "success_metrics.access"]) == 2 * 3 * len(secrets) + 2
    text = "\n".join(json.dumps(r) for r in lines)
    for secret in secrets:
        # the whole credential, and any 12 characters of its secret part (a JWT's signature, a key's secret)
        assert secret not in text
        tail = secret.rsplit("_", 1)[-1].rsplit(".", 1)[-1]
        assert not any(tail[i:i + 12] in text for i in range(0, max(1, len(tail) - 12), 4)), secret[:12]
