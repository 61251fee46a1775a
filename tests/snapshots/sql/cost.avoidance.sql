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
-- $5 = 'sql-snapshot'
-- $6 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $7 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $8 = 'UTC'
-- $9 = 'sql-snapshot'
-- $10 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $11 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $12 = 'UTC'
-- $13 = 'sql-snapshot'
-- $14 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $15 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $16 = 'UTC'
-- $17 = 'sql-snapshot'
-- $18 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $19 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $20 = 'UTC'
-- $21 = 'sql-snapshot'
-- $22 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $23 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $24 = 'UTC'
-- $25 = 'sql-snapshot'
-- $26 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $27 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $28 = 'UTC'
-- $29 = 'sql-snapshot'
-- $30 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $31 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $32 = 'UTC'
-- $33 = 'UTC'
-- $34 = 'sql-snapshot'
-- $35 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $36 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $37 = datetime.timedelta(days=92)
-- $38 = 'UTC'
-- $39 = 'sql-snapshot'
-- $40 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $41 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT t AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_responses) FILTER (
                                 WHERE automation <> 'manual') AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $4) AT TIME ZONE $4) AS t,
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
SELECT t AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_enrichments) AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $8) AT TIME ZONE $8) AS t,
          u.provider,
          u.enrichments,
          u.ok_enrichments
   FROM rollup_lead_enriched u
   WHERE u.tenant_id = $5
     AND u.grain = 'day'
     AND u.bucket >= $6
     AND u.bucket < $7) s
GROUP BY 1,
         3
UNION ALL
SELECT t AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_routings) AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $12) AT TIME ZONE $12) AS t,
          u.team_id,
          u.routings,
          u.ok_routings
   FROM rollup_lead_routed u
   WHERE u.tenant_id = $9
     AND u.grain = 'day'
     AND u.bucket >= $10
     AND u.bucket < $11) s
GROUP BY 1,
         3
UNION ALL
SELECT t AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(ok_steps) AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $16) AT TIME ZONE $16) AS t,
          u.sequence,
          u.steps,
          u.ok_steps
   FROM rollup_lead_nurtured u
   WHERE u.tenant_id = $13
     AND u.grain = 'day'
     AND u.bucket >= $14
     AND u.bucket < $15) s
GROUP BY 1,
         3
UNION ALL
SELECT t AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(scorings) AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $20) AT TIME ZONE $20) AS t,
          u.score_band,
          u.scorings,
          u.score_sum
   FROM rollup_lead_scored u
   WHERE u.tenant_id = $17
     AND u.grain = 'day'
     AND u.bucket >= $18
     AND u.bucket < $19) s
GROUP BY 1,
         3
UNION ALL
SELECT t AS t,
       'tasks' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(attempts) FILTER (
                             WHERE automation = 'auto') AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $24) AT TIME ZONE $24) AS t,
          u.channel,
          u.outcome,
          u.automation,
          u.attempts,
          u.consented_attempts
   FROM rollup_contact_attempted u
   WHERE u.tenant_id = $21
     AND u.grain = 'day'
     AND u.bucket >= $22
     AND u.bucket < $23) s
GROUP BY 1,
         3
UNION ALL
SELECT t AS t,
       'errors_prevented' AS kind,
       '' AS KEY,
       0::numeric AS n,
       sum(errors_prevented) AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $28) AT TIME ZONE $28) AS t,
          u.kind,
          u.records,
          u.errors_prevented
   FROM rollup_error_prevented u
   WHERE u.tenant_id = $25
     AND u.grain = 'day'
     AND u.bucket >= $26
     AND u.bucket < $27) s
GROUP BY 1,
         3
UNION ALL
SELECT t AS t,
       'agent' AS kind,
       agent_id AS KEY,
       sum(reports) AS n,
       0::numeric AS value
FROM
  (SELECT (date_trunc('month', u.bucket AT TIME ZONE $32) AT TIME ZONE $32) AS t,
          u.agent_id,
          u.reports,
          u.selling_minutes,
          u.admin_minutes,
          u.followup_minutes
   FROM rollup_agent_activity u
   WHERE u.tenant_id = $29
     AND u.grain = 'day'
     AND u.bucket >= $30
     AND u.bucket < $31) s
GROUP BY 1,
         3
UNION ALL
SELECT (date_trunc('month', l.closed_at AT TIME ZONE $33) AT TIME ZONE $33) AS t,
       'deal' AS kind,
       coalesce(l.attribution_class, '') AS KEY,
       count(*)::numeric AS n,
       coalesce(sum(l.deal_value), 0) AS value
FROM leads l
WHERE l.tenant_id = $34
  AND l.closed_at >= $35
  AND l.closed_at < $36
  AND TRUE
GROUP BY 1,
         3
UNION ALL
SELECT NULL::timestamptz AS t,
       'cost' AS kind,
       coalesce(payload->>'month', to_char(occurred_at AT TIME ZONE $38, 'YYYY-MM')) || ' ' || coalesce(payload->>'category', '') AS KEY,
       0::numeric AS n,
       sum((payload->>'amount')::numeric) AS value
FROM EVENTS
WHERE tenant_id = $39
  AND TYPE = 'cost.recorded'
  AND occurred_at >= $40::timestamptz - $37::interval
  AND occurred_at < $41::timestamptz + $37::interval
GROUP BY 3;
