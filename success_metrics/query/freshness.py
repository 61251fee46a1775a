"""How fresh a range's answer must be, and so how its cache key moves: ranges of a week or more are analytics,
which the spec lets lag up to 15 minutes; shorter ranges are operational and move by the minute. Parsing
aligns every range with ``align``; the cache and the warmer time their entries and rounds with the same step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

ANALYTICS_SPAN = timedelta(days=7)
ANALYTICS_STEP = timedelta(minutes=15)


def is_analytics(start: datetime, end: datetime) -> bool:
    """A range of a week or more: aligned to quarter hours here, cached and computed as analytics (cache.py)."""
    return end - start >= ANALYTICS_SPAN


def align(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Widen the range to whole steps (start down, end up): minutes, or quarter hours for analytics ranges.

    Grafana's relative ranges ("last 6 hours") move by milliseconds on every refresh; aligned, the panels of
    many users and many refreshes share one cache key instead of each computing anew. Ranges of a week or
    more are analytics, which the spec lets lag up to 15 minutes: a quarter hour more or less of a week
    changes no figure a person reads (0.15 %), and the key then holds for the quarter hour (see cache.py).
    """
    step = ANALYTICS_STEP if is_analytics(start, end) else timedelta(minutes=1)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    floor_start = epoch + ((start - epoch) // step) * step
    floor_end = epoch + ((end - epoch) // step) * step
    return floor_start, floor_end if floor_end == end else floor_end + step
