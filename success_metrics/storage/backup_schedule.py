"""Taking, pruning and drilling backups as one recorded round: for ``success-metrics backup`` and the service's loop.

The loop (on when ``backup.interval_hours`` is set) takes a backup once the last good one is ``interval`` old,
as ``backup_runs`` says, so a restart neither skips nor repeats one, and N replicas take one between them;
keeps the newest ``keep``; and drills each new backup when ``verify`` is on. A failed round is recorded and
retried after ``retry`` (not at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from success_metrics.storage import backup
from success_metrics.storage.errors import BackupFailed
from success_metrics.storage.pool import Database

log = logging.getLogger(__name__)

LOCK_KEY = 5901601  # the advisory lock a replica holds while it takes a scheduled backup
CHECK_S = 300.0  # at most this long between looks at backup_runs (another replica may have backed up)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Plan:
    directory: Path
    keep: int
    verify: bool
    bin_dir: Path | None = None
    interval: timedelta = timedelta(hours=24)
    retry: timedelta = timedelta(minutes=15)


async def take(db: Database, dsn: str, plan: Plan, clock: Clock) -> backup.Manifest:
    """One backup, recorded whatever its outcome; older ones beyond ``keep`` are deleted after a good one."""
    started = clock()
    try:
        manifest = await backup.take(db, dsn, plan.directory, started, bin_dir=plan.bin_dir)
    except BackupFailed as exc:
        async with db.system() as conn:
            await backup.record(conn, "backup", started, clock(), False, "", None, exc.message)
        raise
    async with db.system() as conn:
        await backup.record(conn, "backup", started, clock(), True, manifest.file, manifest.bytes,
                            f"{sum(manifest.tables.values())} row(s) in {len(manifest.tables)} table(s)")
    for gone in backup.prune(plan.directory, plan.keep):
        log.info("deleted backup %s (keeping the newest %d)", gone.name, plan.keep)
    return manifest


async def verify(db: Database, dsn: str, dump: Path, clock: Clock, bin_dir: Path | None = None) -> backup.DrillReport:
    """The restore drill of one dump, recorded."""
    started = clock()
    report = await backup.drill(dsn, dump, bin_dir=bin_dir)
    size = await asyncio.to_thread(_size, dump)
    async with db.system() as conn:
        await backup.record(conn, "verify", started, clock(), report.ok, dump.name, size, report.summary())
    return report


async def round_(db: Database, dsn: str, plan: Plan, clock: Clock) -> backup.DrillReport | None:
    manifest = await take(db, dsn, plan, clock)
    log.info("backup %s written (%d bytes)", manifest.file, manifest.bytes)
    if not plan.verify:
        return None
    report = await verify(db, dsn, plan.directory / manifest.file, clock, plan.bin_dir)
    (log.info if report.ok else log.error)("%s", report.summary())
    return report


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.exists() else None


def wait_s(last_ok: datetime | None, now: datetime, interval: timedelta) -> float:
    """Seconds until the next backup is due: at once without any, else when the last good one is ``interval`` old."""
    return 0.0 if last_ok is None else max(0.0, (last_ok + interval - now).total_seconds())


class BackupLoop:
    """The scheduled backups as rounds of the service's background loops (server/background.py): each round takes a
    backup if one is due, under an advisory lock, so of N replicas one backs up and the others find it done."""

    def __init__(self, db: Database, dsn: str, plan: Plan, clock: Clock) -> None:
        self.db, self.dsn, self.plan, self.clock = db, dsn, plan, clock
        self._wait = 0.0

    def wait(self) -> float:
        """Seconds until the next round: when the next backup falls due, looked at again at least every CHECK_S
        (another replica may have taken it), or ``retry`` after a failed round."""
        return self._wait

    async def round(self) -> None:
        async with self.db.system() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
                self._wait = CHECK_S  # another replica is backing up now
                return
            try:
                due = wait_s(await backup.last_success(conn), self.clock(), self.plan.interval)
                if due > 0:
                    self._wait = min(due, CHECK_S)
                    return
                self._wait = self.plan.retry.total_seconds()  # what a failure leaves; a success sets its own
                await round_(self.db, self.dsn, self.plan, self.clock)
                self._wait = min(self.plan.interval.total_seconds(), CHECK_S)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
