-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = [datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 1, 29, 0, 0, tzinfo=datetime.timezone.utc)]
-- $3 = [datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc), datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)]
-- $4 = [32, 32]
SELECT p.k - 1 AS period,
       x.*
FROM unnest($2::timestamptz[], $3::timestamptz[], $4::bigint[]) WITH
ORDINALITY AS p (lo, hi, most, k)
CROSS JOIN LATERAL
  (WITH failed AS
     (SELECT f.component,
             f.occurred_at,
             f.event_id
      FROM component_calls f
      WHERE f.tenant_id = $1
        AND f.occurred_at >= p.lo
        AND f.occurred_at < p.hi
        AND NOT f.ok
        AND f.component IS NOT NULL
      LIMIT p.most + 1),
        starts AS
     (SELECT f.*
      FROM failed f
      WHERE coalesce(
                       (SELECT c.ok
                        FROM component_calls c
                        WHERE c.tenant_id = $1
                          AND c.occurred_at >= p.lo
                          AND (c.occurred_at, c.event_id) < (f.occurred_at, f.event_id)
                          AND c.component = f.component
                          AND c.ok IS NOT NULL
                        ORDER BY c.occurred_at DESC, c.event_id DESC
                        LIMIT 1), TRUE)) SELECT
     (SELECT count(*)
      FROM failed) AS failures,
                                                coalesce(sum((extract(epoch
                                                                      FROM r.at - s.occurred_at) * 1000000)::bigint), 0)::bigint AS runs_us,
                                                count(*)::bigint AS runs_n
   FROM starts s
   CROSS JOIN LATERAL
     (SELECT c.occurred_at AS AT
      FROM component_calls c
      WHERE c.tenant_id = $1
        AND c.occurred_at < p.hi
        AND (c.occurred_at,
             c.event_id) > (s.occurred_at,
                            s.event_id)
        AND c.component = s.component
        AND c.ok
      ORDER BY c.occurred_at,
               c.event_id
      LIMIT 1) r
   WHERE
       (SELECT count(*)
        FROM failed) <= p.most) x;
