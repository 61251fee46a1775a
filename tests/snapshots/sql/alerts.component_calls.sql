-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = None
SELECT payload->>'component' AS component,
       count(*) AS calls,
       count(*) FILTER (
                        WHERE NOT coalesce((payload->>'ok')::boolean, TRUE)) AS failed,
       percentile_cont(0.95) WITHIN GROUP (
                                           ORDER BY (payload->>'latency_ms')::float8) AS p95
FROM EVENTS
WHERE tenant_id = $1
  AND TYPE = 'component.call'
  AND occurred_at >= $2
  AND occurred_at < $3
  AND ($4::text[] IS NULL
       OR payload->>'component' = ANY($4))
GROUP BY 1
ORDER BY 1;
