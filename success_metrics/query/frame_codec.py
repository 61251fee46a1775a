"""A computed Frame as compact bytes and back: what the result cache keeps in memory and in the shared table.

MessagePack (msgpack), never pickle: the bytes are read back from a table every replica writes, and decoding them
must only ever build data — the known vocabulary enums, tuples, datetimes and dates, never an arbitrary object.
Tuples and lists stay apart (a tuple travels as an extension type), so a frame comes back equal field for field.
Bodies over ``COMPRESS_OVER`` bytes are zlib-compressed (level 1: cheap to undo). Anything that is not such a body
raises ``CorruptFrame``, which the cache treats as a miss.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any

import msgpack

from success_metrics.calculators import (
    Column,
    ColumnType,
    Dimension,
    Frame,
    Kind,
    Lineage,
    Origin,
    Sensitivity,
    Unit,
)

MAGIC = b"SMF1"
_PLAIN, _ZLIB = b"\x00", b"\x01"
COMPRESS_OVER = 16 * 1024

# extension types: what msgpack has no type of its own for
_TUPLE, _DATETIME, _DATE, _ENUM, _DECIMAL = 1, 2, 3, 4, 5
_ENUMS: dict[str, type[StrEnum]] = {e.__name__: e for e in (ColumnType, Dimension, Kind, Sensitivity, Unit)}


class CorruptFrame(ValueError):
    """The bytes are not a frame this version wrote (cut off, altered, or from elsewhere)."""


def encode(frame: Frame) -> bytes:
    body = _pack([frame.name, frame.kind.value, [_column(c) for c in frame.columns], list(frame.notices),
                  list(frame.masked_fields), frame.meta, [_lineage(r) for r in frame.row_lineage],
                  _lineage(frame.lineage)])
    if len(body) > COMPRESS_OVER:
        return MAGIC + _ZLIB + zlib.compress(body, 1)
    return MAGIC + _PLAIN + body


def decode(data: bytes) -> Frame:
    if data[:4] != MAGIC or data[4:5] not in (_PLAIN, _ZLIB):
        raise CorruptFrame("not a frame body: wrong header")
    try:
        body = zlib.decompress(data[5:]) if data[4:5] == _ZLIB else data[5:]
        name, kind, columns, notices, masked, meta, row_lineage, lineage = msgpack.unpackb(
            body, ext_hook=_ext, strict_map_key=False)
        return Frame(name=name, kind=Kind(kind), columns=tuple(_unpack_column(c) for c in columns),
                     notices=tuple(notices), masked_fields=tuple(masked), meta=meta,
                     row_lineage=tuple(_unpack_lineage(r) or frozenset() for r in row_lineage),
                     lineage=_unpack_lineage(lineage))
    except CorruptFrame:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, zlib.error, msgpack.UnpackException) as exc:
        raise CorruptFrame(f"not a frame body: {exc.__class__.__name__}") from None


def _column(c: Column) -> list[Any]:
    return [c.name, c.type.value, list(c.values), None if c.unit is None else c.unit.value, c.sensitivity.value,
            c.field, _lineage(c.lineage)]


def _unpack_column(c: list[Any]) -> Column:
    name, type_, values, unit, sensitivity, field, lineage = c
    return Column(name=name, type=ColumnType(type_), values=tuple(values), unit=None if unit is None else Unit(unit),
                  sensitivity=Sensitivity(sensitivity), field=field, lineage=_unpack_lineage(lineage))


def _lineage(lineage: Lineage | None) -> list[list[Any]] | None:
    if lineage is None:
        return None
    return [[o.measure, o.field, o.sensitivity.value, o.pooled] for o in sorted(lineage)]


def _unpack_lineage(origins: list[list[Any]] | None) -> Lineage | None:
    if origins is None:
        return None
    return frozenset(Origin(measure, field, Sensitivity(sensitivity), pooled)
                     for measure, field, sensitivity, pooled in origins)


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, default=_default, strict_types=True, use_bin_type=True)  # type: ignore[no-any-return]


def _default(value: Any) -> msgpack.ExtType:
    if isinstance(value, tuple):
        return msgpack.ExtType(_TUPLE, _pack(list(value)))
    if isinstance(value, StrEnum) and _ENUMS.get(type(value).__name__) is type(value):
        return msgpack.ExtType(_ENUM, _pack([type(value).__name__, value.value]))
    if isinstance(value, datetime):
        offset = value.utcoffset()
        return msgpack.ExtType(_DATETIME, _pack([value.replace(tzinfo=None).isoformat(),
                                                 None if offset is None else offset.total_seconds()]))
    if isinstance(value, date):
        return msgpack.ExtType(_DATE, value.isoformat().encode())
    if isinstance(value, Decimal):
        return msgpack.ExtType(_DECIMAL, str(value).encode())
    raise TypeError(f"a frame cannot hold a {type(value).__name__}")


def _ext(code: int, data: bytes) -> Any:
    if code == _TUPLE:
        return tuple(msgpack.unpackb(data, ext_hook=_ext, strict_map_key=False))
    if code == _ENUM:
        enum_name, value = msgpack.unpackb(data)
        return _ENUMS[enum_name](value)
    if code == _DATETIME:
        text, offset = msgpack.unpackb(data)
        moment = datetime.fromisoformat(text)
        return moment if offset is None else moment.replace(tzinfo=timezone(timedelta(seconds=offset)))
    if code == _DATE:
        return date.fromisoformat(data.decode())
    if code == _DECIMAL:
        return Decimal(data.decode())
    raise CorruptFrame(f"not a frame body: unknown extension type {code}")
