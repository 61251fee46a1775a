"""The service's background schedule: alert evaluation and delivery every tick, and due reports.

Two loops (run by the service's background loops, server/background.py), so a long report run never delays an
alert. All state is in PostgreSQL (alert_state, the delivery outbox, report_schedules.last_period), so any number
of replicas can run these loops: per-tenant advisory locks, SKIP LOCKED claims and the last_period claim keep each
alert and report going out once. Started only when ``notifications.scheduler_enabled`` is set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import httpx

from success_metrics.notify.alerts.delivery import Outcome, deliver_pending
from success_metrics.notify.alerts.evaluate import Change, evaluate_tenant
from success_metrics.notify.keyring import Keyring
from success_metrics.notify.mailer import Mailer
from success_metrics.notify.reports.delivery import Reporter
from success_metrics.query.answer import Answerer
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

    async def tenants(self) -> list[str]:
        async with self.db.system() as conn:
            return [r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM tenants ORDER BY tenant_id")]

    async def alerts_for(self, tenant_id: str, now: datetime, rule: str | None = None
                         ) -> tuple[list[Change], list[Outcome]]:
        """Evaluate the tenant's rules (or one) and deliver its due notifications: the transitions, the deliveries."""
        changes = await evaluate_tenant(self.answers, tenant_id, now, self.settings.retention_months, rule)
        return changes, await deliver_pending(self.db, tenant_id, self.settings.notifications, self.http, self.mailer,
                                              self.keys)

    async def alerts_tick(self, now: datetime) -> None:
        for tenant_id in await self.tenants():
            try:
                await self.alerts_for(tenant_id, now)
            except Exception:  # one tenant's failure must not stop the others' alerts
                log.exception("alert evaluation failed for tenant %s", tenant_id)

    async def reports_tick(self, now: datetime) -> None:
        for tenant_id in await self.tenants():
            try:
                await self.reporter.run_due(tenant_id, now)
            except Exception:
                log.exception("scheduled reports failed for tenant %s", tenant_id)
