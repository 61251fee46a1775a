"""GET / (Grafana's "Save & test"), /healthz (process alive), /readyz (database reachable, migrations current).

/healthz is liveness: 200 while the process answers, since restarting the service does not bring a database
back (the supervisor, success_metrics/storage/supervise.py, does that for the embedded one). It does not vouch for
the database: ``database`` says whether the last use of it succeeded, and ``status`` is "degraded" while not.
/readyz asks the database itself and is 503 while it does not answer.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi import Request
from pydantic import BaseModel, Field

from success_metrics.server.deps import ServicesDep
from success_metrics.storage import migrate
from success_metrics.storage import DatabaseUnavailable

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    detail: str | None = None
    warm: bool | None = Field(None, description="Readiness only: whether the cache warmer has finished a round "
                                                "(every tenant's dashboards cached); absent when it is off")
    warming: bool | None = Field(None, description="Readiness only: whether a warmer round is under way")
    database: Literal["up", "down"] | None = Field(None, description="Whether the database answered its last use "
                                                                       "(absent on /)")


@router.get("/", response_model=Status, summary="Test connection (Grafana's Save & test)")
async def root() -> Status:
    return Status(status="ok", detail="success-metrics data source")


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
