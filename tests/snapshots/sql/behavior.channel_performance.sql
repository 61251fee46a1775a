-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = ['connected', 'answered', 'replied']
SELECT channel,
       sum(attempts) AS n,
       sum(attempts) FILTER (
                             WHERE outcome = ANY($4::text[])) AS responded
FROM
  (SELECT *
   FROM
     (SELECT u.bucket AS t,
             'contact.attempted'::text AS TYPE,
             u.channel,
             u.outcome,
             u.automation,
             u.attempts,
             u.consented_attempts
      FROM rollup_contact_attempted u
      WHERE u.tenant_id = $1
        AND u.grain = 'month'
        AND u.bucket >= $2
        AND u.bucket < $3) x
   WHERE TRUE) x
GROUP BY channel
ORDER BY channel;
