-- Definitions made unambiguous (issue 12, item 4): what is automated and what an agent did by hand, and one
-- deal per lead.
--
-- 1. A lead.responded carries `automated` (default true) as a contact attempt does: rollup key k3 of
--    lead.responded is now 'auto' or 'manual' as it is for contact.attempted (sm_is_manual reads both the
--    field and the older spelling `manual`), so time savings, ROI, error rates and pipeline stages count only
--    the responses the automation sent. The lead.responded rollups are rebuilt from the stored events.
-- 2. Lead state: first_response_at / response_ok are the automated first response only; first_contact_at is
--    the agent's first contact: the earliest contact attempt made by hand (automated = false) or successful
--    response sent by hand. Recomputed from the stored events.
-- 3. One deal per lead: the earliest deal.closed by (occurred_at, event id) wins, whatever order events arrive
--    in; deal_event_id keeps the winner's id so ties between batches resolve the same way. Revenue, attribution
--    and ROI read deals from lead state, so events and state agree. Recomputed from the stored events.

-- manual: a person did it (automated = false, or the older manual = true); absent means automated
CREATE FUNCTION sm_is_manual(d jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(NOT (d->>'automated')::boolean, (d->>'manual')::boolean, false) $$;

CREATE OR REPLACE FUNCTION sm_rollup_key(etype text, payload jsonb, agent text)
    RETURNS TABLE (k1 text, k2 text, k3 text, n bigint, s1 numeric, s2 numeric, s3 numeric, mx numeric, h integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
SELECT
    coalesce(CASE etype
        WHEN 'component.call' THEN d->>'component'
        WHEN 'contact.attempted' THEN d->>'channel'
        WHEN 'api.usage' THEN d->>'service'
        WHEN 'cost.recorded' THEN d->>'category'
        WHEN 'error.prevented' THEN coalesce(d->>'kind', d->>'category')
        WHEN 'deal.closed' THEN coalesce(d->>'attribution_class', d->>'attribution')
        WHEN 'lead.created' THEN d->>'source'
        WHEN 'lead.responded' THEN d->>'channel'
        WHEN 'lead.enriched' THEN d->>'provider'
        WHEN 'lead.scored' THEN sm_score_band((d->>'score')::integer)
        WHEN 'lead.routed' THEN coalesce(d->>'team_id', d->>'team')
        WHEN 'lead.nurtured' THEN d->>'sequence'
        WHEN 'agent.activity' THEN agent
        WHEN 'appointment.scheduled' THEN agent
    END, ''),
    coalesce(CASE etype
        WHEN 'component.call' THEN d->>'service'
        WHEN 'contact.attempted' THEN d->>'outcome'
        WHEN 'lead.created' THEN coalesce(d->>'location_id', d->>'location')
        WHEN 'deal.closed' THEN agent
    END, ''),
    coalesce(CASE etype
        WHEN 'component.call' THEN CASE WHEN (d->>'ok')::boolean THEN '' ELSE coalesce(d->>'error_category', 'other') END
        WHEN 'contact.attempted' THEN CASE WHEN sm_is_manual(d) THEN 'manual' ELSE 'auto' END
        WHEN 'lead.responded' THEN CASE WHEN sm_is_manual(d) THEN 'manual' ELSE 'auto' END
    END, ''),
    1::bigint,
    coalesce(CASE etype
        WHEN 'component.call' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'contact.attempted' THEN (coalesce((d->>'consent')::boolean, false))::integer::numeric
        WHEN 'api.usage' THEN (d->>'requests')::numeric
        WHEN 'cost.recorded' THEN (d->>'amount')::numeric
        WHEN 'error.prevented' THEN (d->>'count')::numeric
        WHEN 'deal.closed' THEN (d->>'value')::numeric
        WHEN 'lead.created' THEN (d->>'priority' = 'high')::integer::numeric
        WHEN 'lead.responded' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'lead.enriched' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'lead.scored' THEN (d->>'score')::numeric
        WHEN 'lead.routed' THEN (coalesce((d->>'ok')::boolean, true))::integer::numeric
        WHEN 'lead.nurtured' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'agent.activity' THEN (d->>'selling_minutes')::numeric
    END, 0),
    coalesce(CASE etype
        WHEN 'component.call' THEN (d->>'latency_ms')::numeric
        WHEN 'api.usage' THEN (d->>'rate_limit_used')::numeric
        WHEN 'agent.activity' THEN (d->>'admin_minutes')::numeric
    END, 0),
    coalesce(CASE etype
        WHEN 'agent.activity' THEN (d->>'followup_minutes')::numeric
    END, 0),
    CASE etype
        WHEN 'component.call' THEN (d->>'latency_ms')::numeric
        WHEN 'api.usage' THEN (d->>'rate_limit_used')::numeric
    END,
    CASE etype WHEN 'component.call' THEN sm_hist_index((d->>'latency_ms')::double precision) END
FROM (SELECT CASE WHEN jsonb_typeof(payload->'data') = 'object' THEN payload->'data' ELSE payload END AS d) x
$$;

GRANT EXECUTE ON FUNCTION sm_is_manual(jsonb) TO sm_app;

SET LOCAL work_mem = '256MB';

DELETE FROM rollups WHERE type = 'lead.responded';
INSERT INTO rollups (tenant_id, grain, type, bucket, k1, k2, k3, n, s1, s2, s3, mx, hist)
SELECT e.tenant_id, g.grain, e.type,
       CASE WHEN g.grain = 'hour' THEN date_bin('1 hour', e.occurred_at, timestamptz '2000-01-03 00:00:00+00')
            ELSE date_trunc('day', e.occurred_at AT TIME ZONE coalesce(t.settings->>'timezone', 'UTC'))
                 AT TIME ZONE coalesce(t.settings->>'timezone', 'UTC') END AS bucket,
       r.k1, r.k2, r.k3, sum(r.n), sum(r.s1), sum(r.s2), sum(r.s3), max(r.mx), '{}'::jsonb
FROM events e JOIN tenants t ON t.tenant_id = e.tenant_id
CROSS JOIN LATERAL sm_rollup_key(e.type, e.payload, e.agent_id) r
CROSS JOIN (VALUES ('hour'), ('day')) g (grain)
WHERE e.type = 'lead.responded'
GROUP BY 1, 2, 3, 4, 5, 6, 7;

ALTER TABLE leads ADD COLUMN deal_event_id text;

WITH x AS (
    SELECT e.tenant_id, e.lead_id, e.type, e.occurred_at, (d->>'ok')::boolean AS ok, sm_is_manual(d) AS manual
    FROM events e
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(e.payload->'data') = 'object' THEN e.payload->'data'
                                    ELSE e.payload END AS d) p
    WHERE e.type IN ('lead.responded', 'contact.attempted') AND e.lead_id IS NOT NULL
), f AS (
    SELECT tenant_id, lead_id,
           min(occurred_at) FILTER (WHERE type = 'lead.responded' AND NOT manual AND ok) AS first_response_at,
           bool_or(coalesce(ok, false)) FILTER (WHERE type = 'lead.responded' AND NOT manual) AS response_ok,
           min(occurred_at) FILTER (WHERE manual AND (type = 'contact.attempted' OR ok)) AS first_contact_at
    FROM x GROUP BY 1, 2
)
UPDATE leads l SET first_response_at = f.first_response_at, response_ok = f.response_ok,
                   first_contact_at = f.first_contact_at
FROM f WHERE l.tenant_id = f.tenant_id AND l.lead_id = f.lead_id;

WITH d AS (
    SELECT DISTINCT ON (e.tenant_id, e.lead_id) e.tenant_id, e.lead_id, e.occurred_at, e.event_id,
           (p.d->>'value')::numeric AS value, coalesce(p.d->>'attribution_class', p.d->>'attribution') AS cls
    FROM events e
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(e.payload->'data') = 'object' THEN e.payload->'data'
                                    ELSE e.payload END AS d) p
    WHERE e.type = 'deal.closed' AND e.lead_id IS NOT NULL
    ORDER BY e.tenant_id, e.lead_id, e.occurred_at, e.event_id
)
UPDATE leads l SET closed_at = d.occurred_at, deal_value = d.value, attribution_class = d.cls,
                   deal_event_id = d.event_id
FROM d WHERE l.tenant_id = d.tenant_id AND l.lead_id = d.lead_id;
