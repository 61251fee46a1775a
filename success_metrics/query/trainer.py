"""The model trainer: every tenant's models (success_metrics.calculators.models kinds) refitted in the
background, on the 15-minute analytics schedule, and only when the tenant's data changed since the stored fit.

Each round, for every tenant and kind: the tenant's watermark (latest ingest batch, settings, week) is compared with the
stored one; equal → nothing to do. Otherwise the kind's data is read in a tenant transaction, fitted off the event loop
(a worker thread) and stored with the new watermark, the whole of it in the cache's background lane (one job at a time
beside the warmer, at half duty), so training never holds up a user's panel. A user's request never fits: a metric asked
before its model exists answers with a notice (success_metrics.calculators.models.NOT_FITTED); when a tenant's kind is
fitted for the first time its cached frames are dropped so that notice goes at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from success_metrics.calculators import models
from success_metrics.query.cache import ResultCache
from success_metrics.query.warmer import next_wait
from success_metrics.storage import Database, StorageError, tenants

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass
class TrainerState:
    rounds: int = 0
    fitted: int = 0  # (tenant, kind) pairs fitted in the last round
    unchanged: int = 0  # pairs whose data had not changed since their stored fit
    failed: int = 0  # pairs whose fit failed (logged); their previous fit stays in use


def fitting_pool() -> ProcessPoolExecutor:
    """One worker process, at a lower CPU priority, for the fits: they are CPU-bound Python (ETS, STL, scikit-learn)
    that in a thread of the service would hold the GIL its request handlers need."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_fitting_worker, initargs=(os.getpid(),))


def start_fitting_worker(parent: int) -> None:
    """In the worker: a lower CPU priority, and on Linux its end when the service ends even by SIGKILL, which stops
    no pool (PR_SET_PDEATHSIG; the kernel follows the thread that started the worker: the event loop's, which
    submits the fits). A service that died before the request took effect is caught by its parent pid."""
    os.nice(10)
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0 and os.getppid() != parent:
        os._exit(1)


class ModelTrainer:
    def __init__(self, db: Database, cache: ResultCache,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 kinds: list[models.Trainer] | None = None, pool: Callable[[], Executor] | None = None) -> None:
        self.db = db
        self.cache = cache
        # makes the executor fits run in (fitting_pool); None: a thread, for tests' local kinds. It is made at a
        # round's first fit and shut down when the round ends, so the worker's memory (the model libraries, a
        # tenant's data) goes back to the system between rounds instead of doubling the service's all day
        self.pool = pool
        self._executor: Executor | None = None
        self.clock = clock
        self.kinds = kinds  # default: every registered kind
        self.state = TrainerState()
        self._began = clock()  # when the last scheduled round began

    async def scheduled_round(self) -> None:
        """A round of the service's background loop (server/background.py), which waits ``wait()`` before the next."""
        self._began = self.clock()
        await self.round(self._began)

    def wait(self) -> float:
        """Seconds from now to the next scheduled round: the warmer's quarter-hour schedule (``next_wait``)."""
        return next_wait(self._began, self.clock())

    async def round(self, now: datetime | None = None, tenant_ids: list[str] | None = None) -> TrainerState:
        """Refit what changed, for ``tenant_ids`` (default: every tenant)."""
        now = now or self.clock()
        if tenant_ids is None:
            async with self.db.system() as conn:
                tenant_ids = [r["tenant_id"] for r in await conn.fetch(
                    "SELECT tenant_id FROM tenants WHERE tenant_id NOT LIKE '\\_%' ORDER BY tenant_id")]
        state = TrainerState(rounds=self.state.rounds + 1)
        try:
            for tenant in tenant_ids:
                for kind in self.kinds or models.trainers():
                    try:
                        fitted = await self.cache.in_background(functools.partial(self._train, tenant, kind, now))
                    except StorageError:
                        raise
                    except Exception:  # one kind's failure must not cost the others their fit
                        log.exception("fitting %s of tenant %s failed", kind.kind, tenant)
                        state.failed += 1
                        continue
                    if fitted:
                        state.fitted += 1
                    else:
                        state.unchanged += 1
        finally:
            await asyncio.to_thread(self.close)
        self.state = state
        log.info("models: %d fitted, %d unchanged, %d failed", state.fitted, state.unchanged, state.failed)
        return state

    def close(self, wait: bool = True) -> None:
        """End the worker the fits ran in, if one runs: at the end of each round, and when the service stops (then
        without waiting for a fit under way)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    async def _train(self, tenant: str, kind: models.Trainer, now: datetime) -> bool:
        """Refit one kind of one tenant if its data changed; whether it did."""
        async with self.db.tenant(tenant) as conn:
            settings = await tenants.load_settings(conn, tenant)
            mark = await models.watermark(conn, tenant, settings, now, kind.period)
            before = await models.stored_watermark(conn, tenant, kind.kind)
            if before == mark:
                return False
            data = await kind.load(conn, tenant, settings, now)
        if self.pool is None:
            payloads = await asyncio.to_thread(kind.fit, data)
        else:
            if self._executor is None:
                self._executor = self.pool()
            payloads = await asyncio.get_running_loop().run_in_executor(self._executor, kind.fit, data)
        async with self.db.tenant(tenant) as conn:
            await models.store(conn, tenant, kind, payloads, mark, now)
        if before is None:  # frames computed before the first fit carry the "not fitted" notice
            await self.cache.invalidate(tenant)
        return True
