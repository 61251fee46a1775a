"""create_app(settings): lifespan, middleware, routers, error handlers. Wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from success_metrics.admin import audit_routes as audit
from success_metrics.admin import branding_routes as branding
from success_metrics.admin import routes as admin
from success_metrics.guard import BodyDeadline
from success_metrics.ingest import routes as ingest
from success_metrics.notify import routes as alerts
from success_metrics.query import discovery_routes as discovery
from success_metrics.query import routes as query
from success_metrics.query import selfcheck, summaries
from success_metrics.query.activity import FLUSH_S
from success_metrics.query.selfcheck import SelfCheck
from success_metrics.query.trainer import ModelTrainer, fitting_pool
from success_metrics.query.warmer import Warmer
from success_metrics.server import health_routes as health
from success_metrics.server import openapi, problems
from success_metrics.server.audit_edge import DOCS_STATIC, AuditEdge
from success_metrics.server.middleware import RequestContext
from success_metrics.server.services import Services
from success_metrics.settings import Settings
from success_metrics.storage import Database


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    """Build the service. Tests pass ``database`` to share one PostgreSQL across apps."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = await Services.start(settings, database)
        app.state.services = services
        # when users last came, written once a minute (query/activity.py) for every replica's warmer
        services.background.every("tenant activity", services.activity.flush, FLUSH_S, wait_first=True,
                                  final=services.activity.flush)
        app.state.warmer = warmer = Warmer(services) if settings.cache_warm else None
        if warmer is not None:
            services.background.every("cache warmer", warmer.scheduled_round, warmer.wait)
            # models are fitted on the same quarter-hour schedule as the warmer, in its background lane
            trainer = ModelTrainer(services.db, services.cache, pool=fitting_pool)
            services.background.every("model trainer", trainer.scheduled_round, trainer.wait)
            services.background.every("closed days", lambda: summaries.summarize(services.db), summaries.ROUND_S)
        if settings.dashboard_check:
            check, at = SelfCheck(services), settings.dashboard_check_at
            services.background.every("dashboard self-check", check.run,
                                      lambda: selfcheck.next_run_in(datetime.now(UTC), at), wait_first=True)
        try:
            yield
        finally:
            await services.stop()
            if warmer is not None:
                trainer.close(wait=False)

    # /docs and /redoc with Swagger UI's and ReDoc's files from the fastapi-offline package, not a CDN: they work
    # where the service has no way out (and no third party sees who reads the docs)
    app = FastAPIOffline(
        static_url=DOCS_STATIC,
        swagger_ui_parameters={"persistAuthorization": True},
        title="success-metrics",
        summary="Grafana data source for lead-automation success metrics, masked per user.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry middleware asked the global tracer, meter and logger providers (and
        # the environment) on every request although none is configured: off until someone wires OTel up
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(BodyDeadline)
    app.add_middleware(AuditEdge)  # added first, so it runs inside RequestContext (the request id)
    app.add_middleware(RequestContext)
    problems.install(app)
    openapi.install(app)
    # Grafana's "Save & test" calls the configured URL exactly, with no trailing slash
    app.router.redirect_slashes = False
    # /query first: routes are matched in order, and it is the route every panel of every refresh calls
    for router in (query.router, health.router, discovery.router, ingest.router, admin.router, audit.router,
                   branding.router, alerts.router):
        app.include_router(router)
    return app
