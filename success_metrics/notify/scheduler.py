"""The service's background schedule: alert evaluation and delivery every tick, and due reports.

Two loops, so a long report run never delays an alert. All state is in PostgreSQL (alert_state, the
delivery outbox, report_schedules.last_period), so any number of replicas can run these loops: per-tenant
advisory locks, SKIP LOCKED claims and the last_period claim keep each alert and report going out once.
Started only when ``notifications.scheduler_enabled`` is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from success_metrics.notify.alerts.delivery import deliver_pending
from success_metrics.notify.alerts.evaluate import evaluate_tenant
from success_metrics.notify.mailer import Mailer
from success_metrics.query.answer import Answerer
from success_metrics.notify.keyring import Keyring
from success_metrics.notify.reports.delivery import Reporter
from success_metrics.settings import Settings
from success_metrics.storage import Database

log = logging.getLogger(__name__)


@dataclass
class Scheduler:
    db: Database
    settings: Settings
    http: httpx.AsyncClient
    mailer: Mailer
    reporter: Reporter
    answers: Answerer
    keys: Keyring
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)

    async def _tenants(self) -> list[str]:
        async with self.db.system() as conn:
            return [r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM tenants ORDER BY tenant_id")]

    async def alerts_tick(self, now: datetime) -> None:
        for tenant_id in await self._tenants():
            try:
                await evaluate_tenant(self.answers, tenant_id, now, self.settings.retention_months)
                await deliver_pending(self.db, tenant_id, self.settings.notifications, self.http, self.mailer,
                                      self.keys)
            except Exception:  # one tenant's failure must not stop the others' alerts
                log.exception("alert evaluation failed for tenant %s", tenant_id)

    async def reports_tick(self, now: datetime) -> None:
        for tenant_id in await self._tenants():
            try:
                await self.reporter.run_due(tenant_id, now)
            except Exception:
                log.exception("scheduled reports failed for tenant %s", tenant_id)

    async def _loop(self, tick: Callable[[datetime], Awaitable[None]]) -> None:
        while True:
            try:
                await tick(datetime.now(UTC))
            except Exception:  # e.g. the database is away: try again next tick
                log.exception("scheduler tick failed")
            await asyncio.sleep(self.settings.notifications.tick_seconds)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(self.alerts_tick), name="alerts"),
                       asyncio.create_task(self._loop(self.reports_tick), name="reports")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
