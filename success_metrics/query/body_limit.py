"""A route class that refuses request bodies larger than ``limits.max_body_bytes``, before parsing them.

The body is read as a stream and counted, so a client that lies about (or omits) Content-Length is
stopped at the limit too; the bytes read are handed on, so the route parses them as usual.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute

from success_metrics.query.protocol.errors import BodyTooLarge


class LimitedBodyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            limit: int = request.app.state.services.settings.limits.max_body_bytes
            # read from the raw list: request.headers would decode every header (a bearer token is ~1 KB) first
            declared = next((v for k, v in request.scope["headers"] if k == b"content-length"), b"").decode("latin-1")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(int(declared), limit)
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise _too_large(len(body), limit)
            request._body = bytes(body)  # Starlette's cache of the body: the route reads these bytes
            return await handler(request)

        return limited


def _too_large(size: int, limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"The request body has at least {size} bytes; the limit is {limit} bytes "
                        "(limits.max_body_bytes). Send fewer targets or a shorter payload.")
