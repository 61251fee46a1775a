"""The background loops' one error and shutdown policy (success_metrics/server/background.py): a round that raises
is logged with its loop's name and the loop goes on, backing off; stop cancels every loop, runs the final rounds
and leaves no task running. The clock is the loops' sleep, injected: nothing here waits on the wall clock."""

from __future__ import annotations

import asyncio
import logging

import pytest

from success_metrics.server.background import Background


class Sleeps:
    """The loops' sleep: records each wait and lets the loop go on at once (up to ``rounds`` waits, then blocks)."""

    def __init__(self, rounds: int) -> None:
        self.waits: list[float] = []
        self.rounds = rounds
        self.done = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if len(self.waits) >= self.rounds:
            self.done.set()
            await asyncio.Event().wait()  # until cancelled
        await asyncio.sleep(0)


async def test_a_round_that_raises_is_logged_by_name_and_the_loop_goes_on_backing_off(
        caplog: pytest.LogCaptureFixture) -> None:
    sleeps = Sleeps(rounds=5)
    background = Background(backoff_s=2.0, backoff_max_s=20.0, sleep=sleeps)
    outcomes = iter([ValueError("boom"), ValueError("boom"), ValueError("boom"), None, ValueError("again")])

    async def round_() -> None:
        error = next(outcomes)
        if error is not None:
            raise error

    with caplog.at_level(logging.ERROR, logger="success_metrics.server.background"):
        state = background.every("flaky", round_, 5.0)
        await asyncio.wait_for(sleeps.done.wait(), 5)
    # usual wait 5 s; failures in a row wait max(5, 2·2^(n-1)): 5, 5, 8; a success resets; 5 again after it
    assert sleeps.waits == [5.0, 5.0, 8.0, 5.0, 5.0]
    assert (state.rounds, state.failures, state.last_error) == (5, 1, "ValueError: again")
    failed = [r for r in caplog.records if "'flaky' failed" in r.getMessage()]
    assert len(failed) == 4 and all(r.exc_info for r in failed)
    await background.stop()


async def test_stop_cancels_every_loop_runs_the_final_rounds_and_leaves_no_task() -> None:
    background = Background(sleep=Sleeps(rounds=1))
    finals: list[str] = []
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async def final(name: str) -> None:
        finals.append(name)

    before = asyncio.all_tasks()
    background.every("long", forever, 1.0, final=lambda: final("long"))
    background.every("short", lambda: asyncio.sleep(0), 1.0, final=lambda: final("short"))
    background.every("no final", lambda: asyncio.sleep(0), 1.0)
    await asyncio.wait_for(started.wait(), 5)
    assert [loop.name for loop in background.loops] == ["long", "short", "no final"]
    await background.stop()
    assert finals == ["long", "short"]
    assert background.loops == []
    assert asyncio.all_tasks() == before  # every loop's task has ended


async def test_a_final_round_that_fails_does_not_keep_the_others_from_running(
        caplog: pytest.LogCaptureFixture) -> None:
    background = Background(sleep=Sleeps(rounds=1))
    finals: list[str] = []

    async def broken() -> None:
        raise OSError("disk full")

    async def last() -> None:
        finals.append("second")

    background.every("first", lambda: asyncio.sleep(0), 1.0, wait_first=True, final=broken)
    background.every("second", lambda: asyncio.sleep(0), 1.0, wait_first=True, final=last)
    with caplog.at_level(logging.ERROR, logger="success_metrics.server.background"):
        await background.stop()
    assert finals == ["second"]
    assert any("'first': its final round failed" in r.getMessage() for r in caplog.records)


async def test_two_loops_of_one_name_are_refused() -> None:
    background = Background(sleep=Sleeps(rounds=1))
    background.every("alerts", lambda: asyncio.sleep(0), 1.0)
    with pytest.raises(ValueError, match="'alerts' already runs"):
        background.every("alerts", lambda: asyncio.sleep(0), 1.0)
    await background.stop()
