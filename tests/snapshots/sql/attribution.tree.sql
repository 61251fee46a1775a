-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 0.9
-- $3 = 0.5
-- $4 = 0.25
-- $5 = 'sql-snapshot'
-- $6 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) AS leads,
       count(*) FILTER (
                        WHERE l.first_response_at < $1) AS responded,
       count(*) FILTER (
                        WHERE l.appointment_at < $1) AS appointments,
       count(*) FILTER (
                        WHERE l.closed_at < $1) AS closes,
       coalesce(sum(l.deal_value) FILTER (
                                          WHERE l.closed_at < $1), 0) AS revenue,
       coalesce(sum(l.deal_value * CASE l.attribution_class
                                       WHEN 'direct' THEN $2::numeric
                                       WHEN 'assisted' THEN $3::numeric
                                       WHEN 'influenced' THEN $4::numeric
                                       ELSE 0
                                   END) FILTER (
                                                WHERE l.closed_at < $1), 0) AS attributed
FROM leads l
WHERE l.tenant_id = $5
  AND l.created_at >= $6
  AND l.created_at < $1
  AND TRUE;
