"""Dashboard specs (layout.py) + the metric catalog + a tenant's theme → Grafana dashboard JSON.

Every panel is resolved against the catalog before anything is built: an unknown metric, or a
metric whose kind the chosen visualisation cannot show, fails the whole build with every problem
listed, so a dashboard can never name a metric the service does not answer.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    heatmap,
    stat,
    table,
    text,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dash_b
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dash_m
from grafana_foundation_sdk.models.heatmap import HeatmapColorMode, HeatmapColorScale
from grafana_foundation_sdk.models.text import TextMode

from success_metrics.calculators import Dimension, Kind, TenantSettings, Unit
from success_metrics.dashboards import infinity, query
from success_metrics.dashboards.layout import DashboardSpec, PanelSpec, Viz
from success_metrics.query.protocol.serialize import grafana_unit

TAG = "success-metrics"
ID_COLUMNS = "/_id$/"

# Every panel asks for this many points whatever its width in pixels: the same panel then sends the same query
# from every screen, so one computation (and the cache warmer's) answers all of them (success_metrics/query/warmer.py)
PANEL_MAX_POINTS = 1000
# which visualisations can show which shape of answer
FITS: Mapping[Kind, frozenset[Viz]] = {
    Kind.STAT: frozenset({Viz.STAT, Viz.BARGAUGE}),
    Kind.TIMESERIES: frozenset({Viz.TIMESERIES, Viz.BARCHART, Viz.STAT}),
    Kind.TABLE: frozenset({Viz.TABLE, Viz.BARGAUGE, Viz.BARCHART, Viz.HEATMAP}),
}


class MetricEntry(Protocol):
    """What the generator reads from a catalog entry (success_metrics.calculators.catalog.MetricDef)."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def unit(self) -> Unit: ...
    @property
    def kind(self) -> Kind: ...
    @property
    def dimensions(self) -> frozenset[Dimension]: ...
    @property
    def lower_is_better(self) -> bool: ...
    @property
    def column_units(self) -> tuple[tuple[str, Unit], ...]: ...


Lookup = Callable[[str], MetricEntry | None]


class DashboardGenerationError(Exception):
    """The specs do not fit the catalog, or a built dashboard not Grafana's model; the message lists every problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("the dashboards cannot be generated:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Theme:
    """What a partner changes: branding (name, logo, colours, domain), currency and targets."""

    name: str
    primary: str
    secondary: str
    logo_url: str | None
    custom_domain: str | None
    currency: str
    targets: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: TenantSettings) -> Theme:
        b = settings.branding
        return cls(name=b.name, primary=b.primary_color, secondary=b.secondary_color, logo_url=b.logo_url,
                   custom_domain=b.custom_domain, currency=settings.currency, targets=dict(settings.targets))


@dataclass(frozen=True)
class Plugin:
    """The data source plugin a dashboard's queries are written for: what each query looks like there."""

    name: str
    ref: Callable[[], dash_m.DataSourceRef]
    panel: Callable[[MetricEntry, dict[str, str]], cogvariants.Dataquery]
    variable: Callable[[str], dict[str, object]]
    annotation: Callable[[str], Any]
    uid_suffix: str = ""


JSON_API = Plugin("json-api", query.datasource_ref, lambda entry, payload: query.JsonApiQuery("A", entry.name, payload),
                  query.variable_query, query.AnnotationQuery)
INFINITY = Plugin("infinity", infinity.datasource_ref,
                  lambda entry, payload: infinity.InfinityQuery(query=infinity.rows_query(
                      "A", entry.name, entry.kind, payload, PANEL_MAX_POINTS)),
                  infinity.variable_query, infinity.AnnotationQuery, uid_suffix="-infinity")
PLUGINS: Mapping[str, Plugin] = {p.name: p for p in (JSON_API, INFINITY)}


