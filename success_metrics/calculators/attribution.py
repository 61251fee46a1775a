"""Multi-touch attribution models over touch paths: pure functions, one credit table per model.

A path is one ordered sequence of touches (the lead's source first, then each contact, response and nurture
step) with how many leads took it, how many of them closed (``conversions``) and the value of their deals.
Rule-based models split each converted lead's one conversion (and its deal value) over its touches; the
data-driven model is the first-order Markov chain's removal effect (as in the ChannelAttribution package): the
share of conversions that would be lost if a touch were taken out of every path. Markov rather than Shapley:
Shapley values need the conversion rate of every subset of touches (2^k coalitions, most never observed
among ~12 touch kinds), while the chain's absorption probabilities come from one linear solve per touch and
keep the order of touches.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

HALF_LIFE_DAYS = 7.0
POSITION_ENDS = 0.4  # position-based: 40 % to the first and to the last touch, 20 % spread over the middle


@dataclass(frozen=True, slots=True)
class Path:
    touches: tuple[str, ...]
    conversions: int
    nulls: int  # leads on this path that did not close
    value: float = 0.0  # deal value of the converted ones


@dataclass(frozen=True, slots=True)
class Credit:
    conversions: float
    value: float


Credits = dict[str, Credit]
Weights = Callable[[int], Sequence[float]]


def _split(paths: Iterable[Path], weights: Weights) -> Credits:
    """Each converted path's conversions and value spread over its touches by ``weights(len(path))`` (a touch
    credited nothing is left out)."""
    conv: dict[str, float] = defaultdict(float)
    value: dict[str, float] = defaultdict(float)
    for p in paths:
        if not p.conversions or not p.touches:
            continue
        for touch, w in zip(p.touches, weights(len(p.touches)), strict=True):
            if not w:
                continue
            conv[touch] += w * p.conversions
            value[touch] += w * p.value
    return {t: Credit(conv[t], value[t]) for t in conv}


def first_touch(paths: Iterable[Path]) -> Credits:
    return _split(paths, lambda n: [1.0] + [0.0] * (n - 1))


def last_touch(paths: Iterable[Path]) -> Credits:
    return _split(paths, lambda n: [0.0] * (n - 1) + [1.0])


def linear(paths: Iterable[Path]) -> Credits:
    return _split(paths, lambda n: [1 / n] * n)


def _positions(n: int) -> list[float]:
    if n <= 2:
        return [1 / n] * n
    middle = (1 - 2 * POSITION_ENDS) / (n - 2)
    return [POSITION_ENDS] + [middle] * (n - 2) + [POSITION_ENDS]


def position_based(paths: Iterable[Path]) -> Credits:
    """40/20/40: a lone touch gets all, two touches half each, else 40 % each end and 20 % over the middle."""
    return _split(paths, _positions)


def _conversion_probability(index: dict[str, int], moves: np.ndarray, removed: int | None) -> float:
    """P(reaching conversion from the start) in the chain ``moves`` (rows: start then touches; columns: touches,
    then conversion, then null), with the touch ``removed`` made a dead end (a path reaching it is lost)."""
    n = len(index) + 1  # transient states: start (0) and each touch (1..)
    totals = moves.sum(axis=1, keepdims=True)
    probs = np.divide(moves, totals, out=np.zeros_like(moves), where=totals > 0)
    q = np.zeros((n, n))
    q[:, 1:] = probs[:, : n - 1]
    to_conversion = probs[:, n - 1].copy()
    if removed is not None:
        q[:, removed] = 0.0
        q[removed, :] = 0.0
        to_conversion[removed] = 0.0
    reach = np.linalg.lstsq(np.eye(n) - q, to_conversion, rcond=None)[0]
    return float(reach[0])


def removal_effects(paths: Sequence[Path]) -> dict[str, float]:
    """Per touch: 1 − P(conversion without it) / P(conversion), in the first-order chain the paths make."""
    labels = sorted({t for p in paths for t in p.touches})
    index = {t: i + 1 for i, t in enumerate(labels)}
    n = len(labels) + 1
    moves = np.zeros((n, n + 1))  # to each touch (column i-1 for state i), conversion (n-1), null (n)
    for p in paths:
        if not p.touches:
            continue
        leads = p.conversions + p.nulls
        states = [0] + [index[t] for t in p.touches]
        for a, b in itertools.pairwise(states):
            moves[a, b - 1] += leads
        moves[states[-1], n - 1] += p.conversions
        moves[states[-1], n] += p.nulls
    if not labels:
        return {}
    total = _conversion_probability(index, moves, None)
    if total <= 0:
        return {t: 0.0 for t in labels}
    return {t: max(0.0, 1 - _conversion_probability(index, moves, i) / total) for t, i in index.items()}


def markov(paths: Sequence[Path]) -> Credits:
    """Conversions and value shared in proportion to each touch's removal effect (touches without one get none)."""
    effects = removal_effects(paths)
    whole = sum(effects.values())
    conversions = sum(p.conversions for p in paths)
    value = sum(p.value for p in paths)
    return {t: Credit(conversions * e / whole, value * e / whole) for t, e in effects.items() if e > 0}


RULE_BASED: dict[str, Callable[[Iterable[Path]], Credits]] = {
    "first_touch": first_touch, "last_touch": last_touch, "linear": linear, "position_based": position_based,
}

