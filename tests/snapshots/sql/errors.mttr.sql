-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
WITH failed AS
  (SELECT f.component,
          f.occurred_at,
          f.event_id
   FROM component_calls f
   WHERE f.tenant_id = $1
     AND f.occurred_at >= $2
     AND f.occurred_at < $3
     AND NOT f.ok
     AND f.component IS NOT NULL),
     starts AS
  (SELECT f.*
   FROM failed f
   WHERE coalesce(
                    (SELECT p.ok
                     FROM component_calls p
                     WHERE p.tenant_id = $1
                       AND p.occurred_at >= $2
                       AND (p.occurred_at, p.event_id) < (f.occurred_at, f.event_id)
                       AND p.component = f.component
                       AND p.ok IS NOT NULL
                     ORDER BY p.occurred_at DESC, p.event_id DESC
                     LIMIT 1), TRUE))
SELECT avg(extract(epoch
                   FROM r.occurred_at - s.occurred_at) * 1000)
FROM starts s
CROSS JOIN LATERAL
  (SELECT r.occurred_at
   FROM component_calls r
   WHERE r.tenant_id = $1
     AND r.occurred_at < $3
     AND (r.occurred_at,
          r.event_id) > (s.occurred_at,
                         s.event_id)
     AND r.component = s.component
     AND r.ok
   ORDER BY r.occurred_at,
            r.event_id
   LIMIT 1) r;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
WITH failed AS
  (SELECT f.component,
          f.occurred_at,
          f.event_id
   FROM component_calls f
   WHERE f.tenant_id = $1
     AND f.occurred_at >= $2
     AND f.occurred_at < $3
     AND NOT f.ok
     AND f.component IS NOT NULL),
     starts AS
  (SELECT f.*
   FROM failed f
   WHERE coalesce(
                    (SELECT p.ok
                     FROM component_calls p
                     WHERE p.tenant_id = $1
                       AND p.occurred_at >= $2
                       AND (p.occurred_at, p.event_id) < (f.occurred_at, f.event_id)
                       AND p.component = f.component
                       AND p.ok IS NOT NULL
                     ORDER BY p.occurred_at DESC, p.event_id DESC
                     LIMIT 1), TRUE))
SELECT avg(extract(epoch
                   FROM r.occurred_at - s.occurred_at) * 1000)
FROM starts s
CROSS JOIN LATERAL
  (SELECT r.occurred_at
   FROM component_calls r
   WHERE r.tenant_id = $1
     AND r.occurred_at < $3
     AND (r.occurred_at,
          r.event_id) > (s.occurred_at,
                         s.event_id)
     AND r.component = s.component
     AND r.ok
   ORDER BY r.occurred_at,
            r.event_id
   LIMIT 1) r;
