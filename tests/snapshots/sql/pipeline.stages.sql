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
-- $7 = 'sql-snapshot'
-- $8 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $9 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $10 = 'sql-snapshot'
-- $11 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $12 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $13 = 'sql-snapshot'
-- $14 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $15 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $16 = 'sql-snapshot'
-- $17 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $18 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $19 = 'sql-snapshot'
-- $20 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $21 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT 'lead.created' AS TYPE,
       coalesce(sum(leads), 0) AS n,
       coalesce(sum(0), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.source,
          u.location_id,
          u.leads,
          u.high_priority_leads
   FROM rollup_lead_created u
   WHERE u.tenant_id = $1
     AND u.grain = 'day'
     AND u.bucket >= $2
     AND u.bucket < $3) x
WHERE TRUE
UNION ALL
SELECT 'lead.responded' AS TYPE,
       coalesce(sum(responses), 0) AS n,
       coalesce(sum(ok_responses), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.channel,
          u.automation,
          u.responses,
          u.ok_responses
   FROM rollup_lead_responded u
   WHERE u.tenant_id = $4
     AND u.grain = 'day'
     AND u.bucket >= $5
     AND u.bucket < $6) x
WHERE automation <> 'manual'
UNION ALL
SELECT 'lead.enriched' AS TYPE,
       coalesce(sum(enrichments), 0) AS n,
       coalesce(sum(ok_enrichments), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.provider,
          u.enrichments,
          u.ok_enrichments
   FROM rollup_lead_enriched u
   WHERE u.tenant_id = $7
     AND u.grain = 'day'
     AND u.bucket >= $8
     AND u.bucket < $9) x
WHERE TRUE
UNION ALL
SELECT 'lead.scored' AS TYPE,
       coalesce(sum(scorings), 0) AS n,
       coalesce(sum(0), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.score_band,
          u.scorings,
          u.score_sum
   FROM rollup_lead_scored u
   WHERE u.tenant_id = $10
     AND u.grain = 'day'
     AND u.bucket >= $11
     AND u.bucket < $12) x
WHERE TRUE
UNION ALL
SELECT 'lead.routed' AS TYPE,
       coalesce(sum(routings), 0) AS n,
       coalesce(sum(ok_routings), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.team_id,
          u.routings,
          u.ok_routings
   FROM rollup_lead_routed u
   WHERE u.tenant_id = $13
     AND u.grain = 'day'
     AND u.bucket >= $14
     AND u.bucket < $15) x
WHERE TRUE
UNION ALL
SELECT 'lead.nurtured' AS TYPE,
       coalesce(sum(steps), 0) AS n,
       coalesce(sum(ok_steps), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.sequence,
          u.steps,
          u.ok_steps
   FROM rollup_lead_nurtured u
   WHERE u.tenant_id = $16
     AND u.grain = 'day'
     AND u.bucket >= $17
     AND u.bucket < $18) x
WHERE TRUE
UNION ALL
SELECT 'component.call' AS TYPE,
       coalesce(sum(calls), 0) AS n,
       coalesce(sum(ok_calls), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.component,
          u.service,
          u.error_category,
          u.calls,
          u.ok_calls,
          u.latency_ms_sum,
          u.latency_ms_max
   FROM rollup_component_call u
   WHERE u.tenant_id = $19
     AND u.grain = 'day'
     AND u.bucket >= $20
     AND u.bucket < $21) x
WHERE component = 'webhook_receiver';

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'sql-snapshot'
-- $5 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $6 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = 'sql-snapshot'
-- $8 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $9 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $10 = 'sql-snapshot'
-- $11 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $12 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $13 = 'sql-snapshot'
-- $14 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $15 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $16 = 'sql-snapshot'
-- $17 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $18 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $19 = 'sql-snapshot'
-- $20 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $21 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT 'lead.created' AS TYPE,
       coalesce(sum(leads), 0) AS n,
       coalesce(sum(0), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.source,
          u.location_id,
          u.leads,
          u.high_priority_leads
   FROM rollup_lead_created u
   WHERE u.tenant_id = $1
     AND u.grain = 'hour'
     AND u.bucket >= $2
     AND u.bucket < $3) x
WHERE TRUE
UNION ALL
SELECT 'lead.responded' AS TYPE,
       coalesce(sum(responses), 0) AS n,
       coalesce(sum(ok_responses), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.channel,
          u.automation,
          u.responses,
          u.ok_responses
   FROM rollup_lead_responded u
   WHERE u.tenant_id = $4
     AND u.grain = 'hour'
     AND u.bucket >= $5
     AND u.bucket < $6) x
WHERE automation <> 'manual'
UNION ALL
SELECT 'lead.enriched' AS TYPE,
       coalesce(sum(enrichments), 0) AS n,
       coalesce(sum(ok_enrichments), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.provider,
          u.enrichments,
          u.ok_enrichments
   FROM rollup_lead_enriched u
   WHERE u.tenant_id = $7
     AND u.grain = 'hour'
     AND u.bucket >= $8
     AND u.bucket < $9) x
WHERE TRUE
UNION ALL
SELECT 'lead.scored' AS TYPE,
       coalesce(sum(scorings), 0) AS n,
       coalesce(sum(0), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.score_band,
          u.scorings,
          u.score_sum
   FROM rollup_lead_scored u
   WHERE u.tenant_id = $10
     AND u.grain = 'hour'
     AND u.bucket >= $11
     AND u.bucket < $12) x
WHERE TRUE
UNION ALL
SELECT 'lead.routed' AS TYPE,
       coalesce(sum(routings), 0) AS n,
       coalesce(sum(ok_routings), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.team_id,
          u.routings,
          u.ok_routings
   FROM rollup_lead_routed u
   WHERE u.tenant_id = $13
     AND u.grain = 'hour'
     AND u.bucket >= $14
     AND u.bucket < $15) x
WHERE TRUE
UNION ALL
SELECT 'lead.nurtured' AS TYPE,
       coalesce(sum(steps), 0) AS n,
       coalesce(sum(ok_steps), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.sequence,
          u.steps,
          u.ok_steps
   FROM rollup_lead_nurtured u
   WHERE u.tenant_id = $16
     AND u.grain = 'hour'
     AND u.bucket >= $17
     AND u.bucket < $18) x
WHERE TRUE
UNION ALL
SELECT 'component.call' AS TYPE,
       coalesce(sum(calls), 0) AS n,
       coalesce(sum(ok_calls), 0) AS ok
FROM
  (SELECT u.bucket AS t,
          u.component,
          u.service,
          u.error_category,
          u.calls,
          u.ok_calls,
          u.latency_ms_sum,
          u.latency_ms_max
   FROM rollup_component_call u
   WHERE u.tenant_id = $19
     AND u.grain = 'hour'
     AND u.bucket >= $20
     AND u.bucket < $21) x
WHERE component = 'webhook_receiver';

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
