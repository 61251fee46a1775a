-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2

SELECT c.relname,
       pg_total_relation_size(c.oid) AS bytes
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass
ORDER BY c.relname;

-- statement 3
-- $1 = 'sql-snapshot'
SELECT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS MONTH,
       count(*) AS n
FROM EVENTS
WHERE tenant_id = $1
GROUP BY 1;
