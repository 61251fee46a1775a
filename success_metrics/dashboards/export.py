"""Write dashboards and provisioning: the committed defaults (``generate``) or one partner's (``export``).

Both render the same specs; a partner's export differs from the committed files only where its
branding (name, logo, colours, domain), currency and targets differ.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from success_metrics.calculators import TenantSettings, UnknownMetric, get_metric
from success_metrics.storage import tenants
from success_metrics.dashboards import provisioning, validate
from success_metrics.dashboards.build import (
    JSON_API,
    PLUGINS,
    DashboardGenerationError,
    MetricEntry,
    Plugin,
    Theme,
    check,
    dashboard_json,
)
from success_metrics.dashboards.layout import DASHBOARDS
from success_metrics.storage import Database

# The spec's monthly targets (Executive Summary, "Target" column), in the catalog's units:
# ROI 4,000 % (the catalog's percentages are 0–100), savings $35,000, attributed revenue $100,000, 120 hours.
SPEC_TARGETS: Mapping[str, float] = {
    "roi.monthly": 4000.0,
    "savings.monthly": 35_000.0,
    "revenue.attributed": 100_000.0,
    "time_savings.hours": 120.0,
}


_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


def lookup(name: str) -> MetricEntry | None:
    try:
        return get_metric(name)
    except UnknownMetric:
        return None


def theme_for(settings: TenantSettings) -> Theme:
    """The tenant's branding, with its own targets over the spec's."""
    return Theme.of(settings.model_copy(update={"targets": {**SPEC_TARGETS, **settings.targets}}))


# where each plugin's dashboards are written, under the root (Grafana loads each folder with its own provider)
BOARD_DIRS: Mapping[str, str] = {"json-api": "dashboards", "infinity": "dashboards/infinity"}


def render_dashboards(theme: Theme, plugin: Plugin = JSON_API) -> dict[str, dict[str, Any]]:
    """File name → dashboard JSON, for all six dashboards, each checked against Grafana's model."""
    check(DASHBOARDS, lookup)
    boards = {f"{spec.uid.removeprefix('sm-')}.json": dashboard_json(spec, lookup, theme, plugin)
              for spec in DASHBOARDS}
    invalid = [f"{name}: {p}" for name, board in boards.items() for p in validate.problems(board)]
    if invalid:
        raise DashboardGenerationError(invalid)
    return boards


def dumps(board: Mapping[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate(root: Path, plugins: tuple[str, ...] = tuple(PLUGINS)) -> list[Path]:
    """Rewrite ``dashboards/`` (JSON API plugin), ``dashboards/infinity/`` and ``grafana-provisioning/`` under the
    repository root with the defaults; ``plugins`` names which dashboards to write."""
    return _write(root, theme_for(TenantSettings()), provisioning.Target(), clean=True, plugins=plugins)


def export(settings: TenantSettings, tenant_id: str, out: Path, service_url: str | None = None) -> list[Path]:
    """Write one partner's ``dashboards/`` and ``grafana-provisioning/`` under ``out``."""
    _check_url(service_url)
    target = provisioning.Target(name=settings.branding.name, url=service_url or provisioning.PLACEHOLDER_URL,
                                 tenant=tenant_id)
    return _write(out, theme_for(settings), target, clean=False)


class ExportError(Exception):
    """The export cannot be made as asked; the message says what to change."""


async def export_stored(db: Database, tenant_id: str, out: Path, service_url: str | None = None) -> list[Path]:
    """``export`` with the tenant's settings as stored (what its computations use)."""
    _check_url(service_url)
    async with db.system() as conn:
        if not await conn.fetchval("SELECT true FROM tenants WHERE tenant_id = $1", tenant_id):
            raise ExportError(f"unknown tenant {tenant_id!r}: add it to SM_CONFIG (tenants:) or create it first")
        settings = await tenants.load_settings(conn, tenant_id)
    return export(settings, tenant_id, out, service_url)


def _check_url(service_url: str | None) -> None:
    if service_url is not None and not _URL.fullmatch(service_url):
        raise ExportError(f"--url {service_url!r} must be an http(s) address such as https://metrics.example.com")


def _write(root: Path, theme: Theme, target: provisioning.Target, *, clean: bool,
           plugins: tuple[str, ...] = tuple(PLUGINS)) -> list[Path]:
    # before touching any file: a catalog mismatch writes nothing
    rendered = {name: render_dashboards(theme, PLUGINS[name]) for name in plugins}
    written: list[Path] = []
    for name, boards in rendered.items():
        board_dir = root / BOARD_DIRS[name]
        board_dir.mkdir(parents=True, exist_ok=True)
        if clean:  # a dashboard removed from the specs must not linger in the folder Grafana loads
            for stale in board_dir.glob("*.json"):
                if stale.name not in boards:
                    stale.unlink()
        for file_name, board in boards.items():
            path = board_dir / file_name
            path.write_text(dumps(board), encoding="utf-8")
            written.append(path)
    for rel, text in provisioning.render(target).items():
        path = root / "grafana-provisioning" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
