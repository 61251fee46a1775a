"""Forecasting arithmetic on series small enough to work out by hand (no model training over real data here)."""

from __future__ import annotations

import math

import pytest

from success_metrics.calculators.forecasting import (
    backtest,
    calibrated,
    forecast_series,
    mase_scale,
    seasonal_naive,
    widening,
)

# three "seasons" of length 3, each 2 higher than the last; the last value jumps (34 → 40)
Y = [10.0, 20.0, 30.0, 12.0, 22.0, 32.0, 14.0, 24.0, 40.0]
Z80 = 1.2815515655446004


def test_seasonal_naive_repeats_the_last_season_and_widens_by_seasons_ahead() -> None:
    band = seasonal_naive(Y[:8], 3, 4)  # last season: 32 (t=5), 14, 24
    assert band.mean == [32.0, 14.0, 24.0, 32.0]
    # every in-sample seasonal difference is 2 → σ = 2; steps 1-3 are one season ahead, step 4 two: σ·√2
    assert band.upper_80[0] == pytest.approx(32 + Z80 * 2)
    assert band.lower_80[3] == pytest.approx(32 - Z80 * 2 * math.sqrt(2))


def test_bounds_of_counts_never_go_below_zero() -> None:
    band = seasonal_naive([0.0, 10.0, 0.0, 10.0], 1, 1)  # naive: 10, σ = 10
    assert band.lower_95 == [0.0]


def test_mase_scale_is_the_mean_seasonal_difference() -> None:
    assert mase_scale(Y[:6], 3) == 2.0  # |12-10|, |22-20|, |32-30|
    assert mase_scale([5.0, 5.0, 5.0], 1) is None  # nothing to scale by


def test_seasonal_naive_backtest_by_hand() -> None:
    # origins 6, 7, 8 (at least 6 points to train), horizon up to 3, each scale 2 and σ 2:
    #   o=6: forecasts 12, 22, 32 against 14, 24, 40 → |e|/2 = 1, 1, 4; inside ±2.56 (80 %) and ±3.92 (95 %): 2 of 3
    #   o=7: forecasts 22, 32 against 24, 40          → 1, 4; inside: 1 of 2
    #   o=8: forecast 32 against 40                   → 4; inside: 0 of 1
    # MASE = (1+1+4+1+4+4) / 6 = 2.5; coverage 3 of 6 = 50 % at both levels
    bt = backtest(Y, 3, 3, None)
    assert (bt.origins, bt.forecasts) == (3, 6)
    assert bt.mase == pytest.approx(2.5)
    assert (bt.coverage_80, bt.coverage_95) == (50.0, 50.0)


def test_a_short_history_gives_a_notice_not_a_line() -> None:
    f = forecast_series("leads", "count", [1, 2, 3, 4, 5], [6, 7], [3.0, 4.0, 5.0, 4.0, 6.0], 12, what="leads")
    assert f.band is None and f.backtest is None
    assert f.notice == "No forecast of leads: 5 complete period(s) of history, at least 6 are needed."


def test_a_flat_series_is_forecast_flat_by_seasonal_naive() -> None:
    f = forecast_series("leads", "count", list(range(8)), [8, 9], [7.0] * 8, 12, what="leads")
    assert f.model == "seasonal naive"
    assert f.band is not None and f.band.mean == [7.0, 7.0] and f.band.upper_95 == [7.0, 7.0]


def test_intervals_widen_to_the_errors_of_earlier_forecasts() -> None:
    # fewer than 8 earlier errors: the model's own normal quantiles
    assert widening([5.0] * 7, 80) == pytest.approx(Z80)
    # 9 errors of 1 … 9 σ: the 80 % quantile is the ⌈0.8·10⌉ = 8th smallest, 8 σ; the 95 % one the 9th (capped)
    ratios = [float(r) for r in range(1, 10)]
    assert (widening(ratios, 80), widening(ratios, 95)) == (8.0, 9.0)
    # errors smaller than the model expects never narrow its interval
    assert widening([0.1] * 20, 95) == pytest.approx(1.959963984540054)
    band = calibrated(seasonal_naive(Y[:8], 3, 1), ratios)  # σ = 2: the 80 % interval becomes ±16
    assert band.lower_80 == pytest.approx([16.0])
    assert band.upper_80 == pytest.approx([48.0])
