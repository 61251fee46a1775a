-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = datetime.timedelta(days=56)
WITH h AS
  (SELECT TYPE,
          bucket,
          sum(n) AS n,
          floor((extract(epoch
                         FROM $3 - bucket) - 3600) / 86400)::int AS day_index
   FROM rollups
   WHERE tenant_id = $1
     AND grain = 'hour'
     AND bucket >= $2::timestamptz - $4::interval
     AND bucket < $3
   GROUP BY TYPE,
            bucket),
     gaps AS
  (SELECT TYPE,
          extract(epoch
                  FROM bucket - lag(bucket) OVER (PARTITION BY TYPE
                                                  ORDER BY bucket)) / 3600 AS gap_h
   FROM h),
     usual AS
  (SELECT TYPE,
          percentile_cont(0.95) WITHIN GROUP (
                                              ORDER BY gap_h) AS gap_h,
                                             count(*) AS gaps
   FROM gaps
   WHERE gap_h IS NOT NULL
   GROUP BY TYPE),
     vol AS
  (SELECT TYPE,
          coalesce(sum(n) FILTER (
                                  WHERE day_index = 0), 0) AS last_day,
          sum(n) FILTER (
                         WHERE day_index IN (7, 14, 21, 28)) AS same_weekdays,
          count(*) FILTER (
                           WHERE day_index IN (7, 14, 21, 28)
                             AND n > 0) AS hours_then,
          count(DISTINCT day_index) FILTER (
                                            WHERE day_index IN (7, 14, 21, 28)) AS weeks
   FROM h
   GROUP BY TYPE)
SELECT vol.type,
       vol.last_day,
       vol.same_weekdays / nullif(vol.weeks, 0) AS baseline,
       usual.gap_h,
       usual.gaps,

  (SELECT max(e.occurred_at)
   FROM EVENTS e
   WHERE e.tenant_id = $1
     AND e.type = vol.type
     AND e.occurred_at < $2
     AND e.occurred_at >= $2::timestamptz - $4::interval) AS last_at
FROM vol
LEFT JOIN usual USING (TYPE)
ORDER BY vol.type;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = 3
WITH t AS
  (SELECT TYPE,
          reason,
          sum(accepted) AS accepted,
          sum(duplicates) AS duplicates,
          sum(rejected) AS rejected,
          sum(late) FILTER (
                            WHERE SOURCE = 'api') AS late,
          sum(accepted) FILTER (
                                WHERE SOURCE = 'api') AS live
   FROM ingest_tallies
   WHERE tenant_id = $1
     AND AT >= $2
     AND AT < $3
   GROUP BY TYPE,
            reason),
     ranked AS
  (SELECT TYPE,
          reason,
          rejected,
          row_number() OVER (PARTITION BY TYPE
                             ORDER BY rejected DESC, reason) AS rank
   FROM t
   WHERE reason <> '')
SELECT TYPE,
       sum(accepted) AS accepted,
       sum(duplicates) AS duplicates,
       sum(rejected) AS rejected,
       coalesce(sum(late), 0) AS late,
       coalesce(sum(live), 0) AS live,

  (SELECT string_agg(r.reason || ' (' || r.rejected || ')', '; '
                     ORDER BY r.rank)
   FROM ranked r
   WHERE r.type = t.type
     AND r.rank <= $4) AS top_reasons
FROM t
GROUP BY TYPE
ORDER BY TYPE;

-- statement 4
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
WITH l AS
  (SELECT lead_id,
          created_at,
          closed_at,
          appointment_at
   FROM leads
   WHERE tenant_id = $1
     AND created_at >= $2
     AND created_at < $3),
     contacted AS
  (SELECT DISTINCT e.lead_id
   FROM EVENTS e
   JOIN l USING (lead_id)
   WHERE e.tenant_id = $1
     AND e.type IN ('contact.attempted',
                    'lead.responded')
     AND e.occurred_at < l.created_at)
SELECT count(*) FILTER (
                        WHERE closed_at < created_at) AS closed,
       count(*) FILTER (
                        WHERE appointment_at < created_at) AS booked,

  (SELECT count(*)
   FROM contacted) AS contacted
FROM l;

-- statement 5
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT e.agent_id,
       count(*) AS n
FROM EVENTS e
JOIN agents a ON a.tenant_id = e.tenant_id
AND a.agent_id = e.agent_id
WHERE e.tenant_id = $1
  AND e.occurred_at >= $2
  AND e.occurred_at < $3
  AND e.agent_id IS NOT NULL
  AND a.name = a.agent_id
  AND a.team_id IS NULL
GROUP BY 1
ORDER BY 1;

-- statement 6
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT count(DISTINCT e.lead_id)
FROM EVENTS e
JOIN leads l ON l.tenant_id = e.tenant_id
AND l.lead_id = e.lead_id
WHERE e.tenant_id = $1
  AND e.occurred_at >= $2
  AND e.occurred_at < $3
  AND l.created_at IS NULL;
