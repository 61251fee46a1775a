"""The log histogram: its percentiles stay within RELATIVE_ERROR of percentile_cont, and SQL agrees with Python."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from success_metrics.calculators import sketches
from success_metrics.storage.pool import Database


def percentile_cont(values: list[float], q: float) -> float:
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])


def test_relative_error_is_under_one_percent() -> None:
    assert sketches.RELATIVE_ERROR == (1.02 - 1) / (1.02 + 1) < 0.01


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=3_600_000), min_size=1, max_size=300),
       st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_quantile_within_bound(values: list[float], q: float) -> None:
    exact = percentile_cont(values, q)
    estimate = sketches.quantile(sketches.histogram(values), q)
    assert estimate is not None
    assert abs(estimate - exact) <= sketches.RELATIVE_ERROR * exact * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6), max_size=50), st.lists(st.floats(min_value=0, max_value=1e6),
                                                                             max_size=50))
def test_merge_is_the_histogram_of_both(a: list[float], b: list[float]) -> None:
    assert sketches.merge(sketches.histogram(a), sketches.histogram(b)) == sketches.histogram(a + b)


def test_empty_and_zero() -> None:
    assert sketches.quantile({}, 0.95) is None
    assert sketches.quantile(sketches.histogram([0, 0, 0]), 0.5) == 0


async def test_sql_functions_match_python(db: Database) -> None:
    values = [0.0, 0.5, 1.0, 1.02, 7.3, 127.0, 2300.0, 3_600_000.0]
    async with db.system() as conn:
        rows = await conn.fetch("SELECT v, sm_hist_index(v) AS i, sm_hist_value(sm_hist_index(v)) AS r "
                                "FROM unnest($1::float8[]) v", values)
    for row in rows:
        assert row["i"] == sketches.bin_index(row["v"])
        assert math.isclose(row["r"], sketches.bin_value(row["i"]), rel_tol=1e-12)
        if row["v"] > 0:
            assert abs(row["r"] - row["v"]) <= sketches.RELATIVE_ERROR * row["v"] * (1 + 1e-9)
