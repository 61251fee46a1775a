"""Charts for reports, as PNG bytes: a line per series for time series, bars for a ranked table.

matplotlib's object API on the Agg canvas (no pyplot, so no global figure state and no display needed);
the caller runs rendering in a worker thread so the event loop never waits on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib is imported: never look for a display

from matplotlib.figure import Figure  # noqa: E402

from success_metrics.calculators import ColumnType, Frame, Kind

MAX_BARS = 12


def _png(fig: Figure) -> bytes:
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=96)  # fixed margins: a "tight" box would draw every chart twice
    return buffer.getvalue()


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def chart(frame: Frame, title: str, colors: tuple[str, str]) -> bytes | None:
    """A PNG for frames worth a picture (a series, or a table with labels and a number); otherwise None."""
    if frame.kind is Kind.TIMESERIES and frame.row_count >= 2 and len(frame.columns) >= 2:
        return _lines(frame, title, colors)
    # a table whose rows or columns carry their own units (a KPI summary) mixes %, money and hours: no common axis
    units = {c.unit for c in frame.columns if c.type is ColumnType.NUMBER and c.unit is not None}
    if frame.kind is Kind.TABLE and frame.row_count >= 2 and "unit" not in {c.name for c in frame.columns} \
            and len(units) <= 1:
        return _bars(frame, title, colors[0])
    return None


def _lines(frame: Frame, title: str, colors: tuple[str, str]) -> bytes | None:
    times = [datetime.fromtimestamp(t / 1000, UTC) for t in frame.columns[0].values]
    fig = Figure(figsize=(7.5, 2.8))
    ax = fig.subplots()
    drawn = 0
    for i, column in enumerate(frame.columns[1:6]):
        values = [_number(v) for v in column.values]
        if all(v is None for v in values):
            continue  # a hidden or empty series draws nothing
        ax.plot(times, [float("nan") if v is None else v for v in values], label=column.name,
                color=colors[i] if i < len(colors) else None, linewidth=1.8)
        drawn += 1
    if not drawn:
        return None
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(alpha=0.3)
    if drawn > 1:
        ax.legend(fontsize=8, frameon=False)
    fig.autofmt_xdate()
    fig.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.22)
    return _png(fig)


def _bars(frame: Frame, title: str, color: str) -> bytes | None:
    label = next((c for c in frame.columns if c.type is ColumnType.STRING), None)
    value = next((c for c in frame.columns if c.type is ColumnType.NUMBER
                  and any(_number(v) is not None for v in c.values)), None)
    if label is None or value is None:
        return None
    pairs = [(str(lab), n) for lab, v in zip(label.values, value.values, strict=True) if (n := _number(v)) is not None]
    pairs = sorted(pairs, key=lambda p: p[1], reverse=True)[:MAX_BARS]
    fig = Figure(figsize=(7.5, 0.35 * len(pairs) + 1.0))
    ax = fig.subplots()
    ax.barh([p[0] for p in reversed(pairs)], [p[1] for p in reversed(pairs)], color=color)
    ax.set_title(f"{title}: {value.name}", fontsize=11, loc="left")
    ax.grid(axis="x", alpha=0.3)
    fig.subplots_adjust(left=0.3, right=0.97, top=1 - 0.45 / fig.get_figheight(), bottom=0.35 / fig.get_figheight())
    return _png(fig)
