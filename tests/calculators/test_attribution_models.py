"""Every attribution model on small paths, against credits worked out by hand
(success_metrics/calculators/attribution.py)."""

from __future__ import annotations

import pytest

from success_metrics.calculators import attribution as m
from success_metrics.calculators.attribution import Credit, Path

# four converted leads (one path taken by two of them, deals of 1000 together) and five that did not close
PATHS = [
    Path(("src", "sms", "phone", "email"), conversions=2, nulls=0, value=1000),
    Path(("src", "phone"), conversions=1, nulls=0, value=300),
    Path(("src",), conversions=1, nulls=0, value=200),
    Path(("src", "sms"), conversions=0, nulls=5),
]


def close(found: dict[str, Credit], expected: dict[str, tuple[float, float]]) -> None:
    assert set(found) == set(expected)
    for touch, (conversions, value) in expected.items():
        assert found[touch].conversions == pytest.approx(conversions), touch
        assert found[touch].value == pytest.approx(value), touch


def test_first_touch_gives_every_deal_to_the_first_touch() -> None:
    close(m.first_touch(PATHS), {"src": (4, 1500)})


def test_last_touch_gives_every_deal_to_the_last_touch_before_it() -> None:
    close(m.last_touch(PATHS), {"email": (2, 1000), "phone": (1, 300), "src": (1, 200)})


def test_linear_splits_each_deal_evenly() -> None:
    # path 1: 2 deals / 4 touches = 0.5 each, 1000 / 4 = 250 each; path 2: 0.5 and 150 each; path 3: all to src
    close(m.linear(PATHS), {"src": (0.5 + 0.5 + 1, 250 + 150 + 200), "sms": (0.5, 250),
                            "phone": (0.5 + 0.5, 250 + 150), "email": (0.5, 250)})


def test_position_based_gives_40_percent_to_each_end_and_20_over_the_middle() -> None:
    # path 1 (4 touches): 0.4, 0.1, 0.1, 0.4 of 2 deals and of 1000; path 2 (2 touches): half each; path 3: all
    close(m.position_based(PATHS), {"src": (0.8 + 0.5 + 1, 400 + 150 + 200), "sms": (0.2, 100),
                                    "phone": (0.2 + 0.5, 100 + 150), "email": (0.8, 400)})


def test_position_based_three_touches() -> None:
    close(m.position_based([Path(("a", "b", "c"), 1, 0, 10)]), {"a": (0.4, 4), "b": (0.2, 2), "c": (0.4, 4)})


def test_markov_removal_effect_two_touches() -> None:
    """A>B converts, A alone does not, B alone converts. P(start→A) 2/3, P(start→B) 1/3, P(A→B) = P(A→null) = 1/2,
    P(B→conv) = 1: P(conv) = 2/3·1/2 + 1/3 = 2/3. Without A: 1/3, removal effect 1 − (1/3)/(2/3) = 1/2; without B:
    0, effect 1. Shares 1/3 and 2/3 of the 2 deals and of their 150."""
    paths = [Path(("A", "B"), 1, 0, 100), Path(("A",), 0, 1), Path(("B",), 1, 0, 50)]
    assert m.removal_effects(paths) == pytest.approx({"A": 0.5, "B": 1.0})
    close(m.markov(paths), {"A": (2 / 3, 50), "B": (4 / 3, 100)})


def test_markov_removal_effect_three_touches() -> None:
    """A>B>C converts, A>C and B do not. Transitions: start→A 2/3, start→B 1/3; A→B, A→C 1/2 each; B→C, B→null 1/2
    each; C→conv, C→null 1/2 each. Reach of conversion: C 1/2, B 1/4, A 1/2·1/4 + 1/2·1/2 = 3/8, start 2/3·3/8 +
    1/3·1/4 = 1/3. Without A: 1/3·1/4 = 1/12 (effect 3/4); without B: A reaches 1/4, start 1/6 (effect 1/2);
    without C: 0 (effect 1). Shares 3/4, 1/2, 1 over 9/4: 1/3, 2/9, 4/9."""
    paths = [Path(("A", "B", "C"), 1, 0, 90), Path(("A", "C"), 0, 1), Path(("B",), 0, 1)]
    assert m.removal_effects(paths) == pytest.approx({"A": 0.75, "B": 0.5, "C": 1.0})
    close(m.markov(paths), {"A": (1 / 3, 30), "B": (2 / 9, 20), "C": (4 / 9, 40)})


def test_markov_a_repeated_touch_changes_nothing() -> None:
    """A self-loop only delays absorption: A>A>B and A>B give the same effects."""
    once = [Path(("A", "B"), 1, 0), Path(("A",), 0, 1), Path(("B",), 1, 0)]
    twice = [Path(("A", "A", "B"), 1, 0), Path(("A",), 0, 1), Path(("B",), 1, 0)]
    assert m.removal_effects(twice) == pytest.approx(m.removal_effects(once))


def test_no_conversion_gives_no_credit() -> None:
    paths = [Path(("A",), 0, 3)]
    assert m.markov(paths) == {} and m.linear(paths) == {} and m.removal_effects(paths) == {"A": 0.0}
    assert m.markov([]) == {}
