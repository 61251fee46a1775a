-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2

SELECT
  (SELECT count(*)
   FROM pg_stat_activity
   WHERE datname = current_database()) AS connections,
       current_setting('max_connections')::int AS max_connections;
