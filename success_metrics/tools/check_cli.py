"""``success-metrics check dashboards``: the dashboard self-check on demand (success_metrics/query/selfcheck.py).

Kept apart from cli.py, which mounts it and hands it its helpers (settings, running a job with a database), so the
command sits beside nothing else and imports nothing back from cli.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

import typer

from success_metrics.query.selfcheck import Outcome, SelfCheck
from success_metrics.server.services import Services
from success_metrics.settings import Settings
from success_metrics.storage import Database

Found = dict[str, list[Outcome]]


def check_app(settings_or_exit: Callable[[], Settings],
              run: Callable[[Callable[[], Coroutine[Any, Any, Found]]], Found],
              with_database: Callable[[Settings, Callable[[Database], Awaitable[Found]]], Coroutine[Any, Any, Found]],
              ) -> typer.Typer:
    """The ``check`` command group, running its jobs with cli.py's helpers."""
    app = typer.Typer(help="Run the service's self-checks now.", no_args_is_help=True)

    @app.command("dashboards")
    def check_dashboards(
        tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant (repeat for more); default: all.")]
        = None,
    ) -> None:
        """Replay every dashboard panel as every role, keep the outcomes (dashboards.health), print the problems.
        Exit status 1 when a panel failed."""
        settings = settings_or_exit()

        async def job(db: Database) -> Found:
            services = await Services.start(settings, db)
            try:
                return await SelfCheck(services).run(tenant_ids=list(tenant) if tenant else None)
            finally:
                await services.stop()

        raise typer.Exit(report(run(lambda: with_database(settings, job))))

    return app


def report(found: Found, echo: Callable[[str], Any] = typer.echo) -> int:
    """Print each tenant's outcome counts and its failed or slow panels; the exit status (1: a panel failed)."""
    failed = False
    for tenant_id, outcomes in found.items():
        counts = Counter(o.outcome for o in outcomes)
        echo(f"{tenant_id}: " + ", ".join(f"{counts[k]} {k}" for k in ("ok", "slow", "refused", "error")))
        for o in outcomes:
            if o.outcome in ("error", "slow"):
                echo(f"  {o.outcome} {o.dashboard} / {o.panel} as {o.role} ({o.latency_ms:.0f} ms): {o.message}")
        failed = failed or counts["error"] > 0
    return 1 if failed else 0
