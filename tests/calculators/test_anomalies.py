"""Anomaly detection on a planted spike, and the robust score worked out by hand."""

from __future__ import annotations

import pytest

from success_metrics.calculators.metrics.anomalies import (
    THRESHOLD,
    detect,
    robust_scores,
)

DAY = 86_400_000
WEEK = [10.0, 12.0, 11.0, 13.0, 12.0, 4.0, 3.0]  # weekdays busy, weekends quiet


def test_robust_score_by_hand() -> None:
    # median 2, |r − 2| = 1, 0, 0, 1, 8 → MAD 1 → scores (r − 2) / 1.4826
    assert robust_scores([1.0, 2.0, 2.0, 3.0, 10.0]) == pytest.approx([-1 / 1.4826, 0, 0, 1 / 1.4826, 8 / 1.4826])
    assert robust_scores([5.0, 5.0, 5.0]) == [0.0, 0.0, 0.0]  # no spread: nothing stands out


def test_a_planted_spike_is_the_only_anomaly() -> None:
    values: list[float | None] = [v + (i % 3) * 0.5 for i, v in enumerate(WEEK * 8)]  # 8 weeks, a little noise
    values[40] = 60.0  # a Saturday-like weekday gone wild
    values[20] = None  # a day without a value is filled, never flagged
    times = [i * DAY for i in range(len(values))]
    found = detect("leads", times, values)
    assert [(a.time, a.series, a.value) for a in found] == [(40 * DAY, "leads", 60.0)]
    assert found[0].score > THRESHOLD and found[0].expected < 20


def test_a_series_shorter_than_four_weeks_is_not_scanned() -> None:
    assert detect("leads", list(range(27)), [1.0] * 26 + [100.0]) == []
