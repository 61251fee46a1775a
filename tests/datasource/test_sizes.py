"""Byte estimates of frames (success_metrics/query/sizes.py) and the serialization memos they bound."""

from __future__ import annotations

from datetime import UTC, datetime

from success_metrics.calculators import Column, ColumnType, Frame, Kind
from success_metrics.query.protocol.serialize import ByIdentity
from success_metrics.query.sizes import frame_bytes, value_bytes


def test_a_frame_counts_its_columns_tuples_and_values() -> None:
    floats = Column("v", ColumnType.NUMBER, tuple(i / 7 for i in range(100)))
    # by hand: 256 (frame) + 128 (column) + 40 + 8 × 100 (the tuple) + 24 × 100 (the floats)
    assert frame_bytes(Frame("f", Kind.TIMESERIES, (floats,))) == 3624
    empty = Column("e", ColumnType.NUMBER, (None,) * 100)  # None is shared: only the tuple counts
    assert frame_bytes(Frame("f", Kind.TIMESERIES, (floats, empty))) == 3624 + 128 + 40 + 800


def test_a_cell_counts_what_it_holds() -> None:
    assert value_bytes(None) == value_bytes(True) == 0
    assert value_bytes(1.5) == 24
    assert value_bytes(datetime(2026, 1, 1, tzinfo=UTC)) == 48
    assert value_bytes((1.5, 2.5)) == 40 + 2 * 8 + 2 * 24  # a tag list cell: the tuple and its two floats


class Held:
    """An object a memo entry is keyed by."""


def test_the_memo_holds_at_most_its_bytes_and_drops_the_least_recently_used() -> None:
    memo = ByIdentity(max_bytes=300)
    a, b, c, d = Held(), Held(), Held(), Held()
    memo.put((a,), (), "A", 100)
    memo.put((b,), (), "B", 100)
    memo.put((c,), (), "C", 100)
    assert memo.get((a,)) == "A"  # a used last: b is the oldest
    memo.put((d,), (), "D", 100)
    assert memo.bytes == 300
    assert [memo.get((x,)) for x in (a, b, c, d)] == ["A", None, "C", "D"]
    memo.put((b,), (), "too big", 301)  # larger than the whole memo: not kept, nothing evicted
    assert memo.get((b,)) is None and memo.bytes == 300
    memo.put((b,), ("other",), "B2", 250)  # room for it: the three others go
    assert memo.bytes == 250 and memo.get((b,), ("other",)) == "B2" and memo.get((d,)) is None
