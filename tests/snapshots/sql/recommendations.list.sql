-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = [5, 60, 240]
-- $3 = 'sql-snapshot'
-- $4 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
WITH c AS
  (SELECT l.*,
          l.closed_at < $1 AS won
   FROM leads l
   WHERE l.tenant_id = $3
     AND l.created_at >= $4
     AND l.created_at < $1
     AND TRUE)
SELECT 'minutes' AS part,
       b::text AS KEY,
       count(*) AS n,
       count(*) FILTER (
                        WHERE won) AS closes,
       NULL::float8 AS hours
FROM c l
CROSS JOIN unnest($2::int[]) b
WHERE l.first_contact_at >= l.created_at
  AND l.first_contact_at < $1
  AND extract(epoch
              FROM l.first_contact_at - l.created_at) / 60 >= b
GROUP BY b
UNION ALL
SELECT 'under',
       b::text,
       count(*),
       count(*) FILTER (
                        WHERE won),
                NULL
FROM c l
CROSS JOIN unnest($2::int[]) b
WHERE l.first_contact_at >= l.created_at
  AND l.first_contact_at < $1
  AND extract(epoch
              FROM l.first_contact_at - l.created_at) / 60 < b
GROUP BY b
UNION ALL
SELECT 'source',
       coalesce(l.source, 'unknown'),
       count(*),
       count(*) FILTER (
                        WHERE won),
                percentile_cont(0.5) WITHIN GROUP (
                                                   ORDER BY extract(epoch
                                                                    FROM l.first_contact_at - l.created_at) / 60 / 60) FILTER (
                                                                                                                               WHERE l.first_contact_at >= l.created_at
                                                                                                                                 AND l.first_contact_at < $1)
FROM c l
GROUP BY 2
UNION ALL
SELECT 'team',
       coalesce(t.name, l.team_id),
       count(*) FILTER (
                        WHERE l.first_contact_at >= l.created_at
                          AND l.first_contact_at < $1),
                0,
                percentile_cont(0.5) WITHIN GROUP (
                                                   ORDER BY extract(epoch
                                                                    FROM l.first_contact_at - l.created_at) / 60 / 60) FILTER (
                                                                                                                               WHERE l.first_contact_at >= l.created_at
                                                                                                                                 AND l.first_contact_at < $1)
FROM c l
LEFT JOIN teams t ON t.tenant_id = l.tenant_id
AND t.team_id = l.team_id
WHERE l.team_id IS NOT NULL
GROUP BY 2;