def check(specs: Sequence[DashboardSpec], lookup: Lookup) -> None:
    """Raise DashboardGenerationError naming every panel that names no metric or cannot show its kind."""
    problems: list[str] = []
    for spec in specs:
        for panel in spec.panels():
            entry = lookup(panel.metric)
            if entry is None:
                problems.append(f"{spec.uid}: panel names {panel.metric!r}, which is not in the catalog")
            elif panel.viz not in FITS[entry.kind]:
                problems.append(f"{spec.uid}: {panel.metric!r} is a {entry.kind.value} metric; a {panel.viz.value} "
                                f"panel cannot show it (use one of {sorted(v.value for v in FITS[entry.kind])})")
            elif (panel.viz is Viz.HEATMAP) != (panel.matrix is not None):
                problems.append(f"{spec.uid}: {panel.metric!r}: a heatmap of a table needs its (x, y, value) columns "
                                "as `matrix`, and only a heatmap takes one")
    if problems:
        raise DashboardGenerationError(problems)


def dashboard_json(spec: DashboardSpec, lookup: Lookup, theme: Theme, plugin: Plugin = JSON_API) -> dict[str, Any]:
    """One dashboard as the JSON Grafana stores (ids and gridPos assigned, keys in a stable order)."""
    check([spec], lookup)
    board = (
        dash_b.Dashboard(f"{theme.name} · {spec.title}")
        .uid(spec.uid + plugin.uid_suffix)
        .description(spec.description)
        .tags([TAG, spec.uid.removeprefix("sm-")])
        .time(spec.time_from, "now")
        .refresh(spec.refresh)
        .timezone("browser")
        .tooltip(dash_m.DashboardCursorSync.CROSSHAIR)
        .readonly()
        .version(1)
    )
    for link in _links(theme):
        board = board.link(link)
    for dim in spec.variables:
        board = board.with_variable(_variable(dim, plugin))
    built = board.build()
    if built.templating.list_val is None:  # Grafana expects the list even when it is empty
        built.templating.list_val = []
    built.annotations = dash_m.AnnotationContainer(list_val=[_annotation(name, plugin) for name in spec.annotations])
    built.panels = list(_panels(spec, lookup, theme, plugin))
    return json.loads(json.dumps(built, cls=JSONEncoder, sort_keys=True))


# ── layout ───────────────────────────────────────────────────────────────────────────────────

def _panels(spec: DashboardSpec, lookup: Lookup, theme: Theme,
            plugin: Plugin) -> list[dash_m.Panel | dash_m.RowPanel]:
    """Logo, an optional note, then each row: a header and its panels packed under it. Ids follow order."""
    out: list[dash_m.Panel | dash_m.RowPanel] = [_text_panel(_logo_html(theme), h=3, y=0)]
    if spec.note:
        out.append(_text_panel(spec.note, h=3, y=3, markdown=True))
    y = sum(p.grid_pos.h for p in out if p.grid_pos is not None)
    for row in spec.rows:
        out.append(dash_m.RowPanel(title=row.title, grid_pos=dash_m.GridPos(h=1, w=24, x=0, y=y)))
        placed: list[dash_m.Panel] = []
        for panel, pos in zip(row.panels, _pack([(p.width, p.height) for p in row.panels], top=y + 1), strict=True):
            entry = lookup(panel.metric)
            assert entry is not None  # check() ran
            built = _panel(panel, entry, spec.variables, theme, plugin)
            built.grid_pos = pos
            placed.append(built)
        # Grafana (and a phone, which stacks them) reads panels top to bottom, left to right
        out.extend(sorted(placed, key=lambda p: (p.grid_pos.y, p.grid_pos.x)))  # type: ignore[union-attr]
        y = max(p.grid_pos.y + p.grid_pos.h for p in out if p.grid_pos is not None)
    for i, item in enumerate(out, start=1):
        item.id_val = i
    return out


def _pack(sizes: Sequence[tuple[int, int]], top: int) -> list[dash_m.GridPos]:
    """Place each (w, h) at the highest free spot, leftmost on ties: 12×8 then four 6×4 make a 2×2 block."""
    skyline = [top] * 24
    out = []
    for w, h in sizes:
        x = min(range(24 - w + 1), key=lambda i: (max(skyline[i:i + w]), i))
        y = max(skyline[x:x + w])
        skyline[x:x + w] = [y + h] * w
        out.append(dash_m.GridPos(h=h, w=w, x=x, y=y))
    return out


