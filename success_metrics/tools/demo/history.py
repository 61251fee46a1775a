"""The demo's alert history: the tenant's alert rules evaluated at past scheduler ticks over the loaded events.

Each tick is one ``evaluate_tenant`` call, the one the running service's alert loop makes, so firings,
resolutions and rule state are recorded exactly as the service would have recorded them had it been running
with a tick of ``every``. Deliveries are only queued in the outbox, for the tenant's channels; the demo
configures none, so nothing is sent anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from success_metrics.notify.alerts.evaluate import Change, evaluate_tenant
from success_metrics.query.answer import Answerer

# the last week at a tick short enough for a degradation (45 min to 6 h) to hold over two ticks and pass the
# rules' "for" durations; each tick costs about 0.1-0.2 s, so a longer span or a shorter tick costs load time
DAYS = 7
EVERY = timedelta(minutes=30)


def ticks(end: datetime, days: int = DAYS, every: timedelta = EVERY) -> Iterator[datetime]:
    """The scheduler's ticks from ``days`` before ``end`` up to ``end``, oldest first."""
    moment = end - timedelta(days=days)
    while moment <= end:
        yield moment
        moment += every


async def replay_alerts(answers: Answerer, tenant_id: str, end: datetime, *, retention_months: int,
                        days: int = DAYS, every: timedelta = EVERY,
                        progress: Callable[[int, int], None] | None = None) -> list[Change]:
    """Evaluate the tenant's rules at every tick up to ``end``; returns the transitions recorded. A replay cut
    short resumes after the last tick it evaluated, so no rule is stepped back in time."""
    async with answers.db.tenant(tenant_id) as conn:
        last = await conn.fetchval("SELECT max(evaluated_at) FROM alert_state")
    moments = [m for m in ticks(end, days, every) if last is None or m > last]
    changes: list[Change] = []
    for done, moment in enumerate(moments, start=1):
        changes += await evaluate_tenant(answers, tenant_id, moment, retention_months)
        if progress and done % 50 == 0:
            progress(done, len(moments))
    return changes
