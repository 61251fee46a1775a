"""GET / (Grafana's "Save & test"), /healthz (process alive), /readyz (database reachable, migrations current).

GET / checks the credentials Grafana sends, as every panel's request will be checked, and says who they resolved
to, so a wrong audience or a revoked key shows when the data source is saved rather than as 401s on every panel.
Without credentials it answers 401 with what to configure (Grafana shows the problem's ``message``). It is audited
like any request; load balancers probe /healthz.

/healthz is liveness: 200 while the process answers, since restarting the service does not bring a database
back (the supervisor, success_metrics/storage/supervise.py, does that for the embedded one). It does not vouch for
the database: ``database`` says whether the last use of it succeeded, and ``status`` is "degraded" while not.
/readyz asks the database itself and is 503 while it does not answer.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from success_metrics.server import access, signals
from success_metrics.server.problems import Problem
from success_metrics.server.deps import ServicesDep
from success_metrics.storage import migrate
from success_metrics.storage.errors import DatabaseUnavailable
from success_metrics.rbac import Unauthenticated
from success_metrics.rbac.identity import Credentials

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
    who = await access.identify_request(request, services.identifier, services.db)
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
    return Response(signals.exposition(services, warmer), media_type=signals.CONTENT_TYPE)
