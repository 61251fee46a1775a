-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'sql-snapshot'
SELECT coalesce(sum(x.selling_minutes), 0) AS selling,
       coalesce(sum(x.admin_minutes), 0) AS ADMIN,
       coalesce(sum(x.followup_minutes), 0) AS followup
FROM
  (SELECT u.bucket AS t,
          'agent.activity'::text AS TYPE,
          u.agent_id,
          u.reports,
          u.selling_minutes,
          u.admin_minutes,
          u.followup_minutes
   FROM rollup_agent_activity u
   WHERE u.tenant_id = $1
     AND u.grain = 'month'
     AND u.bucket >= $2
     AND u.bucket < $3) x
LEFT JOIN agents a ON a.tenant_id = $4
AND a.agent_id = x.agent_id
WHERE TRUE;
