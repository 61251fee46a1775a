-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT NULL::timestamptz AS t,
       'deal' AS kind,
       coalesce(l.attribution_class, '') AS KEY,
       count(*)::numeric AS n,
       coalesce(sum(l.deal_value), 0) AS value
FROM leads l
WHERE l.tenant_id = $1
  AND l.closed_at >= $2
  AND l.closed_at < $3
  AND TRUE
GROUP BY 1,
         3;
