-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $5 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $6 = 'sql-snapshot'
-- $7 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $8 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $9 = 'UTC'
-- $10 = 'sql-snapshot'
-- $11 = datetime.datetime(2024, 11, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $12 = datetime.datetime(2025, 7, 2, 0, 0, tzinfo=datetime.timezone.utc)
-- $13 = '2025-03'
-- $14 = '2025-03'
(
   (SELECT t AS t,
           CASE TYPE
               WHEN 'error.prevented' THEN 'errors_prevented'
               WHEN 'agent.activity' THEN 'agent'
               ELSE 'tasks'
           END AS kind,
           CASE TYPE
               WHEN 'agent.activity' THEN agent_id
               ELSE ''
           END AS KEY,
           coalesce(sum(reports), 0)::numeric AS n,
           coalesce(sum(figure) FILTER (
                                        WHERE CASE TYPE
                                                  WHEN 'lead.responded' THEN automation <> 'manual'
                                                  WHEN 'contact.attempted' THEN automation = 'auto'
                                                  ELSE TRUE
                                              END), 0)::numeric AS value
    FROM
      (SELECT $4::timestamptz AS t,
              u.type,
              CASE u.type
                  WHEN 'lead.responded' THEN u.k3
                  WHEN 'contact.attempted' THEN u.k3
              END AS automation,
              CASE u.type
                  WHEN 'agent.activity' THEN u.k1
              END AS agent_id,
              CASE u.type
                  WHEN 'lead.responded' THEN u.s1
                  WHEN 'lead.enriched' THEN u.s1
                  WHEN 'lead.routed' THEN u.s1
                  WHEN 'lead.nurtured' THEN u.s1
                  WHEN 'lead.scored' THEN u.n
                  WHEN 'contact.attempted' THEN u.n
                  WHEN 'error.prevented' THEN u.s1
              END AS figure,
              CASE u.type
                  WHEN 'agent.activity' THEN u.n
              END AS reports
       FROM rollups u
       WHERE u.tenant_id = $1
         AND u.grain = 'month'
         AND u.type IN ('lead.responded',
                        'lead.enriched',
                        'lead.routed',
                        'lead.nurtured',
                        'lead.scored',
                        'contact.attempted',
                        'error.prevented',
                        'agent.activity')
         AND u.bucket >= $2
         AND u.bucket < $3) s
    GROUP BY 1,
             TYPE,
             3
    ORDER BY array_position(ARRAY['lead.responded', 'lead.enriched', 'lead.routed', 'lead.nurtured', 'lead.scored', 'contact.attempted', 'error.prevented', 'agent.activity'], TYPE)))
UNION ALL
  (SELECT $5::timestamptz AS t,
          'deal' AS kind,
          coalesce(l.attribution_class, '') AS KEY,
          count(*)::numeric AS n,
          coalesce(sum(l.deal_value), 0) AS value
   FROM leads l
   WHERE l.tenant_id = $6
     AND l.closed_at >= $7
     AND l.closed_at < $8
     AND TRUE
   GROUP BY 1,
            3)
UNION ALL
  (SELECT NULL::timestamptz AS t,
          'cost' AS kind,
          coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $9, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
          0::numeric AS n,
          sum((payload->>'amount')::numeric) AS value
   FROM EVENTS
   WHERE tenant_id = $10
     AND TYPE = 'cost.recorded'
     AND occurred_at >= $11
     AND occurred_at < $12
     AND coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $9, 'YYYY-MM')) BETWEEN $13 AND $14
   GROUP BY 3);
