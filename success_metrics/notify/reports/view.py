"""A Report as a document to read: the one layout both the HTML and the PDF are drawn from.

``document(report)`` turns each masked section into blocks a reader understands — KPI tiles (value with its
unit, change against the previous period with an arrow and a tone, target with a progress bar, status from the
projected month-end), a chart with the target drawn in, a table with human headers and one format per unit —
and says in words why a section has nothing to show. The HTML template and the PDF writer only lay these
blocks out, so the two copies cannot say different things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from success_metrics.calculators import KPIS, ColumnType, Frame, Kind, Unit
from success_metrics.notify.reports import charts
from success_metrics.notify.reports.content import Report, Section
from success_metrics.notify.reports.format import (
    STATUSES,
    change,
    figure,
    known,
    label,
    metric_title,
    percent_change,
    readable,
    when,
)

Tone = Literal["good", "bad", "warn", "neutral"]
KIND_TITLES = {"daily": "Daily operations report", "weekly": "Weekly executive report",
               "monthly": "Monthly business review"}
MAX_ROWS = 25
MASKED = re.compile(r"Masked for role (\w+): (.*)")
HOW = {"rows left out": "rows left out", "hide": "hidden", "pseudonymise": "shown under pseudonyms",
       "partial": "partly masked", "bucket": "rounded into ranges", "redact": "redacted"}
# what an empty section says, where "no data" would undersell good news
EMPTY = {"alerts.action_items": "Nothing needs attention: no action items for the period.",
         "errors.active": "No errors are active.", "agents.goals": "No revenue goals are set for this scope."}
EVENT_TYPE = re.compile(r"\b[a-z]+\.[a-z_]+ events\b")
EVENTS = {"cost.recorded events": "recorded costs", "deal.closed events": "closed deals",
          "lead.created events": "new leads"}
METRIC_ID = re.compile(r"\b[a-z_]+\.[a-z_]+\b")
ID_COLUMNS = {"agent_id": "agent", "team_id": "team", "location_id": "location", "component_id": "component"}


@dataclass(frozen=True, slots=True)
class Tile:
    title: str
    value: str
    change: str | None  # "+12.0% vs previous period"
    arrow: str  # ▲ ▼ or ""
    change_tone: Tone
    target: str | None  # "Target 4,000%"
    progress: float | None  # 0..1 of the target reached
    status: str
    status_tone: Tone
    projected: str | None = None
    unit: Unit | None = None


@dataclass(frozen=True, slots=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    widths: list[float]  # relative column widths from the longest text
    units: list[Unit | None]  # each column's unit (None: text, or a count the header names)
    more: int = 0
    csv: str | None = None


@dataclass(slots=True)
class Block:
    title: str
    tiles: list[Tile] = field(default_factory=list)
    image: bytes | None = None
    table: Table | None = None
    lines: list[str] = field(default_factory=list)  # sentences (alerts, highlights)
    notes: list[str] = field(default_factory=list)  # in small print under the content
    empty: str | None = None  # why there is nothing to show


@dataclass(frozen=True, slots=True)
class Document:
    title: str
    brand: str
    tenant: str
    colors: tuple[str, str]
    logo_url: str | None
    period: str
    generated: str
    masked_for: str
    blocks: list[Block]


def _tone(status: str | None) -> Tone:
    return STATUSES.get(status or "", ("", "neutral"))[1]  # type: ignore[return-value]


def tile(title: str, unit: Unit | None, currency: str, value: Any, previous: Any, target: Any, status: str | None,
         projected: Any = None, lower_is_better: bool = False) -> Tile:
    """One KPI tile; the change's tone follows the direction that is good for this figure."""
    running = projected is not None and projected != value  # a month still running compares
    moved = change(projected if running else value, previous)  # its projected month-end with the month before
    arrow = "" if moved is None or moved == 0 else "▲" if moved > 0 else "▼"
    better = moved is not None and moved != 0 and (moved > 0) != lower_is_better
    progress = value / target if isinstance(value, int | float) and isinstance(target, int | float) and target > 0 \
        else None
    return Tile(title, figure(value, unit, currency, short=True),
                None if moved is None else f"{percent_change(moved)} "
                f"{'projected vs last month' if running else 'vs previous period'}", arrow,
                "neutral" if moved in (None, 0) else "good" if better else "bad",
                None if target is None else f"Target {figure(target, unit, currency, short=True)}",
                None if progress is None else max(0.0, min(1.0, progress)),
                label(status) if status and status != "no_target" else "No target set", _tone(status),
                None if projected is None or projected == value
                else f"Projected {figure(projected, unit, currency, short=True)}", unit)


