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
       sum(volume) FILTER (
                           WHERE TYPE <> 'component.call') AS steps,
       sum(volume - ok) FILTER (
                                WHERE TYPE <> 'component.call') AS failed,
       sum(volume) FILTER (
                           WHERE TYPE = 'component.call') AS calls,
       sum(volume) FILTER (
                           WHERE TYPE = 'component.call'
                             AND error_category IN ('validation', 'data_validation')) AS invalid
FROM
  (SELECT *
   FROM
     (SELECT (date_bin($5::interval, u.bucket AT TIME ZONE $4, timestamp '2000-01-03') AT TIME ZONE $4) AS t,
             u.type,
             CASE u.type
                 WHEN 'lead.responded' THEN u.k3
             END AS automation,
             CASE u.type
                 WHEN 'component.call' THEN u.k3
             END AS error_category,
             u.n AS volume,
             u.s1 AS ok
      FROM rollups u
      WHERE u.tenant_id = $1
        AND u.grain = 'day'
        AND u.type IN ('lead.responded',
                       'lead.enriched',
                       'lead.routed',
                       'lead.nurtured',
                       'component.call')
        AND u.bucket >= $2
        AND u.bucket < $3) x
   WHERE TRUE) s
WHERE CASE TYPE
          WHEN 'lead.responded' THEN automation <> 'manual'
          ELSE TRUE
      END
GROUP BY t;
