-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'UTC'
-- $2 = 'sql-snapshot'
-- $3 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $5 = ['connected', 'answered', 'replied']
SELECT extract(isodow
               FROM t AT TIME ZONE $1)::int AS dow,
       extract(HOUR
               FROM t AT TIME ZONE $1)::int AS HOUR,
       sum(attempts) AS n,
       sum(attempts) FILTER (
                             WHERE outcome = ANY($5::text[])) AS responded
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
      WHERE u.tenant_id = $2
        AND u.grain = 'hour'
        AND u.bucket >= $3
        AND u.bucket < $4) x
   WHERE TRUE) x
GROUP BY 1,
         2
ORDER BY 1,
         2;
