-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT finished_at,
       bytes,
       FILE
FROM backup_runs
WHERE kind = 'backup'
  AND ok
  AND finished_at < $1
ORDER BY finished_at DESC
LIMIT 1;

-- statement 3
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT finished_at,
       ok
FROM backup_runs
WHERE kind = 'verify'
  AND finished_at < $1
ORDER BY finished_at DESC
LIMIT 1;

-- statement 4
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = datetime.datetime(1, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*)
FROM backup_runs
WHERE kind = 'backup'
  AND NOT ok
  AND finished_at < $1
  AND finished_at > $2;
