"""Pure arithmetic of the spec's formulas: ratios, ROI terms, attribution, score bands, status, efficiency.

Nothing here touches a database; every function is a plain function of numbers (tested directly).
A ratio whose denominator is zero is None, never NaN or an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from success_metrics.calculators.tenant_settings import AttributionWeights, Baseline, EfficiencyWeights


def ratio(num: float | None, den: float | None) -> float | None:
    """num / den as a float (SQL sums arrive as Decimal); None when either is missing or den is zero."""
    if num is None or not den:
        return None
    return float(num) / float(den)


class Status(StrEnum):
    ABOVE = "above_target"
    ON_TRACK = "on_track"
    BELOW = "below_target"
    AT_RISK = "at_risk"
    NO_TARGET = "no_target"


ON_TRACK_BAND = 0.10  # within 10 % of the target (on the wrong side) is still on track


def status(value: float | None, target: float | None, *, lower_is_better: bool = False) -> Status:
    """above_target when the target is met, on_track within 10 % of it, below_target otherwise."""
    if value is None or target is None:
        return Status.NO_TARGET
    if lower_is_better:
        if value <= target:
            return Status.ABOVE
        return Status.ON_TRACK if value <= target * (1 + ON_TRACK_BAND) else Status.BELOW
    if value >= target:
        return Status.ABOVE
    return Status.ON_TRACK if value >= target * (1 - ON_TRACK_BAND) else Status.BELOW


def month_status(projected: float | None, target: float | None, elapsed: float, *,
                 lower_is_better: bool = False) -> Status:
    """A monthly target's status. While the month runs (elapsed fraction < 1): on_track when the projected
    month-end meets the target, at_risk when it does not. Once the month is complete: ``status`` of the actual
    figure (then equal to the projection)."""
    if elapsed >= 1:
        return status(projected, target, lower_is_better=lower_is_better)
    if projected is None or target is None:
        return Status.NO_TARGET
    met = projected <= target if lower_is_better else projected >= target
    return Status.ON_TRACK if met else Status.AT_RISK


def target_in_unit(target: float | None, percent: bool) -> float | None:
    """Targets are in the metric's unit; for a percent metric a target in (0, 1] is read as a fraction (0.45 → 45)."""
    if target is not None and percent and 0 < target <= 1:
        return 100 * target
    return target


def score_band(score: int | None) -> str | None:
    """hot 80–100, warm 40–79, cold 0–39 (same as SQL sm_score_band)."""
    if score is None:
        return None
    return "hot" if score >= 80 else "warm" if score >= 40 else "cold"


def attribution_weight(cls: str, w: AttributionWeights) -> float:
    return {"direct": w.direct, "assisted": w.assisted, "influenced": w.influenced}.get(cls, 0.0)


def attributed_revenue(value_by_class: Mapping[str, float], w: AttributionWeights) -> float:
    """Σ deal value × its class weight; each weight ≤ 1, so never more than the total revenue."""
    return sum(v * attribution_weight(c, w) for c, v in value_by_class.items())


@dataclass(frozen=True, slots=True)
class RoiTerms:
    hours_saved: float
    hourly_rate: float
    time_savings_value: float
    revenue_attribution: float
    cost_avoidance: float
    system_costs: float

    @property
    def benefits(self) -> float:
        return self.time_savings_value + self.revenue_attribution + self.cost_avoidance

    @property
    def savings(self) -> float:
        """Monthly savings: time savings value + cost avoidance − system costs (net money not spent)."""
        return self.time_savings_value + self.cost_avoidance - self.system_costs

    @property
    def roi(self) -> float | None:
        """(time savings value + revenue attribution + cost avoidance − system costs) / system costs; None at 0."""
        return ratio(self.benefits - self.system_costs, self.system_costs)

    def projected(self, elapsed: float) -> RoiTerms:
        """The month-end these month-to-date terms project to, ``elapsed`` being the month's elapsed fraction:
        hours, time savings, revenue attribution and cost avoidance / elapsed; system costs are the month's
        already (costs are recorded per month), so they stay."""
        if elapsed <= 0:
            return self
        return RoiTerms(self.hours_saved / elapsed, self.hourly_rate, self.time_savings_value / elapsed,
                        self.revenue_attribution / elapsed, self.cost_avoidance / elapsed, self.system_costs)


def roi_terms(automated_tasks: float, hours_per_task: float, hourly_rate: float, attributed: float,
              errors_prevented: float, error_cost: float, system_costs: float) -> RoiTerms:
    hours = automated_tasks * hours_per_task
    return RoiTerms(hours, hourly_rate, hours * hourly_rate, attributed, errors_prevented * error_cost, system_costs)


def efficiency_score(
    response_hours: float | None, appointment_rate: float | None, close_rate: float | None, revenue: float,
    mean_revenue: float, baseline: Baseline, weights: EfficiencyWeights,
) -> float:
    """0–100: weighted mean of four sub-scores, each in [0, 1) and monotonic in its input.

    response: b/(b+h) with b the baseline response hours (faster is better; 1.0 at 0 h, 0.5 at the baseline);
    appointment and close rate: r/(r+b) with b the baseline rate (0.5 at the baseline);
    revenue: v/(v+m) with m the tenant's mean revenue per agent. A missing input scores 0.
    """
    def rel(x: float | None, ref: float) -> float:
        if x is None or x < 0:
            return 0.0
        return x / (x + ref) if x + ref > 0 else 0.0

    subs = {
        "response_time": 0.0 if response_hours is None else (
            baseline.response_time_hours / (baseline.response_time_hours + response_hours)
            if baseline.response_time_hours + response_hours > 0 else 1.0),
        "appointment_rate": rel(appointment_rate, baseline.lead_to_appointment),
        "close_rate": rel(close_rate, baseline.lead_to_close),
        "revenue": rel(revenue, mean_revenue),
    }
    w = weights.model_dump()
    total = sum(w.values())
    if total <= 0:
        return 0.0
    return 100 * sum(subs[k] * w[k] for k in subs) / total


def gini(values: Sequence[float]) -> float | None:
    """Inequality of a distribution: 0 when equal, → 1 when one holds everything."""
    xs = sorted(v for v in values if v is not None)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return None
    cum = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * cum) / (n * total) - (n + 1) / n


def median(values: Sequence[float]) -> float | None:
    xs = sorted(values)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
