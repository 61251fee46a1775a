"""Every domain error becomes a problem-details answer a person can act on."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from success_metrics.server import problems
from success_metrics.rbac import Unauthenticated


async def test_401_reason_with_non_ascii_text_still_answers() -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise Unauthenticated('token for "café" tenant ✓ expired')

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/boom")
    assert r.status_code == 401
    assert r.json()["message"] == 'token for "café" tenant ✓ expired'
    header = r.headers["www-authenticate"]
    assert header.startswith('Bearer error="invalid_token"')
    assert "token for 'caf?' tenant ? expired" in header
