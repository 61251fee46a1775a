-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT CASE
           WHEN l.first_contact_at IS NULL
                OR l.first_contact_at >= $1 THEN 6
           WHEN l.first_contact_at - l.created_at < interval '5 minutes' THEN 0
           WHEN l.first_contact_at - l.created_at < interval '30 minutes' THEN 1
           WHEN l.first_contact_at - l.created_at < interval '60 minutes' THEN 2
           WHEN l.first_contact_at - l.created_at < interval '240 minutes' THEN 3
           WHEN l.first_contact_at - l.created_at < interval '1440 minutes' THEN 4
           ELSE 5
       END AS g,
       count(*) AS leads,
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
  AND TRUE
GROUP BY 1
ORDER BY 1;
