"""GET / (Grafana's "Save & test"), /healthz (process alive), /readyz (database reachable, migrations current),
/prometheus (operator signals).

GET / checks the credentials Grafana sends, as every panel's request will be checked, and says who they resolved
to, so a wrong audience or a revoked key shows when the data source is saved rather than as 401s on every panel.
Without credentials it answers 401 with what to configure (Grafana shows the problem's ``message``). It is audited
like any request; load balancers probe /healthz.

/prometheus is Prometheus's text format: guard/signals.py's counters and, read at the scrape, the result cache
(lookups, entries, bytes), the computation lanes (running, waiting), the warmer (rounds, progress, last round)
and the database pool. Not ``/metrics``, which the JSON API plugin POSTs to for its metric list. It answers only a
bearer token equal to ``prometheus_token`` (constant-time compare); without that setting it is off (404): the
figures describe every tenant's use, which a tenant's users must not read.

/healthz is liveness: 200 while the process answers, since restarting the service does not bring a database
back (the supervisor, success_metrics/storage/supervise.py, does that for the embedded one). It does not vouch for
the database: ``database`` says whether the last use of it succeeded, and ``status`` is "degraded" while not.
/readyz asks the database itself and is 503 while it does not answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from success_metrics.guard import identification, signals
from success_metrics.rbac import Credentials, Unauthenticated
from success_metrics.server.deps import ServicesDep
from success_metrics.server.problems import Problem
from success_metrics.server.services import Services
from success_metrics.storage import DatabaseUnavailable, migrate

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    detail: str | None = None
    warm: bool | None = Field(None, description="Readiness only: whether the cache warmer has finished a round "
                                                "(every tenant's dashboards cached); absent when it is off")
    warming: bool | None = Field(None, description="Readiness only: whether a warmer round is under way")
    database: Literal["up", "down"] | None = Field(None, description="Whether the database answered its last use "
                                                                       "(absent on /)")


NO_CREDENTIALS = (
    "No credentials reached success-metrics, so nothing can be tested. With the JSON API or SimpleJSON plugin turn "
    "on Forward OAuth Identity (Grafana then sends the signed-in user's SSO token; sign in to Grafana through your "
    "SSO to test it); with Infinity, or anywhere no user is signed in, send a service key of your tenant as the "
    "header 'Authorization: Bearer smk_...' (an admin makes one with POST /api/admin/keys)."
)


class Connection(BaseModel):
    """Who the data source's credentials are: what Save & test shows."""

    status: Literal["ok"] = "ok"
    message: str = Field(description="What Grafana shows")
    tenant: str
    role: str
    subject: str
    auth_method: str = Field(description="jwt, id_token, introspection, service_key or dev")


@router.get("/", response_model=Connection, summary="Test connection (Grafana's Save & test): who the credentials are",
            responses={401: {"description": "No credentials, or they failed a check (the message says which)"},
                       403: {"description": "Valid credentials whose groups map to no role"}})
async def root(services: ServicesDep, request: Request) -> Connection:
    if not Credentials.from_headers(request.headers).present:
        raise Unauthenticated(NO_CREDENTIALS)
    who = await identification.identify_request(request, services.identifier, services.db)
    how = who.auth_method.value.replace("_", " ")
    return Connection(message=f"Data source is working: tenant {who.tenant_id}, role {who.role.value} "
                              f"({how}, subject {who.subject}).",
                      tenant=who.tenant_id, role=who.role.value, subject=who.subject, auth_method=who.auth_method.value)


@router.get("/healthz", response_model=Status, summary="Liveness: the process answers (and how its database is)")
async def healthz(services: ServicesDep) -> Status:
    health = services.db.health
    if health.up:
        return Status(status="ok", database="up")
    return Status(status="degraded", database="down", detail=health.reason)


@router.get("/readyz", response_model=Status, summary="Readiness: database reachable and migrations current",
            responses={503: {"model": Status}})
async def readyz(services: ServicesDep, request: Request) -> Status | JSONResponse:
    try:
        if not await services.db.ping():
            raise DatabaseUnavailable("database unreachable")
        async with services.db.system() as conn:
            waiting = await migrate.pending(conn)
    except DatabaseUnavailable as exc:
        down = Status(status="unavailable", database="down", detail=services.db.health.reason or exc.message)
        return JSONResponse(down.model_dump(), status_code=503, headers={"Retry-After": "5"})
    if waiting:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in waiting)
        return JSONResponse(Status(status="unavailable", detail=f"migrations pending: {names}").model_dump(),
                            status_code=503)
    warmer = getattr(request.app.state, "warmer", None)
    if warmer is None:
        return Status(status="ok", database="up")
    return Status(status="ok", database="up", warm=warmer.state.rounds > 0, warming=warmer.state.running)


@router.get("/prometheus", summary="Operator signals in Prometheus's text format (bearer: prometheus_token)",
            response_class=Response, responses={200: {"content": {signals.CONTENT_TYPE: {}}},
                                                401: {"description": "Not the configured scrape token"},
                                                404: {"description": "Off: prometheus_token is not set"}})
async def prometheus(services: ServicesDep, request: Request) -> Response:
    configured = services.settings.prometheus_token
    if configured is None:
        raise Problem(404, "Prometheus metrics off", "GET /prometheus is off: set SM_PROMETHEUS_TOKEN (or "
                      "prometheus_token in SM_CONFIG, 16 characters or more) and scrape with that bearer token.")
    if not signals.allowed(configured.get_secret_value(), request.headers.get("authorization")):
        raise Problem(401, "Not the scrape token", "GET /prometheus needs 'Authorization: Bearer <prometheus_token>'.",
                      headers={"WWW-Authenticate": 'Bearer realm="prometheus"'})
    warmer = getattr(request.app.state, "warmer", None)
    return Response(signals.exposition(ServiceCollector(services, warmer)), media_type=signals.CONTENT_TYPE)


class WarmerFigures(Protocol):
    """What the signals read of the cache warmer's state (query/warmer.py's WarmerState)."""

    rounds: int
    running: bool
    failed: int
    last_round_s: float | None
    planned: int
    done: int


class HasWarmerState(Protocol):
    @property
    def state(self) -> WarmerFigures: ...


class ServiceCollector(Collector):
    """What the running service holds, read when Prometheus scrapes."""

    def __init__(self, services: Services, warmer: HasWarmerState | None) -> None:
        self.services = services
        self.warmer = warmer

    def collect(self) -> Iterator[Any]:
        cache = self.services.cache
        lookups = CounterMetricFamily("sm_cache_lookups", "Result cache lookups: hit (cached), miss (computed), "
                                      "joined (waited on the same computation), previous (the previous quarter "
                                      "hour's frame answered), shared (a miss another replica's frame answered)",
                                      labels=["result"])
        stats = cache.stats
        for result, n in (("hit", stats.hits), ("miss", stats.misses), ("joined", stats.joined),
                          ("previous", stats.previous), ("shared", stats.shared)):
            lookups.add_metric([result], n)
        yield lookups
        yield GaugeMetricFamily("sm_cache_entries", "Computed frames held", value=len(cache))
        yield GaugeMetricFamily("sm_cache_bytes", "Bytes of the encoded frames held", value=cache.bytes)
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