def _text_panel(content: str, *, h: int, y: int, markdown: bool = False) -> dash_m.Panel:
    mode = TextMode.MARKDOWN if markdown else TextMode.HTML
    panel: dash_m.Panel = text.Panel().title("").transparent(True).mode(mode).content(content).build()
    panel.grid_pos = dash_m.GridPos(h=h, w=24, x=0, y=y)
    return panel


def _logo_html(theme: Theme) -> str:
    """The partner's logo and name, full width and short, so it reads on a phone too."""
    logo = (f'<img src="{html.escape(theme.logo_url)}" alt="" '
            'style="height:40px;vertical-align:middle;margin-right:12px">' if theme.logo_url else "")
    return (f'<div style="display:flex;align-items:center;height:100%;border-left:6px solid {theme.primary};'
            f'padding-left:12px">{logo}<span style="font-size:20px;font-weight:600;color:{theme.primary}">'
            f'{html.escape(theme.name, quote=False)}</span></div>')


def _links(theme: Theme) -> list[dash_b.DashboardLink]:
    links = [dash_b.DashboardLink("Dashboards").type(dash_m.DashboardLinkType.DASHBOARDS).tags([TAG])
             .as_dropdown(True).include_vars(True).keep_time(True)]
    if theme.custom_domain:
        links.append(dash_b.DashboardLink(theme.name).type(dash_m.DashboardLinkType.LINK)
                     .url(f"https://{theme.custom_domain}").icon("external link").target_blank(True))
    return links


