-- The semantic model (issue 12, item 1): what each event type's rollup slots mean is defined once, as data, in
-- calculators/semantic/events.py. This migration redefines sm_rollup_key from the model (same values as 0009's
-- hand-written CASE, so no rollup is rebuilt) and adds one view per event type over the generic rollups table
-- with the model's names (e.g. rollup_deal_closed: attribution_class, agent_id, deals, deal_revenue), which the
-- calculators read instead of the positional k1..k3, s1..s3. The table stays generic: one upsert path for every
-- type, and a new event type needs no new table.

-- Generated from calculators/semantic by `success-metrics model generate`: do not edit below.
CREATE OR REPLACE FUNCTION sm_rollup_key(etype text, payload jsonb, agent text)
    RETURNS TABLE (k1 text, k2 text, k3 text, n bigint, s1 numeric, s2 numeric, s3 numeric, mx numeric, h integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
SELECT
    coalesce(CASE etype
        WHEN 'lead.created' THEN d->>'source'
        WHEN 'lead.responded' THEN d->>'channel'
        WHEN 'lead.enriched' THEN d->>'provider'
        WHEN 'lead.scored' THEN sm_score_band((d->>'score')::integer)
        WHEN 'lead.routed' THEN coalesce(d->>'team_id', d->>'team')
        WHEN 'lead.nurtured' THEN d->>'sequence'
        WHEN 'contact.attempted' THEN d->>'channel'
        WHEN 'appointment.scheduled' THEN agent
        WHEN 'deal.closed' THEN coalesce(d->>'attribution_class', d->>'attribution')
        WHEN 'agent.activity' THEN agent
        WHEN 'component.call' THEN d->>'component'
        WHEN 'api.usage' THEN d->>'service'
        WHEN 'cost.recorded' THEN d->>'category'
        WHEN 'error.prevented' THEN coalesce(d->>'kind', d->>'category')
    END, ''),
    coalesce(CASE etype
        WHEN 'lead.created' THEN coalesce(d->>'location_id', d->>'location')
        WHEN 'contact.attempted' THEN d->>'outcome'
        WHEN 'deal.closed' THEN agent
        WHEN 'component.call' THEN d->>'service'
    END, ''),
    coalesce(CASE etype
        WHEN 'lead.responded' THEN CASE WHEN sm_is_manual(d) THEN 'manual' ELSE 'auto' END
        WHEN 'contact.attempted' THEN CASE WHEN sm_is_manual(d) THEN 'manual' ELSE 'auto' END
        WHEN 'component.call' THEN CASE WHEN (d->>'ok')::boolean THEN '' ELSE coalesce(d->>'error_category', 'other') END
    END, ''),
    1::bigint,
    coalesce(CASE etype
        WHEN 'lead.created' THEN (d->>'priority' = 'high')::integer::numeric
        WHEN 'lead.responded' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'lead.enriched' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'lead.scored' THEN (d->>'score')::numeric
        WHEN 'lead.routed' THEN (coalesce((d->>'ok')::boolean, true))::integer::numeric
        WHEN 'lead.nurtured' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'contact.attempted' THEN (coalesce((d->>'consent')::boolean, false))::integer::numeric
        WHEN 'deal.closed' THEN (d->>'value')::numeric
        WHEN 'agent.activity' THEN (d->>'selling_minutes')::numeric
        WHEN 'component.call' THEN ((d->>'ok')::boolean)::integer::numeric
        WHEN 'api.usage' THEN (d->>'requests')::numeric
        WHEN 'cost.recorded' THEN (d->>'amount')::numeric
        WHEN 'error.prevented' THEN (d->>'count')::numeric
    END, 0),
    coalesce(CASE etype
        WHEN 'agent.activity' THEN (d->>'admin_minutes')::numeric
        WHEN 'component.call' THEN (d->>'latency_ms')::numeric
        WHEN 'api.usage' THEN (d->>'rate_limit_used')::numeric
    END, 0),
    coalesce(CASE etype
        WHEN 'agent.activity' THEN (d->>'followup_minutes')::numeric
    END, 0),
    CASE etype
        WHEN 'component.call' THEN (d->>'latency_ms')::numeric
        WHEN 'api.usage' THEN (d->>'rate_limit_used')::numeric
    END,
    CASE etype
        WHEN 'component.call' THEN sm_hist_index((d->>'latency_ms')::double precision)
    END
FROM (SELECT CASE WHEN jsonb_typeof(payload->'data') = 'object' THEN payload->'data' ELSE payload END AS d) x
$$;

DROP VIEW IF EXISTS rollup_lead_created, rollup_lead_responded, rollup_lead_enriched, rollup_lead_scored, rollup_lead_routed, rollup_lead_nurtured, rollup_contact_attempted, rollup_appointment_scheduled, rollup_deal_closed, rollup_agent_activity, rollup_component_call, rollup_api_usage, rollup_cost_recorded, rollup_error_prevented, rollup_erasure_requested, rollup_erasure_completed;
CREATE VIEW rollup_lead_created WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS source, k2 AS location_id, n AS leads, s1 AS high_priority_leads
    FROM rollups WHERE type = 'lead.created';
CREATE VIEW rollup_lead_responded WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS channel, k3 AS automation, n AS responses, s1 AS ok_responses
    FROM rollups WHERE type = 'lead.responded';
CREATE VIEW rollup_lead_enriched WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS provider, n AS enrichments, s1 AS ok_enrichments
    FROM rollups WHERE type = 'lead.enriched';
CREATE VIEW rollup_lead_scored WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS score_band, n AS scorings, s1 AS score_sum
    FROM rollups WHERE type = 'lead.scored';
CREATE VIEW rollup_lead_routed WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS team_id, n AS routings, s1 AS ok_routings
    FROM rollups WHERE type = 'lead.routed';
CREATE VIEW rollup_lead_nurtured WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS sequence, n AS steps, s1 AS ok_steps
    FROM rollups WHERE type = 'lead.nurtured';
CREATE VIEW rollup_contact_attempted WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS channel, k2 AS outcome, k3 AS automation, n AS attempts, s1 AS consented_attempts
    FROM rollups WHERE type = 'contact.attempted';
CREATE VIEW rollup_appointment_scheduled WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS agent_id, n AS appointments
    FROM rollups WHERE type = 'appointment.scheduled';
CREATE VIEW rollup_deal_closed WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS attribution_class, k2 AS agent_id, n AS deals, s1 AS deal_revenue
    FROM rollups WHERE type = 'deal.closed';
CREATE VIEW rollup_agent_activity WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS agent_id, n AS reports, s1 AS selling_minutes, s2 AS admin_minutes, s3 AS followup_minutes
    FROM rollups WHERE type = 'agent.activity';
CREATE VIEW rollup_component_call WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS component, k2 AS service, k3 AS error_category, n AS calls, s1 AS ok_calls, s2 AS latency_ms_sum, mx AS latency_ms_max, hist AS latency_ms_bins
    FROM rollups WHERE type = 'component.call';
CREATE VIEW rollup_api_usage WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS service, n AS reports, s1 AS requests, s2 AS rate_limit_used_sum, mx AS rate_limit_used_max
    FROM rollups WHERE type = 'api.usage';
CREATE VIEW rollup_cost_recorded WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS category, n AS records, s1 AS amount
    FROM rollups WHERE type = 'cost.recorded';
CREATE VIEW rollup_error_prevented WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, k1 AS kind, n AS records, s1 AS errors_prevented
    FROM rollups WHERE type = 'error.prevented';
CREATE VIEW rollup_erasure_requested WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, n AS requests
    FROM rollups WHERE type = 'erasure.requested';
CREATE VIEW rollup_erasure_completed WITH (security_invoker = true) AS
    SELECT tenant_id, grain, bucket, n AS completions
    FROM rollups WHERE type = 'erasure.completed';
GRANT SELECT ON rollup_lead_created, rollup_lead_responded, rollup_lead_enriched, rollup_lead_scored, rollup_lead_routed, rollup_lead_nurtured, rollup_contact_attempted, rollup_appointment_scheduled, rollup_deal_closed, rollup_agent_activity, rollup_component_call, rollup_api_usage, rollup_cost_recorded, rollup_error_prevented, rollup_erasure_requested, rollup_erasure_completed TO sm_app;
