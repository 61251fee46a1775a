-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2

SET LOCAL plan_cache_mode = force_generic_plan;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = []
-- $3 = []
-- $4 = []
-- $5 = 'sql-snapshot'
-- $6 = 'sql-snapshot'
-- $7 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $8 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $9 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
-- $10 = [datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 2, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 3, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 4, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 5, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 6, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 7, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 8, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 9, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 10, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 11, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 12, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 13, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 14, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 15, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 16, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 17, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 18, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 19, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 20, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 21, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 22, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 23, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 24, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 25, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 26, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 27, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 28, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 29, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 30, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 31, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 1, 30, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 1, 31, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 2, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 3, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 4, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 5, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 6, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 7, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 8, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 9, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 10, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 11, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 12, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 13, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 14, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 15, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 16, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 17, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 18, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 19, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 20, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 21, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 22, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 23, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 24, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 25, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 26, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 27, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 28, 0, 0, tzinfo=datetime.timezone.utc)]
-- $11 = [datetime.datetime(2025, 3, 2, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 3, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 4, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 5, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 6, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 7, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 8, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 9, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 10, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 11, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 12, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 13, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 14, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 15, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 16, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 17, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 18, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 19, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 20, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 21, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 22, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 23, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 24, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 25, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 26, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 27, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 28, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 29, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 30, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 31, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 1, 30, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 1, 31, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 2, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 3, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 4, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 5, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 6, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 7, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 8, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 9, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 10, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 11, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 12, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 13, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 14, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 15, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 16, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 17, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 18, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 19, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 20, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 21, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 22, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 23, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 24, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 25, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 26, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 27, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 2, 28, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)]
WITH days AS
  (SELECT d.period,
          d.s,
          d.e,
          coalesce(c.calls, 0) = coalesce(r.n, 0)
   AND coalesce(c.day_end = d.e, TRUE) AS VALID,
       c.down_hours
   FROM unnest($9::integer[], $10::timestamptz[], $11::timestamptz[]) AS d (period, s, e)
   LEFT JOIN closed_days c ON c.tenant_id = $6
   AND c.day_start = d.s
   LEFT JOIN
     (SELECT bucket,
             sum(n) AS n
      FROM rollups
      WHERE tenant_id = $6
        AND grain = 'day'
        AND TYPE = 'component.call'
        AND bucket >= $7
        AND bucket < $8
      GROUP BY bucket) r ON r.bucket = d.s)
SELECT period,
       sum(runs_us + coalesce((extract(epoch
                                       FROM lead_end - lead_fail_at) * 1000000)::bigint, 0) + coalesce((extract(epoch
                                                                                                                FROM trail_end - trail_fail_at) * 1000000)::bigint, 0))::bigint AS runs_us,
       sum(runs_n + (lead_end IS NOT NULL)::integer + (trail_end IS NOT NULL)::integer)::bigint AS runs_n
FROM
  (SELECT period,
          runs_us,
          runs_n,
          lead_fail_at,
          trail_fail_at,
          CASE
              WHEN lead_fail_at IS NOT NULL
                   AND open_before IS NOT TRUE THEN coalesce(first_ok_at, next_ok)
          END AS lead_end,
          CASE
              WHEN trail_fail_at IS NOT NULL THEN next_ok
          END AS trail_end
   FROM
     (SELECT period,
             runs_us,
             runs_n,
             lead_fail_at,
             trail_fail_at,
             first_ok_at,
             lag(first_ok_at IS NULL
                 OR trail_fail_at IS NOT NULL) OVER (PARTITION BY period, component
                                                     ORDER BY piece) AS open_before,
             min(first_ok_at) OVER (PARTITION BY period, component
                                    ORDER BY piece DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS next_ok
      FROM
        (SELECT d.period,
                r.day_start AS piece,
                r.component,
                r.lead_fail_at,
                r.first_ok_at,
                r.runs_us,
                r.runs_n,
                r.trail_fail_at
         FROM days d
         JOIN closed_day_runs r ON r.tenant_id = $1
         AND r.day_start = d.s
         WHERE d.valid
         UNION ALL SELECT period,
                          piece,
                          component,
                          lead_fail_at,
                          first_ok_at,
                          runs_us,
                          runs_n,
                          trail_fail_at
         FROM
           (SELECT period,
                   piece,
                   component,
                   min(AT) FILTER (
                                   WHERE NOT ok
                                     AND prev_ok IS NULL) AS lead_fail_at,
                   min(AT) FILTER (
                                   WHERE ok) AS first_ok_at,
                   coalesce(sum((extract(epoch
                                         FROM next_ok - AT) * 1000000)::bigint) FILTER (
                                                                                        WHERE NOT ok
                                                                                          AND prev_ok
                                                                                          AND next_ok IS NOT NULL), 0)::bigint AS runs_us,
                   count(*) FILTER (
                                    WHERE NOT ok
                                      AND prev_ok
                                      AND next_ok IS NOT NULL)::integer AS runs_n,
                   min(AT) FILTER (
                                   WHERE NOT ok
                                     AND prev_ok
                                     AND next_ok IS NULL) AS trail_fail_at
            FROM
              (SELECT g.period,
                      g.lo AS piece,
                      c.component,
                      c.occurred_at AS AT,
                      c.ok,
                      lag(c.ok) OVER w AS prev_ok, -- the next successful call: over the calls before this one in reverse order, a frame whose head
 -- stays put (a frame from 1 FOLLOWING moves its head each row, and min was then recomputed
 -- over the rest of the partition for every call: quadratic in a component's calls)
 min(c.occurred_at) FILTER (
                            WHERE c.ok) OVER (back ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS next_ok
               FROM
                 (SELECT *
                  FROM unnest($2::integer[], $3::timestamptz[], $4::timestamptz[]) AS g (period, lo, hi)
                  UNION ALL SELECT period,
                                   s,
                                   e
                  FROM days
                  WHERE NOT VALID) g
               JOIN component_calls c ON c.tenant_id = $5
               AND c.occurred_at >= g.lo
               AND c.occurred_at < g.hi
               WHERE c.ok IS NOT NULL
                 AND c.component IS NOT NULL WINDOW w AS (PARTITION BY g.period,
                                                                       g.lo,
                                                                       c.component
                                                          ORDER BY c.occurred_at,
                                                                   c.event_id),
                                                    back AS (PARTITION BY g.period,
                                                                          g.lo,
                                                                          c.component
                                                             ORDER BY c.occurred_at DESC,
                                                                      c.event_id DESC)) calls
            GROUP BY period,
                     piece,
                     component) e) x) w) r
GROUP BY period;

-- statement 4

SET LOCAL plan_cache_mode TO DEFAULT;
