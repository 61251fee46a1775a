-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2

SELECT coalesce(pt.relname, s.relname) AS tbl,
       coalesce(pi.relname, s.indexrelname) AS idx,
       count(*) AS parts,
       sum(s.idx_scan) AS scans,
       sum(s.idx_tup_read) AS entries,
       sum(pg_relation_size(s.indexrelid)) AS bytes
FROM pg_stat_user_indexes s
LEFT JOIN pg_inherits ii ON ii.inhrelid = s.indexrelid
LEFT JOIN pg_class pi ON pi.oid = ii.inhparent
LEFT JOIN pg_inherits ti ON ti.inhrelid = s.relid
LEFT JOIN pg_class pt ON pt.oid = ti.inhparent
WHERE s.schemaname = 'public'
GROUP BY 1,
         2
ORDER BY sum(s.idx_scan) > 0,
         bytes DESC,
         1,
         2;
