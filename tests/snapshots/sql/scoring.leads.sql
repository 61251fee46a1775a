-- statement 1
-- $1 = 'sql-snapshot'
SELECT settings
FROM tenants
WHERE tenant_id = $1;

-- statement 2
-- $1 = 'sql-snapshot'
-- $2 = 'UTC'
-- $3 = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=datetime.timezone.utc)
-- $4 = ['lead.created', 'lead.responded', 'contact.attempted', 'appointment.scheduled']
-- $5 = datetime.datetime(2025, 3, 1, 0, 0, tzinfo=datetime.timezone.utc)
SELECT *
FROM
  (SELECT f.*,
          extract(epoch
                  FROM $3 -
                    (SELECT max(e.occurred_at)
                     FROM EVENTS e
                     WHERE e.tenant_id = l.tenant_id
                       AND e.lead_id = l.lead_id
                       AND e.type = ANY($4::text[])
                       AND e.occurred_at < $3)) / 86400 AS idle_days
   FROM
     (SELECT l.lead_id,
             l.created_at,
             l.closed_at,
             l.score,
             coalesce(l.source, 'unknown') AS SOURCE,
             coalesce(sm_score_band(l.score), 'unscored') AS band,
             coalesce(
                        (SELECT e.payload->>'channel'
                         FROM EVENTS e
                         WHERE e.tenant_id = l.tenant_id
                           AND e.lead_id = l.lead_id
                           AND e.type = 'lead.responded'
                         ORDER BY e.occurred_at, e.event_id
                         LIMIT 1), 'none') AS channel,
             coalesce(l.location_id, 'unknown') AS LOCATION,
             extract(isodow
                     FROM l.created_at AT TIME ZONE $2)::int::text AS weekday,
             coalesce(l.enrichment_ok::text, 'unknown') AS enriched,
             coalesce(l.priority, 'normal') AS priority,
             coalesce(l.consent_sms::text, 'unknown') AS consent_sms,
             least(coalesce(extract(epoch
                                    FROM l.first_response_at - l.created_at) / 60, 1440), 1440) AS response_min,
             least(coalesce(extract(epoch
                                    FROM l.first_contact_at - l.created_at) / 3600, 24), 24) AS contact_h,
             extract(HOUR
                     FROM l.created_at AT TIME ZONE $2)::int AS HOUR
      FROM leads l
      WHERE l.tenant_id = $1
        AND l.created_at IS NOT NULL
        AND l.created_at >= $5
        AND l.created_at < $3
        AND (l.closed_at IS NULL
             OR l.closed_at >= $3)
        AND l.erasure_requested_at IS NULL
        AND (l.unsubscribed_at IS NULL
             OR l.unsubscribed_at >= $3)
        AND TRUE
        AND TRUE) f
   JOIN leads l ON l.tenant_id = $1
   AND l.lead_id = f.lead_id) x
WHERE TRUE
ORDER BY x.created_at,
         x.lead_id;

-- statement 3
-- $1 = 'sql-snapshot'
-- $2 = 'scoring'
-- $3 = 'model'
SELECT kind,
       KEY,
       fitted_at,
       watermark,
       payload
FROM fitted_models
WHERE tenant_id = $1
  AND kind = $2
  AND KEY = $3;

-- statement 4
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
