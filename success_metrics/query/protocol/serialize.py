"""Frames → the JSON shapes of both Grafana dialects. Pure functions: no I/O, no policy.

Masking has already run: a frame's ``masked_fields`` and ``notices`` are shown as ``meta.notices``,
``meta.custom.maskedFields`` and, on tables, ``masked: true`` on each masked column.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, assert_never

from cachetools import LRUCache
from pydantic import TypeAdapter

from success_metrics.calculators import Column, ColumnType, Frame, Kind, Unit
from success_metrics.query.protocol.parse import Shape
from success_metrics.query.protocol.responses import Annotation, FrameMeta, Notice, QueryItem, RowsColumn, RowsFrame, Table, TableColumn, TagValue, TimeSeries, VariableItem
from success_metrics.query.sizes import columns_bytes, value_bytes

_ITEM: TypeAdapter[QueryItem] = TypeAdapter(QueryItem)

ANNOTATION_COLUMNS = ("time", "timeEnd", "title", "text", "tags")


def grafana_unit(unit: Unit | None, currency: str = "USD") -> str | None:
    """The Grafana unit id of one of our units."""
    if unit is None:
        return None
    match unit:
        case Unit.PERCENT:
            return "percent"
        case Unit.RATIO:
            return "percentunit"
        case Unit.CURRENCY:
            return f"currency{currency}"
        case Unit.HOURS:
            return "h"
        case Unit.SECONDS:
            return "s"
        case Unit.MS:
            return "ms"
        case Unit.COUNT:
            return "short"
        case Unit.SCORE:
            return "none"
        case Unit.BYTES:
            return "bytes"
        case Unit.TEXT:
            return None
        case _:
            assert_never(unit)


def cell(value: Any) -> Any:
    """One value as JSON: Decimal → float, datetime → epoch ms, NaN/inf → null, tuples → lists."""
    kind = type(value)
    if kind is float:  # the common cases first: a dashboard load serializes ~10^5 cells
        return value if math.isfinite(value) else None
    if kind is int or kind is str or value is None:
        return value
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, tuple | list):
        return [cell(v) for v in value]
    return value


def meta(frame: Frame) -> FrameMeta | None:
    notices = [Notice(severity="info", text=n) for n in frame.notices]
    if not notices and not frame.masked_fields:
        return None
    custom = {"maskedFields": list(frame.masked_fields)} if frame.masked_fields else None
    return FrameMeta(notices=notices, custom=custom)


class ByIdentity:
    """An LRU bounded by bytes, keyed by the identity of objects (plus plain values). A cached frame is served
    again and again, and masking keeps the columns it leaves alone, so what is built from those very objects can
    be kept. Each entry holds its objects, so an id is never reused while its entry lives; its size (given by
    the caller: what the entry keeps alive) counts against ``max_bytes``, least recently used going first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: LRUCache[tuple[Any, ...], tuple[tuple[object, ...], Any, int]] = LRUCache(
            max_bytes, getsizeof=lambda entry: entry[2])

    def get(self, objects: tuple[object, ...], plain: tuple[Any, ...] = ()) -> Any:
        known = self._entries.get((*map(id, objects), *plain))
        if known is None or any(a is not b for a, b in zip(known[0], objects, strict=True)):
            return None
        return known[1]

    def put(self, objects: tuple[object, ...], plain: tuple[Any, ...], value: Any, size: int) -> None:
        key = (*map(id, objects), *plain)
        if size > self.max_bytes:  # served, not kept
            self._entries.pop(key, None)
            return
        self._entries[key] = (objects, value, size)

    @property
    def bytes(self) -> int:
        return int(self._entries.currsize)


MEMO_MAX_BYTES = 64 * 2**20  # each memo below: together at most a half of the default result cache
ITEM_BYTES = 160  # a series or table model and its small fields, beside its points or rows
_ITEMS = ByIdentity(MEMO_MAX_BYTES)  # a frame's items, by its columns (and everything else the items show)
_JSON = ByIdentity(MEMO_MAX_BYTES)  # an item's JSON, by the item


