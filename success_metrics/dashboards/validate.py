"""Is a dashboard valid for Grafana? Checked against Grafana's own dashboard model, plus the rules of ours.

Grafana's model is the foundation SDK's (generated from Grafana 11.6's schema, panel plugins'
options included): a dashboard is read into it and written back, and every member that does not
survive the trip is one Grafana does not know (a misspelling, a wrong place, a wrong panel option).
The rules of ours are what the model cannot say: ids unique, panels inside 24 columns and not
overlapping, every query aimed at this data source by its stable uid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from grafana_foundation_sdk.cog import plugins as cogplugins
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from success_metrics.dashboards import infinity
from success_metrics.dashboards.query import PLUGIN_ID, JsonApiQuery, datasource_ref

MIN_SCHEMA_VERSION = 39
GRID_COLUMNS = 24
PANEL_TYPES = frozenset({"stat", "timeseries", "table", "bargauge", "heatmap", "barchart", "text", "row"})

cogplugins.register_default_plugins()
cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(identifier=PLUGIN_ID,
                                                                 from_json_hook=JsonApiQuery.from_json))
cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(identifier=infinity.PLUGIN_ID,
                                                                 from_json_hook=infinity.InfinityQuery.from_json))


def problems(board: dict[str, Any]) -> list[str]:
    """Every way ``board`` breaks Grafana's model or our rules; empty when it is valid."""
    found = list(_model_problems(board))
    if found:  # the rest assumes the shape the model guarantees
        return found
    found += _schema_version(board)
    found += _panels(board)
    found += _variables(board)
    found += _annotations(board)
    return found


def _model_problems(board: dict[str, Any]) -> Iterator[str]:
    try:
        model = Dashboard.from_json(board)
        again = json.loads(json.dumps(model, cls=JSONEncoder))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        yield f"not a Grafana dashboard: {type(exc).__name__}: {exc}"
        return
    # the SDK models an annotation's target as the built-in data source's; ours is a plugin query
    for ann in board.get("annotations", {}).get("list", []):
        if not isinstance(ann, dict) or "target" not in ann:
            continue
        target = ann["target"]
        keys = set(target) if isinstance(target, dict) else set()
        if _infinity(board):
            if not isinstance(target, dict) or _infinity_metric(target) is None:
                yield f"annotations: {ann.get('name')!r} target must be an Infinity query of {infinity.ROWS_PATH}"
        elif keys != {"refId", "editorMode", "target", "payload"}:
            yield f"annotations: {ann.get('name')!r} target must have refId, editorMode, target, payload"
    stripped = _without_annotation_targets(board)
    yield from _differences(stripped, _without_annotation_targets(again), "")


def _without_annotation_targets(board: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(board))
    for ann in copy.get("annotations", {}).get("list", []):
        if isinstance(ann, dict):
            ann.pop("target", None)
    return copy


def _differences(mine: Any, model: Any, path: str) -> Iterator[str]:
    """Members of ``mine`` that Grafana's model does not keep, or keeps differently."""
    if isinstance(mine, dict) and isinstance(model, dict):
        for key, value in mine.items():
            if key not in model:
                yield f"{path or '/'}: {key!r} is not part of Grafana's dashboard model here"
            else:
                yield from _differences(value, model[key], f"{path}/{key}")
    elif isinstance(mine, list) and isinstance(model, list):
        if len(mine) != len(model):
            yield f"{path}: {len(mine)} items, the model keeps {len(model)}"
        for i, (a, b) in enumerate(zip(mine, model, strict=False)):
            yield from _differences(a, b, f"{path}/{i}")
    elif mine != model and not (isinstance(mine, (int, float)) and isinstance(model, (int, float))
                                and not isinstance(mine, bool) and float(mine) == float(model)):
        yield f"{path}: {mine!r} reads back as {model!r}"


def _schema_version(board: dict[str, Any]) -> list[str]:
    version = board.get("schemaVersion", 0)
    ok = isinstance(version, int) and version >= MIN_SCHEMA_VERSION
    return [] if ok else [f"schemaVersion {version!r} is older than {MIN_SCHEMA_VERSION}"]


