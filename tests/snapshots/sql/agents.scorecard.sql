-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = [datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)]
SELECT *
FROM
  (SELECT per.*,
          avg(per.revenue) OVER (PARTITION BY per.period) AS mean_revenue
   FROM
     (SELECT b.lo AS period,
             a.agent_id,
             a.name,
             a.team_id,
             coalesce(t.name, a.team_id) AS team,
             bool_and(TRUE) AS wanted,
             count(l.lead_id) AS leads,
             avg(extract(epoch
                         FROM l.first_contact_at - l.created_at) / 3600) FILTER (
                                                                                 WHERE l.first_contact_at >= l.created_at
                                                                                   AND l.first_contact_at < $2) AS response_hours,
             count(*) FILTER (
                              WHERE l.appointment_at < $2) AS appointments,
             count(*) FILTER (
                              WHERE l.closed_at < $2) AS closes,
             coalesce(sum(l.deal_value) FILTER (
                                                WHERE l.closed_at < $2), 0) AS revenue
      FROM
        (SELECT s AS lo,
                lead(s, 1, $2::timestamptz) OVER (
                                                  ORDER BY s) AS hi
         FROM unnest($3::timestamptz[]) s) b
      CROSS JOIN agents a
      LEFT JOIN leads l ON l.tenant_id = a.tenant_id
      AND l.agent_id = a.agent_id
      AND l.created_at >= b.lo
      AND l.created_at < b.hi
      AND TRUE
      LEFT JOIN teams t ON t.tenant_id = a.tenant_id
      AND t.team_id = a.team_id
      WHERE a.tenant_id = $1
      GROUP BY b.lo,
               a.agent_id,
               a.name,
               a.team_id,
               t.name
      HAVING count(l.lead_id) > 0
      OR bool_or(a.active)) per) x
WHERE x.wanted
  AND TRUE
ORDER BY x.period,
         x.name,
         x.agent_id;