def kpi_tiles(frame: Frame, currency: str) -> list[Tile]:
    """A tile per KPI of the executive KPI summary (one row per period, a column per KPI)."""
    names = [c.name for c in frame.columns]
    rows = {r[0]: dict(zip(names, r, strict=True)) for r in frame.rows()}
    now, before, goal, proj = (rows.get(p, {}) for p in ("month_to_date", "previous_month", "target",
                                                           "projected_month_end"))
    return [tile(k.title, k.unit, currency, now.get(k.column), before.get(k.column), goal.get(k.column),
                 now.get(f"{k.column}_status"), proj.get(k.column))
            for k in KPIS if k.column in names and now.get(k.column) is not None]


def stat_tile(title: str, frame: Frame, currency: str) -> Tile | None:
    get = {c.name: (c.values[0] if c.values else None) for c in frame.columns}
    if get.get("value") is None:
        return None
    unit = frame.column("value").unit
    return tile(title, unit, currency, get["value"], get.get("previous"), get.get("target"), get.get("status"),
                get.get("projected"), bool(frame.meta.get("lower_is_better")))


def notice(text: str) -> str:
    """A frame notice for a reader: the masking line names fields by their labels, grouped by what was done."""
    found = MASKED.fullmatch(text)
    if not found:
        return EVENT_TYPE.sub(lambda m: EVENTS.get(m.group(0), m.group(0)), text)
    done: dict[str, list[str]] = {}
    for name, how in re.findall(r"([\w.*]+) \(([^)]+)\)", found.group(2)):
        done.setdefault(HOW.get(how, how), []).append(label(name).lower())
    if not done:
        return text
    return (f"Masked for the {found.group(1)} role: "
            + "; ".join(f"{', '.join(names)} {how}" for how, names in done.items()) + ".")


def metric_ids(text: str) -> str:
    """Metric ids inside a sentence (an action item) as their catalog titles."""
    return METRIC_ID.sub(lambda m: metric_title(m.group(0)) if known(m.group(0)) else m.group(0), text)


def _time_label(value: Any, report: Report, monthly: bool) -> str:
    """A bucket start as a reader names it: its month over a year, its hour in a day, else its day."""
    if not isinstance(value, int | float):
        return "—"
    local = datetime.fromtimestamp(value / 1000, UTC).astimezone(report.settings.zone)
    return f"{local:%b %Y}" if monthly else f"{local:%H:%M}" if report.kind.value == "daily" \
        else f"{local.day} {local:%b}"


