"""Forecasts with prediction intervals, and their rolling-origin backtest: pure functions over one series.

The model is statsmodels' ETS (``ETSModel``, additive errors, analytical intervals): the form — level only,
damped trend, with or without an additive season when there are two full seasons — is chosen by AICc on the
whole history, as AutoETS does. Where ETS cannot be fitted (too short, degenerate) the seasonal naive
forecast (naive without a season) with its textbook intervals (Hyndman & Athanasopoulos, FPP3 §5.5) stands in.
Counts and money cannot be negative: bounds are clipped at zero. The model's intervals ignore the uncertainty
of its own parameters, so on two years of months they are too narrow: each is widened to the finite-sample
conformal quantile of the earlier forecasts' |error| / σ (σ the model's own h-step standard deviation) where that
is wider (split conformal prediction, ``widening``). The ratios are pooled over the horizons rather than kept per
step: σ already grows with the step, and two years give at most 12 errors per step, fewer than the 19 a 95 %
rank needs; pooling also keeps each series calibrated on its own errors, in its own units.

The backtest refits the chosen form at each of the last origins (expanding window) and scores every forecast whose
actual is known (seasonal naive is scored the same way, and forecasts the series when it scored better): MASE (mean
|error| over the origin's in-sample mean |seasonal naive error|; below 1 beats seasonal naive) and the share of actuals
inside the 80 % and 95 % intervals.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

LEVELS = (80, 95)
Z = {80: 1.2815515655446004, 95: 1.959963984540054}  # standard normal quantiles of the two intervals
MIN_POINTS = 6  # fewer periods of history than this: no forecast, a notice
BACKTEST_ORIGINS = 12
BACKTEST_MIN_TRAIN = 6
CALIBRATION_ORIGINS = 6  # origins before the scored ones, forecast only to calibrate the scored ones' intervals
MIN_CALIBRATION = 8  # earlier forecasts needed before their errors widen the intervals


class Band(BaseModel):
    """Point forecast and interval bounds, one entry per step ahead."""

    mean: list[float]
    lower_80: list[float]
    upper_80: list[float]
    lower_95: list[float]
    upper_95: list[float]


class Backtest(BaseModel):
    origins: int  # forecast origins scored
    forecasts: int  # (origin, step) pairs whose actual was known
    mase: float | None
    coverage_80: float | None  # % of actuals inside the 80 % interval
    coverage_95: float | None


class SeriesForecast(BaseModel):
    """One fitted series as the store keeps it: the history, the forecast after it, the backtest."""

    series: str
    unit: str
    period: int  # the season length used (12 months, 52 weeks) or 1
    starts: list[int]  # epoch ms of every period start: the history's, then the horizon's
    actual: list[float]  # the history (complete periods only)
    model: str
    band: Band | None  # None: too short to forecast (see notice)
    backtest: Backtest | None
    notice: str | None = None
    extra: dict[str, float] = {}


@dataclass(frozen=True, slots=True)
class Form:
    trend: bool
    seasonal: bool

    @property
    def name(self) -> str:
        return f"ETS(A,{'Ad' if self.trend else 'N'},{'A' if self.seasonal else 'N'})"


def seasonal_naive(y: Sequence[float], period: int, horizon: int) -> Band:
    """y[t+h] = y[t+h−m·k] (the last season repeated); residual sd σ from the in-sample seasonal differences,
    widened with the seasons ahead: σ·√(⌊(h−1)/m⌋+1) (FPP3 table 5.2). Without a full season: naive (m = 1)."""
    m = period if len(y) > period else 1
    diffs = [y[t] - y[t - m] for t in range(m, len(y))]
    sigma = math.sqrt(sum(d * d for d in diffs) / len(diffs)) if diffs else 0.0
    mean = [float(y[len(y) - m + (h % m)]) for h in range(horizon)]
    widths = [sigma * math.sqrt((h // m) + 1) for h in range(horizon)]
    return _band(mean, {lv: [Z[lv] * w for w in widths] for lv in LEVELS})


def _band(mean: list[float], half: dict[int, list[float]]) -> Band:
    return Band(mean=[max(0.0, v) for v in mean],
                **{f"{side}_{lv}": [max(0.0, v + sign * w) for v, w in zip(mean, half[lv], strict=True)]
                   for lv in LEVELS for side, sign in (("lower", -1), ("upper", 1))})


def _forms(n: int, period: int) -> list[Form]:
    seasonal = period > 1 and n >= 2 * period + 2
    return [Form(t, s) for s in ((False, True) if seasonal else (False,)) for t in (False, True)]


def _fit_ets(y: np.ndarray, form: Form, period: int) -> object:
    # heavy: imported only where the trainer fits; neither ships type information
    import pandas as pd  # type: ignore[import-untyped]
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # type: ignore[import-untyped]

    # a Series, not an array: statsmodels 0.15's prediction results index the mean it predicts
    model = ETSModel(pd.Series(y), error="add", trend="add" if form.trend else None, damped_trend=form.trend,
                     seasonal="add" if form.seasonal else None, seasonal_periods=period if form.seasonal else None,
                     # initial states from the first seasons (as Hyndman's ets does) rather than optimised: 2-9x
                     # faster on 30 months and no worse; it needs 10 points (two seasons are ensured by _forms)
                     initialization_method="heuristic" if len(y) >= 10 else "estimated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=False, maxiter=200)


def _ets_band(fitted: object, n: int, horizon: int) -> Band:
    pred = fitted.get_prediction(start=n, end=n + horizon - 1)  # type: ignore[attr-defined]
    half = {}
    for lv in LEVELS:
        frame = pred.summary_frame(alpha=1 - lv / 100)
        mean = [float(v) for v in frame["mean"]]
        half[lv] = [float(u) - m for u, m in zip(frame["pi_upper"], mean, strict=True)]
    return _band(mean, half)


def choose(y: Sequence[float], period: int) -> Form | None:
    """The ETS form with the lowest AICc on the whole history; None when no form can be fitted."""
    arr = np.asarray(y, dtype=float)
    best: tuple[float, Form] | None = None
    for form in _forms(len(arr), period):
        try:
            aicc = float(_fit_ets(arr, form, period).aicc)  # type: ignore[attr-defined]
        except (ValueError, np.linalg.LinAlgError):
            continue
        if math.isfinite(aicc) and (best is None or aicc < best[0]):
            best = (aicc, form)
    return None if best is None else best[1]


def predict(y: Sequence[float], period: int, horizon: int, form: Form | None) -> Band:
    """The form's forecast, else seasonal naive; a flat series (no variance) is its own forecast."""
    arr = np.asarray(y, dtype=float)
    if form is not None and float(np.ptp(arr)) > 0:
        try:
            band = _ets_band(_fit_ets(arr, form, period), len(arr), horizon)
            if all(math.isfinite(v) for v in band.upper_95):
                return band
        except (ValueError, np.linalg.LinAlgError):
            pass
    return seasonal_naive(y, period, horizon)


