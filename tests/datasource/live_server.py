"""The real app served by uvicorn on 127.0.0.1 (a free port), configured as `serve` configures it, on the test's
event loop and the session database: for tests that need a real socket."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from success_metrics.server.app import create_app
from success_metrics.settings import Settings
from success_metrics.guard.slow_clients import server_options
from success_metrics.storage.pool import Database


@asynccontextmanager
async def serving(settings: Settings, db: Database, **config: Any) -> AsyncIterator[tuple[FastAPI, int]]:
    """(app, port) while the server runs; ``config``: server_options' own (``http``, the protocol to use)."""
    app = create_app(settings, database=db)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, **server_options(settings, **config)))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # the start failed: say why
        await asyncio.sleep(0.01)
    try:
        yield app, sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
