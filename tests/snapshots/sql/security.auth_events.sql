-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'UTC'
-- $2 = datetime.timedelta(days=1)
-- $3 = 'sql-snapshot'
-- $4 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $5 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT (date_bin($2::interval, AT AT TIME ZONE $1, timestamp '2000-01-03') AT TIME ZONE $1) AS t,
       count(*) FILTER (
                        WHERE (RESOURCE->>'authentication' = 'ok'
                               OR action = 'auth.success')) AS success,
       count(*) FILTER (
                        WHERE action IN ('auth.failure', 'auth.limited')) AS failure
FROM audit_log
WHERE tenant_id = $3
  AND ((RESOURCE->>'authentication' = 'ok'
        OR action = 'auth.success')
       OR action IN ('auth.failure',
                     'auth.limited'))
  AND AT >= $4
  AND AT < $5
GROUP BY 1;
