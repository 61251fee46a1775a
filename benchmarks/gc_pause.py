"""A full cache's worth of frames and their memoized /query items: how many objects the cyclic GC tracks, and how
long a full collection takes (CPU time, fastest and slowest of nine).

    python benchmarks/gc_pause.py FRAMES ROWS    e.g. 400 2000; FRAMES 0 gives the bare interpreter's figure
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from success_metrics.calculators import Column, ColumnType, Frame, Kind, Unit
from success_metrics.query.protocol import serialize
from success_metrics.query.protocol.parse import Shape


def frames(count: int, rows: int) -> Iterator[Frame]:
    """Half time series, half tables: a time column, four number series and a text dimension each."""
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    for f in range(count):
        columns = [Column("time", ColumnType.TIME, tuple(t0 + timedelta(hours=i) for i in range(rows)))]
        columns += [Column(f"s{c}", ColumnType.NUMBER, tuple(float(i * c + f) for i in range(rows)), Unit.COUNT)
                    for c in range(4)]
        columns.append(Column("team", ColumnType.STRING, tuple(f"team{i % 7}" for i in range(rows))))
        yield Frame(f"m{f}", Kind.TABLE if f % 2 else Kind.TIMESERIES, tuple(columns))


def main(count: int, rows: int) -> None:
    memo = serialize.Memo(max_bytes=2**40)
    kept = []
    for frame in frames(count, rows):
        shape = Shape.TABLE if frame.kind is Kind.TABLE else Shape.TIMESERIES
        serialize.items_json(memo, serialize.query_items(memo, "A", shape, frame))
        kept.append(frame)
    gc.collect()
    gc.collect()
    pauses = []
    for _ in range(9):
        started = time.process_time()
        gc.collect()
        pauses.append(time.process_time() - started)
    print(f"tracked objects {len(gc.get_objects()):,}; full collection {min(pauses) * 1000:.0f}-"
          f"{max(pauses) * 1000:.0f} ms ({len(kept)} frames kept)")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
