-- Per-day summaries of component calls for closed tenant-local days (issue 17: closed ranges at warm speed),
-- written by calculators.closed_days.refresh (a background loop) and read by uptime.system and errors.mttr.
-- A day's row is valid while ``calls`` equals the day's component.call count in the daily rollups, which ingest
-- keeps in the transaction that stores the events: a backfill into a closed day changes that count, so the
-- readers stop using the row at once (they read the day from raw rows) until the next refresh recomputes it.
--   closed_days: the day's component calls and its down hours (UTC hours inside the day whose calls succeeded
--                less than half the time, as uptime.system defines them).
--   closed_day_runs: per component, the day's failure runs as they compose with other days (calculators/closed_days.py):
--                the first call's failure time when the day begins with one, the first success, the runs that
--                started after a success and were resolved within the day (sum of their durations in µs, count),
--                and the start of a run still unresolved at the day's end.
CREATE TABLE closed_days (
    tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    day_start   timestamptz NOT NULL,
    day_end     timestamptz NOT NULL,
    calls       bigint NOT NULL,
    down_hours  integer NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day_start)
);

CREATE TABLE closed_day_runs (
    tenant_id     text NOT NULL,
    day_start     timestamptz NOT NULL,
    component     text NOT NULL,
    lead_fail_at  timestamptz,
    first_ok_at   timestamptz,
    runs_us       bigint NOT NULL,
    runs_n        integer NOT NULL,
    trail_fail_at timestamptz,
    PRIMARY KEY (tenant_id, day_start, component),
    FOREIGN KEY (tenant_id, day_start) REFERENCES closed_days ON DELETE CASCADE
);

ALTER TABLE closed_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE closed_day_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON closed_days USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
CREATE POLICY tenant_isolation ON closed_day_runs USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON closed_days, closed_day_runs TO sm_app;
