-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 'UTC'
-- $5 = datetime.timedelta(days=1)
SELECT t,
       error_category AS cat,
       sum(calls) AS n
FROM
  (SELECT *
   FROM
     (SELECT (date_bin($5::interval, u.bucket AT TIME ZONE $4, timestamp '2000-01-03') AT TIME ZONE $4) AS t,
             'component.call'::text AS TYPE,
             u.component,
             u.service,
             u.error_category,
             u.calls
      FROM rollup_component_call u
      WHERE u.tenant_id = $1
        AND u.grain = 'day'
        AND u.bucket >= $2
        AND u.bucket < $3) x
   WHERE TRUE) x
WHERE error_category <> ''
GROUP BY t,
         error_category;
