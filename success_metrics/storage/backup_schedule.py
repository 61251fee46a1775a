"""Taking, pruning and drilling backups as one recorded round: for ``success-metrics backup`` and the service's loop.

The loop (on when ``backup.interval_hours`` is set) takes a backup once the last good one is ``interval`` old,
as ``backup_runs`` says, so a restart neither skips nor repeats one; keeps the newest ``keep``; and drills each
new backup when ``verify`` is on. A failed round is recorded and retried after ``retry`` (not at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from success_metrics.storage import backup
from success_metrics.storage.errors import BackupFailed
from success_metrics.storage.pool import Database

log = logging.getLogger(__name__)

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
    size = dump.stat().st_size if dump.exists() else None
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


def wait_s(last_ok: datetime | None, now: datetime, interval: timedelta) -> float:
    """Seconds until the next backup is due: at once without any, else when the last good one is ``interval`` old."""
    return 0.0 if last_ok is None else max(0.0, (last_ok + interval - now).total_seconds())


class BackupLoop:
    def __init__(self, db: Database, dsn: str, plan: Plan, clock: Clock) -> None:
        self.db, self.dsn, self.plan, self.clock = db, dsn, plan, clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="backups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failed = False
        while True:
            try:
                if failed:
                    await asyncio.sleep(self.plan.retry.total_seconds())
                async with self.db.system() as conn:
                    last = await backup.last_success(conn)
                await asyncio.sleep(wait_s(last, self.clock(), self.plan.interval))
                await round_(self.db, self.dsn, self.plan, self.clock)
                failed = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (the loop must outlive a failed round; the next one retries)
                failed = True
                log.error("scheduled backup failed: %s; retrying in %s", getattr(exc, "message", exc), self.plan.retry)
