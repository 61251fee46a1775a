-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 'sql-snapshot'
SELECT coalesce(
                  (SELECT max(finished_at)
                   FROM backup_runs
                   WHERE kind = 'backup'
                     AND ok
                     AND finished_at < $1),
                  (SELECT created_at
                   FROM tenants
                   WHERE tenant_id = $2));
