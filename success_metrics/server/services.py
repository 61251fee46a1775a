"""What a running service holds: settings, the database (and the embedded server behind it).

Built once by the app's lifespan (or handed in by tests sharing one database), torn down on exit.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from success_metrics.calculators import check_catalog, runtime
from success_metrics.guard import Limiter, audit_checkpoints, audit_writer, identification
from success_metrics.ingest import validate as event_schemas
from success_metrics.notify import keyring
from success_metrics.notify.alerts import channels
from success_metrics.notify.mailer import Mailer
from success_metrics.notify.reports.delivery import Reporter
from success_metrics.notify.scheduler import Scheduler
from success_metrics.query.activity import Activity
from success_metrics.query.answer import Answerer
from success_metrics.query.cache import ResultCache
from success_metrics.query.leases import WarmLeases
from success_metrics.query.protocol import serialize
from success_metrics.query.shared_cache import SharedFrames
from success_metrics.rbac import Identifier, PolicyStore, ProviderUnavailable, What, local_keys, masking
from success_metrics.server.background import Background
from success_metrics.settings import Settings
from success_metrics.storage import (
    Database,
    EmbeddedPostgres,
    Supervisor,
    backup_schedule,
    frame_cache,
    migrate,
    partitions,
    replicas,
    tenants,
)

log = logging.getLogger(__name__)


async def open_database(settings: Settings, *, reuse: bool = False) -> tuple[Database, EmbeddedPostgres | None]:
    """Connect to DATABASE_URL, or start the embedded server under SM_DATA_DIR; then migrate. ``reuse`` (one-shot
    CLI commands): connect to an embedded server already running there instead, leaving it to whoever started it
    (the embedded server returned is then None: nothing for the caller to stop)."""
    embedded = None
    running = EmbeddedPostgres(settings.data_dir).running_dsn() if reuse and settings.database_url is None else None
    if running is not None:
        log.info("using the embedded PostgreSQL already running in %s", settings.data_dir)
        dsn = running
    elif settings.database_url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = embedded.start()
        await embedded.ensure_database()
    else:
        dsn = settings.database_url.get_secret_value()
    db = await Database.connect(dsn)
    try:
        async with db.system() as conn:
            await migrate.migrate(conn)
            sealed = await channels.seal_clear_secrets(conn, keyring.load(settings))
            if sealed:
                log.info("sealed %d alert channel secret(s) stored in clear before", sealed)
            await partitions.ensure_window(conn, datetime.now(UTC), settings.retention_months)
            for tenant in settings.tenants:
                if await tenants.upsert(conn, tenant):  # its settings changed: frames computed with the old are stale
                    await frame_cache.invalidate(conn, tenant.id)
    except BaseException:
        await db.close()
        if embedded:
            embedded.stop()
        raise
    return db, embedded


def backup_plan(settings: Settings) -> backup_schedule.Plan:
    b = settings.backup
    return backup_schedule.Plan(settings.backup_dir, b.keep, b.verify, b.pg_bin_dir,
                                timedelta(hours=b.interval_hours or 24))


@dataclass
class Services:
    settings: Settings
    db: Database
    embedded: EmbeddedPostgres | None = None
    owns_db: bool = True
    # identity, policy and audit (rbac): the IdP/JWKS HTTP client, the identifier, the policy versions, and the
    # service secret under data_dir from which pseudonym and audit-checkpoint keys are derived
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(follow_redirects=False, timeout=5.0))
    policies: PolicyStore = field(default_factory=PolicyStore)
    identifier: Identifier = field(init=False)
    secret: bytes = field(init=False, repr=False)
    # the key-encryption keys of the secrets stored in the database (success_metrics/notify/keyring.py)
    keys: keyring.Keyring = field(init=False, repr=False)
    # computed frames per tenant and row scope, unmasked (success_metrics/query/cache.py)
    cache: ResultCache = field(init=False, repr=False)
    # the /query items and their JSON built from those frames (success_metrics/query/protocol/serialize.py)
    serialized: serialize.Memo = field(default_factory=serialize.Memo, repr=False)
    # the one answer path (authorize → compute through the cache → mask) every reader of values takes
    answers: Answerer = field(init=False, repr=False)
    # the background loops (checkpoints, database supervision, alerts, reports, the warmer): one place to run them
    background: Background = field(default_factory=Background, repr=False)
    # revives a crashed embedded server and probes a database that went away (only where the service owns the db)
    supervisor: Supervisor | None = field(default=None, init=False, repr=False)

    # failed-authentication and ingest rate limits (success_metrics/server/ratelimit.py)
    limiter: Limiter = field(init=False, repr=False)

    # reports rendered per recipient (success_metrics/notify/reports); the alert and report loops, when enabled
    reporter: Reporter = field(init=False, repr=False)
    scheduler: Scheduler | None = field(default=None, init=False, repr=False)
    # hears other replicas' identity and policy changes (success_metrics/storage/replicas.py)
    listener: replicas.SettingsListener | None = field(default=None, init=False, repr=False)
    # scheduled backups with their restore drill, when backup.interval_hours is set (storage/backup.py)
    backups: backup_schedule.BackupLoop | None = field(default=None, init=False, repr=False)
    # when each tenant's users last asked (the warmer's choice, kept in the database), and this replica's warm-up
    # leases (on a connection of their own; None without a DSN: this replica then warms every tenant itself)
    activity: Activity = field(init=False, repr=False)
    leases: WarmLeases | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.secret = local_keys.service_secret(self.settings.data_dir)
        self.keys = keyring.load(self.settings)
        self.identifier = identification.build_identifier(self.settings, self.http)
        self.cache = ResultCache(self.settings.cache_ttl_live_s, self.settings.cache_ttl_closed_s,
                                 max_entries=self.settings.cache_max_entries,
                                 max_bytes=self.settings.cache_max_bytes,
                                 shared=SharedFrames(self.db) if self.settings.shared_cache else None)
        self.answers = Answerer(self.db, self.cache, self.pseudonym_key)
        self.limiter = Limiter(self.settings.limits)
        self.reporter = Reporter(self.db, self.policies, self.answers, Mailer(self.settings.notifications))
        self.activity = Activity(self.db)
        dsn = self.db.dsn
        if dsn is not None:
            self.leases = WarmLeases(lambda: asyncpg.connect(dsn))

    @classmethod
    async def start(cls, settings: Settings, db: Database | None = None, *, listen: bool | None = None) -> Services:
        """``listen`` (default: when the service owns its database) for other replicas' settings changes."""
        check_catalog()  # a broken metric catalog stops the service here, listing every issue
        event_schemas.schemas()  # compiled once now: a missing schema fails the start, not the first batch
        if db is not None:
            services = cls(settings=settings, db=db, owns_db=False)
        else:
            db, embedded = await open_database(settings)
            services = cls(settings=settings, db=db, embedded=embedded)
            services.background.every(
                "audit checkpoints", lambda: audit_checkpoints.checkpoint(services.db, settings, services.secret),
                audit_checkpoints.CHECKPOINT_INTERVAL_S, wait_first=True,
                final=lambda: audit_checkpoints.checkpoint(services.db, settings, services.secret))
            services.supervisor = supervisor = Supervisor(services.db, embedded)
            services.background.every("database supervisor", supervisor.check, supervisor.delay, wait_first=True)
        if services.owns_db if listen is None else listen:
            await services.listen()  # before the overrides are read, so no change falls between the two
        await identification.load_overrides(services.db, services.identifier)
        runtime.publish(runtime.ServiceFacts(pool=services.db.stats, tls=settings.tls_cert is not None,
                                             retention_months=settings.retention_months,
                                             database_link=await services.db.link()))
        if settings.backup.interval_hours and services.db.dsn:
            services.backups = backups = backup_schedule.BackupLoop(services.db, services.db.dsn,
                                                                    backup_plan(settings), lambda: datetime.now(UTC))
            services.background.every("backups", backups.round, backups.wait)
        if settings.notifications.scheduler_enabled:
            services.scheduler = Scheduler(services.db, settings, services.http, services.reporter.mailer,
                                           services.reporter, services.answers, services.keys)
            scheduler, tick_s = services.scheduler, settings.notifications.tick_seconds
            services.background.every("alerts", lambda: scheduler.alerts_tick(datetime.now(UTC)), tick_s)
            services.background.every("reports", lambda: scheduler.reports_tick(datetime.now(UTC)), tick_s)
        return services

    def pseudonym_key(self, tenant_id: str) -> bytes:
        return masking.tenant_key(self.secret, tenant_id)

    async def stop(self) -> None:
        await self.background.stop()  # the audit checkpoint loop writes a last checkpoint
        if self.listener is not None:
            await self.listener.stop()
        if self.leases is not None:
            await self.leases.close()
        if self.cache.shared is not None:
            await self.cache.shared.close()
        await self.http.aclose()
        await audit_writer.close_writer(self.db)  # hands back the connections the audit writer keeps between rounds
        if self.owns_db:
            await self.db.close()
            if self.embedded is not None:
                self.embedded.stop()

    async def listen(self) -> None:
        """Start hearing other replicas' settings changes on a connection of our own."""
        dsn = self.db.dsn
        if dsn is None:
            log.warning("no DSN to listen on: settings changed by other replicas apply here only after a restart")
            return
        self.listener = replicas.SettingsListener(lambda: asyncpg.connect(dsn), self._apply_change, self._reload_all)
        await self.listener.start()
        if self.cache.shared is not None:  # a replica among others: one computation of a cold key for all of them
            self.cache.shared.lock_with(lambda: asyncpg.connect(dsn))

    async def _apply_change(self, tenant_id: str, what: What) -> None:
        if what == "identity":
            await identification.load_overrides(self.db, self.identifier, tenant_id)  # also forgets its verified tokens
        elif what == "policy":
            self.policies.forget(tenant_id)  # the next request reads the version in force
        elif what == "frames":
            self.cache.invalidate_tenant(tenant_id)  # its shared rows are already gone
            self.answers.dimensions.invalidate_tenant(tenant_id)  # a backfill may bring new agents, teams, sources
        else:
            # logged by the key cache; the cached keys stay in use until the next fetch
            with contextlib.suppress(ProviderUnavailable):
                await self.identifier.refresh_keys(tenant_id)

    async def _reload_all(self) -> None:
        await identification.load_overrides(self.db, self.identifier)
        self.policies.forget_all()
        self.identifier.jwks.expire()
        self.cache.invalidate_all()
        self.answers.dimensions.invalidate_all()
