"""Operator signals counted as they happen, in prometheus-client's registry: request latency by route template,
method and outcome; ingest events by what became of them; audit write latency; and the process. What the running
service holds (cache, lanes, warmer, pool) is read at scrape time beside them (server/health_routes.py, GET
/prometheus). No label names a tenant, a user or a path with ids in it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
REQUEST_SECONDS = Histogram(
    "sm_http_request_duration_seconds", "Time to answer a request, by route template, method and outcome "
    "(success < 400, denied 4xx, error 5xx)", ["route", "method", "outcome"], registry=REGISTRY,
    buckets=LATENCY_BUCKETS)
INGEST_EVENTS = Counter("sm_ingest_events", "Events posted for ingest, by what became of them (accepted, "
                        "duplicate, rejected)", ["result"], registry=REGISTRY)
AUDIT_WRITE_SECONDS = Histogram("sm_audit_write_duration_seconds", "Time from handing an audit record to the writer "
                                "to its commit", registry=REGISTRY, buckets=LATENCY_BUCKETS)
UNMATCHED = "unmatched"  # requests no route matched: one label value, so a scanner cannot grow the series


def outcome(status: int) -> str:
    return "success" if status < 400 else "denied" if status < 500 else "error"


def observe_request(scope: Mapping[str, Any], status: int, seconds: float) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or UNMATCHED
    REQUEST_SECONDS.labels(template, scope.get("method", ""), outcome(status)).observe(seconds)


def count_ingest(accepted: int, duplicates: int, rejected: int) -> None:
    for result, n in (("accepted", accepted), ("duplicate", duplicates), ("rejected", rejected)):
        if n:
            INGEST_EVENTS.labels(result).inc(n)


def allowed(configured: str | None, authorization: str | None) -> bool:
    """Whether the request's ``Authorization: Bearer`` is the configured scrape token."""
    scheme, _, given = (authorization or "").partition(" ")
    return bool(configured) and scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), (configured or "").encode())


def exposition(now: Collector) -> bytes:
    """This process's counters, then ``now`` (what the service holds at this scrape), in Prometheus's text format."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(now)
    return generate_latest(REGISTRY) + generate_latest(scrape)
