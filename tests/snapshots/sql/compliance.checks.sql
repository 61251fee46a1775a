-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*) FILTER (
                        WHERE c.channel = 'sms') AS sms,
       count(*) FILTER (
                        WHERE c.channel = 'sms'
                          AND NOT coalesce(c.consent, FALSE)) AS no_consent,
       count(*) FILTER (
                        WHERE c.channel = 'sms'
                          AND (lpad(c.recipient_local_time, 5, '0') < '08:00'
                               OR lpad(c.recipient_local_time, 5, '0') >= '21:00')) AS quiet,
       count(*) FILTER (
                        WHERE c.channel = 'email') AS emails,
       count(*) FILTER (
                        WHERE c.channel = 'email'
                          AND u.unsubscribed_at < c.occurred_at) AS after_unsubscribe
FROM contact_attempts c
LEFT JOIN
  (SELECT lead_id,
          unsubscribed_at
   FROM leads
   WHERE tenant_id = $1
     AND unsubscribed_at IS NOT NULL) u ON u.lead_id = c.lead_id
WHERE c.tenant_id = $1
  AND c.occurred_at >= $2
  AND c.occurred_at < $3;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.timedelta(days=30)
WITH req AS
  (SELECT lead_id,
          min(occurred_at) AS AT
   FROM EVENTS
   WHERE tenant_id = $1
     AND TYPE = 'erasure.requested'
     AND occurred_at >= $2
     AND occurred_at < $3
   GROUP BY lead_id),
     done AS
  (SELECT lead_id,
          min(occurred_at) AS AT
   FROM EVENTS
   WHERE tenant_id = $1
     AND TYPE = 'erasure.completed'
     AND occurred_at < $3
     AND lead_id IN
       (SELECT lead_id
        FROM req)
   GROUP BY lead_id)
SELECT count(*) AS requests,
       count(*) FILTER (
                        WHERE (done.at IS NULL
                               AND $3 - req.at > $4)
                          OR done.at - req.at > $4) AS late
FROM req
LEFT JOIN done USING (lead_id);

-- statement 4
-- $1 = 'sql-snapshot'
SELECT count(*) AS erased,
       count(*) FILTER (
                        WHERE contact_name IS NOT NULL
                          OR contact_email IS NOT NULL
                          OR contact_phone IS NOT NULL) AS kept
FROM leads
WHERE tenant_id = $1
  AND erased_at IS NOT NULL;

-- statement 5
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2023, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(*)
FROM EVENTS
WHERE tenant_id = $1
  AND occurred_at < $2;
