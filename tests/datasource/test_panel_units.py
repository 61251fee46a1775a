"""Every figure a committed dashboard panel shows carries its own unit in the panel's field config.

Grafana (through the JSON API plugin) takes units from field config only, so a table whose columns have
different units (hours beside percent beside money) needs an override per column. Each table metric a
dashboard shows is computed on the calculators' fixture tenant and each number column's unit compared with
what the panel would display it in.
"""

from __future__ import annotations

from typing import Any

from success_metrics.calculators import ColumnType, Kind, Unit, get_metric, shapes
from success_metrics.query.protocol.serialize import grafana_unit
from success_metrics.storage.pool import Database
from tests.calculators import fixture
from tests.datasource.test_grafana_dashboards import committed, data_panels


def _displayed_unit(panel: dict[str, Any], column: str) -> str | None:
    """The unit Grafana shows ``column`` in: its override by name, else the panel default."""
    for override in panel["fieldConfig"].get("overrides", []):
        if override["matcher"] == {"id": "byName", "options": column}:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    return str(prop["value"])
    unit = panel["fieldConfig"]["defaults"].get("unit")
    return None if unit is None else str(unit)


async def test_every_number_column_of_a_table_panel_has_its_unit(db: Database,
                                                                 new_tenant_id: Any) -> None:
    tenant = new_tenant_id("units")
    await fixture.load(db, tenant, fixture.EVENTS_A)
    wrong = []
    for board in committed().values():
        for panel in data_panels(board):
            name = panel["targets"][0]["target"]
            if get_metric(name).kind is not Kind.TABLE or panel["type"] != "table":
                continue
            frame = await fixture.run(db, tenant, name, *fixture.FEB, interval_ms=86_400_000, max_points=100)
            for column in frame.columns:
                if column.type is not ColumnType.NUMBER or column.unit is None:
                    continue
                want = grafana_unit(column.unit, "USD")
                got = _displayed_unit(panel, column.name)
                if got != want:
                    wrong.append(f"{board['uid']} / {panel['title']} / {column.name}: shows {got}, is {want}")
    assert not wrong, "\n".join(wrong)


def test_a_stat_carries_its_change_against_the_previous_period() -> None:
    # (120 - 100) / 100 = +20 %, (80 - 100) / 100 = -20 %; no previous figure, or a zero one: no change
    assert shapes.stat("x", 120.0, 100.0, None, Unit.PERCENT).column("change").values == (0.2,)
    assert shapes.stat("x", 80.0, 100.0, None, Unit.PERCENT).column("change").values == (-0.2,)
    assert shapes.stat("x", 80.0, 0.0, None, Unit.PERCENT).column("change").values == (None,)
    assert shapes.stat("x", 80.0, None, None, Unit.PERCENT).column("change").unit is Unit.RATIO
