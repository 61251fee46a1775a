-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT AT,
       subject,
       ROLE,
       action,
       coalesce(nullif(array_to_string(ARRAY
                                         (SELECT jsonb_array_elements_text(CASE
                                                                               WHEN jsonb_typeof(RESOURCE->'metrics') = 'array' THEN RESOURCE->'metrics'
                                                                               ELSE '[]'::JSONB
                                                                           END)), ', '), ''), RESOURCE->>'what', RESOURCE->>'report', RESOURCE->>'route', left(RESOURCE::text, 200)) AS RESOURCE,
       outcome,
       status,
       array_to_string(masked_fields, ', ') AS masked,
       rows_returned,
       latency_ms
FROM audit_log
WHERE tenant_id = $1
  AND AT >= $2
  AND AT < $3
ORDER BY AT DESC, seq DESC
LIMIT 501;
