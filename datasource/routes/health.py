"""GET / (Grafana's "Save & test"), /healthz (process alive), /readyz (database reachable, migrations current)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi import Request
from pydantic import BaseModel, Field

from datasource.deps import ServicesDep
from datasource.storage import migrate

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: str
    detail: str | None = None
    warm: bool | None = Field(None, description="Readiness only: whether the cache warmer has finished a round "
                                                "(every tenant's dashboards cached); absent when it is off")
    warming: bool | None = Field(None, description="Readiness only: whether a warmer round is under way")


@router.get("/", response_model=Status, summary="Test connection (Grafana's Save & test)")
async def root() -> Status:
    return Status(status="ok", detail="success-metrics data source")


@router.get("/healthz", response_model=Status, summary="Liveness: the process answers")
async def healthz() -> Status:
    return Status(status="ok")


@router.get("/readyz", response_model=Status, summary="Readiness: database reachable and migrations current",
            responses={503: {"model": Status}})
async def readyz(services: ServicesDep, request: Request) -> Status | JSONResponse:
    if not await services.db.ping():
        return JSONResponse(Status(status="unavailable", detail="database unreachable").model_dump(), status_code=503)
    async with services.db.system() as conn:
        waiting = await migrate.pending(conn)
    if waiting:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in waiting)
        return JSONResponse(Status(status="unavailable", detail=f"migrations pending: {names}").model_dump(),
                            status_code=503)
    warmer = getattr(request.app.state, "warmer", None)
    if warmer is None:
        return Status(status="ok")
    return Status(status="ok", warm=warmer.state.rounds > 0, warming=warmer.state.running)
