-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) FILTER (
                        WHERE created_at >= $3
                          AND appointment_at IS NOT NULL)::float8 / nullif(count(*) FILTER (
                                                                                            WHERE created_at >= $3), 0) AS CURRENT,
       count(*) FILTER (
                        WHERE created_at < $3
                          AND appointment_at IS NOT NULL)::float8 / nullif(count(*) FILTER (
                                                                                            WHERE created_at < $3), 0) AS previous
FROM leads
WHERE tenant_id = $1
  AND created_at >= $2
  AND created_at < $4;
