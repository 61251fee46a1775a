-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*)
FROM leads
WHERE tenant_id = $1
  AND priority = 'high'
  AND created_at >= $2
  AND created_at < $3
  AND first_contact_at IS NULL
  AND appointment_at IS NULL
  AND closed_at IS NULL
  AND erased_at IS NULL;
