-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.timedelta(seconds=7200)
SELECT l.lead_id,
       l.created_at
FROM leads l
WHERE l.tenant_id = $2
  AND l.priority = 'high'
  AND l.created_at >= $3
  AND l.created_at <= $1::timestamptz - $4::interval
  AND (l.first_contact_at IS NULL
       OR l.first_contact_at > $1::timestamptz)
  AND (l.closed_at IS NULL
       OR l.closed_at > $1::timestamptz)
  AND TRUE
ORDER BY l.created_at;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 31, 23, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT t,
       KEY,
       sum(calls) AS n,
       sum(ok_calls) AS ok,
       sum(latency_ms_sum) AS lat
FROM
  (SELECT NULL::timestamptz AS t,
          component AS KEY,
          *
   FROM
     (SELECT u.bucket AS ts,
             'component.call'::text AS TYPE,
             u.component,
             u.service,
             u.error_category,
             u.calls,
             u.ok_calls,
             u.latency_ms_sum,
             u.latency_ms_max
      FROM rollup_component_call u
      WHERE u.tenant_id = $1
        AND u.grain = 'hour'
        AND u.bucket >= $2
        AND u.bucket < $3) x
   WHERE TRUE
     AND TRUE) c
GROUP BY 1,
         2;

-- statement 4
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE l.first_response_at < $1) AS responded,
       count(*) FILTER (
                        WHERE l.appointment_at < $1) AS appointments,
       count(*) FILTER (
                        WHERE l.closed_at < $1) AS closes,
       coalesce(sum(l.deal_value) FILTER (
                                          WHERE l.closed_at < $1), 0) AS revenue
FROM leads l
WHERE l.tenant_id = $2
  AND l.created_at >= $3
  AND l.created_at < $1
  AND TRUE;

-- statement 5
-- $1 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE l.first_response_at < $1) AS responded,
       count(*) FILTER (
                        WHERE l.appointment_at < $1) AS appointments,
       count(*) FILTER (
                        WHERE l.closed_at < $1) AS closes,
       coalesce(sum(l.deal_value) FILTER (
                                          WHERE l.closed_at < $1), 0) AS revenue
FROM leads l
WHERE l.tenant_id = $2
  AND l.created_at >= $3
  AND l.created_at < $1
  AND TRUE;

-- statement 6
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT severity,
       title,
       SUMMARY,
       value,
       started_at,
       inputs
FROM alert_events
WHERE tenant_id = $1
  AND started_at <= $2
  AND (resolved_at IS NULL
       OR resolved_at > $2)
ORDER BY started_at;