def mase_scale(y: Sequence[float], period: int) -> float | None:
    """In-sample mean |y[t] − y[t−m]| (m = 1 without a full season); None when it is zero."""
    m = period if len(y) > period else 1
    diffs = [abs(y[t] - y[t - m]) for t in range(m, len(y))]
    scale = sum(diffs) / len(diffs) if diffs else 0.0
    return scale or None


def widening(ratios: Sequence[float], level: int) -> float:
    """How many model standard deviations the ``level`` % interval spans, from the earlier forecasts' |error| / σ
    (split conformal prediction): the ⌈(n+1)·level⌉-th smallest of the n ratios, the finite-sample quantile that
    covers ``level`` % of a next exchangeable error. When n is too small for that rank (it exceeds n: below 4
    ratios for 80 %, 19 for 95 %) the normal quantile of the ratios' root mean square stands in; below
    MIN_CALIBRATION ratios, the model's own normal quantile. Never narrower than the model's own interval."""
    n = len(ratios)
    if n < MIN_CALIBRATION:
        return Z[level]
    k = math.ceil(level / 100 * (n + 1))
    if k <= n:
        return max(Z[level], sorted(ratios)[k - 1])
    return max(Z[level], Z[level] * math.sqrt(sum(r * r for r in ratios) / n))


