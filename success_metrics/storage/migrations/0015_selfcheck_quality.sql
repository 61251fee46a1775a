-- Issue 16 items 1 and 2: what the daily dashboard self-check found, and per-batch ingest tallies by event type
-- for the data-quality checks (rejections by reason, duplicates, late arrivals), which ingest_batches keeps only
-- as whole-batch counts.

-- One row per panel (or dashboard annotation query) replayed as one role in one self-check run.
CREATE TABLE dashboard_checks (
    tenant_id   text NOT NULL,
    run_at      timestamptz NOT NULL,
    dashboard   text NOT NULL,          -- the dashboard's uid
    panel       text NOT NULL,          -- the panel's title, or "annotations"
    metric      text NOT NULL,          -- the panel's target(s), comma separated
    role        text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'error', 'refused', 'slow')),
    latency_ms  double precision NOT NULL CHECK (latency_ms >= 0),
    message     text,
    PRIMARY KEY (tenant_id, run_at, dashboard, panel, role)
);

-- Per batch and event type: events accepted, duplicates, late arrivals (stored more than an hour after they
-- occurred); and per rejection reason (reason <> ''): events rejected. type is '' when the event named none
-- or an unknown one. Reasons name a field and a rule, never a value the sender sent.
CREATE TABLE ingest_tallies (
    tenant_id   text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL CHECK (source IN ('api', 'cli', 'demo')),
    type        text NOT NULL,
    reason      text NOT NULL DEFAULT '',
    accepted    integer NOT NULL DEFAULT 0 CHECK (accepted >= 0),
    duplicates  integer NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
    late        integer NOT NULL DEFAULT 0 CHECK (late >= 0),
    rejected    integer NOT NULL DEFAULT 0 CHECK (rejected >= 0)
);
CREATE INDEX ingest_tallies_at ON ingest_tallies (tenant_id, at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['dashboard_checks', 'ingest_tallies'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = sm_current_tenant()) '
            'WITH CHECK (tenant_id = sm_current_tenant())', t);
    END LOOP;
END
$$;

-- the self-check keeps 30 days of runs (it deletes older ones); tallies are a record, like ingest_batches
GRANT SELECT, INSERT, DELETE ON dashboard_checks TO sm_app;
GRANT SELECT, INSERT ON ingest_tallies TO sm_app;
REVOKE UPDATE, DELETE, TRUNCATE ON ingest_tallies FROM sm_app;
