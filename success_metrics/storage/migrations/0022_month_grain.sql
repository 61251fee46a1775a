-- Monthly rollups, and one heap per grain (issue 17: a 24-month panel from rollups should be flat in events).
-- Beside the hourly (UTC) and daily (tenant-local) rows, ingest now keeps one row per type, key and tenant-local
-- calendar month (calculators/rollups.py, bucket = the local midnight of the 1st), and ranges read whole months from
-- them (calculators/buckets.plan). At a few events a day and key the daily rows grew with the events; a month's rows
-- are bounded by its keys.
-- The table is now partitioned by grain (LIST: rollups_hour, rollups_day, rollups_month), same columns, key,
-- row-level security and grants. Ingest writes a tenant's hourly, daily and monthly rows of a batch together, so in
-- one heap a daily row sat among about one hourly row per event: reading 24 months of one type's daily rows touched
-- a page per row (bench-01, component.call: 5,962 daily rows on 1,852 pages at 157k events, 4,481 on 689 at 54k).
-- The rows are copied in key order, so each grain's history starts dense by type and bucket.
-- The rollup_<type> views are made again over the new table with their own definitions.
CREATE TEMP TABLE sm_rollup_views ON COMMIT DROP AS
    SELECT DISTINCT v.relname AS name, pg_get_viewdef(v.oid) AS def, v.reloptions AS options
    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.refobjid = 'rollups'::regclass AND v.relkind = 'v';
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT name FROM sm_rollup_views LOOP
        EXECUTE format('DROP VIEW %I', v.name);
    END LOOP;
END $$;

ALTER TABLE rollups RENAME TO rollups_unpartitioned;
CREATE TABLE rollups (
    tenant_id text NOT NULL,
    grain     text NOT NULL CHECK (grain IN ('hour', 'day', 'month')),
    type      text NOT NULL,
    bucket    timestamptz NOT NULL,   -- hour: UTC hour start; day: the tenant-local day's start; month: its 1st's
    k1        text NOT NULL,
    k2        text NOT NULL,
    k3        text NOT NULL,
    n         bigint NOT NULL,
    s1        numeric NOT NULL,
    s2        numeric NOT NULL,
    s3        numeric NOT NULL,
    mx        numeric,
    hist      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant_id, grain, type, bucket, k1, k2, k3)
) PARTITION BY LIST (grain);
CREATE TABLE rollups_hour PARTITION OF rollups FOR VALUES IN ('hour');
CREATE TABLE rollups_day PARTITION OF rollups FOR VALUES IN ('day');
CREATE TABLE rollups_month PARTITION OF rollups FOR VALUES IN ('month');
INSERT INTO rollups SELECT * FROM rollups_unpartitioned ORDER BY grain, tenant_id, type, bucket, k1, k2, k3;
DROP TABLE rollups_unpartitioned;

ALTER TABLE rollups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rollups USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollups TO sm_app;

DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT * FROM sm_rollup_views ORDER BY name LOOP
        EXECUTE format('CREATE VIEW %I WITH (%s) AS %s', v.name, array_to_string(v.options, ', '), v.def);
        EXECUTE format('GRANT SELECT ON %I TO sm_app', v.name);
    END LOOP;
END $$;

-- The monthly rows of the events stored so far are the sums of their daily rows, histograms merged bin by bin.
INSERT INTO rollups (tenant_id, grain, type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist)
SELECT d.tenant_id, 'month', d.type, d.month, d.k1, d.k2, d.k3, sum(d.n), sum(d.s1), sum(d.s2), sum(d.s3), max(d.mx),
       coalesce((SELECT jsonb_object_agg(b.bin, b.c) FROM (
                   SELECT x.key AS bin, sum(x.value::bigint) AS c
                   FROM unnest(array_agg(d.hist)) h (hist) CROSS JOIN LATERAL jsonb_each_text(h.hist) x
                   GROUP BY x.key) b), '{}'::jsonb)
FROM (SELECT r.*, date_trunc('month', r.bucket AT TIME ZONE z.tz) AT TIME ZONE z.tz AS month
      FROM rollups r
      LEFT JOIN LATERAL (SELECT coalesce((SELECT settings->>'timezone' FROM tenants t
                                          WHERE t.tenant_id = r.tenant_id), 'UTC') AS tz) z ON TRUE
      WHERE r.grain = 'day') d
GROUP BY d.tenant_id, d.type, d.month, d.k1, d.k2, d.k3
ORDER BY d.tenant_id, d.type, d.month, d.k1, d.k2, d.k3;
