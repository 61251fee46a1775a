"""Delivering queued notifications: every channel at once, each with its own time-out and retries.

Rows of ``alert_deliveries`` are the outbox and the delivery log. A replica claims due rows by moving their
``next_attempt_at`` past a lease (FOR UPDATE SKIP LOCKED, so two replicas never take the same row), sends
them concurrently, and records sent or failed with the attempts and the last error. A row left ``pending``
by a crash becomes due again when its lease runs out; a sent row is never sent again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import httpx

from success_metrics.notify.alerts import channels
from success_metrics.notify.alerts.channels import Channel, Notice, SendFailed
from success_metrics.notify.mailer import Mailer
from success_metrics.notify.keyring import Keyring
from success_metrics.settings import Notifications
from success_metrics.storage import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery_id: int
    channel_id: str
    ok: bool
    attempts: int
    error: str | None


def lease(settings: Notifications) -> timedelta:
    """Long enough for every attempt and back-off of one delivery, so a live sender is never overtaken."""
    backoff = sum(settings.backoff_s * 2**i for i in range(settings.max_attempts - 1))
    return timedelta(seconds=settings.max_attempts * settings.channel_timeout_s + backoff + 30)


async def attempt(channel: Channel, notice: Notice, http: httpx.AsyncClient, mailer: Mailer,
                  settings: Notifications, keys: Keyring) -> tuple[bool, int, str | None]:
    """Send with a time-out per try and exponential back-off between tries; never raises."""
    error = None
    for n in range(1, settings.max_attempts + 1):
        try:
            await asyncio.wait_for(channels.send(channel, notice, http, mailer, keys), settings.channel_timeout_s)
            return True, n, None
        except TimeoutError:
            error = f"no answer within {settings.channel_timeout_s:g} s"
        except SendFailed as exc:
            error = str(exc)
            if not exc.retryable:
                return False, n, error
        if n < settings.max_attempts:
            await asyncio.sleep(settings.backoff_s * 2 ** (n - 1))
    return False, settings.max_attempts, error


async def deliver_pending(db: Database, tenant_id: str, settings: Notifications, http: httpx.AsyncClient,
                          mailer: Mailer, keys: Keyring) -> list[Outcome]:
    """Send every due notification of the tenant; returns what happened to each."""
    async with db.tenant(tenant_id) as conn:
        rows = await conn.fetch(
            """UPDATE alert_deliveries d SET next_attempt_at = now() + $1::interval
               FROM (SELECT delivery_id FROM alert_deliveries
                     WHERE status = 'pending' AND next_attempt_at <= now()
                     ORDER BY delivery_id LIMIT 200 FOR UPDATE SKIP LOCKED) due,
                    alert_events e
               WHERE d.delivery_id = due.delivery_id AND e.event_id = d.event_id
               RETURNING d.delivery_id, d.transition, d.channel_id, e.*""",
            lease(settings),
        )
        known = await channels.load(conn)
    jobs, outcomes = [], []
    for r in rows:
        channel = known.get(r["channel_id"])
        if channel is None:
            outcomes.append(Outcome(r["delivery_id"], r["channel_id"], False, 0, "the channel was deleted"))
            continue
        notice = Notice(
            tenant_id=tenant_id, event_id=r["event_id"], rule_id=r["rule_id"], transition=r["transition"],
            family=r["family"], severity=r["severity"], title=r["title"], summary=r["summary"], value=r["value"],
            threshold=r["threshold"], started_at=r["started_at"], resolved_at=r["resolved_at"],
        )
        jobs.append((r["delivery_id"], channel, notice))
    results = await asyncio.gather(*(attempt(ch, notice, http, mailer, settings, keys) for _, ch, notice in jobs))
    outcomes += [Outcome(did, ch.id, ok, n, err) for (did, ch, _), (ok, n, err) in zip(jobs, results, strict=True)]
    if outcomes:
        async with db.tenant(tenant_id) as conn:
            await conn.executemany(
                """UPDATE alert_deliveries SET status = $2, attempts = attempts + $3, last_error = $4,
                       sent_at = CASE WHEN $2 = 'sent' THEN now() END
                   WHERE delivery_id = $1""",
                [(o.delivery_id, "sent" if o.ok else "failed", o.attempts, o.error) for o in outcomes],
            )
    for o in outcomes:
        if not o.ok:
            log.warning("alert delivery %s to channel %s failed after %d attempt(s): %s",
                        o.delivery_id, o.channel_id, o.attempts, o.error)
    return outcomes
