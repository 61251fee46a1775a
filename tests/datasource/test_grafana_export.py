"""White-label export: a partner's files differ from another's only where branding and targets differ."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from success_metrics.calculators import TenantSettings
from success_metrics.calculators.tenant_settings import Branding
from success_metrics.tools import cli
from success_metrics.storage import tenants as tenant_store
from success_metrics.dashboards import ExportError, export, export_stored
from success_metrics.storage.pool import Database

ROOT = Path(__file__).resolve().parents[2]

ACME = Branding(name="Acme Insights", logo_url="https://acme.example/logo.png", primary_color="#aa0000",
                secondary_color="#00aa00", custom_domain="insights.acme.example")
GLOBEX = Branding(name="Globex Metrics", logo_url=None, primary_color="#0000bb", secondary_color="#bbbb00")


def boards(out: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((out / "dashboards").glob("*.json"))}


def diff(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield f"{path}/{key}"
            else:
                yield from diff(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from diff(x, y, f"{path}/{i}")
    elif a != b:
        yield path


def panel_index(board: dict[str, Any], metric: str) -> list[int]:
    return [i for i, p in enumerate(board["panels"]) for t in p.get("targets", []) if t["target"] == metric]


def write(tmp_path: Path, name: str, settings: TenantSettings) -> dict[str, dict[str, Any]]:
    export(settings, name, tmp_path / name, "https://sm.example.com")
    return boards(tmp_path / name)


def test_two_partners_differ_only_in_branding_and_targets(tmp_path: Path) -> None:
    acme = write(tmp_path, "acme", TenantSettings(branding=ACME, targets={"roi.monthly": 5000.0}))
    globex = write(tmp_path, "globex", TenantSettings(branding=GLOBEX, targets={"roi.monthly": 3000.0}))
    assert acme.keys() == globex.keys() and len(acme) == 6
    branding_paths = [r"/title", r"/panels/0/options/content", r"/links(/.*)?",
                      r"/panels/\d+/fieldConfig/defaults/color/fixedColor", r"/panels/\d+/options/color/fill"]
    for name in acme:
        roi = panel_index(acme[name], "roi.monthly")
        allowed = branding_paths + [fr"/panels/{i}/fieldConfig/defaults/thresholds/steps/\d+/value" for i in roi]
        changed = list(diff(acme[name], globex[name]))
        stray = [p for p in changed if not any(re.fullmatch(rx, p) for rx in allowed)]
        assert not stray, f"{name}: differs beyond branding and targets at {stray}"
        assert "/title" in changed and "/panels/0/options/content" in changed
    executive = "executive-summary.json"
    assert acme[executive]["title"] == "Acme Insights · Executive Summary"
    assert globex[executive]["title"] == "Globex Metrics · Executive Summary"
    assert 'src="https://acme.example/logo.png"' in acme[executive]["panels"][0]["options"]["content"]
    assert "<img" not in globex[executive]["panels"][0]["options"]["content"]
    colours = {(p["type"], p["fieldConfig"]["defaults"]["color"].get("fixedColor"))
               for b in acme.values() for p in b["panels"] if p["type"] in ("timeseries", "barchart")}
    assert colours == {("timeseries", "#aa0000"), ("barchart", "#00aa00")}  # lines primary, bars secondary
    assert any(link.get("url") == "https://insights.acme.example" for link in acme[executive]["links"])
    assert all(link["type"] == "dashboards" for link in globex[executive]["links"])
    [roi] = panel_index(acme[executive], "roi.monthly")

    def steps(b: dict[str, dict[str, Any]]) -> list[float | None]:
        return [s["value"] for s in b[executive]["panels"][roi]["fieldConfig"]["defaults"]["thresholds"]["steps"]]

    assert steps(acme) == [None, 4500.0, 5000.0]  # ROI 5,000 %: amber from 0.9 × 5,000 = 4,500
    assert steps(globex) == [None, 2700.0, 3000.0]  # ROI 3,000 %: amber from 0.9 × 3,000 = 2,700


def test_same_branding_different_targets_changes_thresholds_only(tmp_path: Path) -> None:
    # a lower-is-better target: green below it, amber to 110 %, red beyond
    # (MTTR in ms: 4 h = 4 × 3,600,000 = 14,400,000; 110 % of it = 15,840,000)
    a = write(tmp_path, "a", TenantSettings(branding=ACME, targets={"errors.mttr": 14_400_000.0}))
    b = write(tmp_path, "b", TenantSettings(branding=ACME))
    board = "operations-monitor.json"
    [mttr] = panel_index(a[board], "errors.mttr")
    changed = set(diff(a[board], b[board]))
    assert changed and all(p.startswith(f"/panels/{mttr}/fieldConfig/defaults/") for p in changed)
    steps = a[board]["panels"][mttr]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [{"color": "green", "value": None}, {"color": "orange", "value": 14_400_000.0},
                     {"color": "red", "value": pytest.approx(15_840_000.0)}]
    for other in a.keys() - {board}:
        assert a[other] == b[other]


def test_default_settings_export_equals_the_committed_dashboards(tmp_path: Path) -> None:
    out = write(tmp_path, "plain", TenantSettings())
    assert out == {p.name: json.loads(p.read_text()) for p in sorted((ROOT / "dashboards").glob("*.json"))}


def test_export_refuses_a_url_that_is_not_http(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="must be an http"):
        export(TenantSettings(), "acme", tmp_path, "sm.example.com")
    assert not (tmp_path / "dashboards").exists()


async def test_export_reads_the_tenants_stored_settings(
    db: Database, new_tenant_id: Callable[[str], str], tmp_path: Path
) -> None:
    from success_metrics.settings import TenantConfig

    tid = new_tenant_id("brand")
    async with db.system() as conn:
        await tenant_store.upsert(conn, TenantConfig(id=tid, name="Acme", settings=TenantSettings(branding=ACME)))
    written = await export_stored(db, tid, tmp_path, "https://sm.example.com")
    assert len(written) == 6 + 6 + 5  # both plugins' dashboards, five provisioning files
    assert boards(tmp_path)["agent-performance.json"]["title"] == "Acme Insights · Agent Performance"
    assert 'name: "Acme Insights"' in (tmp_path / "grafana-provisioning/datasources/success-metrics.yaml").read_text()
    with pytest.raises(ExportError, match="unknown tenant 'nobody-here'"):
        await export_stored(db, "nobody-here", tmp_path / "x")


def test_cli_generate_writes_the_committed_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli.app, ["dashboards", "generate", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "wrote 17 file(s)" in result.output
    written = (tmp_path / "dashboards/system-health.json").read_text()
    assert written == (ROOT / "dashboards/system-health.json").read_text()
