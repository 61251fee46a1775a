"""frame_codec: every catalog metric's frame on the fixture comes back equal field for field; bad bodies are
refused with CorruptFrame (the cache's miss), never with another error and never by running anything."""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import msgpack
import pytest

from success_metrics.calculators import Column, ColumnType, Frame, Kind, Origin, Sensitivity, Unit, all_metrics
from success_metrics.calculators.vocabulary import Dimension
from success_metrics.query import frame_codec
from success_metrics.query.frame_codec import CorruptFrame, decode, encode
from success_metrics.storage.pool import Database
from tests.calculators.fixture import FEB, run

ORIGIN = Origin("revenue", "revenue", Sensitivity.FINANCIAL)
POOLED = Origin("calls", "agent", Sensitivity.PERSONAL, pooled=True)


def odd_frame(rows: int = 3) -> Frame:
    """Every kind of value and attribute a frame may carry, tuples and lists apart."""
    return Frame(
        name="odd", kind=Kind.TABLE,
        columns=(
            Column("when", ColumnType.TIME, tuple(1_700_000_000_000 + i for i in range(rows)), Unit.MS),
            Column("agent", ColumnType.STRING, tuple(f"a{i}" if i % 2 else None for i in range(rows)),
                   sensitivity=Sensitivity.PERSONAL, field="agent", lineage=frozenset({POOLED})),
            Column("cell", ColumnType.STRING, tuple(((i, "x"), [i, 1.5], {"k": (i,)}) for i in range(rows)),
                   lineage=frozenset()),
            Column("ok", ColumnType.BOOLEAN, tuple(i % 2 == 0 for i in range(rows)), unit=None),
        ),
        notices=("Agent names masked.",), masked_fields=("agent",),
        meta={"currency": "EUR", "at": datetime(2026, 2, 1, tzinfo=UTC), "day": date(2026, 2, 1),
              "local": datetime(2026, 2, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))), "naive": datetime(2026, 1, 1),
              "amount": Decimal("12.30"), "dimension": Dimension.AGENT, "pair": (1, 2), "list": [1, (2, 3)],
              "nested": {"deep": [{"x": None, 7: "int key"}]}, "big": 2**63 - 1, "neg": -(2**63), "nan_free": 1e308},
        row_lineage=tuple(frozenset({ORIGIN}) if i else frozenset() for i in range(rows)),
        lineage=frozenset({ORIGIN, POOLED}),
    )


def test_every_attribute_comes_back() -> None:
    frame = odd_frame()
    back = decode(encode(frame))
    assert back == frame
    assert type(back.columns[2].values[0]) is tuple and type(back.columns[2].values[0][1]) is list
    assert back.meta["local"].utcoffset() == timedelta(hours=-5) and back.meta["naive"].tzinfo is None
    assert back.meta["dimension"] is Dimension.AGENT


def test_a_large_frame_is_compressed_and_comes_back() -> None:
    frame = odd_frame(rows=2000)
    body = encode(frame)
    assert body[4:5] == b"\x01" and decode(body) == frame


async def test_every_catalog_metric_round_trips(db: Database, tenant_a: str) -> None:
    for m in all_metrics():
        for max_points in (50, 1000):
            frame = await run(db, tenant_a, m.name, *FEB, max_points=max_points, interval_ms=60_000)
            assert decode(encode(frame)) == frame, m.name


def test_a_value_outside_the_vocabulary_is_refused_at_encoding() -> None:
    frame = Frame("f", Kind.STAT, (Column("v", ColumnType.NUMBER, (object(),)),))
    with pytest.raises(TypeError, match="cannot hold a object"):
        encode(frame)


@pytest.mark.parametrize("body", [
    b"", b"SMF1", b"SMF2\x00\x90", b"\x80\x04\x95pickle", encode(odd_frame())[:-7],
    encode(odd_frame())[:5] + b"\xff" * 40,
    b"SMF1\x01not zlib at all",
    b"SMF1\x00" + msgpack.packb([1, 2, 3]),
    b"SMF1\x00" + msgpack.packb(["f", "no such kind", [], [], [], {}, [], None]),
    b"SMF1\x00" + msgpack.packb(["f", "stat", [["v", "number", [msgpack.ExtType(99, b"")], None, "public", None,
                                                   None]], [], [], {}, [], None]),
    b"SMF1\x00" + msgpack.packb(["f", "stat", [["v", "number", [1], None, "public", None, None],
                                                ["w", "number", [1, 2], None, "public", None, None]],
                                  [], [], {}, [], None]),  # columns of unequal length
    b"SMF1\x00" + msgpack.packb(["f", "stat", [], [], [], {}, [], None]) + b"extra",
    b"SMF1\x01" + zlib.compress(msgpack.packb({"not": "a list"})),
], ids=lambda b: repr(b[:12]))
def test_a_bad_body_is_corrupt(body: bytes) -> None:
    with pytest.raises(CorruptFrame, match="not a frame body"):
        decode(body)


def test_an_enum_outside_the_vocabulary_is_corrupt() -> None:
    body = b"SMF1\x00" + msgpack.packb(["f", "stat", [], [], [], {"x": msgpack.ExtType(
        4, msgpack.packb(["Path", "/etc/passwd"]))}, [], None])
    with pytest.raises(CorruptFrame):
        frame_codec.decode(body)
