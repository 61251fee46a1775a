"""Component-call stats regrouped per key for series panels (calculators/calls.py ``by_key``)."""

from __future__ import annotations

from datetime import UTC, datetime

from success_metrics.calculators.calls import CallStats, by_key


def test_by_key_groups_each_keys_buckets_in_key_order() -> None:
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 3, tzinfo=UTC)
    a1, a2, b2, total = (CallStats(n, n, 10.0 * n, None, None) for n in (1, 2, 3, 4))
    stats = {(t2, "crm"): b2, (t1, "api"): a1, (t2, "api"): a2, (None, "mail"): total}
    grouped = by_key(stats)
    assert list(grouped) == ["api", "crm", "mail"]  # sorted, a key with only a whole-range row kept (no buckets)
    assert grouped == {"api": {t1: a1, t2: a2}, "crm": {t2: b2}, "mail": {}}
