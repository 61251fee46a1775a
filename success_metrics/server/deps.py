"""FastAPI dependencies as Annotated types, so route signatures read like sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from success_metrics.guard import identification
from success_metrics.server.services import Services
from success_metrics.settings import Settings
from success_metrics.rbac import Principal, Role


# async although they never await: FastAPI runs a plain ``def`` dependency in a worker thread, a hop that cost
# ~15 % of the CPU of a cached /query (profiled under load)
async def _services(request: Request) -> Services:
    return services_of(request)


async def _settings(request: Request) -> Settings:
    return services_of(request).settings


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _principal(request: Request) -> Principal:
    # identity comes only from signed credentials: X-Grafana-User and other unsigned headers are never read
    services = services_of(request)
    return await identification.identify_request(request, services.identifier, services.db)


ServicesDep = Annotated[Services, Depends(_services)]
SettingsDep = Annotated[Settings, Depends(_settings)]
PrincipalDep = Annotated[Principal, Depends(_principal)]


async def _admin(who: PrincipalDep, request: Request) -> Principal:
    # a refused attempt is audited like any other access (identification.refuse), then answered 403
    if who.role is not Role.ADMIN:
        await identification.refuse(services_of(request).db, who, request,
                            f"Role {who.role.value} may not manage tenant {who.tenant_id}; the admin role is needed.")
    return who


AdminDep = Annotated[Principal, Depends(_admin)]
