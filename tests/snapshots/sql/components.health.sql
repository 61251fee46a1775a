-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT t,
       KEY,
       sum(calls) AS n,
       sum(ok_calls) AS ok,
       sum(latency_ms_sum) AS lat
FROM
  (SELECT NULL::timestamptz AS t,
          component AS KEY,
          *
   FROM
     (SELECT u.bucket AS ts,
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
        AND u.grain = 'month'
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
SELECT t,
       KEY,
       sm_hist_value(min(h) FILTER (
                                    WHERE cum > floor((0.5::double precision * (tot - 1))))) + (max((0.5::double precision * (tot - 1))) - floor(max((0.5::double precision * (tot - 1))))) * (sm_hist_value(min(h) FILTER (
                                                                                                                                                                                                                            WHERE cum > ceil((0.5::double precision * (tot - 1))))) - sm_hist_value(min(h) FILTER (
                                                                                                                                                                                                                                                                                                                   WHERE cum > floor((0.5::double precision * (tot - 1)))))) AS q0,
       sm_hist_value(min(h) FILTER (
                                    WHERE cum > floor((0.95::double precision * (tot - 1))))) + (max((0.95::double precision * (tot - 1))) - floor(max((0.95::double precision * (tot - 1))))) * (sm_hist_value(min(h) FILTER (
                                                                                                                                                                                                                               WHERE cum > ceil((0.95::double precision * (tot - 1))))) - sm_hist_value(min(h) FILTER (
                                                                                                                                                                                                                                                                                                                       WHERE cum > floor((0.95::double precision * (tot - 1)))))) AS q1
FROM
  (SELECT t,
          KEY,
          h,
          sum(c) OVER (PARTITION BY t, KEY
                       ORDER BY h) AS cum,
          sum(c) OVER (PARTITION BY t, KEY) AS tot
   FROM
     (SELECT t,
             KEY,
             h,
             sum(hc) AS c
      FROM
        (SELECT NULL::timestamptz AS t,
                component AS KEY,
                *
         FROM
           (SELECT u.bucket AS ts,
                   'component.call'::text AS TYPE,
                   b.key::integer AS h,
                   b.value::bigint AS hc,
                   u.component,
                   u.service,
                   u.error_category,
                   u.calls,
                   u.ok_calls,
                   u.latency_ms_sum,
                   u.latency_ms_max
            FROM rollup_component_call u
            CROSS JOIN LATERAL jsonb_each_text(u.latency_ms_bins) b
            WHERE u.tenant_id = $1
              AND u.grain = 'month'
              AND u.bucket >= $2
              AND u.bucket < $3) x
         WHERE TRUE
           AND TRUE) s
      WHERE h IS NOT NULL
      GROUP BY t,
               KEY,
               h) b) w
GROUP BY t,
         KEY;

-- statement 4
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 31, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT t,
       KEY,
       sum(calls) AS n,
       sum(ok_calls) AS ok,
       sum(latency_ms_sum) AS lat
FROM
  (SELECT NULL::timestamptz AS t,
          component AS KEY,
          *
   FROM
     (SELECT u.bucket AS ts,
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
