"""Slow clients are cut off: headers must arrive within ``limits.header_timeout_s``, a body within
``limits.body_timeout_s``, and uvicorn caps connections (``limits.max_connections``, beyond it 503) and idle
keep-alive (``limits.keep_alive_s``). ``server_options`` is the one place the service's uvicorn is configured.

uvicorn has no header read timeout (its keep-alive timer stops at the first byte of a request), so the HTTP
protocol is subclassed: a timer armed when a connection opens and when a request's first byte arrives, disarmed
when its headers are complete; when it fires the client gets 408 and the connection is closed. The body deadline
is ASGI middleware around ``receive()``: from the first read, the whole body must arrive in time, however it is
trickled, else BodyTimeout (408, ``Connection: close``, in problems.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from success_metrics.settings import Settings


class BodyTimeout(Exception):
    """The request body did not arrive within limits.body_timeout_s."""

    def __init__(self, limit: float) -> None:
        self.message = (f"The request body did not arrive within {limit:g} s (limits.body_timeout_s); send it "
                        "faster or in smaller requests.")
        super().__init__(self.message)


class BodyDeadline:
    """Pure ASGI: the request's body messages must all arrive within the deadline counted from the first read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: float = scope["app"].state.services.settings.limits.body_timeout_s
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        done = False

        async def timed() -> Message:
            nonlocal deadline, done
            if done:  # the body is in: what follows (a disconnect) may take as long as the response
                return await receive()
            deadline = deadline or loop.time() + limit
            try:
                async with asyncio.timeout_at(deadline):  # no task per read, unlike wait_for
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(limit) from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed, send)


def _timeout_response(limit: float) -> bytes:
    message = (f"The request headers did not arrive within {limit:g} s (limits.header_timeout_s); the connection "
               "is closed.")
    body = json.dumps({"type": "about:blank", "title": "Request timeout", "status": 408, "detail": message,
                       "message": message}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class _HeaderDeadline:
    """The timer, for either of uvicorn's HTTP protocols (mixed in before it: its ``super()`` calls reach that
    protocol, which a type checker cannot see, hence their ignores)."""

    header_timeout_s: float
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_timeout_response(self.header_timeout_s))
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()  # a connection that never sends a byte is held no longer than a slow one

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]


class _HttpToolsHooks(_HeaderDeadline):
    """httptools calls back at a request's first byte and when its headers are complete."""

    def on_message_begin(self) -> None:
        super().on_message_begin()  # type: ignore[misc]
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()  # type: ignore[misc]


class _H11Hooks(_HeaderDeadline):
    """h11 has no such callbacks, but stays IDLE until a request's headers are complete."""

    conn: h11.Connection

    def handle_events(self) -> None:
        super().handle_events()  # type: ignore[misc]
        if self.conn.their_state is not h11.IDLE:
            self._disarm()
        elif self.conn.trailing_data[0]:  # part of the next request's headers
            self._arm()


def header_deadline(base: type[asyncio.Protocol], limit: float) -> type[asyncio.Protocol]:
    """``base`` (uvicorn's h11 or httptools protocol) with a header read timeout of ``limit`` seconds."""
    hooks = _HttpToolsHooks if hasattr(base, "on_headers_complete") else _H11Hooks
    return type(f"HeaderDeadline{base.__name__}", (hooks, base), {"header_timeout_s": limit})


def server_options(settings: Settings, *, http: type[asyncio.Protocol] = AutoHTTPProtocol) -> dict[str, Any]:
    """uvicorn's options for ``serve`` and ``demo``: address, slow-client timeouts, connection cap, TLS; ``http`` is the
    protocol that gets the header timeout (uvicorn's choice by default)."""
    limits = settings.limits
    # access_log off: the service's own (middleware.py) is the one line per request, without the query string
    return dict(host=settings.host, port=settings.port, log_config=None, access_log=False, proxy_headers=False,
                server_header=False,
                timeout_keep_alive=limits.keep_alive_s, limit_concurrency=limits.max_connections,
                http=header_deadline(http, limits.header_timeout_s),
                ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key)
