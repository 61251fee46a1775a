"""The hand-built fixture (tests/calculators/fixture.py), loaded once per session for two tenants."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from success_metrics.storage.pool import Database
from tests.calculators import fixture


@pytest.fixture(scope="session")
async def tenants(db: Database) -> AsyncIterator[tuple[str, str]]:
    a, b = f"calc-a-{os.getpid()}", f"calc-b-{os.getpid()}"
    await fixture.load(db, a, fixture.EVENTS_A)
    await fixture.load(db, b, fixture.EVENTS_B, {"timezone": "UTC", "hourly_rate": 1})
    yield a, b


@pytest.fixture
def tenant_a(tenants: tuple[str, str]) -> str:
    return tenants[0]
