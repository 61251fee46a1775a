-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = 'sql-snapshot'
SELECT a.agent_id,
       a.name,
       a.team_id,
       coalesce(t.name, a.team_id) AS team,
       count(l.lead_id) AS leads
FROM agents a
LEFT JOIN leads l ON l.tenant_id = a.tenant_id
AND l.agent_id = a.agent_id
AND l.created_at >= $1
AND l.created_at < $2
AND TRUE
LEFT JOIN teams t ON t.tenant_id = a.tenant_id
AND t.team_id = a.team_id
WHERE a.tenant_id = $3
  AND TRUE
  AND TRUE
GROUP BY a.agent_id,
         a.name,
         a.team_id,
         t.name
HAVING count(l.lead_id) > 0
OR bool_or(a.active)
ORDER BY a.name,
         a.agent_id;
