"""Request id, timing, the access log and the request-latency signal: observes requests, never changes data.

Pure ASGI (not BaseHTTPMiddleware) so streaming bodies and lifespan pass through untouched. The access log line
carries request id, tenant and role (as the request's audit record names them, audit_edge), method, route, path,
status and latency — never headers or the query string, so no token is logged.
"""

from __future__ import annotations

import logging
import time
import uuid

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from success_metrics.guard import signals

access_log = logging.getLogger("success_metrics.access")


def json_log_formatter() -> logging.Formatter:
    """SM_LOG_FORMAT=json: every log record one JSON object a line (python-json-logger), with its extra fields —
    for the access log request_id, tenant, role, method, route, path, status, latency_ms."""
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # appended to the raw list: the app never sets these two (MutableHeaders would scan and delete)
                timing = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode()),
                                      (b"server-timing", timing.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            signals.observe_request(scope, status, seconds)
            state = scope.get("state", {})
            route = getattr(scope.get("route"), "path", None) or signals.UNMATCHED
            tenant, role = state.get("audit_tenant"), state.get("audit_role")
            access_log.info(
                "%s %s %d %.1fms rid=%s tenant=%s role=%s", scope["method"], scope["path"], status, seconds * 1000,
                request_id, tenant or "-", role or "-",
                extra={"request_id": request_id, "tenant": tenant, "role": role, "method": scope["method"],
                       "route": route, "path": scope["path"], "status": status,
                       "latency_ms": round(seconds * 1000, 1)})
