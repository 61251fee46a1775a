"""Every report kind for every role, rendered as the recipient gets it, to look at.

Loads the ``acme`` demo tenant (25 months, so the monthly review's year over year has a whole year before it) through
the real ingest, evaluates its alert rules over the last week as the demo does, builds each report kind (daily, weekly,
monthly) for an executive, a manager of one team and an agent of that team through the one answer path, writes each
copy's HTML, CSVs and PDF under OUT/<kind>-<role>/, and turns every PDF page into a PNG with ``pdftoppm``
(poppler-utils). Where a headless Chromium is installed (Debian: ``apt-get install chromium``) the HTML is printed by
the browser too and its pages turned into ``html-N.png``; without one the HTML is looked at through the PDF, which is
drawn from the same document.

    python -m benchmarks.render_reports [--out build/reports] [--data DIR] [--scale 1.0]

``--data DIR`` keeps the embedded PostgreSQL there, so a second run skips loading the demo.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from success_metrics.notify.reports import content, render
from success_metrics.notify.reports.content import Recipient
from success_metrics.notify.reports.schedule import (
    DEFAULT_TIMES,
    ReportKind,
    latest_due,
)
from success_metrics.query.answer import Answerer
from success_metrics.query.cache import ResultCache
from success_metrics.rbac import Role
from success_metrics.rbac.policy import default_policy
from success_metrics.server.services import open_database
from success_metrics.settings import load_settings
from success_metrics.storage import tenants
from success_metrics.tools import demo
from success_metrics.tools.demo.history import replay_alerts

TENANT = "acme"


def recipients() -> dict[str, Recipient]:
    """An executive, the North Team's manager and the North Team's first agent of the acme demo."""
    p = demo.profile(TENANT)
    team = p.teams[0][0]
    agent = next(a for a in p.agents if a.team_id == team)
    return {"executive": Recipient(email="ceo@acme.example", role=Role.EXECUTIVE),
            "manager": Recipient(email="north-lead@acme.example", role=Role.MANAGER, teams=(team,)),
            "agent": Recipient(email="agent@acme.example", role=Role.AGENT, agent_id=agent.id, teams=(team,))}


def to_png(pdf: Path, out: Path, prefix: str = "page") -> list[Path]:
    """Each page of ``pdf`` as ``out/<prefix>-N.png`` at 80 dpi (pdftoppm numbers the pages itself)."""
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(out / prefix)], check=True)
    return sorted(out.glob(f"{prefix}-*.png"))


def browser() -> str | None:
    return next((path for name in ("chromium", "chromium-browser", "google-chrome") if (path := shutil.which(name))),
                None)


def html_to_png(chrome: str, html: Path, out: Path) -> list[Path]:
    """The HTML as the browser lays it out, printed to PDF (no network: the logo's address is not fetched)."""
    printed = out / "html.pdf"
    with tempfile.TemporaryDirectory(prefix="sm-chrome-") as profile:
        subprocess.run([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={printed}",
                        html.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    return to_png(printed, out, "html")


async def main(out: Path, data: Path | None, scale: float, now: datetime) -> None:
    if shutil.which("pdftoppm") is None:
        raise SystemExit("pdftoppm is not installed (Debian: apt-get install poppler-utils)")
    with tempfile.TemporaryDirectory(prefix="sm-render-") as tmp:
        settings = load_settings(env={**os.environ, "SM_DATA_DIR": str(data or tmp)})
        db, embedded = await open_database(settings)
        try:
            profile = demo.profile(TENANT)
            async with db.system() as conn:
                await tenants.upsert(conn, profile.config())
            async with db.tenant(TENANT) as conn:
                loaded = await conn.fetchval("SELECT count(*) FROM leads WHERE tenant_id = $1", TENANT)
            answers = Answerer(db, ResultCache(0, 0), lambda tenant: b"k" * 32)
            if not loaded:
                await demo.load(db, [profile], months=25, scale=scale, end=now)
            # the alert loop's last week, as `success-metrics demo` records it (resumes after a run's last tick)
            await replay_alerts(answers, TENANT, now, retention_months=settings.retention_months)
            chrome = browser()
            if chrome is None:
                print("no headless browser found: the HTML is looked at through the PDF only")
            for kind in ReportKind:
                period = latest_due(kind, DEFAULT_TIMES[kind], profile.settings.zone, now).period
                for role, recipient in recipients().items():
                    report = await content.build(answers, TENANT, kind, period, recipient, default_policy(), now)
                    rendered = await asyncio.to_thread(render.render, report)
                    target = out / f"{kind.value}-{role}"
                    shutil.rmtree(target, ignore_errors=True)
                    render.write(rendered, target)
                    pages = to_png(target / rendered.pdf_name, target)
                    shown = html_to_png(chrome, target / "report.html", target) if chrome else []
                    print(f"{kind.value:8} {role:10} PDF {len(pages)} page(s), HTML {len(shown)} page(s) -> {target}")
        finally:
            await db.close()
            if embedded is not None:
                embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/reports"))
    parser.add_argument("--data", type=Path, default=None, help="keep the embedded database here between runs")
    parser.add_argument("--scale", type=float, default=1.0, help="demo volume (1.0: the profile's own)")
    parser.add_argument("--now", type=datetime.fromisoformat, default=datetime(2026, 12, 3, 15, tzinfo=UTC),
                        help="the moment the reports are made (fixed, so pages compare between runs)")
    args = parser.parse_args()
    asyncio.run(main(args.out, args.data, args.scale, args.now))
