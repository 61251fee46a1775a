-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT dashboard,
       panel,
       metric,
       ROLE,
       outcome,
       latency_ms,
       message,
       run_at
FROM dashboard_checks
WHERE tenant_id = $1
  AND run_at =
    (SELECT max(run_at)
     FROM dashboard_checks
     WHERE tenant_id = $1
       AND run_at < $2)
ORDER BY CASE outcome
             WHEN 'error' THEN 0
             WHEN 'slow' THEN 1
             WHEN 'refused' THEN 2
             ELSE 3
         END,
         dashboard,
         panel,
         ROLE;
