-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = 'UTC'
-- $3 = datetime.timedelta(days=1)
-- $4 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $5 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT (date_bin($3::interval, x.created_at AT TIME ZONE $2, timestamp '2000-01-03') AT TIME ZONE $2) AS t,
       avg(h) AS AVG,
       percentile_cont(0.5) WITHIN GROUP (
                                          ORDER BY h) AS median,
                                         percentile_cont(0.95) WITHIN GROUP (
                                                                             ORDER BY h) AS p95
FROM
  (SELECT l.created_at,
          extract(epoch
                  FROM l.first_response_at - l.created_at) / 1 AS h
   FROM leads l
   WHERE l.tenant_id = $1
     AND l.created_at >= $5
     AND l.created_at < $4
     AND l.first_response_at >= l.created_at
     AND l.first_response_at < $4
     AND TRUE) x
GROUP BY 1;
