"""FastAPI dependencies as Annotated types, so route signatures read like sentences."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from datasource import access
from datasource.services import Services
from datasource.settings import Settings
from rbac.principal import Principal


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _settings(request: Request) -> Settings:
    return _services(request).settings


async def _principal(request: Request) -> Principal:
    # identity comes only from signed credentials: X-Grafana-User and other unsigned headers are never read
    services = _services(request)
    return await access.identify_request(request, services.identifier, services.db)


ServicesDep = Annotated[Services, Depends(_services)]
SettingsDep = Annotated[Settings, Depends(_settings)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