def table(frame: Frame, report: Report, monthly: bool = False) -> Table:
    """Human headers, ids dropped where a name stands beside them, every number in its unit."""
    names = {c.name for c in frame.columns}
    # an id stays only where no name beside it says who or what the row is (a goal's team has only its id)
    shown = [c for c in frame.columns if ID_COLUMNS.get(c.name) not in names and c.name != "unit"
             and not c.name.endswith("_status") and not (c.name == "value" and c.unit is None)]
    shown = [c for c in shown if any(v is not None for v in c.values)] or shown
    units = frame.column("unit").values if "unit" in names else None
    currency = report.settings.currency
    order = list(range(frame.row_count))
    ranked = charts.rank_column(frame) if "agent" in names else None
    if ranked is not None:  # a ranking reads best first
        order.sort(key=lambda i: -(ranked.values[i] if isinstance(ranked.values[i], int | float) else -1e18))
    every = frame.rows()
    rows = []
    for i, row in ((i, every[i]) for i in order[:MAX_ROWS]):
        get = dict(zip((c.name for c in frame.columns), row, strict=True))
        cells = []
        for c in shown:
            value = get[c.name]
            unit = c.unit or (Unit(units[i]) if units and units[i] in Unit.__members__.values() else None)
            cells.append(_time_label(value, report, monthly) if c.type is ColumnType.TIME
                         else figure(value, unit, currency) if c.type is ColumnType.NUMBER
                         else readable(metric_ids(value)) if isinstance(value, str)
                         else "—" if value is None else str(value))
        rows.append(cells)
    header = [label(c.name) for c in shown]
    widths = [max([len(header[j]) * 0.8, *(len(r[j]) for r in rows), 4]) for j in range(len(shown))]
    return Table(header, rows, [c.type is ColumnType.NUMBER for c in shown], widths,
                 [c.unit if c.type is ColumnType.NUMBER else None for c in shown], max(0, frame.row_count - MAX_ROWS))


def _target_for(section: Section, report: Report) -> tuple[str, float] | None:
    """The target a trend is judged by, in its own unit (revenue's is the attributed revenue target)."""
    name = {"revenue.monthly_trend": "revenue.attributed"}.get(section.metric, section.metric)
    target = report.settings.targets.get(name)
    return None if target is None else (f"Target ({metric_title(name)})", target)


def block(section: Section, report: Report) -> Block:
    """What one section shows: tiles, a chart and a table, or a sentence saying why it shows nothing."""
    out = Block(section.title)
    frame = section.frame
    currency = report.settings.currency
    if frame is None:
        out.empty = section.note or "Not available."
        return out
    out.notes = [notice(n) for n in frame.notices]
    if frame.row_count == 0:  # a model not trained yet says so in a notice: that is the section's message
        out.empty = (f"Not available yet: {out.notes.pop(0)}" if out.notes
                     else EMPTY.get(section.metric, "No data for this period."))
        return out
    if frame.name == "executive.kpi_summary":
        out.tiles = kpi_tiles(frame, currency)
        return out
    if frame.kind is Kind.STAT:
        made = stat_tile(section.title, frame, currency)
        out.tiles = [made] if made else []
        out.empty = None if made else "No data for this period."
        return out
    monthly = section.spec_range == "trailing_year"
    out.image = charts.chart(frame, report.settings, report.kind.value, _target_for(section, report))
    if frame.kind is not Kind.TIMESERIES or not out.image:
        out.table = table(frame, report, monthly)
    return out


def document(report: Report) -> Document:
    brand = report.settings.branding
    zone = report.settings.zone
    blocks = [block(s, report) for s in report.sections]
    tiles = [t for b in blocks for t in b.tiles]
    merged = [b for b in blocks if not b.tiles or b.empty]
    head = Block("Headline figures", tiles=tiles) if tiles else None
    if report.kind.value == "daily":
        alerts = Block("Active alerts", lines=[f"{a.severity.capitalize()}: {a.title}. {a.summary}"
                                               for a in report.alerts])
        alerts.empty = None if report.alerts else "No alerts were firing during the period."
        merged.insert(0, alerts)
    role = report.recipient.role.value
    scope = (f" (teams: {', '.join(report.recipient.teams)})" if role == "manager" and report.recipient.teams
             else " (own figures)" if role == "agent" else "")
    return Document(
        KIND_TITLES[report.kind.value], brand.name, report.tenant_name, (brand.primary_color, brand.secondary_color),
        brand.logo_url, report.period.label,
        f"Generated {when(report.generated_at, zone)} · period {report.period.label} · times in {zone.key}",
        f"Masked for the {role} role{scope}: prepared for {report.recipient.email}.",
        ([head] if head else []) + merged)
