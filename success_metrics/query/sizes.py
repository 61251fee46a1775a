"""How many bytes a computed frame holds in memory: the estimate the caches' byte budgets count.

Column-based and cheap (one ``sys.getsizeof`` per value, once per frame cached): each column's tuple and its
values, plus a fixed allowance for the frame and column objects. ``None`` and booleans are shared singletons
and count nothing; small ints and interned strings shared with other frames are counted anyway, so the
estimate errs on the high side.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from success_metrics.calculators import Column, Frame

FRAME_BYTES = 256  # the Frame, its columns tuple, notices, masked fields and meta
COLUMN_BYTES = 128  # a Column object (slots) beside its values


def value_bytes(value: Any) -> int:
    """Bytes of one cell: the object, and what a tuple or list cell holds."""
    if value is None or value is True or value is False:
        return 0
    if type(value) is tuple or type(value) is list:
        return sys.getsizeof(value) + sum(map(value_bytes, value))
    return sys.getsizeof(value)


def columns_bytes(columns: Iterable[Column]) -> int:
    return sum(COLUMN_BYTES + sys.getsizeof(c.values) + sum(map(value_bytes, c.values)) for c in columns)


def frame_bytes(frame: Frame) -> int:
    return FRAME_BYTES + columns_bytes(frame.columns)


CELL_BYTES = 40  # a cell on average: its tuple slot and a float (32 bytes), a name now and then


def rough_frame_bytes(frame: Frame) -> int:
    """``frame_bytes`` without looking at a value: O(columns), for a size counted on every cache hit (looking at
    each value of a 16,000-cell frame cost more than decoding it)."""
    return FRAME_BYTES + sum(COLUMN_BYTES + CELL_BYTES * len(c.values) for c in frame.columns)
