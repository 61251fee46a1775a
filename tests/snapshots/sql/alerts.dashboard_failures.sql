-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT run_at,
       count(*) FILTER (
                        WHERE outcome = 'error') AS failed
FROM dashboard_checks
WHERE tenant_id = $1
  AND run_at >= $2
  AND run_at < $3
GROUP BY run_at
ORDER BY run_at DESC
LIMIT 2;
