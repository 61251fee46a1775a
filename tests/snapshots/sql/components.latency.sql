-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'UTC'
-- $5 = datetime.timedelta(days=1)
SELECT t,
       KEY,
       sum(calls) AS n,
       sum(ok_calls) AS ok,
       sum(latency_ms_sum) AS lat
FROM
  (SELECT x.ts AS t,
          component AS KEY,
          *
   FROM
     (SELECT (date_bin($5::interval, u.bucket AT TIME ZONE $4, timestamp '2000-01-03') AT TIME ZONE $4) AS ts,
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
        AND u.grain = 'day'
        AND u.bucket >= $2
        AND u.bucket < $3) x
   WHERE TRUE
     AND TRUE) c
GROUP BY 1,
         2;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'UTC'
-- $5 = datetime.timedelta(days=1)
SELECT t,
       KEY,
       percentile_cont(0.5) WITHIN GROUP (
                                          ORDER BY latency_ms_sum) AS q0,
                                         percentile_cont(0.95) WITHIN GROUP (
                                                                             ORDER BY latency_ms_sum) AS q1
FROM
  (SELECT x.ts AS t,
          component AS KEY,
          *
   FROM
     (SELECT (date_bin($5::interval, c.occurred_at AT TIME ZONE $4, timestamp '2000-01-03') AT TIME ZONE $4) AS ts,
             'component.call'::text AS TYPE,
             coalesce(c.component, '') AS component,
             coalesce(c.service, '') AS service,
             CASE
                 WHEN c.ok THEN ''
                 ELSE coalesce(c.error_category, 'other')
             END AS error_category,
             1::bigint AS calls,
             coalesce(c.ok::integer::numeric, 0) AS ok_calls,
             coalesce(c.latency_ms, 0) AS latency_ms_sum,
             c.latency_ms AS latency_ms_max
      FROM component_calls c
      WHERE c.tenant_id = $1
        AND c.occurred_at >= $2
        AND c.occurred_at < $3) x
   WHERE TRUE
     AND TRUE) c
GROUP BY 1,
         2;
