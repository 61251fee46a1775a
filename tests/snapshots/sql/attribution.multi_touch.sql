-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 0.9
-- $5 = 0.5
-- $6 = 0.25
-- $7 = 604800.0
-- $8 = ['lead.created', 'lead.responded', 'contact.attempted', 'lead.nurtured']
WITH l AS
  (SELECT l.lead_id,
          CASE
              WHEN l.closed_at < $3 THEN l.closed_at
          END AS won_at,
          CASE
              WHEN l.closed_at < $3 THEN coalesce(l.deal_value, 0)::float8
          END AS value,
          CASE
              WHEN l.closed_at < $3 THEN CASE l.attribution_class
                                             WHEN 'direct' THEN $4::float8
                                             WHEN 'assisted' THEN $5::float8
                                             WHEN 'influenced' THEN $6::float8
                                             ELSE 0
                                         END
          END AS weight
   FROM leads l
   WHERE l.tenant_id = $1
     AND l.created_at >= $2
     AND l.created_at < $3
     AND TRUE),
     t AS
  (SELECT e.lead_id,
          CASE e.type
              WHEN 'lead.created' THEN 'source: ' || coalesce(e.payload->>'source', 'unknown')
              WHEN 'lead.nurtured' THEN 'nurture: ' || coalesce(e.payload->>'sequence', 'unknown')
              ELSE coalesce(e.payload->>'channel', 'unknown') || ' · ' || (CASE e.type
                                                                               WHEN 'lead.created' THEN 'source'
                                                                               WHEN 'lead.nurtured' THEN 'nurture'
                                                                               ELSE CASE
                                                                                        WHEN sm_is_manual(e.payload) THEN 'manual'
                                                                                        ELSE 'automated'
                                                                                    END
                                                                           END)
          END AS touch,
          CASE e.type
              WHEN 'lead.created' THEN 'source'
              WHEN 'lead.nurtured' THEN 'nurture'
              ELSE CASE
                       WHEN sm_is_manual(e.payload) THEN 'manual'
                       ELSE 'automated'
                   END
          END AS kind,
          l.won_at,
          l.value,
          row_number() OVER (PARTITION BY e.lead_id
                             ORDER BY e.occurred_at, e.event_id) AS i,
          power(0.5, extract(epoch
                             FROM l.won_at - e.occurred_at)::float8 / $7) AS decay
   FROM EVENTS e
   JOIN l ON l.lead_id = e.lead_id
   WHERE e.tenant_id = $1
     AND e.type = ANY($8::text[])
     AND e.occurred_at >= $2
     AND e.occurred_at < $3
     AND (l.won_at IS NULL
          OR e.occurred_at <= l.won_at)
     AND CASE e.type
             WHEN 'contact.attempted' THEN coalesce(e.payload->>'outcome', '') NOT IN ('failed',
                                                                                       'bounced')
             WHEN 'lead.created' THEN TRUE
             ELSE coalesce((e.payload->>'ok')::boolean, FALSE)
         END),
     d AS
  (SELECT t.*,
          decay / sum(decay) OVER (PARTITION BY lead_id) AS SHARE
   FROM t),
     paths AS
  (SELECT array_agg(touch
                    ORDER BY i) AS PATH,
          bool_or(won_at IS NOT NULL) AS won,
          max(value) AS value
   FROM t
   GROUP BY lead_id)
SELECT 'path' AS part,
       PATH,
       NULL AS kind,
       count(*) FILTER (
                        WHERE won)::float8 AS n,
       count(*) FILTER (
                        WHERE NOT won)::float8 AS nulls,
       coalesce(sum(value), 0) AS value
FROM paths
GROUP BY PATH
UNION ALL
SELECT 'touch', ARRAY[touch], kind,
                              coalesce(sum(SHARE), 0),
                              0,
                              coalesce(sum(SHARE * value), 0)
FROM d
GROUP BY touch,
         kind
UNION ALL
SELECT 'won',
       NULL,
       NULL,
       count(won_at),
       0,
       coalesce(sum(value), 0)
FROM l
UNION ALL
SELECT 'weighted',
       NULL,
       NULL,
       coalesce(sum(weight), 0),
       0,
       coalesce(sum(value * weight), 0)
FROM l;
