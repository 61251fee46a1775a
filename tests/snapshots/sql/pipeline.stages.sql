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
       coalesce(CASE TYPE
                    WHEN 'lead.created' THEN sum(leads)
                    WHEN 'lead.responded' THEN sum(responses)
                    WHEN 'lead.enriched' THEN sum(enrichments)
                    WHEN 'lead.scored' THEN sum(scorings)
                    WHEN 'lead.routed' THEN sum(routings)
                    WHEN 'lead.nurtured' THEN sum(steps)
                    WHEN 'component.call' THEN sum(calls)
                    ELSE NULL
                END, 0) AS n,
       coalesce(CASE TYPE
                    WHEN 'lead.created' THEN sum(0)
                    WHEN 'lead.responded' THEN sum(ok_responses)
                    WHEN 'lead.enriched' THEN sum(ok_enrichments)
                    WHEN 'lead.scored' THEN sum(0)
                    WHEN 'lead.routed' THEN sum(ok_routings)
                    WHEN 'lead.nurtured' THEN sum(ok_steps)
                    WHEN 'component.call' THEN sum(ok_calls)
                    ELSE NULL
                END, 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.type,
          CASE u.type
              WHEN 'lead.created' THEN u.n
          END AS leads,
          CASE u.type
              WHEN 'lead.responded' THEN u.k3
          END AS automation,
          CASE u.type
              WHEN 'lead.responded' THEN u.n
          END AS responses,
          CASE u.type
              WHEN 'lead.responded' THEN u.s1
          END AS ok_responses,
          CASE u.type
              WHEN 'lead.enriched' THEN u.n
          END AS enrichments,
          CASE u.type
              WHEN 'lead.enriched' THEN u.s1
          END AS ok_enrichments,
          CASE u.type
              WHEN 'lead.scored' THEN u.n
          END AS scorings,
          CASE u.type
              WHEN 'lead.routed' THEN u.n
          END AS routings,
          CASE u.type
              WHEN 'lead.routed' THEN u.s1
          END AS ok_routings,
          CASE u.type
              WHEN 'lead.nurtured' THEN u.n
          END AS steps,
          CASE u.type
              WHEN 'lead.nurtured' THEN u.s1
          END AS ok_steps,
          CASE u.type
              WHEN 'component.call' THEN u.k1
          END AS component,
          CASE u.type
              WHEN 'component.call' THEN u.n
          END AS calls,
          CASE u.type
              WHEN 'component.call' THEN u.s1
          END AS ok_calls
   FROM rollups u
   WHERE u.tenant_id = $1
     AND u.grain = 'day'
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
       coalesce(CASE TYPE
                    WHEN 'lead.created' THEN sum(leads)
                    WHEN 'lead.responded' THEN sum(responses)
                    WHEN 'lead.enriched' THEN sum(enrichments)
                    WHEN 'lead.scored' THEN sum(scorings)
                    WHEN 'lead.routed' THEN sum(routings)
                    WHEN 'lead.nurtured' THEN sum(steps)
                    WHEN 'component.call' THEN sum(calls)
                    ELSE NULL
                END, 0) AS n,
       coalesce(CASE TYPE
                    WHEN 'lead.created' THEN sum(0)
                    WHEN 'lead.responded' THEN sum(ok_responses)
                    WHEN 'lead.enriched' THEN sum(ok_enrichments)
                    WHEN 'lead.scored' THEN sum(0)
                    WHEN 'lead.routed' THEN sum(ok_routings)
                    WHEN 'lead.nurtured' THEN sum(ok_steps)
                    WHEN 'component.call' THEN sum(ok_calls)
                    ELSE NULL
                END, 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.type,
          CASE u.type
              WHEN 'lead.created' THEN u.n
          END AS leads,
          CASE u.type
              WHEN 'lead.responded' THEN u.k3
          END AS automation,
          CASE u.type
              WHEN 'lead.responded' THEN u.n
          END AS responses,
          CASE u.type
              WHEN 'lead.responded' THEN u.s1
          END AS ok_responses,
          CASE u.type
              WHEN 'lead.enriched' THEN u.n
          END AS enrichments,
          CASE u.type
              WHEN 'lead.enriched' THEN u.s1
          END AS ok_enrichments,
          CASE u.type
              WHEN 'lead.scored' THEN u.n
          END AS scorings,
          CASE u.type
              WHEN 'lead.routed' THEN u.n
          END AS routings,
          CASE u.type
              WHEN 'lead.routed' THEN u.s1
          END AS ok_routings,
          CASE u.type
              WHEN 'lead.nurtured' THEN u.n
          END AS steps,
          CASE u.type
              WHEN 'lead.nurtured' THEN u.s1
          END AS ok_steps,
          CASE u.type
              WHEN 'component.call' THEN u.k1
          END AS component,
          CASE u.type
              WHEN 'component.call' THEN u.n
          END AS calls,
          CASE u.type
              WHEN 'component.call' THEN u.s1
          END AS ok_calls
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
