-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.timedelta(seconds=1800)
WITH qs AS
  (SELECT subject,
          AT,
          RESOURCE
   FROM audit_log
   WHERE tenant_id = $1
     AND action = 'query'
     AND outcome = 'success'
     AND AT >= $2
     AND AT < $3
     AND subject IS NOT NULL),
     marked AS
  (SELECT subject,
          AT,
          CASE
              WHEN AT - lag(AT) OVER (PARTITION BY subject
                                      ORDER BY AT) < $4 THEN 0
              ELSE 1
          END AS new_session
   FROM qs),
     numbered AS
  (SELECT subject,
          AT,
          sum(new_session) OVER (PARTITION BY subject
                                 ORDER BY AT) AS SESSION
   FROM marked),
     sessions AS
  (SELECT subject,
          SESSION,
          max(AT) - min(AT) AS LENGTH
   FROM numbered
   GROUP BY subject,
            SESSION)
SELECT
  (SELECT count(DISTINCT subject)
   FROM qs) AS users,

  (SELECT count(*)
   FROM qs) AS queries,

  (SELECT count(*)
   FROM sessions) AS sessions,

  (SELECT avg(extract(epoch
                      FROM LENGTH) / 60)
   FROM sessions) AS avg_minutes,

  (SELECT array_agg(DISTINCT m)
   FROM qs,
        jsonb_array_elements_text(CASE
                                      WHEN jsonb_typeof(qs.resource->'metrics') = 'array' THEN qs.resource->'metrics'
                                      ELSE '[]'::JSONB
                                  END) m) AS metrics;
