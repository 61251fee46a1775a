"""Charts for reports, as PNG bytes: trends with their target drawn in, rankings as bars, cost against benefit.

Axes speak the report's units (the tenant's currency symbol, %, h) and its time zone. Costs and benefits sit
in separate panels, each on its own scale, because a month's costs are often a thousandth of its benefits and
would be an invisible sliver beside them; a ranking whose values span more than 1,000× is drawn on a log scale.
matplotlib's object API on the Agg canvas (no pyplot, so no global figure state and no display needed); the
caller runs rendering in a worker thread so the event loop never waits on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Literal

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib is imported: never look for a display

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from success_metrics.calculators import (
    Column,
    ColumnType,
    Frame,
    Kind,
    TenantSettings,
    Unit,
)
from success_metrics.notify.reports.format import figure, label, readable

EPOCH = datetime(1970, 1, 1)
MAX_BARS = 12
WIDE = 1000  # values spanning more than this factor go on a log scale
# what a ranking is ranked by, best first: the first of these the frame has (and the role may see)
RANK_BY = ("progress", "attributed_revenue", "revenue", "weighted_revenue", "total_revenue", "efficiency_score",
           "leads", "leads_assigned", "count")
LABEL_BY = ("agent", "category", "class", "source", "team", "component", "location")
_GREYS = ("#495057", "#adb5bd", "#868e96")


def _png(fig: Figure) -> bytes:
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=110)  # fixed margins: a "tight" box would draw every chart twice
    return buffer.getvalue()


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _style(ax: Axes, unit: Unit | None, currency: str, axis: Literal["x", "y"] = "y") -> None:
    ax.grid(axis=axis, alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8, colors="#495057")
    axis_unit = None if unit is Unit.SCORE else unit  # "20" on a score axis, not "20 / 100"
    limits = ax.get_ylim if axis == "y" else ax.get_xlim
    fmt = FuncFormatter(lambda v, _pos: figure(v, axis_unit, currency, short=True,
                                               thousands=max(abs(x) for x in limits()) >= 1e4))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def chart(frame: Frame, settings: TenantSettings, kind: str, target: tuple[str, float] | None = None
          ) -> bytes | None:
    """A PNG for frames worth a picture (a series, a ranking, costs and benefits); otherwise None."""
    colors = (settings.branding.primary_color, settings.branding.secondary_color, *_GREYS)
    if frame.kind is Kind.TIMESERIES and frame.row_count >= 2 and len(frame.columns) >= 2:
        return _lines(frame, settings, kind, colors, target)
    if frame.name == "cost.benefit":
        return _cost_benefit(frame, settings.currency, colors)
    if frame.kind is Kind.TABLE and frame.row_count >= 2 and "unit" not in {c.name for c in frame.columns}:
        return _bars(frame, settings.currency, colors[0])
    return None


def _lines(frame: Frame, settings: TenantSettings, kind: str, colors: tuple[str, ...],
           target: tuple[str, float] | None) -> bytes | None:
    local = [datetime.fromtimestamp(t / 1000, UTC).astimezone(settings.zone).replace(tzinfo=None)
             for t in frame.columns[0].values]
    times = [(t - EPOCH).total_seconds() / 86_400 for t in local]  # matplotlib's date unit: days since 1970
    fig = Figure(figsize=(7.2, 2.6))
    ax = fig.subplots()
    drawn = [c for c in frame.columns[1:6] if any(_number(v) is not None for v in c.values)]
    if not drawn:
        return None  # a hidden or empty series draws nothing
    unit = drawn[0].unit
    for i, column in enumerate(drawn):
        values = [float("nan") if (v := _number(x)) is None else v for x in column.values]
        if unit is Unit.COUNT and len(drawn) == 1:  # counts per bucket are bars: a line would invent the between
            ax.bar(times, values, width=0.8 * (times[1] - times[0]), color=colors[0], label=label(column.name))
            continue
        ax.plot(times, values, label=label(column.name), color=colors[i % len(colors)], linewidth=2,
                marker="o" if len(times) <= 14 else None, markersize=3)
    if target is not None:
        ax.axhline(target[1], color="#c92a2a", linestyle="--", linewidth=1.2,
                   label=f"{target[0]}: {figure(target[1], unit, settings.currency, short=True)}")
    _style(ax, unit, settings.currency)
    if unit in (None, Unit.COUNT):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fmt = "%b %Y" if times[-1] - times[0] > 60 else "%H:%M" if kind == "daily" else "%d %b"
    ax.set_xticks(times[::max(1, -(-len(times) // 7))])  # ticks on bucket starts: whole hours, days or months
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _date(v, fmt)))
    if len(drawn) > 1 or target is not None:
        ax.legend(fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0, 1), ncols=4)
    ax.set_ylim(bottom=0) if all((_number(v) or 0) >= 0 for c in drawn for v in c.values) else None
    fig.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.14)
    return _png(fig)


def _date(value: float, fmt: str) -> str:
    return (EPOCH + timedelta(days=value)).strftime(fmt)


def _pick(frame: Frame, names: tuple[str, ...], kind: ColumnType, fallback: bool = True) -> Column | None:
    """The first of ``names`` the frame has with a value; else (``fallback``) its first such column."""
    by_name = {c.name: c for c in frame.columns if c.type is kind}
    def shows(c: Column) -> bool:  # a column of zeros ranks nothing
        return any(v is not None and v != 0 for v in c.values)

    for name in names:
        if name in by_name and shows(by_name[name]):
            return by_name[name]
    if not fallback:
        return None
    ok = [c for c in frame.columns if c.type is kind and not c.name.endswith("_id") and not c.name.endswith("status")
          and shows(c)]
    return ok[0] if ok else None


def rank_column(frame: Frame) -> Column | None:
    """The column a ranking of ``frame``'s rows goes by (revenue where the role sees it, else efficiency …)."""
    return _pick(frame, RANK_BY, ColumnType.NUMBER)


