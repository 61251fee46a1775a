-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT TYPE,
       coalesce(sum(volume), 0) AS n,
       coalesce(sum(successes), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.type,
          CASE u.type
              WHEN 'lead.responded' THEN u.k3
          END AS automation,
          CASE u.type
              WHEN 'component.call' THEN u.k1
          END AS component,
          u.n AS volume,
          CASE u.type
              WHEN 'lead.responded' THEN u.s1
              WHEN 'lead.enriched' THEN u.s1
              WHEN 'lead.routed' THEN u.s1
              WHEN 'lead.nurtured' THEN u.s1
              WHEN 'component.call' THEN u.s1
          END AS successes
   FROM rollups u
   WHERE u.tenant_id = $1
     AND u.grain = 'month'
     AND u.type IN ('lead.created',
                    'lead.responded',
                    'lead.enriched',
                    'lead.scored',
                    'lead.routed',
                    'lead.nurtured',
                    'component.call')
     AND u.bucket >= $2
     AND u.bucket < $3) x
WHERE CASE TYPE
          WHEN 'lead.responded' THEN automation <> 'manual'
          WHEN 'component.call' THEN component = 'webhook_receiver'
          ELSE TRUE
      END
GROUP BY TYPE;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT TYPE,
       coalesce(sum(volume), 0) AS n,
       coalesce(sum(successes), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.type,
          CASE u.type
              WHEN 'lead.responded' THEN u.k3
          END AS automation,
          CASE u.type
              WHEN 'component.call' THEN u.k1
          END AS component,
          u.n AS volume,
          CASE u.type
              WHEN 'lead.responded' THEN u.s1
              WHEN 'lead.enriched' THEN u.s1
              WHEN 'lead.routed' THEN u.s1
              WHEN 'lead.nurtured' THEN u.s1
              WHEN 'component.call' THEN u.s1
          END AS successes
   FROM rollups u
   WHERE u.tenant_id = $1
     AND u.grain = 'hour'
     AND u.type IN ('lead.created',
                    'lead.responded',
                    'lead.enriched',
                    'lead.scored',
                    'lead.routed',
                    'lead.nurtured',
                    'component.call')
     AND u.bucket >= $2
     AND u.bucket < $3) x
WHERE CASE TYPE
          WHEN 'lead.responded' THEN automation <> 'manual'
          WHEN 'component.call' THEN component = 'webhook_receiver'
          ELSE TRUE
      END
GROUP BY TYPE;

-- statement 4
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE first_response_at <= created_at + interval '60 seconds'
                          AND first_response_at < $3) AS fast,
       count(*) FILTER (
                        WHERE scored_at < $3) AS scored
FROM leads
WHERE tenant_id = $1
  AND created_at >= $2
  AND created_at < $3;
