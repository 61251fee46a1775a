"""``success-metrics check dashboards``: the dashboard self-check on demand (success_metrics/query/selfcheck.py).

Kept apart from cli.py (which only mounts it) so the command's wiring sits beside nothing else.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from success_metrics.query.selfcheck import Outcome, SelfCheck
from success_metrics.server.services import Services
from success_metrics.storage.pool import Database

check_app = typer.Typer(help="Run the service's self-checks now.", no_args_is_help=True)


@check_app.command("dashboards")
def check_dashboards(
    tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant (repeat for more); default: all.")] = None,
) -> None:
    """Replay every dashboard panel as every role, keep the outcomes (dashboards.health), print the problems.
    Exit status 1 when a panel failed."""
    from success_metrics.tools import cli

    settings = cli.settings_or_exit()

    async def job(db: Database) -> dict[str, list[Outcome]]:
        services = await Services.start(settings, db)
        try:
            return await SelfCheck(services).run(tenant_ids=list(tenant) if tenant else None)
        finally:
            await services.stop()

    found = cli.run(lambda: cli.with_database(settings, job))
    failed = False
    for tenant_id, outcomes in found.items():
        counts = Counter(o.outcome for o in outcomes)
        typer.echo(f"{tenant_id}: " + ", ".join(f"{counts[k]} {k}" for k in ("ok", "slow", "refused", "error")))
        for o in outcomes:
            if o.outcome in ("error", "slow"):
                typer.echo(f"  {o.outcome} {o.dashboard} / {o.panel} as {o.role} ({o.latency_ms:.0f} ms): {o.message}")
        failed = failed or counts["error"] > 0
    if failed:
        raise typer.Exit(1)
