"""Slow clients over a real socket: a server started on 127.0.0.1 with uvicorn as `serve` configures it
(slow_clients.server_options) cuts off a client that trickles its headers, its body or nothing at all, with 408,
within the timeout, while normal clients are served meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from success_metrics.settings import Limits, Settings
from success_metrics.storage.pool import Database
from tests.datasource.live_server import serving

TIMEOUT = 0.6  # header and body timeouts of the server under test, seconds
DRIP = 0.1  # the slow client sends one byte this often


@pytest.fixture(params=[HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def port(request: Any, db: Database, base_settings: Settings) -> AsyncIterator[int]:
    settings = base_settings.model_copy(update={"limits": Limits(header_timeout_s=TIMEOUT, body_timeout_s=TIMEOUT)})
    async with serving(settings, db, http=request.param) as (_, port):
        yield port


async def trickle(port: int, head: bytes, drip: bytes) -> tuple[bytes, float]:
    """Send ``head`` at once, then ``drip`` a byte at a time; the answer (read to the close) and how long it took."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = loop.time()
    writer.write(head)

    async def drip_bytes() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in drip:
                await asyncio.sleep(DRIP)
                writer.write(bytes([byte]))
                await writer.drain()

    dripping = asyncio.create_task(drip_bytes())
    try:
        answer = await asyncio.wait_for(reader.read(), timeout=TIMEOUT + 5)  # to EOF: the server closed
    except ConnectionResetError:
        # the server closed while the client was still sending: the kernel may then reset the connection before
        # the 408 is read. The client was cut off all the same; the answer is what it could not read.
        answer = b""
    finally:
        dripping.cancel()
        writer.close()
    return answer, loop.time() - started


def status_and_body(answer: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body)


async def test_slow_headers_and_bodies_are_cut_off_while_others_are_served(port: int) -> None:
    slow_headers = trickle(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 100)
    silent = trickle(port, b"", b"")
    slow_body = trickle(port, b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              b"Content-Length: 100\r\n\r\n", b"{" + b" " * 99)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        async def normal() -> list[int]:
            await asyncio.sleep(TIMEOUT / 2)  # while the slow ones are connected
            return [(await client.get("/healthz")).status_code,
                    (await client.post("/query", json={"range": {"from": "now-1h", "to": "now"}})).status_code]

        results = await asyncio.gather(slow_headers, silent, slow_body, normal())
    *cut, served = results
    assert served == [200, 401]
    for answer, took in cut:
        assert TIMEOUT * 0.9 <= took < TIMEOUT + 2, took
        if answer:  # a reset (see trickle) can only hit a client that was still sending when it was cut off
            status, problem = status_and_body(answer)
            assert status == 408 and "limits." in problem["message"]
    silent_answer = cut[1][0]  # sends nothing, so it always reads its answer
    assert "limits.header_timeout_s" in status_and_body(silent_answer)[1]["message"]
    if cut[2][0]:
        assert "limits.body_timeout_s" in status_and_body(cut[2][0])[1]["message"]
