"""The load benchmark's simulated views (benchmarks/views.py): ranges and refresh intervals as Grafana has them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from benchmarks.views import custom_days, load_dashboards, quarter, seconds_of, zoom

NOW = datetime(2026, 12, 3, 17, 40, tzinfo=UTC)


def test_a_past_quarter_is_its_calendar_months() -> None:
    last = quarter(NOW, 1)
    assert last.bounds(NOW) == (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    assert quarter(NOW, 4).bounds(NOW) == (datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert last.closed(NOW)


def test_a_custom_range_is_45_days_between_past_midnights() -> None:
    span = custom_days(NOW, random.Random(3))
    start, end = span.bounds(NOW)
    assert end - start == timedelta(days=45)
    assert end.time() == datetime.min.time() and end < NOW and span.closed(NOW)


def test_a_zoom_is_an_odd_part_of_what_was_on_screen() -> None:
    rng = random.Random(5)
    for _ in range(50):
        of = quarter(NOW, 2)
        start, end = zoom(of, NOW, rng).bounds(NOW)
        assert of.start is not None and of.end is not None
        assert of.start <= start < end <= of.end
        assert timedelta(days=91) * 0.19 < end - start < timedelta(days=92) * 0.51


def test_refresh_intervals_are_the_dashboards_own() -> None:
    assert (seconds_of("30s"), seconds_of("1m"), seconds_of("5m")) == (30, 60, 300)
    boards = load_dashboards()
    assert boards["operations-monitor"].refresh_s == 30
    assert boards["executive-summary"].refresh_s == 300
    assert boards["agent-performance"].variables == ("team", "agent", "location")
