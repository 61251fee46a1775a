-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = [datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 3, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 10, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 17, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 24, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 31, 0, 0, tzinfo=datetime.timezone.utc)]
-- $4 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
WITH per AS
  (SELECT ($3::timestamptz[])[width_bucket(l.created_at, $3::timestamptz[])] AS period,
          l.agent_id,
          count(*) AS leads,
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
   FROM leads l
   WHERE l.tenant_id = $1
     AND l.created_at >= $4
     AND l.created_at < $2
     AND l.agent_id IS NOT NULL
     AND TRUE
   GROUP BY 1,
            2)
SELECT *
FROM
  (SELECT b.period,
          a.agent_id,
          a.name,
          a.team_id,
          coalesce(t.name, a.team_id) AS team,
          TRUE AS wanted,
                  coalesce(per.leads, 0) AS leads,
                  per.response_hours,
                  coalesce(per.appointments, 0) AS appointments,
                  coalesce(per.closes, 0) AS closes,
                  coalesce(per.revenue, 0) AS revenue,
                  avg(coalesce(per.revenue, 0)) OVER (PARTITION BY b.period) AS mean_revenue
   FROM unnest($3::timestamptz[]) AS b (period)
   CROSS JOIN agents a
   LEFT JOIN per ON per.period = b.period
   AND per.agent_id = a.agent_id
   LEFT JOIN teams t ON t.tenant_id = a.tenant_id
   AND t.team_id = a.team_id
   WHERE a.tenant_id = $1
     AND (per.leads > 0
          OR a.active)) x
WHERE x.wanted
  AND TRUE
ORDER BY x.period,
         x.name,
         x.agent_id;
