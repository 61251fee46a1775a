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
-- $5 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $6 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = 'UTC'
-- $8 = 'sql-snapshot'
-- $9 = datetime.datetime(2024, 11, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $10 = datetime.datetime(2025, 7, 2, 0, 0, tzinfo=datetime.timezone.utc)
-- $11 = '2025-03'
-- $12 = '2025-03'
(
   (SELECT NULL::timestamptz AS t,
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
      (SELECT u.bucket AS t,
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
  (SELECT NULL::timestamptz AS t,
          'deal' AS kind,
          coalesce(l.attribution_class, '') AS KEY,
          count(*)::numeric AS n,
          coalesce(sum(l.deal_value), 0) AS value
   FROM leads l
   WHERE l.tenant_id = $4
     AND l.closed_at >= $5
     AND l.closed_at < $6
     AND TRUE
   GROUP BY 1,
            3)
UNION ALL
  (SELECT NULL::timestamptz AS t,
          'cost' AS kind,
          coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
          0::numeric AS n,
          sum((payload->>'amount')::numeric) AS value
   FROM EVENTS
   WHERE tenant_id = $8
     AND TYPE = 'cost.recorded'
     AND occurred_at >= $9
     AND occurred_at < $10
     AND coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) BETWEEN $11 AND $12
   GROUP BY 3);

-- statement 3
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE l.first_response_at < $1) AS responded,
       count(*) FILTER (
                        WHERE l.appointment_at < $1) AS appointments,
       count(*) FILTER (
                        WHERE l.closed_at < $1) AS closes,
       coalesce(sum(l.deal_value) FILTER (
                                          WHERE l.closed_at < $1), 0) AS revenue
FROM leads l
WHERE l.tenant_id = $2
  AND l.created_at >= $3
  AND l.created_at < $1
  AND TRUE;

-- statement 4
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'sql-snapshot'
-- $5 = datetime.datetime(2024, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $6 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = 'UTC'
-- $8 = 'sql-snapshot'
-- $9 = datetime.datetime(2023, 11, 30, 0, 0, tzinfo=datetime.timezone.utc)
-- $10 = datetime.datetime(2024, 7, 2, 0, 0, tzinfo=datetime.timezone.utc)
-- $11 = '2024-03'
-- $12 = '2024-03'
(
   (SELECT NULL::timestamptz AS t,
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
      (SELECT u.bucket AS t,
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
  (SELECT NULL::timestamptz AS t,
          'deal' AS kind,
          coalesce(l.attribution_class, '') AS KEY,
          count(*)::numeric AS n,
          coalesce(sum(l.deal_value), 0) AS value
   FROM leads l
   WHERE l.tenant_id = $4
     AND l.closed_at >= $5
     AND l.closed_at < $6
     AND TRUE
   GROUP BY 1,
            3)
UNION ALL
  (SELECT NULL::timestamptz AS t,
          'cost' AS kind,
          coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
          0::numeric AS n,
          sum((payload->>'amount')::numeric) AS value
   FROM EVENTS
   WHERE tenant_id = $8
     AND TYPE = 'cost.recorded'
     AND occurred_at >= $9
     AND occurred_at < $10
     AND coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) BETWEEN $11 AND $12
   GROUP BY 3);

-- statement 5
-- $1 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2024, 3, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE l.first_response_at < $1) AS responded,
       count(*) FILTER (
                        WHERE l.appointment_at < $1) AS appointments,
       count(*) FILTER (
                        WHERE l.closed_at < $1) AS closes,
       coalesce(sum(l.deal_value) FILTER (
                                          WHERE l.closed_at < $1), 0) AS revenue
FROM leads l
WHERE l.tenant_id = $2
  AND l.created_at >= $3
  AND l.created_at < $1
  AND TRUE;

-- statement 6
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'sql-snapshot'
-- $5 = datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $6 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = 'UTC'
-- $8 = 'sql-snapshot'
-- $9 = datetime.datetime(2024, 10, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $10 = datetime.datetime(2025, 7, 2, 0, 0, tzinfo=datetime.timezone.utc)
-- $11 = '2025-01'
-- $12 = '2025-03'
(
   (SELECT NULL::timestamptz AS t,
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
      (SELECT u.bucket AS t,
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
  (SELECT NULL::timestamptz AS t,
          'deal' AS kind,
          coalesce(l.attribution_class, '') AS KEY,
          count(*)::numeric AS n,
          coalesce(sum(l.deal_value), 0) AS value
   FROM leads l
   WHERE l.tenant_id = $4
     AND l.closed_at >= $5
     AND l.closed_at < $6
     AND TRUE
   GROUP BY 1,
            3)
UNION ALL
  (SELECT NULL::timestamptz AS t,
          'cost' AS kind,
          coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
          0::numeric AS n,
          sum((payload->>'amount')::numeric) AS value
   FROM EVENTS
   WHERE tenant_id = $8
     AND TYPE = 'cost.recorded'
     AND occurred_at >= $9
     AND occurred_at < $10
     AND coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) BETWEEN $11 AND $12
   GROUP BY 3);

-- statement 7
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2025, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE l.first_response_at < $1) AS responded,
       count(*) FILTER (
                        WHERE l.appointment_at < $1) AS appointments,
       count(*) FILTER (
                        WHERE l.closed_at < $1) AS closes,
       coalesce(sum(l.deal_value) FILTER (
                                          WHERE l.closed_at < $1), 0) AS revenue
FROM leads l
WHERE l.tenant_id = $2
  AND l.created_at >= $3
  AND l.created_at < $1
  AND TRUE;

-- statement 8
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'sql-snapshot'
-- $5 = datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $6 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = 'UTC'
-- $8 = 'sql-snapshot'
-- $9 = datetime.datetime(2023, 10, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $10 = datetime.datetime(2024, 7, 2, 0, 0, tzinfo=datetime.timezone.utc)
-- $11 = '2024-01'
-- $12 = '2024-03'
(
   (SELECT NULL::timestamptz AS t,
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
      (SELECT u.bucket AS t,
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
  (SELECT NULL::timestamptz AS t,
          'deal' AS kind,
          coalesce(l.attribution_class, '') AS KEY,
          count(*)::numeric AS n,
          coalesce(sum(l.deal_value), 0) AS value
   FROM leads l
   WHERE l.tenant_id = $4
     AND l.closed_at >= $5
     AND l.closed_at < $6
     AND TRUE
   GROUP BY 1,
            3)
UNION ALL
  (SELECT NULL::timestamptz AS t,
          'cost' AS kind,
          coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
          0::numeric AS n,
          sum((payload->>'amount')::numeric) AS value
   FROM EVENTS
   WHERE tenant_id = $8
     AND TYPE = 'cost.recorded'
     AND occurred_at >= $9
     AND occurred_at < $10
     AND coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $7, 'YYYY-MM')) BETWEEN $11 AND $12
   GROUP BY 3);

-- statement 9
-- $1 = datetime.datetime(2024, 4, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2024, 1, 1, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE l.first_response_at < $1) AS responded,
       count(*) FILTER (
                        WHERE l.appointment_at < $1) AS appointments,
       count(*) FILTER (
                        WHERE l.closed_at < $1) AS closes,
       coalesce(sum(l.deal_value) FILTER (
                                          WHERE l.closed_at < $1), 0) AS revenue
FROM leads l
WHERE l.tenant_id = $2
  AND l.created_at >= $3
  AND l.created_at < $1
  AND TRUE;
