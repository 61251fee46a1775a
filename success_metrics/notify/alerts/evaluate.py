"""One evaluation of a tenant's rules: measure (through the answer path, ``conditions.py``), step each rule's
state, record transitions and queue their notifications, all in one tenant transaction.

A transaction-scoped advisory lock per tenant means one replica evaluates a tenant at a time (the others
skip it for that tick). Because state, the alert_events row and the outbox rows commit together, a restart
finds a firing rule still firing and queues nothing new: notifications go out once per transition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg

from success_metrics.calculators import CalculatorError, alert_lineage
from success_metrics.storage import tenants
from success_metrics.notify.alerts import channels, rules
from success_metrics.notify.alerts.conditions import Context, measure
from success_metrics.notify.alerts.rules import Rule
from success_metrics.notify.alerts.state import RuleState, State, Transition, holds, step
from success_metrics.query.answer import Answerer
from success_metrics.rbac import AuthMethod, Principal, RbacError, Role, masking, policy
from success_metrics.rbac import PolicyStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    rule_id: str
    transition: Transition
    event_id: int
    value: float | None


def summary(rule: Rule, value: float | None) -> str:
    shown = "no data" if value is None else f"{value:.4g}"
    return (f"{rule.title}: {shown} {rule.op} {rule.threshold:.4g} "
            f"({rule.kind} over the last {rule.window_minutes} min)")


async def _queue(conn: asyncpg.Connection, tenant_id: str, rule: Rule | None, severity: str, event_id: int,
                 transition: Transition, known: dict[str, channels.Channel], shown: Callable[[Role], bool]) -> None:
    """Queue the transition for every channel that wants it and whose audience may see what it derives from."""
    wanted = [c for c in known.values()
              if c.wants(rules.Severity(severity)) and (rule is None or not rule.channels or c.id in rule.channels)
              and shown(c.config.audience)]
    await conn.executemany(
        """INSERT INTO alert_deliveries (tenant_id, event_id, transition, channel_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id, event_id, transition, channel_id) DO NOTHING""",
        [(tenant_id, event_id, transition.value, c.id) for c in wanted],
    )


def _reader(tenant_id: str, role: Role) -> Principal:
    """Whoever reads a channel, as masking knows them: a role, no agent or team of their own."""
    return Principal(tenant_id=tenant_id, subject="alert-channel", role=role, auth_method=AuthMethod.SERVICE_KEY)


async def _measure_safely(rule: Rule, ctx: Context) -> float | None:
    """A rule whose query fails is logged and skipped; the other rules are still evaluated."""
    try:
        return await measure(rule, ctx)
    except (asyncpg.PostgresError, CalculatorError, RbacError) as exc:
        log.error("alert rule %s could not be measured: %s", rule.id, exc.__class__.__name__)
        return None


async def evaluate_tenant(answers: Answerer, tenant_id: str, now: datetime, retention_months: int) -> list[Change]:
    """Evaluate every rule of the tenant at ``now``; returns the transitions it recorded."""
    changes: list[Change] = []
    async with answers.db.tenant(tenant_id) as conn:
        locked = await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtextextended('sm.alerts:' || $1, 0))",
                                     tenant_id)
        if not locked:
            return changes
        ctx = Context(answers, answers.system(tenant_id, "alerts"), now, await tenants.load_settings(conn, tenant_id),
                      retention_months)
        active = [r for r in await rules.effective(conn) if r.enabled]
        states = {r["rule_id"]: r for r in await conn.fetch("SELECT * FROM alert_state")}
        known = await channels.load(conn)
        _, tenant_policy = await PolicyStore().current(conn, tenant_id)

        def audience(inputs: tuple[str, ...] | list[str] | None) -> Callable[[Role], bool]:
            """Whether a channel for a role may be told of an alert derived from ``inputs`` (its rule's reads)."""
            derived = alert_lineage(list(inputs) if inputs else None)
            return lambda role: masking.shows(derived, policy.field_masks(_reader(tenant_id, role), tenant_policy))
        for rule in active:
            read = replace(ctx, read=set())
            value = await _measure_safely(rule, read)
            inputs = sorted(read.read) or None  # what the rule read; nothing known → only who sees everything
            row = states.pop(rule.id, None)
            current = RuleState(State(row["state"]), row["since"]) if row else RuleState(State.INACTIVE, now)
            new, transition = step(current, holds(value, rule.op, rule.threshold), now,
                                   timedelta(minutes=rule.for_minutes))
            event_id = row["event_id"] if row else None
            if transition is Transition.FIRING:
                event_id = await conn.fetchval(
                    """INSERT INTO alert_events (tenant_id, rule_id, family, severity, state, started_at, title,
                           summary, value, threshold, inputs)
                       VALUES ($1, $2, $3, $4, 'firing', $5, $6, $7, $8, $9, $10) RETURNING event_id""",
                    tenant_id, rule.id, rule.family.value, rule.severity.value, now, rule.title,
                    summary(rule, value), value, rule.threshold, inputs)
            elif transition is Transition.RESOLVED:
                await conn.execute("UPDATE alert_events SET state = 'resolved', resolved_at = $2 WHERE event_id = $1",
                                   event_id, now)
            if transition is not None:
                await _queue(conn, tenant_id, rule, rule.severity.value, event_id, transition, known,
                             audience(inputs))
                changes.append(Change(rule.id, transition, event_id, value))
            await conn.execute(
                """INSERT INTO alert_state (tenant_id, rule_id, state, since, event_id, last_value, evaluated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (tenant_id, rule_id) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,
                       event_id = EXCLUDED.event_id, last_value = EXCLUDED.last_value,
                       evaluated_at = EXCLUDED.evaluated_at""",
                tenant_id, rule.id, new.state.value, new.since,
                event_id if new.state is State.FIRING else None, value, now)
        # rules removed or disabled while firing resolve, so nothing stays open without a rule behind it
        for rule_id, row in states.items():
            if row["state"] == State.FIRING.value and row["event_id"] is not None:
                ended = await conn.fetchrow(
                    "UPDATE alert_events SET state = 'resolved', resolved_at = $2 WHERE event_id = $1 "
                    "RETURNING severity, inputs", row["event_id"], now)
                await _queue(conn, tenant_id, None, ended["severity"], row["event_id"], Transition.RESOLVED, known,
                             audience(ended["inputs"]))
                changes.append(Change(rule_id, Transition.RESOLVED, row["event_id"], None))
            await conn.execute("DELETE FROM alert_state WHERE rule_id = $1", rule_id)
    return changes
