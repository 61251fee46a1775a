-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'UTC'
-- $5 = datetime.timedelta(days=1)
SELECT t,
       sum(CASE TYPE
               WHEN 'lead.responded' THEN responses
               WHEN 'lead.enriched' THEN enrichments
               WHEN 'lead.routed' THEN routings
               WHEN 'lead.nurtured' THEN steps
               ELSE NULL
           END) AS steps,
       sum(CASE TYPE
               WHEN 'lead.responded' THEN responses - ok_responses
               WHEN 'lead.enriched' THEN enrichments - ok_enrichments
               WHEN 'lead.routed' THEN routings - ok_routings
               WHEN 'lead.nurtured' THEN steps - ok_steps
               ELSE NULL
           END) AS failed,
       sum(CASE TYPE
               WHEN 'component.call' THEN calls
               ELSE NULL
           END) AS calls,
       sum(CASE TYPE
               WHEN 'component.call' THEN CASE
                                              WHEN error_category IN ('validation', 'data_validation') THEN calls
                                              ELSE 0
                                          END
               ELSE NULL
           END) AS invalid
FROM
  (SELECT *
   FROM
     (SELECT (date_bin($5::interval, u.bucket AT TIME ZONE $4, timestamp '2000-01-03') AT TIME ZONE $4) AS t,
             u.type,
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
                 WHEN 'component.call' THEN u.k3
             END AS error_category,
             CASE u.type
                 WHEN 'component.call' THEN u.n
             END AS calls
      FROM rollups u
      WHERE u.tenant_id = $1
        AND u.grain = 'day'
        AND u.type IN ('lead.responded',
                       'lead.enriched',
                       'lead.routed',
                       'lead.nurtured',
                       'component.call')
        AND u.bucket >= $2
        AND u.bucket < $3) x
   WHERE TRUE) s
WHERE CASE TYPE
          WHEN 'lead.responded' THEN automation <> 'manual'
          ELSE TRUE
      END
GROUP BY t;
