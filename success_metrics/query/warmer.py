"""The cache warmer: every tenant's dashboards computed ahead of their users.

Right after each quarter hour (when the cache keys of analytics ranges move on, ``freshness.align``) and once at
start, every panel and annotation query of the provisioned dashboards is computed over Grafana's analytics
quick ranges (last 7 days … 2 years), into the result cache, through the one answer path as the service's own
principal (``success_metrics.rbac.system_principal``: tenant-wide, authorized by policy like any caller). A user
opening a dashboard over one of those ranges is then served from the cache, whatever their role: metrics that
do not read the row scope are shared by every role (``compute.shared_query``). The spec's "15-minute batch
for analytics" is this round. The first round warms every tenant; later rounds the tenants whose users came
in the last day, so a round's cost follows the tenants in use, not all the tenants ever set up.

Not warmed: operational ranges (under a week), which are recomputed every 15 s anyway and cost little, and the
per-team / per-agent views of row-scoped metrics, which depend on who asks. The requests are built from the
dashboards' JSON and parsed by ``parse.metric_queries`` exactly as a Grafana request is, so the warmer's keys
are the keys users ask for. One computation at a time: a round is background work and must leave the
computing slots to users (a user asking for a panel being warmed joins that computation).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from success_metrics.calculators import CalculatorError, TenantSettings
from success_metrics.query import freshness, pipeline
from success_metrics.dashboards.export import render_dashboards, theme_for
from success_metrics.query.protocol import parse
from success_metrics.query.protocol.errors import ProtocolError
from success_metrics.query.protocol.requests import QueryRequest
from success_metrics.server.services import Services
from success_metrics.storage import StorageError
from success_metrics.rbac import Forbidden

log = logging.getLogger(__name__)

# Grafana's analytics quick ranges: last 7, 30 and 90 days, 6 months, 1 and 2 years
RANGES = tuple(timedelta(days=d) for d in (7, 30, 90, 182, 365, 730))
STEP = freshness.ANALYTICS_STEP
AFTER_STEP_S = 5.0  # past the quarter hour, so the round's keys are the new quarter's
ALL = "*"  # the dashboards' allValue: what Grafana sends for a variable left at "All"
ACTIVE_S = 24 * 3600.0  # after the first round, only tenants whose users came this recently are warmed


@dataclass
class WarmerState:
    rounds: int = 0  # rounds finished
    running: bool = False  # a round is under way
    queries: int = 0  # queries the last finished round warmed
    computed: int = 0  # of which computed (the others were cached already)
    failed: int = 0  # queries of the last finished round that failed (logged)
    last_round_s: float | None = None
    planned: int = 0  # requests of the running round (operator signals: its progress)
    done: int = 0  # of which warmed so far


def dashboard_requests(max_points_default: int = 1000) -> list[tuple[list[dict[str, Any]], int]]:
    """Every query the provisioned dashboards send, once: (targets, maxDataPoints) per panel, and per dashboard its
    annotation targets. Template variables are at "All", as a dashboard first opens."""
    found: dict[str, tuple[list[dict[str, Any]], int]] = {}
    for board in render_dashboards(theme_for(TenantSettings())).values():
        for panel in _walk(board.get("panels", [])):
            targets = [_at_all(t) for t in panel.get("targets", []) if t.get("target")]
            if targets:
                _add(found, targets, int(panel.get("maxDataPoints") or max_points_default))
        notes = [_at_all(a["target"]) for a in board.get("annotations", {}).get("list", [])
                 if isinstance(a.get("target"), dict) and a["target"].get("target")]
        if notes:
            _add(found, notes, max_points_default)
    return list(found.values())


def _add(found: dict[str, tuple[list[dict[str, Any]], int]], targets: list[dict[str, Any]], points: int) -> None:
    # a panel on several dashboards (errors.rate …) is one request; refIds and datasources do not change the query
    key = json.dumps([[{k: t.get(k) for k in ("target", "payload", "type")} for t in targets], points],
                     sort_keys=True)
    found.setdefault(key, (targets, points))


def _walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _walk(panel.get("panels", []))


def _at_all(target: dict[str, Any]) -> dict[str, Any]:
    payload = target.get("payload")
    if isinstance(payload, dict):
        payload = {k: ALL if isinstance(v, str) and v.startswith("$") else v for k, v in payload.items()}
    return {**target, "payload": payload}


def next_round_in(now: datetime) -> float:
    """Seconds until just past the next quarter hour."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    boundary = epoch + ((now - epoch) // STEP + 1) * STEP
    return (boundary - now).total_seconds() + AFTER_STEP_S