def calibrated(band: Band, ratios: Sequence[float]) -> Band:
    """The band with each interval widened to what the earlier forecasts' errors say (never narrowed)."""
    sigma = [(u - m) / Z[80] for u, m in zip(band.upper_80, band.mean, strict=True)]
    return _band(band.mean, {lv: [widening(ratios, lv) * s for s in sigma] for lv in LEVELS})


def rolling(y: Sequence[float], period: int, horizon: int, form: Form | None,
            origins: int = BACKTEST_ORIGINS) -> tuple[Backtest, list[float]]:
    """Rolling origin over the last ``origins`` origins (each with at least BACKTEST_MIN_TRAIN points): fit on
    y[:o], forecast ``horizon`` steps, score the steps whose actual is known. Each origin's intervals are
    calibrated (``calibrated``) only by forecasts whose actual came before it, so coverage stays out of sample;
    up to CALIBRATION_ORIGINS earlier origins are forecast only to calibrate the first scored ones.
    Also returns every forecast's |error| / σ, which calibrate the final forecast."""
    first = max(BACKTEST_MIN_TRAIN, len(y) - origins)
    errors: list[float] = []
    inside = {lv: 0 for lv in LEVELS}
    known: list[tuple[int, float]] = []  # (index of the actual, |error| / σ)
    used = 0
    for o in range(max(BACKTEST_MIN_TRAIN, first - CALIBRATION_ORIGINS), len(y)):
        scale = mase_scale(y[:o], period)
        if scale is None:
            continue
        raw = predict(y[:o], period, min(horizon, len(y) - o), form)
        band = calibrated(raw, [r for at, r in known if at < o])
        for h, actual in enumerate(y[o:o + horizon]):
            if o >= first:
                errors.append(abs(actual - band.mean[h]) / scale)
                inside[80] += band.lower_80[h] <= actual <= band.upper_80[h]
                inside[95] += band.lower_95[h] <= actual <= band.upper_95[h]
            sigma = (raw.upper_80[h] - raw.mean[h]) / Z[80]
            if sigma > 0:
                known.append((o + h, abs(actual - raw.mean[h]) / sigma))
        used += o >= first
    n = len(errors)
    return (Backtest(origins=used, forecasts=n, mase=sum(errors) / n if n else None,
                     coverage_80=100 * inside[80] / n if n else None,
                     coverage_95=100 * inside[95] / n if n else None), [r for _, r in known])


def backtest(y: Sequence[float], period: int, horizon: int, form: Form | None,
             origins: int = BACKTEST_ORIGINS) -> Backtest:
    return rolling(y, period, horizon, form, origins)[0]


def forecast_series(series: str, unit: str, starts: list[int], future: list[int], y: list[float], period: int,
                    *, what: str) -> SeriesForecast:
    """Fit, forecast ``len(future)`` periods and backtest one series; too short a history → a notice."""
    if len(y) < MIN_POINTS:
        return SeriesForecast(
            series=series, unit=unit, period=period, starts=starts, actual=y, model="none", band=None,
            backtest=None, notice=f"No forecast of {what}: {len(y)} complete period(s) of history, at least "
                                  f"{MIN_POINTS} are needed.")
    form = choose(y, period) if float(np.ptp(y)) > 0 else None
    naive = rolling(y, period, len(future), None)
    scored = rolling(y, period, len(future), form) if form is not None else naive
    if form is not None and naive[0].mase is not None and (scored[0].mase is None or naive[0].mase < scored[0].mase):
        form, scored = None, naive  # seasonal naive did better on this series' own history
    return SeriesForecast(series=series, unit=unit, period=period, starts=starts + future, actual=y,
                          model=form.name if form is not None else "seasonal naive",
                          band=calibrated(predict(y, period, len(future), form), scored[1]), backtest=scored[0])
