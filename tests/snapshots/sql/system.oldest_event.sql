-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
SELECT min(occurred_at)
FROM EVENTS
WHERE tenant_id = $1;