def _bars(frame: Frame, currency: str, color: str) -> bytes | None:
    name = _pick(frame, LABEL_BY, ColumnType.STRING, fallback=False)
    value = rank_column(frame)
    if name is None or value is None:
        return None
    pairs = [(str(lab), n) for lab, v in zip(name.values, value.values, strict=True)
             if (n := _number(v)) is not None and lab is not None and not str(lab).lower().startswith("total")]
    pairs = sorted(pairs, key=lambda p: p[1], reverse=True)[:MAX_BARS]
    if len(pairs) < 2:
        return None
    fig = Figure(figsize=(7.2, 0.3 * len(pairs) + 0.9))
    ax = fig.subplots()
    labels, values = [p[0] for p in reversed(pairs)], [p[1] for p in reversed(pairs)]
    ax.barh([readable(x) for x in labels], values, color=color)
    positive = [v for v in values if v > 0]
    if positive and len(positive) == len(values) and max(positive) / min(positive) > WIDE:
        ax.set_xscale("log")
        ax.set_xlabel(f"{label(value.name)} (log scale)", fontsize=8)
    else:
        ax.set_xlabel(label(value.name), fontsize=8)
    for y, v in enumerate(values):
        ax.annotate(figure(v, value.unit, currency, short=True), (v, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=7, color="#343a40")
    _style(ax, value.unit, currency, "x")
    ax.margins(x=0.12)
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.24, right=0.95, top=1 - 0.15 / height, bottom=0.6 / height)
    return _png(fig)


def _cost_benefit(frame: Frame, currency: str, colors: tuple[str, ...]) -> bytes | None:
    """Costs and benefits of the month side by side, each panel on its own scale, totals left out."""
    rows = [dict(zip((c.name for c in frame.columns), r, strict=True)) for r in frame.rows()]
    column = "month_to_date"
    parts = {kind: [(str(r["category"]), _number(r[column]) or 0.0) for r in rows
                    if r["kind"] == kind and not str(r["category"]).startswith("Total")]
             for kind in ("cost", "benefit")}
    if not any(v for pairs in parts.values() for _, v in pairs):
        return None
    unit = frame.column(column).unit
    fig = Figure(figsize=(7.2, 2.3))
    axes = fig.subplots(1, 2)
    for ax, pairs, color, title in zip(axes, parts.values(), (colors[2], colors[1]), ("Costs", "Benefits"),
                                       strict=True):
        total = sum(v for _, v in pairs)
        ax.barh([p[0] for p in reversed(pairs)], [p[1] for p in reversed(pairs)], color=color)
        ax.set_title(f"{title}: {figure(total, unit, currency, short=True)} (own scale)", fontsize=9, loc="left")
        for y, (_, v) in enumerate(reversed(pairs)):
            ax.annotate(figure(v, unit, currency, short=True), (v, y), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=7)
        _style(ax, unit, currency, "x")
        ax.margins(x=0.25)
        ax.tick_params(axis="x", labelsize=7)
    fig.subplots_adjust(left=0.2, right=0.98, top=0.86, bottom=0.14, wspace=0.75)
    return _png(fig)
