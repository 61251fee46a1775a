-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.timedelta(seconds=3600)
SELECT count(*)
FROM
  (SELECT t
   FROM
     (SELECT date_bin($4::interval, u.bucket, timestamptz '2000-01-03 00:00:00+00') AS t,
             'component.call'::text AS TYPE,
             u.component,
             u.service,
             u.error_category,
             u.calls,
             u.ok_calls,
             u.latency_ms_sum,
             u.latency_ms_max
      FROM rollup_component_call u
      WHERE u.tenant_id = $1
        AND u.grain = 'hour'
        AND u.bucket >= $2
        AND u.bucket < $3) s
   GROUP BY t
   HAVING sum(ok_calls) < 0.5 * sum(calls)) d;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.timedelta(seconds=3600)
SELECT count(*)
FROM
  (SELECT t
   FROM
     (SELECT date_bin($4::interval, u.bucket, timestamptz '2000-01-03 00:00:00+00') AS t,
             'component.call'::text AS TYPE,
             u.component,
             u.service,
             u.error_category,
             u.calls,
             u.ok_calls,
             u.latency_ms_sum,
             u.latency_ms_max
      FROM rollup_component_call u
      WHERE u.tenant_id = $1
        AND u.grain = 'hour'
        AND u.bucket >= $2
        AND u.bucket < $3) s
   GROUP BY t
   HAVING sum(ok_calls) < 0.5 * sum(calls)) d;

-- statement 4
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.timedelta(seconds=3600)
SELECT count(*)
FROM
  (SELECT t
   FROM
     (SELECT date_bin($4::interval, u.bucket, timestamptz '2000-01-03 00:00:00+00') AS t,
             'component.call'::text AS TYPE,
             u.component,
             u.service,
             u.error_category,
             u.calls,
             u.ok_calls,
             u.latency_ms_sum,
             u.latency_ms_max
      FROM rollup_component_call u
      WHERE u.tenant_id = $1
        AND u.grain = 'hour'
        AND u.bucket >= $2
        AND u.bucket < $3) s
   GROUP BY t
   HAVING sum(ok_calls) < 0.5 * sum(calls)) d;
