"""A mergeable percentile summary: a log-scaled histogram (DDSketch-style) of non-negative values.

Bin ``i`` holds the values in ``(GAMMA**(i-1), GAMMA**i]`` and stands for ``2*GAMMA**i/(GAMMA+1)``, whose
relative distance to every value of the bin is at most ``RELATIVE_ERROR = (GAMMA-1)/(GAMMA+1)`` (0.99 %).
Histograms add bin by bin, so an hour's or a day's summary merges into a month's. A percentile is read
at the same fractional rank as PostgreSQL's ``percentile_cont`` (linear interpolation between the two
neighbouring ranks), so the estimate stays within RELATIVE_ERROR of the exact ``percentile_cont``.
The SQL functions ``sm_hist_index`` / ``sm_hist_value`` (migration 0003) are the same formulas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GAMMA = 1.02
RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1)
ZERO_BIN = -32768  # values <= 0


def bin_index(x: float) -> int:
    if x <= 0:
        return ZERO_BIN
    return math.ceil(math.log(x) / math.log(GAMMA))


def bin_value(i: int) -> float:
    if i == ZERO_BIN:
        return 0.0
    return 2 * GAMMA**i / (GAMMA + 1)


def histogram(values: Iterable[float]) -> dict[int, int]:
    out: dict[int, int] = {}
    for v in values:
        i = bin_index(v)
        out[i] = out.get(i, 0) + 1
    return out


def merge(*hists: Mapping[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for h in hists:
        for i, c in h.items():
            out[i] = out.get(i, 0) + c
    return out


def _value_at_rank(bins: list[tuple[int, int]], rank: int) -> float:
    seen = 0
    for i, c in bins:
        seen += c
        if seen > rank:
            return bin_value(i)
    return bin_value(bins[-1][0])


def quantile(hist: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) at percentile_cont's fractional rank q*(n-1); None for an empty histogram."""
    bins = sorted((i, c) for i, c in hist.items() if c > 0)
    n = sum(c for _, c in bins)
    if n == 0:
        return None
    pos = q * (n - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    v_lo, v_hi = _value_at_rank(bins, lo), _value_at_rank(bins, hi)
    return v_lo + (pos - lo) * (v_hi - v_lo)
