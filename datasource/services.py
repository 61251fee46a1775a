"""What a running service holds: settings, the database (and the embedded server behind it).

Built once by the app's lifespan (or handed in by tests sharing one database), torn down on exit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from datasource import tenants
from datasource.settings import Settings
from datasource.storage import migrate, partitions
from datasource.storage.embedded import EmbeddedPostgres
from datasource.storage.pool import Database

log = logging.getLogger(__name__)


async def open_database(settings: Settings) -> tuple[Database, EmbeddedPostgres | None]:
    """Connect to DATABASE_URL, or start the embedded server under SM_DATA_DIR; then migrate."""
    embedded = None
    if settings.database_url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = embedded.start()
        await embedded.ensure_database()
    else:
        dsn = settings.database_url.get_secret_value()
    db = await Database.connect(dsn)
    try:
        async with db.system() as conn:
            await migrate.migrate(conn)
            await partitions.ensure_window(conn, datetime.now(UTC), settings.retention_months)
            for tenant in settings.tenants:
                await tenants.upsert(conn, tenant)
    except BaseException:
        await db.close()
        if embedded:
            embedded.stop()
        raise
    return db, embedded


@dataclass
class Services:
    settings: Settings
    db: Database
    embedded: EmbeddedPostgres | None = None
    owns_db: bool = True

    @classmethod
    async def start(cls, settings: Settings, db: Database | None = None) -> Services:
        if db is not None:
            return cls(settings=settings, db=db, owns_db=False)
        db, embedded = await open_database(settings)
        return cls(settings=settings, db=db, embedded=embedded)

    async def stop(self) -> None:
        if self.owns_db:
            await self.db.close()
            if self.embedded is not None:
                self.embedded.stop()
