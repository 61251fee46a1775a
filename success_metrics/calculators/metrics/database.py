"""System Health: the database's backups, statements, indexes, connections and growth, and encryption status.

These read PostgreSQL's own catalogs and statistics (the same for every tenant: they describe the one database),
``backup_runs`` (migration 0016), and what the running service published (calculators/runtime.py). Times are judged
at the range's end, which is now on a dashboard and the evaluation time for an alert.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg

from success_metrics.calculators import runtime, shapes
from success_metrics.calculators.buckets import epoch_ms
from success_metrics.calculators.catalog import metric
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.query import ScopedQuery
from success_metrics.calculators.tenant_settings import TenantSettings
from success_metrics.calculators.vocabulary import ColumnType, Kind, Sensitivity, Unit

SLOWEST = 10  # statements listed
STATEMENTS = "pg_stat_statements"


def _time(name: str) -> shapes.Col:
    return shapes.Col(name, ColumnType.TIME)


@metric("backup.status", "Backup Status",
        "The last good backup of the database before the range's end: when, its age (hours), size and file; the "
        "last restore drill of a backup (restored into a scratch database, row counts and audit chains checked): "
        "when and its outcome; backups failed since the last good one. status: never (no good backup), failing "
        "(the latest attempt failed), unverified (no successful drill since the last good backup) or ok.",
        Unit.TEXT, Kind.TABLE, inputs=("backups",),
        column_units=(("age_hours", Unit.HOURS), ("size", Unit.BYTES), ("failed_since", Unit.COUNT)))
async def backup_status(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    end = sq.query.end
    good = await conn.fetchrow("SELECT finished_at, bytes, file FROM backup_runs WHERE kind = 'backup' AND ok "
                               "AND finished_at < $1 ORDER BY finished_at DESC LIMIT 1", end)
    drill = await conn.fetchrow("SELECT finished_at, ok FROM backup_runs WHERE kind = 'verify' AND finished_at < $1 "
                                "ORDER BY finished_at DESC LIMIT 1", end)
    failed = await conn.fetchval("SELECT count(*) FROM backup_runs WHERE kind = 'backup' AND NOT ok "
                                 "AND finished_at < $1 AND finished_at > $2", end,
                                 good["finished_at"] if good else datetime.min.replace(tzinfo=UTC))
    if good is None:
        status = "never"
    elif failed:
        status = "failing"
    elif drill is None or not drill["ok"] or drill["finished_at"] < good["finished_at"]:
        status = "unverified"
    else:
        status = "ok"
    cols = [shapes.text("status"), _time("last_backup"), shapes.num("age_hours", Unit.HOURS),
            shapes.num("size", Unit.BYTES), shapes.text("file"), _time("last_restore_drill"),
            shapes.text("drill_outcome"), shapes.num("failed_since", Unit.COUNT)]
    row = (status, epoch_ms(good["finished_at"]) if good else None,
           (end - good["finished_at"]).total_seconds() / 3600 if good else None,
           good["bytes"] if good else None, good["file"] if good else None,
           epoch_ms(drill["finished_at"]) if drill else None,
           None if drill is None else "restored and verified" if drill["ok"] else "failed", failed)
    return shapes.table(sq.query.metric, cols, [row])


NOT_INSTALLED = ("Statement statistics are unavailable: run CREATE EXTENSION pg_stat_statements in the service's "
                 "database (as a superuser).")
NOT_LOADED = ("Statement statistics are unavailable: the server does not preload pg_stat_statements (the embedded "
              "PostgreSQL does; on your own server add it to shared_preload_libraries and restart).")


@metric("database.performance", "Slowest Statements",
        f"The {SLOWEST} statements of this database with the highest mean execution time since statistics were "
        "last reset (pg_stat_statements, constants replaced by $n): calls, mean, max and total time (ms), rows. "
        "Statements of roles other than the service's are counted with their text withheld. Without "
        "pg_stat_statements the panel says why.", Unit.MS, Kind.TABLE, inputs=("database_stats",),
        column_units=(("calls", Unit.COUNT), ("rows", Unit.COUNT)))
async def performance(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    cols = [shapes.text("statement"), shapes.num("calls", Unit.COUNT), shapes.num("mean_ms", Unit.MS),
            shapes.num("max_ms", Unit.MS), shapes.num("total_ms", Unit.MS), shapes.num("rows", Unit.COUNT)]
    if await conn.fetchval(f"SELECT to_regclass('{STATEMENTS}')") is None:
        return shapes.table(sq.query.metric, cols, [], notices=(NOT_INSTALLED,))
    try:
        async with conn.transaction():  # a savepoint: the tenant transaction outlives a server that did not preload
            rows = await conn.fetch(
                f"""SELECT CASE WHEN query = '<insufficient privilege>' THEN '(text withheld: run by '
                                || userid::regrole::text || ')' ELSE query END AS statement,
                           calls, mean_exec_time, max_exec_time, total_exec_time, rows
                    FROM {STATEMENTS}
                    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                    ORDER BY mean_exec_time DESC LIMIT {SLOWEST}""")
    except asyncpg.exceptions.ObjectNotInPrerequisiteStateError:
        return shapes.table(sq.query.metric, cols, [], notices=(NOT_LOADED,))
    return shapes.table(sq.query.metric, cols, [tuple(r.values()) for r in rows])


@metric("database.indexes", "Index Usage",
        "Every index of the service's tables (pg_stat_user_indexes; a partitioned table's partitions summed under "
        "the parent's index): scans and index entries read since statistics were reset, size (bytes), and status "
        "unused (never scanned: it costs writes and space for nothing) or used. Unused first, then largest.",
        Unit.COUNT, Kind.TABLE, inputs=("database_stats",), column_units=(("size", Unit.BYTES),))
async def indexes(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    rows = await conn.fetch(
        """SELECT coalesce(pt.relname, s.relname) AS tbl, coalesce(pi.relname, s.indexrelname) AS idx,
                  count(*) AS parts, sum(s.idx_scan) AS scans, sum(s.idx_tup_read) AS entries,
                  sum(pg_relation_size(s.indexrelid)) AS bytes
           FROM pg_stat_user_indexes s
           LEFT JOIN pg_inherits ii ON ii.inhrelid = s.indexrelid LEFT JOIN pg_class pi ON pi.oid = ii.inhparent
           LEFT JOIN pg_inherits ti ON ti.inhrelid = s.relid LEFT JOIN pg_class pt ON pt.oid = ti.inhparent
           WHERE s.schemaname = 'public'
           GROUP BY 1, 2 ORDER BY sum(s.idx_scan) > 0, bytes DESC, 1, 2""")
    cols = [shapes.text("table"), shapes.text("index"), shapes.num("partitions", Unit.COUNT),
            shapes.num("scans", Unit.COUNT), shapes.num("entries_read", Unit.COUNT), shapes.num("size", Unit.BYTES),
            shapes.text("status")]
    return shapes.table(sq.query.metric, cols, [(r["tbl"], r["idx"], r["parts"], r["scans"], r["entries"], r["bytes"],
                                                 "used" if r["scans"] else "unused") for r in rows])


@metric("database.pool", "Database Connections",
        "The service's connection pool now: connections open, its maximum, in use, idle, and requests waiting for "
        "one; and the server's connections to this database against its max_connections.", Unit.COUNT,
        Kind.TABLE, inputs=("database_stats",))
async def pool(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    server = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections, "
        "current_setting('max_connections')::int AS max_connections")
    assert server is not None  # an aggregate without GROUP BY returns one row
    probe = runtime.facts().pool
    rows: list[tuple[str, int]] = []
    if probe is not None:
        p = probe()
        rows += [("pool_open", p.size), ("pool_max", p.max_size), ("pool_in_use", p.in_use), ("pool_idle", p.idle),
                 ("pool_waiting", p.waiting)]
    rows += [("server_connections", server["connections"]), ("server_max_connections", server["max_connections"])]
    notices = () if probe else ("No connection pool of a running service is known to this process.",)
    return shapes.table(sq.query.metric, [shapes.text("figure"), shapes.num("value", Unit.COUNT)], rows,
                        notices=notices)


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@metric("database.growth", "Data Growth by Month",
        "One row per monthly partition of the event log (UTC months): this tenant's events in it, the partition's "
        "size on disk with its indexes (every tenant's events together, bytes), and when it leaves the retention "
        "(`success-metrics retention` then drops it whole). status: past retention (due to be dropped, as of the "
        "range's end), next drop (the oldest kept), or kept.", Unit.BYTES, Kind.TABLE,
        inputs=("database_stats", "ingest_batches"), column_units=(("events", Unit.COUNT),))
async def growth(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    parts = await conn.fetch(
        """SELECT c.relname, pg_total_relation_size(c.oid) AS bytes FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY c.relname""")
    counts = {r["month"]: r["n"] for r in await conn.fetch(
        "SELECT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS month, count(*) AS n FROM events "
        "WHERE tenant_id = $1 GROUP BY 1", sq.tenant_id)}
    keep = runtime.facts().retention_months
    end = sq.query.end
    rows, next_drop = [], None
    for p in parts:
        name = p["relname"]  # events_yYYYYmMM (success_metrics/storage/partitions.py)
        month = date(int(name[8:12]), int(name[13:15]), 1)
        leaves = _utc(_add_months(month, keep + 1))
        if leaves <= end:
            status = "past retention"
        elif next_drop is None:
            status = next_drop = "next drop"
        else:
            status = "kept"
        rows.append((epoch_ms(_utc(month)), counts.get(month, 0), p["bytes"], epoch_ms(leaves), status))
    cols = [_time("month"), shapes.num("events", Unit.COUNT), shapes.num("size", Unit.BYTES),
            _time("leaves_retention"), shapes.text("status")]
    return shapes.table(sq.query.metric, cols, rows)


@metric("security.encryption", "Encryption Status",
        "What is encrypted: client connections to this service (HTTPS when tls_cert and tls_key are set), this "
        "service's connection to PostgreSQL (TLS, or a local Unix socket that never leaves the host), and at rest: "
        "webhook signing secrets (sealed with AES-256-GCM under a key-encryption key), ingest and service keys "
        "(only their SHA-256 is stored); events, lead contact data, the audit log and backups are not encrypted "
        "by the service (use encrypted disks or volumes). Each row: what, protection (yes, local or no), detail.",
        Unit.TEXT, Kind.TABLE, sensitivity=Sensitivity.SECURITY, inputs=("encryption",))
async def encryption(conn: asyncpg.Connection, sq: ScopedQuery, s: TenantSettings) -> Frame:
    database = runtime.facts().database_link or ("unknown", "no running service has reported its connection")
    service = (("yes", "HTTPS served by this service (tls_cert, tls_key)") if runtime.facts().tls else
               ("no", "plain HTTP: set tls_cert and tls_key, or terminate TLS at a proxy in front of it"))
    rows = [
        ("client connections to the service", *service),
        ("service connection to PostgreSQL", *database),
        ("webhook signing secrets at rest", "yes",
         "AES-256-GCM per secret, its key wrapped by the key-encryption key (SM_SECRET_KEY)"),
        ("ingest and service keys at rest", "yes", "only their SHA-256 is stored; the secret is shown once"),
        ("events, lead state and contact data at rest", "no",
         "stored in clear in PostgreSQL: use an encrypted disk or volume"),
        ("audit log at rest", "no", "hash-chained against tampering, not encrypted: use an encrypted disk or volume"),
        ("backups", "no", "compressed, file mode 0600: keep the backup directory on encrypted storage"),
    ]
    return shapes.table(sq.query.metric, [shapes.text("what"), shapes.text("protection"), shapes.text("detail")],
                        rows)