def _variable(dim: Dimension, plugin: Plugin) -> dash_b.QueryVariable:
    return (
        dash_b.QueryVariable(dim.value)
        .label(dim.value.replace("_", " ").capitalize())
        .datasource(plugin.ref())
        .query(plugin.variable(dim.value))
        .refresh(dash_m.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dash_m.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .include_all(True)
        .all_value(query.ALL_VALUE)
        .current(dash_m.VariableOption(selected=True, text="All", value="$__all"))
    )


_STAT_LABELS: Mapping[str, str] = {"value": "Current period", "previous": "Previous period", "target": "Target"}

_ANNOTATION_COLOURS: Mapping[str, str] = {
    "outages": "red", "degradations": "yellow", "alerts": "orange", "conversion_drops": "dark-red",
    "target_misses": "blue", "policy_changes": "purple", "backfills": "green",
}


def _annotation(name: str, plugin: Plugin) -> dash_m.AnnotationQuery:
    ann = dash_m.AnnotationQuery(name=name.replace("_", " ").capitalize(), datasource=plugin.ref(),
                                 enable=True, hide=False, icon_color=_ANNOTATION_COLOURS.get(name, "blue"))
    # the SDK's annotation target is the built-in Grafana shape; this plugin's is a normal query
    ann.target = plugin.annotation(name)
    return ann


# ── one panel ────────────────────────────────────────────────────────────────────────────────

def _panel(spec: PanelSpec, entry: MetricEntry, variables: Sequence[Dimension], theme: Theme,
           plugin: Plugin) -> dash_m.Panel:
    target = query.QueryBuilder(plugin.panel(
        entry, {d.value: f"${d.value}" for d in variables if d in entry.dimensions} | dict(spec.payload)))
    unit = grafana_unit(entry.unit, theme.currency)
    target_value = theme.targets.get(entry.name)
    thresholds = _thresholds(entry.lower_is_better, target_value)
    # a target colours by thresholds; otherwise the brand: lines in the primary colour, bars in the secondary
    brand = theme.secondary if spec.viz in (Viz.BARCHART, Viz.BARGAUGE) else theme.primary
    colour = (dash_b.FieldColor().mode(dash_m.FieldColorModeId.THRESHOLDS) if target_value is not None
              else dash_b.FieldColor().mode(dash_m.FieldColorModeId.SHADES).fixed_color(brand))
    builder: Any
    match spec.viz:
        case Viz.STAT:
            builder = (stat.Panel().graph_mode(common.BigValueGraphMode.AREA)
                       .color_mode(common.BigValueColorMode.VALUE)
                       .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False)))
            if entry.kind is Kind.STAT:  # the answer's value / previous / target columns, named for a reader
                for column, label in _STAT_LABELS.items():
                    builder = builder.override_by_name(column, [dash_m.DynamicConfigValue("displayName", label)])
        case Viz.TIMESERIES:
            builder = (timeseries.Panel().line_width(2).fill_opacity(10).span_nulls(False)
                       .legend(common_b.VizLegendOptions().show_legend(True)
                               .display_mode(common.LegendDisplayMode.LIST)
                               .placement(common.LegendPlacement.BOTTOM).calcs([]))
                       .tooltip(common_b.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                                .sort(common.SortOrder.DESCENDING))
                       .thresholds_style(common_b.GraphThresholdsStyleConfig().mode(
                           common.GraphThresholdsStyleMode.DASHED if target_value is not None
                           else common.GraphThresholdsStyleMode.OFF)))
        case Viz.TABLE:
            # ids are for joins and masking, not for reading: hidden, so a table fits a phone
            builder = (table.Panel().cell_height(common.TableCellHeight.SM).show_header(True)
                       .override_by_regexp(ID_COLUMNS, [dash_m.DynamicConfigValue("custom.hidden", True)]))
        case Viz.BARGAUGE:
            builder = (bargauge.Panel().display_mode(common.BarGaugeDisplayMode.GRADIENT)
                       .orientation(common.VizOrientation.HORIZONTAL).show_unfilled(True)
                       .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"])
                                       .values(entry.kind is Kind.TABLE)))
        case Viz.BARCHART:
            builder = (barchart.Panel().orientation(common.VizOrientation.AUTO).show_value(common.VisibilityMode.AUTO)
                       .legend(common_b.VizLegendOptions().show_legend(True)
                               .display_mode(common.LegendDisplayMode.LIST)
                               .placement(common.LegendPlacement.BOTTOM).calcs([])))
        case Viz.HEATMAP:
            builder = (heatmap.Panel().calculate(False)
                       .color(heatmap.HeatmapColorOptions().mode(HeatmapColorMode.OPACITY).fill(theme.primary)
                              .scale(HeatmapColorScale.EXPONENTIAL).exponent(0.5).steps(64))
                       .cell_values(heatmap.CellValues().unit(unit or "none")))
    for column, column_unit in entry.column_units:  # a table whose columns each have their own unit
        builder = builder.override_by_name(
            column, [dash_m.DynamicConfigValue("unit", grafana_unit(column_unit, theme.currency))])
    builder = (builder.title(spec.title or entry.title).description(entry.description)
               .datasource(plugin.ref()).targets([target]).max_data_points(PANEL_MAX_POINTS)
               .thresholds(thresholds).color_scheme(colour))
    if spec.matrix:
        x, y, value = spec.matrix
        builder = builder.with_transformation(dash_m.DataTransformerConfig(
            id_val="groupingToMatrix", options={"rowField": x, "columnField": y, "valueField": value}))
    if unit:
        builder = builder.unit(unit)
    panel: dash_m.Panel = builder.build()
    return panel


def _thresholds(lower_is_better: bool, target: float | None) -> dash_b.ThresholdsConfig:
    """A target becomes colour steps: reaching it is green, within 10 % amber, otherwise red."""
    if target is None:
        steps = [dash_m.Threshold(value=None, color="text")]
    elif not lower_is_better:
        steps = [dash_m.Threshold(value=None, color="red"), dash_m.Threshold(value=0.9 * target, color="orange"),
                 dash_m.Threshold(value=target, color="green")]
    else:
        steps = [dash_m.Threshold(value=None, color="green"), dash_m.Threshold(value=target, color="orange"),
                 dash_m.Threshold(value=1.1 * target, color="red")]
    return dash_b.ThresholdsConfig().mode(dash_m.ThresholdsMode.ABSOLUTE).steps(steps)

