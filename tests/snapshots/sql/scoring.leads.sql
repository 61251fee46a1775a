-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT l.lead_id,
       l.created_at,
       l.score,
       coalesce(l.source, 'unknown') AS SOURCE,
       coalesce(sm_score_band(l.score), 'unscored') AS band,
       c.p_close
FROM leads l
LEFT JOIN lead_scores c ON c.tenant_id = l.tenant_id
AND c.lead_id = l.lead_id
WHERE l.tenant_id = $1
  AND l.created_at >= $2
  AND l.created_at < $3
  AND (l.closed_at IS NULL
       OR l.closed_at >= $3)
  AND l.erasure_requested_at IS NULL
  AND (l.unsubscribed_at IS NULL
       OR l.unsubscribed_at >= $3)
  AND TRUE
  AND TRUE;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = 'scoring'
-- $3 = 'quality'
SELECT kind,
       KEY,
       fitted_at,
       watermark,
       payload
FROM fitted_models
WHERE tenant_id = $1
  AND kind = $2
  AND KEY = $3;
