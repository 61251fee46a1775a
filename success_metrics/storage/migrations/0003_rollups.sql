-- Rollups of the event log, maintained by calculators.rollups.apply_events in the ingest transaction.
--
-- One table holds every event type's hourly (UTC hours) and daily (tenant-local days) totals per key.
-- What each key and sum means for a type is defined once, by sm_rollup_key(), which the rollup writer
-- and the raw-event read path both call: a total read from rollups equals the same total over raw events
-- by construction. Latency percentiles are kept as a mergeable log-scaled histogram (DDSketch-style,
-- gamma 1.02: bin i holds values in (1.02^(i-1), 1.02^i], relative error <= 0.0099) in jsonb {bin: count}.

CREATE FUNCTION sm_hist_index(x double precision) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN x IS NULL THEN NULL WHEN x <= 0 THEN -32768
                      ELSE ceil(ln(x) / ln(1.02::double precision))::integer END $$;

-- The value a bin stands for: the point whose relative distance to both bin edges is equal.
CREATE FUNCTION sm_hist_value(i integer) RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN i = -32768 THEN 0::double precision
                      ELSE 2 * power(1.02::double precision, i) / 2.02 END $$;

-- Merge two {bin: count} histograms (used by the rollup upsert).
CREATE FUNCTION sm_hist_add(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(jsonb_object_agg(k, s), '{}'::jsonb)
          FROM (SELECT k, sum(v) AS s
                FROM (SELECT key AS k, value::bigint AS v FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
                      UNION ALL
                      SELECT key, value::bigint FROM jsonb_each_text(coalesce(b, '{}'::jsonb))) u
                GROUP BY k) g $$;

CREATE FUNCTION sm_score_band(score integer) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN score IS NULL THEN NULL WHEN score >= 80 THEN 'hot'
                      WHEN score >= 40 THEN 'warm' ELSE 'cold' END $$;

-- The rollup keys and sums of one event (payload is the event's data, or an envelope holding it in "data").
-- Field names follow the ingest JSON Schemas (location_id, team_id, attribution_class, kind, automated); the
-- older spellings of the event contract (location, team, attribution, category, manual) are read as well.
--   k1, k2, k3: the type's dimensions; n: 1; s1..s3: the type's summable figures; mx: its maximum; h: histogram bin
CREATE FUNCTION sm_rollup_key(etype text, payload jsonb, agent text)
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
        WHEN 'contact.attempted' THEN CASE WHEN coalesce(NOT (d->>'automated')::boolean, (d->>'manual')::boolean, false)
                                           THEN 'manual' ELSE 'auto' END
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

CREATE TABLE rollups (
    tenant_id text NOT NULL,
    grain     text NOT NULL CHECK (grain IN ('hour', 'day')),
    type      text NOT NULL,
    bucket    timestamptz NOT NULL,   -- hour: UTC hour start; day: the tenant-local day's start
    k1        text NOT NULL,
    k2        text NOT NULL,
    k3        text NOT NULL,
    n         bigint NOT NULL,
    s1        numeric NOT NULL,
    s2        numeric NOT NULL,
    s3        numeric NOT NULL,
    mx        numeric,
    hist      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant_id, grain, type, bucket, k1, k2, k3)
);

ALTER TABLE rollups ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rollups USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON rollups TO sm_app;
GRANT EXECUTE ON FUNCTION sm_hist_index(double precision), sm_hist_value(integer), sm_hist_add(jsonb, jsonb),
    sm_score_band(integer), sm_rollup_key(text, jsonb, text) TO sm_app;
