"""Forecasting arithmetic on series small enough to work out by hand (no model training over real data here)."""

from __future__ import annotations

import math

import pytest

from success_metrics.calculators.forecasting import (
    backtest,
    calibrated,
    forecast_series,
    mase_scale,
    rolling,
    seasonal_naive,
    widening,
)

# three "seasons" of length 3, each 2 higher than the last; the last value jumps (34 → 40)
Y = [10.0, 20.0, 30.0, 12.0, 22.0, 32.0, 14.0, 24.0, 40.0]
Z80 = 1.2815515655446004
Z95 = 1.959963984540054


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


def test_intervals_widen_to_the_conformal_quantile_of_earlier_errors() -> None:
    # fewer than 8 earlier errors: the model's own normal quantiles
    assert widening([5.0] * 7, 80) == pytest.approx(Z80)
    # 39 errors of 1 … 39 σ: the finite-sample rank ⌈(n+1)·level⌉ is ⌈0.8·40⌉ = 32 and ⌈0.95·40⌉ = 38
    many = [float(r) for r in range(1, 40)]
    assert (widening(many, 80), widening(many, 95)) == (32.0, 38.0)
    # 9 errors of 1 … 9 σ: 80 % → the ⌈0.8·10⌉ = 8th smallest, 8 σ; for 95 % the rank ⌈0.95·10⌉ = 10 exceeds
    # n = 9 (the largest error is no 95 % quantile): the normal quantile of their RMS, √(285/9) = 5.627 σ
    ratios = [float(r) for r in range(1, 10)]
    assert widening(ratios, 80) == 8.0
    assert widening(ratios, 95) == pytest.approx(Z95 * 5.627314338711377)
    # errors smaller than the model expects never narrow its interval
    assert widening([0.1] * 20, 95) == pytest.approx(Z95)
    band = calibrated(seasonal_naive(Y[:8], 3, 1), ratios)  # mean 32, σ = 2: 80 % → ±16, 95 % → ±22.059
    assert band.lower_80 + band.upper_80 == pytest.approx([16.0, 48.0])
    assert band.lower_95 + band.upper_95 == pytest.approx([9.941, 54.059], abs=1e-3)


def test_origins_before_the_scored_ones_calibrate_the_first_scored_interval() -> None:
    # y = 0, 1, …, 11 then 12.5; naive (period 1), horizon 3, only the last origin (12) scored. Every in-sample
    # difference is 1 → σ = 1, the h-step σ √h, the h-step error h → |error|/σ = √h. Origins 6-11 calibrate:
    # 6-9 give √1, √2, √3 each, 10 gives √1, √2, 11 gives √1 (their steps to index 12 are not before origin 12):
    # six 1s, five √2, four √3 (n = 15); the 13th smallest (⌈0.8·16⌉) is √3. Origin 12 forecasts 11 against
    # 12.5: outside the model's ±1.28 but inside ±1.73; 95 %: ±1.96·√(28/15) = ±2.68, inside. The errors of
    # index 12 (3.5/√3 from origin 10, 2.5/√2 from 11, 1.5 from 12) are returned for the final forecast only
    y = [float(v) for v in range(12)] + [12.5]
    bt, ratios = rolling(y, 1, 3, None, origins=1)
    assert (bt.origins, bt.forecasts) == (1, 1)
    assert (bt.coverage_80, bt.coverage_95) == (100.0, 100.0)
    assert sorted(ratios) == pytest.approx([1.0] * 6 + [math.sqrt(2)] * 5 + [1.5] + [math.sqrt(3)] * 4
                                           + [2.5 / math.sqrt(2), 3.5 / math.sqrt(3)])


def test_calibration_never_uses_errors_of_later_origins() -> None:
    # a huge last actual: only the forecasts of that actual may change; were its error used to calibrate earlier
    # origins, their intervals would widen and cover the earlier misses (the spikes at 6 and 12)
    y = [10.0, 12.0, 9.0, 13.0, 10.0, 11.0, 30.0, 10.0, 12.0, 9.0, 11.0, 10.0, 40.0, 11.0, 12.0, 10.0, 11.0]
    spiked = [*y[:-1], 1e6]
    honest, _ = rolling(y, 1, 2, None)
    later, ratios = rolling(spiked, 1, 2, None)
    assert honest.coverage_80 is not None and honest.coverage_80 < 100  # there are misses to hide
    assert honest.forecasts == later.forecasts == 21  # origins 6-16, two steps each but the last
    last_origin_forecasts = 2  # origins 15 (step 2) and 16 (step 1) forecast the last actual
    for level in ("coverage_80", "coverage_95"):
        inside_honest = getattr(honest, level) * 21 / 100
        inside_later = getattr(later, level) * 21 / 100
        assert inside_later == pytest.approx(inside_honest - last_origin_forecasts)
    assert max(ratios) > 1e4  # the final forecast's calibration does use it
