"""``success-metrics policy get | validate | set | history | rollback``: a tenant's role policy from the shell.

Every change goes through rbac's PolicyStore as the CLI's admin principal, so it is versioned and audited like a
change through the admin API. Mounted by cli.py, which hands it its helpers (cli_types).
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import asyncpg
import typer
import yaml

from success_metrics.calculators import TenantId
from success_metrics.rbac import AuthMethod, PolicyInvalid, PolicyStore, Principal, Role, policy
from success_metrics.settings import Settings
from success_metrics.storage import Database
from success_metrics.tools.cli_types import Run, SettingsOrExit, TenantOpt, WithDatabase

T = TypeVar("T")
FileArg = Annotated[Path, typer.Argument(help="Policy YAML or JSON file.")]


def cli_principal(tenant: str) -> Principal:
    return Principal(TenantId(tenant), f"cli:{getpass.getuser()}", Role.ADMIN, AuthMethod.CLI)


def print_invalid(exc: PolicyInvalid) -> typer.Exit:
    typer.secho(exc.message, fg=typer.colors.RED, err=True)
    for err in exc.errors:
        typer.secho(f"  {err['pointer']}: {err['reason']}", err=True)
    return typer.Exit(1)


def policy_app(settings_or_exit: SettingsOrExit, run: Run, with_database: WithDatabase) -> typer.Typer:
    """The ``policy`` command group, running its jobs with cli.py's helpers."""
    app = typer.Typer(help="Show, check, replace or roll back a tenant's role policy (versioned, audited).",
                      no_args_is_help=True)

    def job_on(settings: Settings, tenant: str, action: Callable[[PolicyStore, asyncpg.Connection], Awaitable[T]]) -> T:
        async def job(db: Database) -> T:
            async with db.tenant(tenant) as conn:
                return await action(PolicyStore(), conn)

        try:
            return run(lambda: with_database(settings, job))
        except PolicyInvalid as exc:
            raise print_invalid(exc) from None

    @app.command("get")
    def policy_get(tenant: TenantOpt,
                   version: Annotated[int | None, typer.Option(help="A past version (default: current).")] = None,
                   ) -> None:
        """Print the tenant's policy document (YAML)."""
        got = job_on(settings_or_exit(), tenant, lambda store, conn: store.get(conn, tenant, version))
        typer.echo(f"# tenant {tenant}, policy version {got.version}: {got.comment}")
        typer.echo(yaml.safe_dump(got.document, sort_keys=False))

    @app.command("validate")
    def policy_validate(file: FileArg) -> None:
        """Check a policy file against rbac/policy.schema.json and list every error (no database needed)."""
        try:
            policy.parse(policy.load_document(file.read_text(encoding="utf-8")))
        except PolicyInvalid as exc:
            raise print_invalid(exc) from None
        typer.echo(f"{file}: valid")

    @app.command("set")
    def policy_set(tenant: TenantOpt, file: FileArg,
                   comment: Annotated[str, typer.Option(help="Why it changes.")] = "") -> None:
        """Validate and install a new policy version for the tenant (audited)."""
        settings = settings_or_exit()
        document = policy.load_document(file.read_text(encoding="utf-8"))
        got = job_on(settings, tenant, lambda store, conn: store.replace(
            conn, tenant, document, cli_principal(tenant), comment=comment))
        typer.echo(f"tenant {tenant}: policy version {got.version} in force")

    @app.command("history")
    def policy_history(tenant: TenantOpt) -> None:
        """List the tenant's policy versions, newest first."""
        versions = job_on(settings_or_exit(), tenant, lambda store, conn: store.history(conn, tenant))
        for v in versions:
            typer.echo(f"v{v.version}  {v.changed_at:%Y-%m-%d %H:%M:%S}  {v.changed_by}  {v.comment}")
        typer.echo("v0  (the default policy)")

    @app.command("rollback")
    def policy_rollback(tenant: TenantOpt,
                        version: Annotated[int, typer.Argument(help="Version to restore (0 = default).")]) -> None:
        """Make an earlier version current again, as a new version (history is kept; audited)."""
        got = job_on(settings_or_exit(), tenant, lambda store, conn: store.rollback(
            conn, tenant, version, cli_principal(tenant)))
        typer.echo(f"tenant {tenant}: policy version {got.version} (= version {version}) in force")

    return app
