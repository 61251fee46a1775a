"""The cache warmer: every tenant's dashboards computed ahead of their users.

Right after each quarter hour (when the cache keys of analytics ranges move on, ``freshness.align``) and once at
start, every panel and annotation query of the provisioned dashboards is computed over Grafana's analytics
quick ranges (last 7 days … 2 years), into the result cache, through the one answer path as the service's own
principal (``success_metrics.rbac.system_principal``: tenant-wide, authorized by policy like any caller). A user
opening a dashboard over one of those ranges is then served from the cache, whatever their role: metrics that
do not read the row scope are shared by every role (``compute.shared_query``). The spec's "15-minute batch
for analytics" is this round.

Which tenants: a replica's first round warms every tenant, those whose users came most recently first; later rounds
the tenants whose users came within ``ACTIVE``, so a round's cost follows the tenants in use. When users last came
is kept in the database (``activity.py``), so it survives a restart and every replica sees the same. In what order:
first what each dashboard shows as it opens, tenant by tenant (``warm_order``), then the other ranges. Across
replicas: a tenant is warmed by the one replica that takes its lease for the quarter hour (``leases.py``); the
others skip it.

Not warmed: operational ranges (under a week), which are recomputed every 15 s anyway and cost little, and the
per-team / per-agent views of row-scoped metrics, which depend on who asks. The requests are built from the
dashboards' JSON and parsed by ``parse.metric_queries`` exactly as a Grafana request is, so the warmer's keys
are the keys users ask for. One computation at a time: a round is background work and must leave the
computing slots to users (a user asking for a panel being warmed joins that computation).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from success_metrics.calculators import CalculatorError, TenantSettings
from success_metrics.dashboards.export import render_dashboards, theme_for
from success_metrics.query import freshness, pipeline
from success_metrics.query.protocol import parse
from success_metrics.query.protocol.errors import ProtocolError
from success_metrics.query.protocol.requests import QueryRequest
from success_metrics.rbac import Forbidden
from success_metrics.server.services import Services

log = logging.getLogger(__name__)

# Grafana's analytics quick ranges: last 7, 30 and 90 days, 6 months, 1 and 2 years
RANGES = tuple(timedelta(days=d) for d in (7, 30, 90, 182, 365, 730))
STEP = freshness.ANALYTICS_STEP
AFTER_STEP_S = 5.0  # past the quarter hour, so the round's keys are the new quarter's
ALL = "*"  # the dashboards' allValue: what Grafana sends for a variable left at "All"
# after the first round, only tenants whose users came this recently are warmed: 8 days, so the Monday after a
# weekend (64 h after Friday evening), the day after a long weekend and a team that looks once a week find their
# dashboards warm; a tenant unseen for longer is warmed only by a replica's first round
ACTIVE = timedelta(days=8)


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
    skipped: int = 0  # tenants of the last finished round another replica held the lease of (leases.py)


Request = tuple[list[dict[str, Any]], int]  # a panel's (or a dashboard's annotation) targets, and maxDataPoints


@dataclass(frozen=True)
class Warm:
    """One request of a round over one analytics range (``span`` back from the round's time)."""

    span: timedelta
    targets: list[dict[str, Any]]
    max_points: int


def dashboard_requests(max_points_default: int = 1000) -> list[Request]:
    """Every query the provisioned dashboards send, once: (targets, maxDataPoints) per panel, and per dashboard its
    annotation targets. Template variables are at "All", as a dashboard first opens."""
    found: dict[str, Request] = {}
    for board in _boards():
        for request in _board_requests(board, max_points_default):
            found.setdefault(_key(request), request)
    return list(found.values())


def warm_order(max_points_default: int = 1000) -> tuple[list[Warm], list[Warm]]:
    """A round's requests as (opening, rest): first what each dashboard shows when it opens (its panels top to bottom,
    over its own default range, dashboards in the menu's order), then every request over every other analytics
    range, shortest first. Each (range, request) comes once."""
    opening: dict[str, Warm] = {}
    for board in _boards():
        span = opens_on(board)
        if span is None:
            continue  # opens on an operational range (System Health: 24 h), which is not warmed
        for request in _board_requests(board, max_points_default):
            opening.setdefault(f"{span}|{_key(request)}", Warm(span, *request))
    rest = [Warm(span, *request) for span in RANGES for request in dashboard_requests(max_points_default)
            if f"{span}|{_key(request)}" not in opening]
    return list(opening.values()), rest


def opens_on(board: dict[str, Any]) -> timedelta | None:
    """The analytics range (of RANGES) a dashboard opens on ("now-90d"), or None."""
    match = re.fullmatch(r"now-(\d+)d", str(board.get("time", {}).get("from", "")))
    span = timedelta(days=int(match[1])) if match else None
    return span if span in RANGES else None


def _boards() -> list[dict[str, Any]]:
    return list(render_dashboards(theme_for(TenantSettings())).values())


def _board_requests(board: dict[str, Any], max_points_default: int) -> list[Request]:
    """One dashboard's requests in layout order: its panels top to bottom, then its annotation query."""
    found = []
    for panel in walk(board.get("panels", [])):
        targets = [at_all(t) for t in panel.get("targets", []) if t.get("target")]
        if targets:
            found.append((targets, int(panel.get("maxDataPoints") or max_points_default)))
    notes = [at_all(a["target"]) for a in board.get("annotations", {}).get("list", [])
             if isinstance(a.get("target"), dict) and a["target"].get("target")]
    if notes:
        found.append((notes, max_points_default))
    return found


def _key(request: Request) -> str:
    # a panel on several dashboards (errors.rate …) is one request; refIds and datasources do not change the query
    targets, points = request
    return json.dumps([[{k: t.get(k) for k in ("target", "payload", "type")} for t in targets], points],
                      sort_keys=True)


def walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels", []))


def at_all(target: dict[str, Any]) -> dict[str, Any]:
    """The target as a dashboard first opens: every variable at "All"."""
    payload = target.get("payload")
    if isinstance(payload, dict):
        payload = {k: ALL if isinstance(v, str) and v.startswith("$") else v for k, v in payload.items()}
    return {**target, "payload": payload}


def quarter_of(now: datetime) -> datetime:
    """The quarter hour ``now`` falls in: a round's identity in the warm-up leases."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((now - epoch) // STEP) * STEP


def next_round_in(now: datetime) -> float:
    """Seconds until just past the next quarter hour."""
    return (quarter_of(now) + STEP - now).total_seconds() + AFTER_STEP_S


def next_wait(began: datetime, now: datetime) -> float:
    """Seconds from ``now`` until the round after one that began at ``began``: just past the quarter hour that
    followed ``began`` — at once if the round ran past it, since its frames belong to the quarter before."""
    return max(0.0, next_round_in(began) - (now - began).total_seconds())


class Warmer:
    def __init__(self, svc: Services, among: Collection[str] | None = None) -> None:
        """``among``: the tenants this warmer may choose from (default: every tenant)."""
        self.svc = svc
        self.among = among
        self.state = WarmerState()
        self._order: tuple[list[Warm], list[Warm]] | None = None
        self._began = datetime.now(UTC)  # when the last scheduled round began

    async def scheduled_round(self) -> None:
        """A round of the service's background loop (server/background.py), which waits ``wait()`` before the next."""
        self._began = datetime.now(UTC)
        await self.round(self._began)

    def wait(self) -> float:
        """Seconds from now to the next scheduled round: just after the next quarter hour (``next_wait``)."""
        return next_wait(self._began, datetime.now(UTC))

    async def choose(self, now: datetime) -> list[str]:
        """The tenants of a round, most recently active first: in the first round every tenant (those never seen
        last), later the tenants whose users came within ACTIVE (a round's cost grows with the tenants it warms)."""
        ranked = await self.svc.activity.ranked(self.among)
        if self.state.rounds == 0:
            return [tenant for tenant, _ in ranked]
        return [tenant for tenant, at in ranked if at is not None and at >= now - ACTIVE]

    async def round(self, now: datetime | None = None, tenant_ids: list[str] | None = None) -> WarmerState:
        """Warm the dashboards of ``tenant_ids`` (default: ``choose``) whose lease this replica can take."""
        started = time.perf_counter()
        now = now or datetime.now(UTC)
        self.state.running = True
        try:
            return await self._round(now, tenant_ids, started)
        finally:
            self.state.running = False

    async def _round(self, now: datetime, tenant_ids: list[str] | None, started: float) -> WarmerState:
        if self._order is None:
            self._order = warm_order()
        opening, rest = self._order
        tenants = await self.choose(now) if tenant_ids is None else tenant_ids
        quarter, tally, misses = quarter_of(now), [0, 0], self.svc.cache.stats.misses
        self.state.planned, self.state.done = len(tenants) * (len(opening) + len(rest)), 0
        claimed: list[str] = []
        skipped: list[str] = []
        try:
            # what each dashboard opens on, tenant by tenant; then the other ranges of the tenants claimed; then
            # once more the tenants skipped, in case a replica holding one died meanwhile (which frees its lease)
            for tenant in tenants:
                if await self._claim(tenant, quarter):
                    claimed.append(tenant)
                    await self._warm_all(tenant, opening, now, tally)
                else:
                    skipped.append(tenant)
                    self.state.planned -= len(opening) + len(rest)
            for tenant in list(claimed):
                await self._warm_all(tenant, rest, now, tally)
                claimed.remove(tenant)
            for tenant in list(skipped):
                if await self._claim(tenant, quarter):
                    skipped.remove(tenant)
                    self.state.planned += len(opening) + len(rest)
                    claimed.append(tenant)
                    await self._warm_all(tenant, opening + rest, now, tally)
                    claimed.remove(tenant)
        finally:
            for tenant in claimed:  # a warm-up that did not finish: another replica or the next round does it
                await self._release(tenant, quarter)
        self.state = WarmerState(rounds=self.state.rounds + 1, queries=tally[0],
                                 computed=self.svc.cache.stats.misses - misses, failed=tally[1],
                                 last_round_s=time.perf_counter() - started, skipped=len(skipped))
        log.info("cache warmed: %d tenants (%d more left to other replicas) × %d ranges, %d queries (%d computed, "
                 "%d failed) in %.1f s", len(tenants) - len(skipped), len(skipped), len(RANGES), tally[0],
                 self.state.computed, tally[1], self.state.last_round_s)
        return self.state

    async def _claim(self, tenant: str, quarter: datetime) -> bool:
        return self.svc.leases is None or await self.svc.leases.claim(tenant, quarter)

    async def _release(self, tenant: str, quarter: datetime) -> None:
        if self.svc.leases is not None:
            with contextlib.suppress(Exception):  # a lease connection that broke has freed the lease already
                await self.svc.leases.release(tenant, quarter)

    async def _warm_all(self, tenant: str, requests: list[Warm], now: datetime, tally: list[int]) -> None:
        """Warm ``requests`` of one tenant; adds (queries warmed, queries failed) to ``tally``."""
        for warm in requests:
            body = QueryRequest.model_validate({
                "range": {"from": (now - warm.span).isoformat(), "to": now.isoformat()},
                "intervalMs": warm.span / timedelta(milliseconds=1) / warm.max_points,
                "maxDataPoints": warm.max_points, "targets": warm.targets})
            ok, bad = await self._warm(tenant, body)
            tally[0], tally[1] = tally[0] + ok, tally[1] + bad
            self.state.done += 1

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
