-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2

SELECT to_regclass('pg_stat_statements');

-- statement 3

SELECT CASE
           WHEN query = '<insufficient privilege>' THEN '(text withheld: run by ' || userid::regrole::text || ')'
           ELSE query
       END AS STATEMENT,
       calls,
       mean_exec_time,
       max_exec_time,
       total_exec_time,
       ROWS
FROM pg_stat_statements
WHERE dbid =
    (SELECT oid
     FROM pg_database
     WHERE datname = current_database())
ORDER BY mean_exec_time DESC
LIMIT 10;