def _infinity(board: dict[str, Any]) -> bool:
    """A board of the Infinity variant (build.INFINITY): its uid says so."""
    return str(board.get("uid", "")).endswith("-infinity")


def _ref(board: dict[str, Any]) -> dict[str, Any]:
    return (infinity.datasource_ref() if _infinity(board) else datasource_ref()).to_json()


def _infinity_metric(query: dict[str, Any]) -> str | None:
    """The metric an Infinity query of /query/rows names, when it is one the backend parser reads."""
    options = query.get("url_options") or {}
    if (query.get("url"), query.get("parser"), query.get("root_selector"), options.get("method")) != (
            infinity.ROWS_PATH, "backend", "rows", "POST"):
        return None
    data = str(options.get("data", "")).replace("${__timeFrom}", "0").replace("${__timeTo}", "1")
    try:
        [target] = json.loads(data)["targets"]
    except (ValueError, KeyError, TypeError):
        return None
    metric = target.get("target") if isinstance(target, dict) and isinstance(target.get("payload"), dict) else None
    return metric if isinstance(metric, str) else None


def _target_ok(board: dict[str, Any], t: dict[str, Any], ref: dict[str, Any]) -> bool:
    if t.get("datasource") != ref:
        return False
    if _infinity(board):
        return _infinity_metric(t) is not None
    return isinstance(t.get("target"), str) and isinstance(t.get("payload"), dict)


def _panels(board: dict[str, Any]) -> list[str]:
    out: list[str] = []
    seen_ids: set[int] = set()
    cells: dict[tuple[int, int], int] = {}
    ref = _ref(board)
    for panel in board.get("panels") or []:
        pid, kind, pos = panel.get("id"), panel.get("type"), panel.get("gridPos") or {}
        where = f"panel {pid} ({panel.get('title')!r})"
        if pid in seen_ids:
            out.append(f"{where}: id used twice")
        seen_ids.add(pid)
        if kind not in PANEL_TYPES:
            out.append(f"{where}: panel type {kind!r} is not one we use")
        x, y, w, h = (pos.get(k, -1) for k in ("x", "y", "w", "h"))
        if min(x, y) < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            out.append(f"{where}: gridPos {pos} falls outside the {GRID_COLUMNS}-column grid")
            continue
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    out.append(f"{where}: overlaps panel {cells[(cx, cy)]} at column {cx}, row {cy}")
                    break
                cells[(cx, cy)] = pid
            else:
                continue
            break
        if kind in ("row", "text"):
            continue
        if panel.get("datasource") != ref:
            out.append(f"{where}: datasource must be {ref}")
        targets = panel.get("targets") or []
        if not targets:
            out.append(f"{where}: has no query")
        for t in targets:
            if not _target_ok(board, t, ref):
                out.append(f"{where}: target {t.get('refId')!r} must name a metric of this data source, "
                           "with an object payload")
    return out


def _variables(board: dict[str, Any]) -> list[str]:
    out: list[str] = []
    ref = _ref(board)
    for var in (board.get("templating") or {}).get("list") or []:
        query = var.get("query")
        if var.get("type") != "query" or var.get("datasource") != ref:
            out.append(f"variable {var.get('name')!r}: must be a query variable on this data source")
        elif _infinity(board):
            inner = query.get("infinityQuery") if isinstance(query, dict) else None
            if not (isinstance(inner, dict) and inner.get("url") == "/variable"
                    and f'"target": "{var.get("name")}"' in str((inner.get("url_options") or {}).get("data"))):
                out.append(f"variable {var.get('name')!r}: must be an Infinity query of /variable for its name")
        elif not (isinstance(query, dict) and query.get("format") == "json"
                  and json.loads(str(query.get("query"))).get("target") == var.get("name")):
            out.append(f"variable {var.get('name')!r}: query must be JSON {{\"target\": \"{var.get('name')}\"}}")
    return out


def _annotations(board: dict[str, Any]) -> list[str]:
    ref = _ref(board)
    return [f"annotation {a.get('name')!r}: must query this data source"
            for a in (board.get("annotations") or {}).get("list") or [] if a.get("datasource") != ref]
