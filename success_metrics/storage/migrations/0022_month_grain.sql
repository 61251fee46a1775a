-- Monthly rollups (issue 17: a 24-month panel from rollups should be flat in events). Beside the hourly (UTC) and
-- daily (tenant-local) rows, ingest now keeps one row per type, key and tenant-local calendar month
-- (calculators/rollups.py, bucket = the local midnight of the 1st), and ranges read whole months from them
-- (calculators/buckets.plan). At a few events a day and key the daily rows grew with the events; a month's rows
-- are bounded by its keys. The table keeps its shape: only the grain check gains 'month'.
-- The monthly rows of the events stored so far are the sums of their daily rows, histograms merged bin by bin.
ALTER TABLE rollups DROP CONSTRAINT rollups_grain_check;
ALTER TABLE rollups ADD CONSTRAINT rollups_grain_check CHECK (grain IN ('hour', 'day', 'month'));

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
GROUP BY d.tenant_id, d.type, d.month, d.k1, d.k2, d.k3;