def query_items(ref_id: str, shape: Shape, frame: Frame) -> list[QueryItem]:
    """One frame as /query items: series for a time series asked as one, otherwise a table. The items are
    shared by every request for the same frame; nothing changes them once built."""
    plain = (ref_id, shape, frame.name, frame.kind, frame.notices, frame.masked_fields, frame.meta.get("currency"))
    items: list[QueryItem] | None = _ITEMS.get(frame.columns, plain)
    if items is None:
        items = _items(ref_id, shape, frame)
        _ITEMS.put(frame.columns, plain, items, columns_bytes(frame.columns) + sum(map(_item_bytes, items)))
    return items


def items_json(items: Sequence[QueryItem]) -> bytes:
    """The /query response body: each item's JSON is kept with the item, so a cached answer is not serialized
    again for every request (for a 24-month panel that cost more than all else a request does)."""
    parts = []
    for item in items:
        data: bytes | None = _JSON.get((item,))
        if data is None:
            data = _ITEM.dump_json(item, exclude_none=True, by_alias=True)
            _JSON.put((item,), (), data, sys.getsizeof(data) + _item_bytes(item))  # it keeps the item alive too
        parts.append(data)
    return b"[" + b",".join(parts) + b"]"


def _item_bytes(item: QueryItem) -> int:
    return ITEM_BYTES + value_bytes(item.datapoints if isinstance(item, TimeSeries) else item.rows)


def _items(ref_id: str, shape: Shape, frame: Frame) -> list[QueryItem]:
    match frame.kind:
        case Kind.TIMESERIES if shape is Shape.TIMESERIES:
            # every series masked: the table of times says so (its notices) rather than nothing at all
            return list(time_series(ref_id, frame)) or [table(ref_id, frame)]
        case Kind.TIMESERIES | Kind.TABLE | Kind.STAT:
            return [table(ref_id, frame)]
        case _:
            assert_never(frame.kind)


def time_series(ref_id: str, frame: Frame) -> Iterable[TimeSeries]:
    """The first column is time (epoch ms); each other column is a series, points in ascending time."""
    times, *series = frame.columns
    frame_meta = meta(frame)
    for column in series:
        # built from our own typed points: constructed, not validated (validation cost more than building)
        yield TimeSeries.model_construct(target=column.name, refId=ref_id, datapoints=_points(times, column),
                                         meta=frame_meta)


def _points(times: Column, column: Column) -> list[tuple[float | None, int]]:
    order = sorted(range(len(times.values)), key=times.values.__getitem__)
    return [(_number(column.values[i]), int(cell(times.values[i]))) for i in order]


def table(ref_id: str | None, frame: Frame) -> Table:
    """A frame as a table; money columns in the currency its computation recorded (meta ``currency``: the
    tenant's), USD when none is recorded."""
    currency = str(frame.meta.get("currency") or "USD")
    masked = set(frame.masked_fields)
    columns = [_column(c, masked, currency) for c in frame.columns]
    rows = [[cell(v) for v in row] for row in frame.rows()]
    return Table.model_construct(refId=ref_id, columns=columns, rows=rows, meta=meta(frame))


LONG_COLUMNS = ("time", "series", "value")


def rows(ref_id: str, frame: Frame) -> RowsFrame:
    """A frame as row objects with typed columns (POST /query/rows). A time series is long: one row per point,
    ``{time: epoch ms, series: name, value}``, ascending by time, so its columns never depend on the data (Infinity's
    ``timeseries`` format turns it wide again). Other frames keep their columns; their times are ISO 8601 text (a
    reader that declares no column types still sees a date), lists are comma-joined text (annotation tags)."""
    currency = str(frame.meta.get("currency") or "USD")
    masked = set(frame.masked_fields)
    hit = [c.field_name in masked or c.name in masked for c in frame.columns]
    if frame.kind is Kind.TIMESERIES and frame.columns:
        times, *series = frame.columns
        columns = [RowsColumn(name="time", type="time"), RowsColumn(name="series", type="string"),
                   RowsColumn(name="value", type="number", unit=grafana_unit(series[0].unit if series else None,
                                                                           currency), masked=any(hit[1:]))]
        points = sorted(((int(cell(t)), i, _number(c.values[j]), c.name) for i, c in enumerate(series)
                         for j, t in enumerate(times.values)), key=lambda p: (p[0], p[1]))
        out = [{"time": t, "series": name, "value": v} for t, _, v, name in points]
    else:
        columns = [RowsColumn(name=c.name, type=c.type.value, unit=grafana_unit(c.unit, currency), masked=h)
                   for c, h in zip(frame.columns, hit, strict=True)]
        names = [c.name for c in frame.columns]
        out = [dict(zip(names, map(_row_cell, row), strict=True)) for row in frame.rows()]
    return RowsFrame(refId=ref_id, name=frame.name, kind=frame.kind.value, columns=columns, rows=out,
                     notices=list(frame.notices), maskedFields=list(frame.masked_fields))


