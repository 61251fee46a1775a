"""``success-metrics backup [verify | list]`` and ``restore``: backups, the restore drill and a restore by hand.

They call what the service's backup round calls (storage/backup.py, storage/backup_schedule.py). Mounted by
cli.py, which hands them its helpers (cli_types).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from success_metrics.server.services import backup_plan
from success_metrics.settings import Settings
from success_metrics.storage import BackupFailed, Database, backup, backup_schedule
from success_metrics.tools.cli_types import Run, SettingsOrExit, WithDatabase

DirOpt = Annotated[Path | None, typer.Option("--dir", help="Backup directory (default: backup.directory, else "
                                                            "$SM_DATA_DIR/backups).")]


def plan_for(settings: Settings, directory: Path | None, keep: int | None = None,
             verify: bool | None = None) -> backup_schedule.Plan:
    """The configured backup plan, with what the command line overrides."""
    plan = backup_plan(settings)
    return replace(plan, directory=directory or plan.directory, keep=keep or plan.keep,
                   verify=plan.verify if verify is None else verify)


def now() -> datetime:
    return datetime.now(UTC)


def backup_app(settings_or_exit: SettingsOrExit, run: Run, with_database: WithDatabase) -> typer.Typer:
    """The ``backup`` command group (taking a backup is the group's own command), with cli.py's helpers."""
    app = typer.Typer(help="Back up the database, list the backups, or prove one restores (the restore drill).")

    @app.callback(invoke_without_command=True)
    def backup_take(
        ctx: typer.Context, directory: DirOpt = None,
        keep: Annotated[int | None, typer.Option(help="Backups kept (default: backup.keep, 7).", min=1)] = None,
        verify: Annotated[bool, typer.Option(help="Then restore it into a scratch database and check it.")] = False,
    ) -> None:
        """Dump the database (one consistent snapshot, compressed) into the backup directory; keep the newest N.

        Exit status 1 when the backup or its drill fails.
        """
        if ctx.invoked_subcommand is not None:
            return
        settings = settings_or_exit()
        plan = plan_for(settings, directory, keep, verify)

        async def job(db: Database) -> backup.DrillReport | None:
            assert db.dsn is not None
            return await backup_schedule.round_(db, db.dsn, plan, now)

        report = run(lambda: with_database(settings, job))
        found = backup.latest(plan.directory)
        typer.echo(f"{found} ({found.stat().st_size} bytes)")
        if report is not None:
            typer.echo(report.summary())
            if not report.ok:
                raise typer.Exit(1)

    @app.command("verify")
    def backup_verify(
        file: Annotated[Path | None, typer.Argument(help="The dump to drill (default: the newest).")] = None,
        directory: DirOpt = None,
    ) -> None:
        """The restore drill: restore a backup into a scratch database, check its row counts and audit chains, drop
        it. Exit status 1 when the restored copy differs from what was backed up.
        """
        settings = settings_or_exit()
        plan = plan_for(settings, directory)

        async def job(db: Database) -> backup.DrillReport:
            assert db.dsn is not None
            return await backup_schedule.verify(db, db.dsn, file or backup.latest(plan.directory), now, plan.bin_dir)

        report = run(lambda: with_database(settings, job))
        typer.echo(report.summary())
        if not report.ok:
            raise typer.Exit(1)

    @app.command("list")
    def backup_list(directory: DirOpt = None) -> None:
        """List the backups in the directory, oldest first: file, size, rows, when taken."""
        plan = plan_for(settings_or_exit(), directory)
        for dump in backup.backups(plan.directory):
            m = backup.Manifest.read(dump)
            typer.echo(f"{dump}  {m.bytes} bytes  {sum(m.tables.values())} rows  taken {m.taken_at}")

    return app


def restore_command(settings_or_exit: SettingsOrExit, run: Run, with_database: WithDatabase) -> Callable[..., None]:
    """The top-level ``restore`` command, with cli.py's helpers (cli.py registers it with ``app.command()``)."""

    def restore(
        file: Annotated[Path, typer.Argument(help="The dump to restore (a success-metrics-*.dump with its manifest).")],
        yes: Annotated[bool, typer.Option("--yes", help="Confirm: the database's contents are replaced.")] = False,
        force: Annotated[bool, typer.Option(help="Restore although other sessions (a running service) are "
                                                 "connected.")] = False,
    ) -> None:
        """Replace the database's contents with a backup's, in one transaction (all or nothing). Stop the service
        first."""
        if not yes:
            typer.secho("restore replaces every table of the database with the backup's: add --yes to go ahead",
                        fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
        settings = settings_or_exit()

        async def job(db: Database) -> backup.Manifest:
            assert db.dsn is not None
            async with db.system() as conn:
                others = await backup.other_sessions(conn)
            if others and not force:
                raise BackupFailed(f"{others} other session(s) use the database (a running service?): stop it "
                                   "first, or pass --force.")
            await db.close()  # pg_restore replaces tables this pool's connections could hold locks on
            return await backup.restore(db.dsn, file, now)

        manifest = run(lambda: with_database(settings, job))
        typer.echo(f"restored {file.name}, taken {manifest.taken_at}: {sum(manifest.tables.values())} rows; "
                   "the next start applies any newer migrations")

    return restore
