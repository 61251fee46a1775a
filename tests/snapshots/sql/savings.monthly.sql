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
-- $22 = 'sql-snapshot'
-- $23 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $24 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $25 = 'sql-snapshot'
-- $26 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $27 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $28 = datetime.timedelta(days=92)
-- $29 = 'UTC'
-- $30 = 'sql-snapshot'
-- $31 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $32 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_responses) FILTER (
                                 WHERE automation <> 'manual') AS value
FROM
  (SELECT u.bucket AS t,
          u.channel,
          u.automation,
          u.responses,
          u.ok_responses
   FROM rollup_lead_responded u
   WHERE u.tenant_id = $1
     AND u.grain = 'day'
     AND u.bucket >= $2
     AND u.bucket < $3) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_enrichments) AS value
FROM
  (SELECT u.bucket AS t,
          u.provider,
          u.enrichments,
          u.ok_enrichments
   FROM rollup_lead_enriched u
   WHERE u.tenant_id = $4
     AND u.grain = 'day'
     AND u.bucket >= $5
     AND u.bucket < $6) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_routings) AS value
FROM
  (SELECT u.bucket AS t,
          u.team_id,
          u.routings,
          u.ok_routings
   FROM rollup_lead_routed u
   WHERE u.tenant_id = $7
     AND u.grain = 'day'
     AND u.bucket >= $8
     AND u.bucket < $9) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_steps) AS value
FROM
  (SELECT u.bucket AS t,
          u.sequence,
          u.steps,
          u.ok_steps
   FROM rollup_lead_nurtured u
   WHERE u.tenant_id = $10
     AND u.grain = 'day'
     AND u.bucket >= $11
     AND u.bucket < $12) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(scorings) AS value
FROM
  (SELECT u.bucket AS t,
          u.score_band,
          u.scorings,
          u.score_sum
   FROM rollup_lead_scored u
   WHERE u.tenant_id = $13
     AND u.grain = 'day'
     AND u.bucket >= $14
     AND u.bucket < $15) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(attempts) FILTER (
                             WHERE automation = 'auto') AS value
FROM
  (SELECT u.bucket AS t,
          u.channel,
          u.outcome,
          u.automation,
          u.attempts,
          u.consented_attempts
   FROM rollup_contact_attempted u
   WHERE u.tenant_id = $16
     AND u.grain = 'day'
     AND u.bucket >= $17
     AND u.bucket < $18) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'errors_prevented' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(errors_prevented) AS value
FROM
  (SELECT u.bucket AS t,
          u.kind,
          u.records,
          u.errors_prevented
   FROM rollup_error_prevented u
   WHERE u.tenant_id = $19
     AND u.grain = 'day'
     AND u.bucket >= $20
     AND u.bucket < $21) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'agent' AS kind,
       agent_id AS KEY,
       sum(reports) AS n,
       0::numeric AS value
FROM
  (SELECT u.bucket AS t,
          u.agent_id,
          u.reports,
          u.selling_minutes,
          u.admin_minutes,
          u.followup_minutes
   FROM rollup_agent_activity u
   WHERE u.tenant_id = $22
     AND u.grain = 'day'
     AND u.bucket >= $23
     AND u.bucket < $24) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'deal' AS kind,
       coalesce(l.attribution_class, '') AS KEY,
       count(*)::numeric AS n,
       coalesce(sum(l.deal_value), 0) AS value
FROM leads l
WHERE l.tenant_id = $25
  AND l.closed_at >= $26
  AND l.closed_at < $27
  AND TRUE
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'cost' AS kind,
       coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $29, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
       0::numeric AS n,
       sum((payload->>'amount')::numeric) AS value
FROM EVENTS
WHERE tenant_id = $30
  AND TYPE = 'cost.recorded'
  AND occurred_at >= $31::timestamptz - $28::interval
  AND occurred_at < $32::timestamptz + $28::interval
