"""The pure formulas."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from success_metrics.calculators import formulas
from success_metrics.calculators.tenant_settings import AttributionWeights, Baseline, EfficiencyWeights


def test_status_respects_direction() -> None:
    assert formulas.status(110, 100) == "above_target"
    assert formulas.status(95, 100) == "on_track"
    assert formulas.status(80, 100) == "below_target"
    assert formulas.status(1.5, 2, lower_is_better=True) == "above_target"
    assert formulas.status(2.1, 2, lower_is_better=True) == "on_track"
    assert formulas.status(3, 2, lower_is_better=True) == "below_target"
    assert formulas.status(None, 2) == formulas.status(3, None) == "no_target"


def test_score_bands_edges() -> None:
    assert [formulas.score_band(s) for s in (0, 39, 40, 79, 80, 100)] == ["cold", "cold", "warm", "warm", "hot", "hot"]


def test_roi_terms_and_zero_costs() -> None:
    t = formulas.roi_terms(100, 0.25, 40, 2000, 3, 75, 101)
    assert t.time_savings_value == 100 * 0.25 * 40 and t.cost_avoidance == 225
    assert t.roi == (1000 + 2000 + 225 - 101) / 101
    assert formulas.roi_terms(1, 1, 1, 1, 1, 1, 0).roi is None


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["direct", "assisted", "influenced"]), st.floats(0, 1e7), min_size=1))
def test_attribution_never_exceeds_revenue(values: dict[str, float]) -> None:
    assert formulas.attributed_revenue(values, AttributionWeights()) <= sum(values.values()) + 1e-6


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 100), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1e6), st.floats(0.01, 100), st.floats(0, 1e6))
def test_efficiency_is_monotonic(hours: float, appt: float, close: float, revenue: float, dh: float, dr: float
                                 ) -> None:
    b, w = Baseline(), EfficiencyWeights()
    base = formulas.efficiency_score(hours, appt, close, revenue, 1000, b, w)
    assert formulas.efficiency_score(hours + dh, appt, close, revenue, 1000, b, w) <= base + 1e-9
    assert formulas.efficiency_score(hours, min(1, appt + 0.1), close, revenue, 1000, b, w) >= base - 1e-9
    assert formulas.efficiency_score(hours, appt, min(1, close + 0.1), revenue, 1000, b, w) >= base - 1e-9
    assert formulas.efficiency_score(hours, appt, close, revenue + dr, 1000, b, w) >= base - 1e-9
    assert 0 <= base <= 100


def test_gini() -> None:
    assert formulas.gini([5, 5, 5]) == 0
    assert formulas.gini([1, 2, 2]) == 2 * (1 * 1 + 2 * 2 + 3 * 2) / (3 * 5) - 4 / 3
    assert formulas.gini([]) is None


def test_percent_targets_may_be_fractions() -> None:
    assert formulas.target_in_unit(0.45, True) == 45 and formulas.target_in_unit(45, True) == 45
    assert formulas.target_in_unit(0.45, False) == 0.45 and formulas.target_in_unit(None, True) is None