def _row_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return cell(value)


def error_item(ref_id: str, message: str) -> TimeSeries:
    """A failed target: an empty series whose error notice Grafana shows on the panel."""
    return TimeSeries(target=ref_id, refId=ref_id, datapoints=[],
                      meta=FrameMeta(notices=[Notice(severity="error", text=message)]))


def merge_annotations(frames: Sequence[Frame]) -> Frame:
    """Annotation frames of several kinds as one, ascending by time. A column masking removed reads as empty."""
    rows: list[tuple[Any, ...]] = []
    for frame in frames:
        present = {c.name: c.values for c in frame.columns}
        empty: tuple[Any, ...] = (None, None, "", "", ())
        columns = [present.get(name, (empty[i],) * frame.row_count) for i, name in enumerate(ANNOTATION_COLUMNS)]
        rows.extend(zip(*columns, strict=True))
    rows.sort(key=lambda r: (r[0] is None, r[0] or 0))
    types = (ColumnType.TIME, ColumnType.TIME, ColumnType.STRING, ColumnType.STRING, ColumnType.STRING)
    columns = tuple(Column(name, kind, tuple(r[i] for r in rows))
                    for i, (name, kind) in enumerate(zip(ANNOTATION_COLUMNS, types, strict=True)))
    return Frame("annotations", Kind.TABLE, columns,
                 notices=tuple(n for f in frames for n in f.notices),
                 masked_fields=tuple(sorted({m for f in frames for m in f.masked_fields})))


def annotations(frame: Frame, echo: dict[str, Any] | None) -> list[Annotation]:
    """A merged annotation frame (time, timeEnd, title, text, tags) as SimpleJSON's /annotations list."""
    out = []
    for time, time_end, title, text, tags in zip(*(frame.column(n).values for n in ANNOTATION_COLUMNS), strict=True):
        start, end = cell(time), cell(time_end)
        out.append(Annotation(annotation=echo, time=start, timeEnd=end, isRegion=end is not None and end != start,
                              title=title or "", text=text or "", tags=[str(t) for t in tags or ()]))
    return out


def variables(values: Sequence[tuple[str, str]]) -> list[VariableItem]:
    return [VariableItem(__value=value, __text=label) for value, label in values]


def tag_values(values: Sequence[tuple[str, str]]) -> list[TagValue]:
    return [TagValue(text=value) for value, _ in values]


def _column(column: Column, masked: set[str], currency: str) -> TableColumn:
    return _column_of(column.name, column.type, column.unit, column.field_name in masked or column.name in masked,
                      currency)


@functools.lru_cache(maxsize=4096)
def _column_of(name: str, kind: ColumnType, unit: Unit | None, hit: bool, currency: str) -> TableColumn:
    # a table's columns repeat on every request for it: described once (the models are never changed)
    return TableColumn.model_construct(
        text=name, type=kind.value if kind in ColumnType else "string", unit=grafana_unit(unit, currency),
        masked=True if hit else None, description="masked by your role's policy" if hit else None,
    )


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value)
    value = cell(value)
    if value is None or isinstance(value, bool):
        return None if value is None else float(value)
    return float(value) if isinstance(value, int | float) else None
