"""Operator signals in Prometheus's text format (prometheus-client), served at ``GET /prometheus``.

Counted as they happen (this module's registry): request latency by route template, method and outcome; ingest
events by what became of them; audit write latency. Read at scrape time from the running service: the result
cache (lookups, entries, bytes), the computation lanes (running, waiting), the cache warmer (rounds, progress,
last round's time) and the database pool (size, idle, in use). No label names a tenant, a user or a path with ids
in it, so a scrape shows the service's health and nothing of anyone's data.

The path is not ``/metrics``, which the JSON API plugin POSTs to for its metric list. It answers only a bearer
token equal to ``prometheus_token`` (compared in constant time); without that setting it is off (404 problem).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from success_metrics.query.warmer import Warmer
    from success_metrics.server.services import Services

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


class ServiceCollector(Collector):
    """What the running service holds, read when Prometheus scrapes."""

    def __init__(self, services: Services, warmer: Warmer | None) -> None:
        self.services = services
        self.warmer = warmer

    def collect(self) -> Iterator[Any]:
        cache = self.services.cache
        lookups = CounterMetricFamily("sm_cache_lookups", "Result cache lookups: hit (cached), miss (computed), "
                                      "joined (waited on the same computation), previous (the previous quarter "
                                      "hour's frame answered)", labels=["result"])
        stats = cache.stats
        for result, n in (("hit", stats.hits), ("miss", stats.misses), ("joined", stats.joined),
                          ("previous", stats.previous)):
            lookups.add_metric([result], n)
        yield lookups
        yield GaugeMetricFamily("sm_cache_entries", "Computed frames held", value=len(cache))
        yield GaugeMetricFamily("sm_cache_bytes", "Estimated bytes of the frames held", value=cache.bytes)
        running = GaugeMetricFamily("sm_compute_lane_running", "Computations running, by lane", labels=["lane"])
        waiting = GaugeMetricFamily("sm_compute_lane_waiting", "Computations queued for a lane", labels=["lane"])
        for lane, load in cache.lanes.items():
            running.add_metric([lane], load.running)
            waiting.add_metric([lane], load.waiting)
        yield running
        yield waiting
        if self.warmer is not None:
            state = self.warmer.state
            yield CounterMetricFamily("sm_warmer_rounds", "Cache warmer rounds finished", value=state.rounds)
            yield GaugeMetricFamily("sm_warmer_running", "1 while a warmer round runs", value=int(state.running))
            yield GaugeMetricFamily("sm_warmer_progress_ratio", "Share of the running round's queries warmed "
                                    "(1 between rounds)", value=state.done / state.planned if state.running and
                                    state.planned else 1.0)
            if state.last_round_s is not None:
                yield GaugeMetricFamily("sm_warmer_last_round_seconds", "Duration of the last finished round",
                                        value=state.last_round_s)
                yield GaugeMetricFamily("sm_warmer_last_round_failed", "Queries of the last round that failed",
                                        value=state.failed)
        pool = self.services.db.pool
        size, idle = pool.get_size(), pool.get_idle_size()
        yield GaugeMetricFamily("sm_db_pool_connections", "Database pool connections open", value=size)
        yield GaugeMetricFamily("sm_db_pool_idle", "Database pool connections idle", value=idle)
        yield GaugeMetricFamily("sm_db_pool_in_use", "Database pool connections in use", value=size - idle)
        yield GaugeMetricFamily("sm_db_pool_max", "Database pool size limit", value=pool.get_max_size())


def exposition(services: Services, warmer: Warmer | None) -> bytes:
    """This process's counters, then what the service holds now, in Prometheus's text format."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(ServiceCollector(services, warmer))
    return generate_latest(REGISTRY) + generate_latest(scrape)
