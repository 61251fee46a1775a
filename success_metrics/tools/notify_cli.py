"""``success-metrics alerts evaluate | test-channel`` and ``report send``: alerting and reports on demand.

Each command calls what the service's scheduler calls (success_metrics/notify/scheduler.py, channels.py,
reports/delivery.py). Kept apart from cli.py, which mounts them and hands them its helpers (settings, running a
job with a database), so nothing here imports cli back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import httpx
import typer

from success_metrics.notify import keyring
from success_metrics.notify.alerts import channels, delivery
from success_metrics.notify.alerts.delivery import Outcome
from success_metrics.notify.alerts.evaluate import Change
from success_metrics.notify.errors import AlertingError
from success_metrics.notify.mailer import Mailer
from success_metrics.notify.reports.delivery import Sent
from success_metrics.notify.reports.schedule import ReportKind
from success_metrics.notify.scheduler import Scheduler
from success_metrics.rbac import Role
from success_metrics.server.services import Services
from success_metrics.settings import Settings
from success_metrics.storage import Database
from success_metrics.tools.cli_types import Run, TenantOpt, WithDatabase

T = TypeVar("T")


def fail(message: str, code: int) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


async def with_services(settings: Settings, db: Database, job: Callable[[Services], Awaitable[T]]) -> T:
    """``job`` with the service's parts on ``db``; the scheduler's loops stay off (this command is the run)."""
    quiet = settings.model_copy(update={"notifications": settings.notifications.model_copy(
        update={"scheduler_enabled": False})})
    services = await Services.start(quiet, db)
    try:
        return await job(services)
    finally:
        await services.stop()


def alerts_app(settings_or_exit: Callable[[], Settings], run: Run, with_database: WithDatabase) -> typer.Typer:
    """The ``alerts`` command group, running its jobs with cli.py's helpers."""
    app = typer.Typer(help="Evaluate alert rules and try notification channels now.", no_args_is_help=True)

    @app.command("evaluate")
    def evaluate(
        tenant: Annotated[list[str] | None, typer.Option(help="Only this tenant (repeat for more); default: all.")]
        = None,
        rule: Annotated[str | None, typer.Option(help="Only this rule (its id).")] = None,
    ) -> None:
        """Evaluate the alert rules now, as the scheduler does each tick, deliver what they queue, and print each
        transition and delivery. Exit status 1 when a delivery failed."""
        settings = settings_or_exit()

        async def job(services: Services) -> dict[str, tuple[list[Change], list[Outcome]]]:
            scheduler = Scheduler(services.db, services.settings, services.http, services.reporter.mailer,
                                  services.reporter, services.answers, services.keys)
            known = await scheduler.tenants()
            unknown = [t for t in tenant or () if t not in known]
            if unknown:
                raise AlertingError(f"No tenant {', '.join(unknown)}; the tenants are: {', '.join(known)}.")
            now = datetime.now(UTC)
            return {t: await scheduler.alerts_for(t, now, rule) for t in (tenant or known)}

        try:
            found = run(lambda: with_database(settings, lambda db: with_services(settings, db, job)))
        except AlertingError as exc:
            raise fail(exc.message, 2) from None
        failed = False
        for tenant_id, (changes, outcomes) in found.items():
            typer.echo(f"{tenant_id}: {len(changes)} transition(s), {len(outcomes)} notification(s)")
            for c in changes:
                value = "no data" if c.value is None else f"{c.value:.4g}"
                typer.echo(f"  {c.transition.value} {c.rule_id} (value {value}, alert {c.event_id})")
            for o in outcomes:
                typer.echo(f"  {'sent' if o.ok else 'failed'} to {o.channel_id} after {o.attempts} attempt(s)"
                           + (f": {o.error}" if o.error else ""))
                failed = failed or not o.ok
        raise typer.Exit(1 if failed else 0)

    @app.command("test-channel")
    def test_channel(channel: Annotated[str, typer.Argument(help="The channel's id.")], tenant: TenantOpt) -> None:
        """Send a test notification through one of the tenant's channels (with its time-out and retries) and print
        what happened. Exit status 1 when it was not delivered."""
        settings = settings_or_exit()

        async def job(db: Database) -> tuple[channels.Channel, tuple[bool, int, str | None]]:
            keys = keyring.load(settings)  # a key that is not one ends the command with its source (exit 2)
            async with db.tenant(tenant) as conn:
                known = await channels.load(conn)
            if channel not in known:
                raise AlertingError(f"No alert channel {channel!r} for tenant {tenant}; its channels: "
                                    f"{', '.join(known) or 'none'}.")
            notice = channels.test_notice(tenant, datetime.now(UTC))
            async with httpx.AsyncClient(follow_redirects=False) as http:
                return known[channel], await delivery.attempt(
                    known[channel], notice, http, Mailer(settings.notifications), settings.notifications, keys)

        try:
            found, (ok, attempts, error) = run(lambda: with_database(settings, job))
        except AlertingError as exc:
            raise fail(exc.message, 2) from None
        where = found.public().get("url") or ", ".join(found.config.to)
        if not ok:
            raise fail(f"{channel} ({found.config.kind} {where}): not delivered after {attempts} attempt(s): {error}",
                       1)
        typer.echo(f"{channel} ({found.config.kind} {where}): delivered after {attempts} attempt(s)")

    return app


def report_send(settings_or_exit: Callable[[], Settings], run: Run, with_database: WithDatabase
                ) -> Callable[..., None]:
    """The ``report send`` command, running its job with cli.py's helpers."""

    def send(
        tenant: TenantOpt,
        kind: Annotated[ReportKind, typer.Option(help="daily | weekly | monthly")],
        as_role: Annotated[Role | None, typer.Option("--as-role", help="Only the recipients of this role.")] = None,
    ) -> None:
        """Render the latest due report and mail it now to its schedule's recipients, each in their own role
        (audited, and logged as the scheduler logs it). Exit status 1 when a copy was not sent."""
        settings = settings_or_exit()

        async def job(services: Services) -> list[Sent]:
            return await services.reporter.send_now(tenant, kind, datetime.now(UTC), as_role)

        try:
            sent = run(lambda: with_database(settings, lambda db: with_services(settings, db, job)))
        except AlertingError as exc:
            raise fail(exc.message, 2) from None
        for s in sent:
            typer.echo(f"{'sent' if s.ok else 'failed'}: {kind.value} report to {s.recipient} as {s.role}"
                       + (f" ({s.error})" if s.error else f", {len(s.attachments)} attachment(s)"))
        raise typer.Exit(0 if all(s.ok for s in sent) else 1)

    return send
