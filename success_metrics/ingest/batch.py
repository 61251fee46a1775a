"""A request body or a backfill file → the list of events in it, before any event is looked at.

Two formats: a JSON array of events (``application/json``; a single object is taken as a batch of
one) and NDJSON, one event per line (``application/x-ndjson``; blank lines are skipped). A body that
is not JSON fails whole, naming the line and column; each event is then validated on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from success_metrics.ingest.errors import BatchTooLarge, MalformedBody

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl",
                          "application/x-jsonlines", "application/jsonlines"})


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# orjson reads an integer past 64 bits as a float: text with such a run of digits (looked for once per body, as
# a run of zeros once every digit is a zero and everything else a space: 10x faster than a regular expression)
# goes to the standard library, which keeps it exact
_DIGITS_AS_ZEROS = bytes(b"0"[0] if chr(i).isdigit() and i < 128 else b" "[0] for i in range(256))
_LONG_DIGITS = b"0" * 19


def _fast(raw: bytes) -> bool:
    return _LONG_DIGITS not in raw.translate(_DIGITS_AS_ZEROS)


def _loads(text: str, fast: bool) -> Any:
    if fast:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # orjson is stricter (lone surrogates, infinities): the standard library has the last word
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:  # a ValueError, so every caller reports it like any other bad JSON
        raise ValueError("arrays or objects are nested too deeply (no event needs more than a few levels)") from None


def is_ndjson(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in NDJSON_TYPES


def parse_body(raw: bytes, content_type: str | None, *, max_events: int) -> list[Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"The body is not UTF-8 (bad byte at position {exc.start}); send JSON as UTF-8.") from None
    if is_ndjson(content_type):
        return _parse_ndjson(text, max_events, _fast(raw))
    if not text.strip():
        raise MalformedBody("The body is empty; send a JSON array of events, or NDJSON with "
                            "Content-Type: application/x-ndjson.")
    try:
        value = _loads(text, _fast(raw))
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} "
                            f"(character {exc.pos}).", exc.lineno, exc.colno) from None
    except ValueError as exc:
        raise MalformedBody(f"The body is not valid JSON: {exc}.") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise MalformedBody("The body must be a JSON array of events (or one event object), or NDJSON with "
                            "Content-Type: application/x-ndjson.")
    _check_count(len(value), max_events)
    return value


def _check_count(count: int, max_events: int) -> None:
    if count > max_events:
        raise BatchTooLarge(f"The batch has {count} events; the limit is {max_events} events per request "
                            "(limits.max_batch_events). Split it into smaller batches.",
                            "max_batch_events", max_events)


def _parse_ndjson(text: str, max_events: int, fast: bool) -> list[Any]:
    # lines end at \n only (a \r before it is JSON white space): str.splitlines() would also cut at U+2028
    # and U+0085, which JSON allows unescaped inside strings
    lines = text.split("\n")
    _check_count(sum(1 for line in lines if line.strip()), max_events)
    events = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(_loads(line, fast))
        except json.JSONDecodeError as exc:
            raise MalformedBody(f"Line {number} is not valid JSON: {exc.msg} at column {exc.colno}.",
                                number, exc.colno) from None
        except ValueError as exc:
            raise MalformedBody(f"Line {number} is not valid JSON: {exc}.", number) from None
    return events


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


def read_ndjson(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Any | BadLine]]:
    """(line number, event or BadLine) for each non-blank line of a backfill file; never stops early."""
    for number, line in enumerate(lines, start=1):
        raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                yield number, BadLine(number, f"line {number} is not UTF-8")
                continue
        if not line.strip():
            continue
        try:
            yield number, _loads(line, _fast(raw))
        except json.JSONDecodeError as exc:
            yield number, BadLine(number, f"line {number} is not valid JSON: {exc.msg} at column {exc.colno}")
        except ValueError as exc:
            yield number, BadLine(number, f"line {number} is not valid JSON: {exc}")
