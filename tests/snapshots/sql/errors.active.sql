-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
WITH c AS
  (SELECT *
   FROM
     (SELECT c.occurred_at AS t,
             'component.call'::text AS TYPE,
             coalesce(c.component, '') AS component,
             coalesce(c.service, '') AS service,
             CASE
                 WHEN c.ok THEN ''
                 ELSE coalesce(c.error_category, 'other')
             END AS error_category,
             1::bigint AS calls,
             coalesce(c.ok::integer::numeric, 0) AS ok_calls,
             coalesce(c.latency_ms, 0) AS latency_ms_sum,
             c.latency_ms AS latency_ms_max
      FROM component_calls c
      WHERE c.tenant_id = $1
        AND c.occurred_at >= $2
        AND c.occurred_at < $3) x
   WHERE TRUE),
     last_ok AS
  (SELECT component,
          max(t) AS AT
   FROM c
   WHERE error_category = ''
   GROUP BY component)
SELECT c.component,
       c.service,
       c.error_category,
       count(*) AS failures,
       min(c.t) AS first_seen,
       max(c.t) AS last_seen
FROM c
LEFT JOIN last_ok o ON o.component = c.component
WHERE c.error_category <> ''
  AND (o.at IS NULL
       OR c.t > o.at)
GROUP BY c.component,
         c.service,
         c.error_category
ORDER BY failures DESC,
         c.component;
