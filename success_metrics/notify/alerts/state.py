"""The life of one alert rule: inactive → pending → firing → (resolved) inactive. Pure functions.

A condition that holds moves the rule to pending; once it has held for the rule's "for" duration the rule
fires. A rule that stops holding while pending goes back to inactive without a word; one that stops while
firing resolves. "No data" (``None``) keeps the state as it is, so a quiet hour neither fires nor resolves.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import assert_never


class State(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class Transition(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class RuleState:
    state: State
    since: datetime


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


def holds(value: float | None, op: str, threshold: float) -> bool | None:
    """Whether the condition holds; None when there is no value to compare."""
    return None if value is None else _OPS[op](value, threshold)


def step(current: RuleState, met: bool | None, now: datetime, hold: timedelta) -> tuple[RuleState, Transition | None]:
    """The next state after one evaluation, and the transition to notify (if any)."""
    if met is None:
        return current, None
    match current.state:
        case State.INACTIVE:
            if not met:
                return current, None
            if hold <= timedelta(0):
                return RuleState(State.FIRING, now), Transition.FIRING
            return RuleState(State.PENDING, now), None
        case State.PENDING:
            if not met:
                return RuleState(State.INACTIVE, now), None
            if now - current.since >= hold:
                return RuleState(State.FIRING, now), Transition.FIRING
            return current, None
        case State.FIRING:
            if met:
                return current, None
            return RuleState(State.INACTIVE, now), Transition.RESOLVED
        case _:
            assert_never(current.state)
