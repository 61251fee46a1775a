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
-- $6 = 'sql-snapshot'
-- $7 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $8 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $9 = 'UTC'
-- $10 = datetime.timedelta(days=1)
-- $11 = 'sql-snapshot'
-- $12 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $13 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $14 = 'UTC'
-- $15 = datetime.timedelta(days=1)
-- $16 = 'sql-snapshot'
-- $17 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $18 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $19 = 'UTC'
-- $20 = datetime.timedelta(days=1)
-- $21 = 'sql-snapshot'
-- $22 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $23 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $24 = 'UTC'
-- $25 = datetime.timedelta(days=1)
SELECT t,
       sum(steps) AS steps,
       sum(failed) AS failed,
       sum(calls) AS calls,
       sum(invalid) AS invalid
FROM
  (SELECT t,
          responses AS steps,
          responses - ok_responses AS failed,
          NULL::numeric AS calls,
          NULL::numeric AS invalid
   FROM
     (SELECT *
      FROM
        (SELECT (date_bin($5::interval, u.bucket AT TIME ZONE $4, timestamp '2000-01-03') AT TIME ZONE $4) AS t,
                u.channel,
                u.automation,
                u.responses,
                u.ok_responses
         FROM rollup_lead_responded u
         WHERE u.tenant_id = $1
           AND u.grain = 'day'
           AND u.bucket >= $2
           AND u.bucket < $3) x
      WHERE TRUE) s
   WHERE automation <> 'manual'
   UNION ALL SELECT t,
                    enrichments AS steps,
                    enrichments - ok_enrichments AS failed,
                    NULL::numeric AS calls,
                    NULL::numeric AS invalid
   FROM
     (SELECT *
      FROM
        (SELECT (date_bin($10::interval, u.bucket AT TIME ZONE $9, timestamp '2000-01-03') AT TIME ZONE $9) AS t,
                u.provider,
                u.enrichments,
                u.ok_enrichments
         FROM rollup_lead_enriched u
         WHERE u.tenant_id = $6
           AND u.grain = 'day'
           AND u.bucket >= $7
           AND u.bucket < $8) x
      WHERE TRUE) s
   WHERE TRUE
   UNION ALL SELECT t,
                    routings AS steps,
                    routings - ok_routings AS failed,
                    NULL::numeric AS calls,
                    NULL::numeric AS invalid
   FROM
     (SELECT *
      FROM
        (SELECT (date_bin($15::interval, u.bucket AT TIME ZONE $14, timestamp '2000-01-03') AT TIME ZONE $14) AS t,
                u.team_id,
                u.routings,
                u.ok_routings
         FROM rollup_lead_routed u
         WHERE u.tenant_id = $11
           AND u.grain = 'day'
           AND u.bucket >= $12
           AND u.bucket < $13) x
      WHERE TRUE) s
   WHERE TRUE
   UNION ALL SELECT t,
                    steps AS steps,
                    steps - ok_steps AS failed,
                    NULL::numeric AS calls,
                    NULL::numeric AS invalid
   FROM
     (SELECT *
      FROM
        (SELECT (date_bin($20::interval, u.bucket AT TIME ZONE $19, timestamp '2000-01-03') AT TIME ZONE $19) AS t,
                u.sequence,
                u.steps,
                u.ok_steps
         FROM rollup_lead_nurtured u
         WHERE u.tenant_id = $16
           AND u.grain = 'day'
           AND u.bucket >= $17
           AND u.bucket < $18) x
      WHERE TRUE) s
   WHERE TRUE
   UNION ALL SELECT t,
                    NULL,
                    NULL,
                    calls,
                    CASE
                        WHEN error_category IN ('validation',
                                                'data_validation') THEN calls
                        ELSE 0
                    END
   FROM
     (SELECT *
      FROM
        (SELECT (date_bin($25::interval, u.bucket AT TIME ZONE $24, timestamp '2000-01-03') AT TIME ZONE $24) AS t,
                u.component,
                u.service,
                u.error_category,
                u.calls,
                u.ok_calls,
                u.latency_ms_sum,
                u.latency_ms_max
         FROM rollup_component_call u
         WHERE u.tenant_id = $21
           AND u.grain = 'day'
           AND u.bucket >= $22
           AND u.bucket < $23) x
      WHERE TRUE) s) u
GROUP BY t;
