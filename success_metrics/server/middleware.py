"""Request id, timing and the access log: observes requests, never changes data.

Pure ASGI (not BaseHTTPMiddleware) so streaming bodies and lifespan pass through untouched. The access
log line carries method, path, status, duration and request id — never headers, so no token is logged.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("success_metrics.access")


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
            access_log.info(
                "%s %s %d %.1fms rid=%s", scope["method"], scope["path"], status,
                (time.perf_counter() - started) * 1000, request_id,
            )
