-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = 'sql-snapshot'
-- $3 = 'UTC'
-- $4 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $5 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $6 = [0, 1, 2]
-- $7 = [datetime.date(2025, 3, 1), datetime.date(2025, 1, 29), datetime.date(2024, 4, 1)]
-- $8 = [31, 31, 365]
WITH days AS
  (SELECT d.period,
          d.s,
          d.e,
          coalesce(c.calls, 0) = coalesce(r.n, 0)
   AND coalesce(c.day_end = d.e, TRUE) AS VALID,
       c.down_hours
   FROM
     (SELECT g.period,
             (g.first + i)::timestamp AT TIME ZONE $3 AS s,
                                                   (g.first + i + 1)::timestamp AT TIME ZONE $3 AS e
      FROM unnest($6::integer[], $7::date[], $8::integer[]) AS g (period, FIRST, n),
           generate_series(0, g.n - 1) i) d
   LEFT JOIN closed_days c ON c.tenant_id = $2
   AND c.day_start = d.s
   AND c.day_start >= $4
   AND c.day_start < $5
   LEFT JOIN
     (SELECT bucket,
             sum(n) AS n
      FROM rollups
      WHERE tenant_id = $2
        AND grain = 'day'
        AND TYPE = 'component.call'
        AND bucket >= $4
        AND bucket < $5
      GROUP BY bucket) r ON r.bucket = d.s)
SELECT period,
       sum(down)::bigint AS down
FROM
  (SELECT period,
          down_hours AS down
   FROM days
   WHERE VALID
   UNION ALL SELECT period,
     (SELECT count(*)
      FROM
        (SELECT bucket
         FROM rollup_component_call
         WHERE tenant_id = $1
           AND grain = 'hour'
           AND bucket >= days.s
           AND bucket < days.e
         GROUP BY bucket
         HAVING sum(ok_calls) < 0.5 * sum(calls)) h)
   FROM days
   WHERE NOT VALID
   UNION ALL SELECT 0 AS period,
                    count(*) AS down
   FROM
     (SELECT NULL::timestamptz AS t
      WHERE FALSE) d
   UNION ALL SELECT 1 AS period,
                    count(*) AS down
   FROM
     (SELECT NULL::timestamptz AS t
      WHERE FALSE) d
   UNION ALL SELECT 2 AS period,
                    count(*) AS down
   FROM
     (SELECT NULL::timestamptz AS t
      WHERE FALSE) d) x
GROUP BY period;
