"""The committed dashboards: generated, catalog-true, valid for Grafana, and readable on a phone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from success_metrics.calculators import Dimension, Kind, all_metrics
from success_metrics.dashboards import DASHBOARDS, DashboardGenerationError, generate, validate
from success_metrics.dashboards.build import FITS, PANEL_MAX_POINTS, Theme, check, dashboard_json
from success_metrics.dashboards.export import lookup as _lookup
from success_metrics.dashboards.layout import DashboardSpec, PanelSpec, RowSpec, Viz
from success_metrics.dashboards.query import DATASOURCE_UID, PLUGIN_ID

ROOT = Path(__file__).resolve().parents[2]
BOARD_DIR = ROOT / "dashboards"


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(BOARD_DIR.glob("*.json"))}


def data_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] not in ("row", "text")]


def test_six_dashboards_with_stable_uids_are_committed() -> None:
    boards = committed()
    assert sorted(b["uid"] for b in boards.values()) == sorted([
        "sm-executive-summary", "sm-operations-monitor", "sm-lead-analytics", "sm-agent-performance",
        "sm-system-health", "sm-access-audit"])
    titles = {b["title"] for b in boards.values()}
    assert "Success Metrics · Executive Summary" in titles and "Success Metrics · Access Audit" in titles


def test_committed_json_is_what_the_generator_writes(tmp_path: Path) -> None:
    """Drift: editing a dashboard by hand, or the generator without `success-metrics dashboards generate`."""
    generate(tmp_path)
    fresh = {p.name: p.read_text(encoding="utf-8") for p in sorted((tmp_path / "dashboards").glob("*.json"))}
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in sorted(BOARD_DIR.glob("*.json"))}
    assert fresh == on_disk, "dashboards/ is stale: run `success-metrics dashboards generate`"
    fresh_infinity = {p.name: p.read_text(encoding="utf-8")
                      for p in sorted((tmp_path / "dashboards/infinity").glob("*.json"))}
    assert fresh_infinity == {p.name: p.read_text(encoding="utf-8") for p in sorted((BOARD_DIR / "infinity")
                                                                                  .glob("*.json"))}, \
        "dashboards/infinity/ is stale: run `success-metrics dashboards generate`"
    for rel in ("datasources/success-metrics.yaml", "datasources/success-metrics-infinity.yaml",
                "dashboards/success-metrics.yaml", "dashboards/success-metrics-infinity.yaml",
                "alerting/success-metrics-alerts.yaml"):
        assert (tmp_path / "grafana-provisioning" / rel).read_text() == \
            (ROOT / "grafana-provisioning" / rel).read_text(), f"grafana-provisioning/{rel} is stale"


@pytest.mark.parametrize("name", sorted(p.name for p in BOARD_DIR.glob("*.json")))
def test_each_dashboard_is_valid_for_grafanas_model(name: str) -> None:
    board = committed()[name]
    assert validate.problems(board) == []
    assert board["schemaVersion"] >= 39


def test_every_panel_target_exists_in_the_catalog_and_fits_its_kind() -> None:
    metrics = {m.name: m for m in all_metrics()}
    seen = 0
    for name, board in committed().items():
        for panel in data_panels(board):
            for target in panel["targets"]:
                metric = metrics.get(target["target"])
                assert metric is not None, f"{name}: panel {panel['title']!r} names unknown {target['target']!r}"
                assert Viz(panel["type"]) in FITS[metric.kind], f"{name}: {metric.name} in a {panel['type']} panel"
                # the panel passes only the dashboard variables its metric can be filtered by
                assert {Dimension(k) for k in target["payload"]} <= metric.dimensions
                seen += 1
    assert seen >= 40  # six dashboards of the spec: 8 + 11 + 8 + 7 + 7 + ... panels


def test_every_dashboard_metric_of_the_catalog_is_on_a_dashboard() -> None:
    shown = {t["target"] for board in committed().values() for p in data_panels(board) for t in p["targets"]}
    missing = sorted(m.name for m in all_metrics() if m.dashboard and m.name not in shown)
    assert not missing, f"catalog metrics meant for a dashboard but on none: {missing}"


def test_template_variables_and_annotations_query_this_data_source() -> None:
    ref = {"type": PLUGIN_ID, "uid": DATASOURCE_UID}
    variables: set[str] = set()
    for board in committed().values():
        for var in board["templating"]["list"]:
            assert var["type"] == "query" and var["datasource"] == ref
            assert json.loads(var["query"]["query"]) == {"target": var["name"]}
            assert var["includeAll"] is True and var["allValue"] == "*"
            variables.add(var["name"])
        for ann in board["annotations"]["list"]:
            assert ann["datasource"] == ref and ann["target"]["refId"] == "Anno" and ann["target"]["target"]
    assert variables == {"team", "agent", "source", "location", "channel"}
    marked = {b["uid"]: {a["target"]["target"] for a in b["annotations"]["list"]} for b in committed().values()}
    assert all("outages" in kinds for kinds in marked.values())
    assert "alerts" in marked["sm-executive-summary"] and "degradations" in marked["sm-operations-monitor"]
    # policy changes are audit data: only the auditors' dashboard asks for them
    assert [uid for uid, kinds in marked.items() if "policy_changes" in kinds] == ["sm-access-audit"]


def test_panel_types_fit_the_data() -> None:
    types = {p["type"] for board in committed().values() for p in data_panels(board)}
    assert types == {"stat", "timeseries", "table", "bargauge", "heatmap", "barchart"}
    by_metric = {t["target"]: p["type"] for b in committed().values() for p in data_panels(b) for t in p["targets"]}
    assert by_metric["behavior.best_contact_times"] == "heatmap"  # weekday × hour
    assert by_metric["agents.scorecard"] == "table"


def test_spec_targets_are_thresholds_with_units() -> None:
    exec_board = committed()["executive-summary.json"]
    roi = next(p for p in exec_board["panels"] if p.get("title") == "Total ROI")
    # the spec's ROI target 4,000 % (the catalog's percentages run 0–100): amber from 0.9 × 4,000 = 3,600
    assert roi["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "red", "value": None}, {"color": "orange", "value": 3600.0}, {"color": "green", "value": 4000.0}]
    assert roi["fieldConfig"]["defaults"]["unit"] == "percent"
    labels = {o["matcher"]["options"]: o["properties"][0]["value"] for o in roi["fieldConfig"]["overrides"]}
    assert labels == {"value": "Current period", "previous": "Previous period", "target": "Target"}
    savings = next(p for p in exec_board["panels"] if p.get("title") == "Monthly savings")
    assert savings["fieldConfig"]["defaults"]["unit"] == "currencyUSD"
    # $35,000: amber from 0.9 × 35,000 = 31,500
    assert [s["value"] for s in savings["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 31_500.0, 35_000.0]


def test_layout_reads_on_a_phone() -> None:
    """Grafana stacks panels full width below 769 px; each must keep a readable height, and on a desktop
    no panel is narrower than a quarter of the grid."""
    for name, board in committed().items():
        for panel in data_panels(board):
            pos = panel["gridPos"]
            assert pos["w"] >= 6 and pos["h"] >= 4, f"{name}: {panel['title']!r} is too small ({pos})"
            if panel["type"] in ("table", "timeseries", "heatmap", "barchart"):
                assert pos["h"] >= 6, f"{name}: {panel['title']!r} needs height for a chart or table"


# ── the checks themselves can fail ───────────────────────────────────────────────────────────

def _spec(*panels: PanelSpec) -> DashboardSpec:
    return DashboardSpec(uid="sm-test", title="Test", description="", variables=(Dimension.TEAM,), annotations=(),
                         rows=(RowSpec("Row", panels),))


def test_a_panel_naming_an_unknown_metric_fails_the_build() -> None:
    with pytest.raises(DashboardGenerationError) as err:
        check([_spec(PanelSpec("roi.monthy", Viz.STAT))], _lookup)
    assert "'roi.monthy', which is not in the catalog" in str(err.value)


def test_a_panel_that_cannot_show_its_metrics_kind_fails_the_build() -> None:
    table_metric = next(m for m in all_metrics() if m.kind is Kind.TABLE)
    with pytest.raises(DashboardGenerationError) as err:
        check([_spec(PanelSpec(table_metric.name, Viz.TIMESERIES))], _lookup)
    assert f"{table_metric.name!r} is a table metric; a timeseries panel cannot show it" in str(err.value)


def test_the_model_check_catches_what_grafana_would_not_read() -> None:
    board = dashboard_json(DASHBOARDS[0], _lookup, Theme("X", "#000000", "#ffffff", None, None, "USD"))
    assert validate.problems(board) == []
    stat = next(p for p in board["panels"] if p["type"] == "stat")
    stat["options"]["colourMode"] = "value"  # misspelt option
    board["panels"][-1]["gridpos"] = board["panels"][-1].pop("gridPos")  # misspelt member
    found = validate.problems(board)
    assert any("'colourMode' is not part of Grafana's dashboard model" in p for p in found)
    assert any("'gridpos' is not part of Grafana's dashboard model" in p for p in found)


def test_the_layout_check_catches_overlap_and_overflow() -> None:
    board = dashboard_json(DASHBOARDS[0], _lookup, Theme("X", "#000000", "#ffffff", None, None, "USD"))
    panels = data_panels(board)
    panels[1]["gridPos"] = dict(panels[0]["gridPos"])  # on top of its neighbour
    panels[2]["gridPos"]["x"] = 20  # 20 + 6 > 24 columns
    found = validate.problems(board)
    assert any(f"overlaps panel {panels[0]['id']}" in p for p in found)
    assert any("falls outside the 24-column grid" in p for p in found)


def test_a_heatmap_of_a_table_must_say_how_to_pivot_it() -> None:
    with pytest.raises(DashboardGenerationError, match="needs its \\(x, y, value\\) columns"):
        check([_spec(PanelSpec("behavior.best_contact_times", Viz.HEATMAP))], _lookup)
    check([_spec(PanelSpec("behavior.best_contact_times", Viz.HEATMAP, matrix=("hour", "weekday", "attempts")))],
          _lookup)


def test_every_panel_asks_for_a_fixed_number_of_points() -> None:
    """Grafana sends a panel's maxDataPoints as its width in pixels unless the panel fixes it; fixed, the same
    panel sends the same query from every screen, which the result cache and its warmer rely on."""
    for name, board in committed().items():
        for panel in data_panels(board):
            assert panel.get("maxDataPoints") == PANEL_MAX_POINTS, (name, panel["title"])


@pytest.mark.parametrize("name", sorted(p.name for p in (BOARD_DIR / "infinity").glob("*.json")))
def test_each_infinity_dashboard_is_valid_and_queries_rows_with_the_backend_parser(name: str) -> None:
    """The Infinity variant: Grafana's model, the same panels as the JSON API board, every query one metric of
    /query/rows read by the backend parser (so it runs on Grafana's server: alerting, public dashboards)."""
    board = json.loads((BOARD_DIR / "infinity" / name).read_text(encoding="utf-8"))
    assert validate.problems(board) == []
    twin = committed()[name]
    assert board["uid"] == twin["uid"] + "-infinity"
    assert [p["title"] for p in board["panels"]] == [p["title"] for p in twin["panels"]]
    for panel, other in zip(data_panels(board), data_panels(twin), strict=True):
        [target] = panel["targets"]
        body = json.loads(target["url_options"]["data"].replace("${__timeFrom}", "0").replace("${__timeTo}", "1"))
        assert body["targets"][0]["target"] == other["targets"][0]["target"]
        assert body["targets"][0]["payload"] == other["targets"][0]["payload"]
        assert (target["parser"], target["root_selector"]) == ("backend", "rows")