def next_wait(began: datetime, now: datetime) -> float:
    """Seconds from ``now`` until the round after one that began at ``began``: just past the quarter hour that
    followed ``began`` — at once if the round ran past it, since its frames belong to the quarter before."""
    return max(0.0, next_round_in(began) - (now - began).total_seconds())


def keep_out_of_gc() -> None:
    """Move what is alive now (above all, the cache's frames) out of the cyclic garbage collector's sight.

    Cached frames are millions of long-lived objects without reference cycles (refcounting frees them when
    evicted). Left in the oldest generation, every full collection walked them all: ~300 ms, about once a second
    under load (measured with gc.callbacks), a stall of every request. The permanent generation is not walked.
    What became cyclic garbage among the objects frozen by the previous round is collected first (one full
    collection a quarter hour)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Warmer:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.state = WarmerState()
        self._requests: list[tuple[list[dict[str, Any]], int]] | None = None

    async def run_forever(self) -> None:
        while True:
            began = datetime.now(UTC)
            try:
                await self.round(began)
            except StorageError as exc:  # the database is away: the next round tries again
                log.warning("cache warming skipped: %s", exc)
            except Exception:  # the loop must outlive one failed round; users still compute on demand
                log.exception("cache warming round failed")
            await asyncio.sleep(next_wait(began, datetime.now(UTC)))

    async def round(self, now: datetime | None = None, tenant_ids: list[str] | None = None) -> WarmerState:
        """Warm the dashboards of ``tenant_ids``, by default every tenant in the first round and then the tenants
        whose users came in the last ACTIVE_S (a round's cost grows with the tenants it warms)."""
        started = time.perf_counter()
        now = now or datetime.now(UTC)
        self.state.running = True
        try:
            return await self._round(now, tenant_ids, started)
        finally:
            self.state.running = False

    async def _round(self, now: datetime, tenant_ids: list[str] | None, started: float) -> WarmerState:
        if self._requests is None:
            self._requests = dashboard_requests()
        if tenant_ids is None and self.state.rounds > 0:
            tenant_ids = self.svc.cache.asked_within(ACTIVE_S)
        if tenant_ids is None:
            async with self.svc.db.system() as conn:
                tenant_ids = [r["tenant_id"] for r in await conn.fetch(
                    "SELECT tenant_id FROM tenants WHERE tenant_id NOT LIKE '\\_%' ORDER BY tenant_id")]
        misses, warmed, failed = self.svc.cache.stats.misses, 0, 0
        self.state.planned, self.state.done = len(tenant_ids) * len(RANGES) * len(self._requests), 0
        for tenant in tenant_ids:
            for span in RANGES:
                for targets, max_points in self._requests:
                    body = QueryRequest.model_validate({
                        "range": {"from": (now - span).isoformat(), "to": now.isoformat()},
                        "intervalMs": span / timedelta(milliseconds=1) / max_points, "maxDataPoints": max_points,
                        "targets": targets})
                    ok, bad = await self._warm(tenant, body)
                    warmed, failed = warmed + ok, failed + bad
                    self.state.done += 1
        self.state = WarmerState(rounds=self.state.rounds + 1, queries=warmed,
                                 computed=self.svc.cache.stats.misses - misses, failed=failed,
                                 last_round_s=time.perf_counter() - started)
        log.info("cache warmed: %d tenants × %d ranges, %d queries (%d computed, %d failed) in %.1f s",
                 len(tenant_ids), len(RANGES), warmed, self.state.computed, failed, self.state.last_round_s)
        keep_out_of_gc()
        return self.state

    async def _warm(self, tenant: str, body: QueryRequest) -> tuple[int, int]:
        """(queries warmed, queries failed) of one panel's request."""
        ok = failed = 0
        ctx = self.svc.answers.system(tenant, "warmer")
        for target in parse.metric_queries(body, self.svc.settings.limits):
            fitted = pipeline.fit(target)
            try:
                if fitted.query is None:
                    raise fitted.error or ProtocolError("no query")
                await self.svc.answers.warm(ctx, fitted.query)
                ok += 1
            except (ProtocolError, CalculatorError, Forbidden) as exc:  # refused by protocol, catalog or policy
                failed += 1
                log.warning("cache warmer: %s of tenant %s failed: %s", target.ref_id, tenant, exc.message)
        return ok, failed
