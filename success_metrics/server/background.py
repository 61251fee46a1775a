"""The service's background loops, run from one place with one error policy and one shutdown policy.

Each loop is a named round run again and again (``every``). A round that raises is logged with the loop's name
and the loop keeps running, waiting longer after each failure in a row (doubling from ``backoff_s`` up to
``backoff_max_s``, never less than its usual wait): no loop dies silently. ``stop`` cancels every loop, waits
for them at most ``stop_timeout_s``, then runs each loop's final round (e.g. a last audit checkpoint) under the
same timeout. The settings listener (storage/replicas.py) is not one of these: it is one long-lived connection
that reconnects on its own terms and whose start waits for its first LISTEN, not a round on a timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from success_metrics.storage import backoff_delay

log = logging.getLogger(__name__)

Round = Callable[[], Awaitable[object]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class LoopState:
    """What an operator may ask of one loop: its rounds so far, its failures in a row, its last error."""

    name: str
    rounds: int = 0
    failures: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class _Loop:
    state: LoopState
    round: Round
    wait: Callable[[], float]
    wait_first: bool
    final: Round | None


class Background:
    def __init__(self, *, backoff_s: float = 1.0, backoff_max_s: float = 300.0, stop_timeout_s: float = 10.0,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.stop_timeout_s = stop_timeout_s
        self._sleep = sleep
        self._loops: dict[str, tuple[_Loop, asyncio.Task[None]]] = {}

    def every(self, name: str, round_: Round, wait: float | Callable[[], float], *, wait_first: bool = False,
              final: Round | None = None) -> LoopState:
        """Start running ``round_`` with ``wait`` seconds (or what ``wait()`` says after each round) between rounds;
        ``final`` runs once on ``stop``."""
        if name in self._loops:
            raise ValueError(f"a background loop named {name!r} already runs")
        waits = wait if callable(wait) else (lambda: float(wait))
        loop = _Loop(LoopState(name), round_, waits, wait_first, final)
        self._loops[name] = (loop, asyncio.create_task(self._run(loop), name=name))
        return loop.state

    @property
    def loops(self) -> list[LoopState]:
        """Every loop's state, in the order they were started."""
        return [loop.state for loop, _ in self._loops.values()]

    def backoff(self, failures: int, usual_s: float) -> float:
        """Seconds to wait after ``failures`` failed rounds in a row (0: the usual wait)."""
        if failures == 0:
            return usual_s
        return max(usual_s, backoff_delay(failures - 1, self.backoff_s, self.backoff_max_s))

    async def _run(self, loop: _Loop) -> None:
        state = loop.state
        if loop.wait_first:
            await self._sleep(loop.wait())
        while True:
            try:
                await loop.round()
            except Exception as exc:  # the error policy: log with the name, back off, keep running
                state.failures += 1
                state.last_error = f"{exc.__class__.__name__}: {exc}"
                delay = self.backoff(state.failures, loop.wait())
                log.exception("background loop %r failed (%d in a row); next round in %.1f s", state.name,
                              state.failures, delay)
            else:
                state.failures, delay = 0, loop.wait()
            state.rounds += 1
            await self._sleep(delay)

    async def stop(self) -> None:
        """Cancel every loop, wait for them (at most ``stop_timeout_s``), then run their final rounds."""
        loops, self._loops = list(self._loops.values()), {}
        tasks = [task for _, task in loops]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.stop_timeout_s)
            for task in pending:
                log.error("background loop %r did not stop within %.0f s", task.get_name(), self.stop_timeout_s)
        for loop, _ in loops:
            if loop.final is not None:
                try:
                    await asyncio.wait_for(loop.final(), self.stop_timeout_s)
                except Exception:  # TimeoutError included: shutting down goes on for the other loops
                    log.exception("background loop %r: its final round failed", loop.state.name)
