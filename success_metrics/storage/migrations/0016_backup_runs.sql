-- Backups and restore drills (datasource/storage/backup.py): one row per run, whatever its outcome, so System
-- Health can say when the last good backup was taken and when a restore of one was last proven (backup.status).
-- It holds no tenant data: the service role may read it; only the owner (the CLI and the backup loop) writes.
CREATE TABLE backup_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('backup', 'verify', 'restore')),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    ok          boolean NOT NULL,
    file        text NOT NULL,
    bytes       bigint,
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX backup_runs_latest ON backup_runs (kind, ok, finished_at DESC);
REVOKE ALL ON backup_runs FROM sm_app;
GRANT SELECT ON backup_runs TO sm_app;
