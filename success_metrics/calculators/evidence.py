"""Evidence for a recommendation: two groups of leads and how many of each closed, with a two-sided two-proportion
z-test, so a suggestion is made only when the difference is unlikely to be chance and both groups are big enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA = 0.05  # a difference counts as evidence below this p-value
MIN_LEADS = 30  # and only when each group holds at least this many leads


@dataclass(frozen=True, slots=True)
class Comparison:
    """``closes_a`` of ``leads_a`` against ``closes_b`` of ``leads_b``."""

    closes_a: int
    leads_a: int
    closes_b: int
    leads_b: int

    @property
    def rate_a(self) -> float:
        return self.closes_a / self.leads_a if self.leads_a else 0.0

    @property
    def rate_b(self) -> float:
        return self.closes_b / self.leads_b if self.leads_b else 0.0

    @property
    def p_value(self) -> float:
        """Two-sided p-value of the pooled two-proportion z-test (1 when it is undefined)."""
        n_a, n_b = self.leads_a, self.leads_b
        if not n_a or not n_b:
            return 1.0
        pooled = (self.closes_a + self.closes_b) / (n_a + n_b)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        if se == 0:
            return 1.0
        return math.erfc(abs(self.rate_a - self.rate_b) / se / math.sqrt(2))

    def significant(self) -> bool:
        """Both groups hold MIN_LEADS and the difference has p < ALPHA."""
        return min(self.leads_a, self.leads_b) >= MIN_LEADS and self.p_value < ALPHA

    def says(self, a: str, b: str) -> str:
        """The evidence in words: '<a> close at 31 % vs 12 % <b> (n = 57 vs 355, p = 0.001)'."""
        return (f"{a} close at {100 * self.rate_a:.0f} % vs {100 * self.rate_b:.0f} % {b} "
                f"(n = {self.leads_a} vs {self.leads_b}, p {_p(self.p_value)})")


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"
