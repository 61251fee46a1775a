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
-- $6 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $8 = [0, 1]
-- $9 = [datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)]
-- $10 = 'sql-snapshot'
-- $11 = 'UTC'
-- $12 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $13 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $14 = [0, 1]
-- $15 = [datetime.date(2025, 3, 1), datetime.date(2025, 1, 29)]
-- $16 = [31, 31]
WITH days AS
  (SELECT d.period,
          d.s,
          d.e,
          coalesce(c.calls, 0) = coalesce(r.n, 0)
   AND coalesce(c.day_end = d.e, TRUE) AS VALID,
       c.down_hours
   FROM
     (SELECT g.period,
             (g.first + i)::timestamp AT TIME ZONE $11 AS s,
                                                   (g.first + i + 1)::timestamp AT TIME ZONE $11 AS e
      FROM unnest($14::integer[], $15::date[], $16::integer[]) AS g (period, FIRST, n),
           generate_series(0, g.n - 1) i) d
   LEFT JOIN closed_days c ON c.tenant_id = $10
   AND c.day_start = d.s
   AND c.day_start >= $12
   AND c.day_start < $13
   LEFT JOIN
     (SELECT bucket,
             sum(n) AS n
      FROM rollups
      WHERE tenant_id = $10
        AND grain = 'day'
        AND TYPE = 'component.call'
        AND bucket >= $12
        AND bucket < $13
      GROUP BY bucket) r ON r.bucket = d.s),
     opened AS MATERIALIZED
  (SELECT x.*,
          b.hi,
          CASE
              WHEN x.first_ok_at IS NULL
                   OR x.trail_fail_at IS NOT NULL THEN coalesce(x.trail_fail_at, x.lead_fail_at)
          END AS open_at
   FROM
     (SELECT period,
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
                  component) x
      WHERE (x.lead_fail_at IS NOT NULL
             OR x.trail_fail_at IS NOT NULL
             OR x.runs_n > 0)
      UNION ALL SELECT d.period,
                       x.day_start AS piece,
                       x.component,
                       x.lead_fail_at,
                       x.first_ok_at,
                       x.runs_us,
                       x.runs_n,
                       x.trail_fail_at
      FROM days d
      JOIN closed_day_runs x ON x.tenant_id = $1
      AND x.day_start = d.s
      AND x.day_start >= $6
      AND x.day_start < $7
      WHERE d.valid
        AND (x.lead_fail_at IS NOT NULL
             OR x.trail_fail_at IS NOT NULL
             OR x.runs_n > 0)) x
   JOIN unnest($8::integer[], $9::timestamptz[]) AS b (period, hi) ON b.period = x.period)
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
                   AND NOT (coalesce(open_before, FALSE)
                            AND coalesce(open_until >= piece, TRUE)) THEN coalesce(first_ok_at, resolved)
          END AS lead_end,
          CASE
              WHEN trail_fail_at IS NOT NULL THEN resolved
          END AS trail_end
   FROM
     (SELECT x.*,
             lag(first_ok_at IS NULL
                 OR trail_fail_at IS NOT NULL) OVER w AS open_before,
             lag(resolved) OVER w AS open_until
      FROM
        (SELECT x.*,
                r.at AS resolved
         FROM opened x
         LEFT JOIN LATERAL
           (SELECT c.occurred_at AS AT
            FROM component_calls c
            WHERE c.tenant_id = $1
              AND c.occurred_at > x.open_at
              AND c.occurred_at < x.hi
              AND c.component = x.component
              AND c.ok
            ORDER BY c.occurred_at
            LIMIT 1) r ON TRUE) x WINDOW w AS (PARTITION BY period,
                                                            component
                                               ORDER BY piece)) w) r
GROUP BY period;

-- statement 4

SET LOCAL plan_cache_mode TO DEFAULT;