GROUP BY 3;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'sql-snapshot'
-- $5 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $6 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = 'sql-snapshot'
-- $8 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $9 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $10 = 'sql-snapshot'
-- $11 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $12 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $13 = 'sql-snapshot'
-- $14 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $15 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $16 = 'sql-snapshot'
-- $17 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $18 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $19 = 'sql-snapshot'
-- $20 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $21 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $22 = 'sql-snapshot'
-- $23 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $24 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $25 = 'sql-snapshot'
-- $26 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $27 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $28 = datetime.timedelta(days=92)
-- $29 = 'UTC'
-- $30 = 'sql-snapshot'
-- $31 = datetime.datetime(2025, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $32 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_responses) FILTER (
                                 WHERE automation <> 'manual') AS value
FROM
  (SELECT u.bucket AS t,
          u.channel,
          u.automation,
          u.responses,
          u.ok_responses
   FROM rollup_lead_responded u
   WHERE u.tenant_id = $1
     AND u.grain = 'day'
     AND u.bucket >= $2
     AND u.bucket < $3) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_enrichments) AS value
FROM
  (SELECT u.bucket AS t,
          u.provider,
          u.enrichments,
          u.ok_enrichments
   FROM rollup_lead_enriched u
   WHERE u.tenant_id = $4
     AND u.grain = 'day'
     AND u.bucket >= $5
     AND u.bucket < $6) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_routings) AS value
FROM
  (SELECT u.bucket AS t,
          u.team_id,
          u.routings,
          u.ok_routings
   FROM rollup_lead_routed u
   WHERE u.tenant_id = $7
     AND u.grain = 'day'
     AND u.bucket >= $8
     AND u.bucket < $9) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_steps) AS value
FROM
  (SELECT u.bucket AS t,
          u.sequence,
          u.steps,
          u.ok_steps
   FROM rollup_lead_nurtured u
   WHERE u.tenant_id = $10
     AND u.grain = 'day'
     AND u.bucket >= $11
     AND u.bucket < $12) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(scorings) AS value
FROM
  (SELECT u.bucket AS t,
          u.score_band,
          u.scorings,
          u.score_sum
   FROM rollup_lead_scored u
   WHERE u.tenant_id = $13
     AND u.grain = 'day'
     AND u.bucket >= $14
     AND u.bucket < $15) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(attempts) FILTER (
                             WHERE automation = 'auto') AS value
FROM
  (SELECT u.bucket AS t,
          u.channel,
          u.outcome,
          u.automation,
          u.attempts,
          u.consented_attempts
   FROM rollup_contact_attempted u
   WHERE u.tenant_id = $16
     AND u.grain = 'day'
     AND u.bucket >= $17
     AND u.bucket < $18) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'errors_prevented' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(errors_prevented) AS value
FROM
  (SELECT u.bucket AS t,
          u.kind,
          u.records,
          u.errors_prevented
   FROM rollup_error_prevented u
   WHERE u.tenant_id = $19
     AND u.grain = 'day'
     AND u.bucket >= $20
     AND u.bucket < $21) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'agent' AS kind,
       agent_id AS KEY,
       sum(reports) AS n,
       0::numeric AS value
FROM
  (SELECT u.bucket AS t,
          u.agent_id,
          u.reports,
          u.selling_minutes,
          u.admin_minutes,
          u.followup_minutes
   FROM rollup_agent_activity u
   WHERE u.tenant_id = $22
     AND u.grain = 'day'
     AND u.bucket >= $23
     AND u.bucket < $24) s
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'deal' AS kind,
       coalesce(l.attribution_class, '') AS KEY,
       count(*)::numeric AS n,
       coalesce(sum(l.deal_value), 0) AS value
FROM leads l
WHERE l.tenant_id = $25
  AND l.closed_at >= $26
  AND l.closed_at < $27
  AND TRUE
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'cost' AS kind,
       coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $29, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
       0::numeric AS n,
       sum((payload->>'amount')::numeric) AS value
FROM EVENTS
WHERE tenant_id = $30
  AND TYPE = 'cost.recorded'
  AND occurred_at >= $31::timestamptz - $28::interval
  AND occurred_at < $32::timestamptz + $28::interval
GROUP BY 3;
