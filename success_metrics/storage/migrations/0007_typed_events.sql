-- Typed copies of the two high-volume event types whose fields some metrics read call by call:
-- component.call → component_calls (operations monitor and system health: latency percentiles, MTTR, errors)
-- and contact.attempted → contact_attempts (compliance checks). Reading payload->>'…' from jsonb (detoast,
-- parse, cast) cost more than everything else those statements do; here the fields are columns.
--
-- One row per stored event, keyed like events (tenant_id, occurred_at, event_id), so range scans by tenant and
-- time use the primary key. Fields are read from the payload as sm_rollup_key (0003) reads them (the event's
-- data, or an envelope's "data"; the older spelling 'manual' of contact attempts), by the functions below,
-- which this backfill and the ingest path (calculators.rollups.apply_events, in the ingest transaction, with
-- only the events stored for the first time) both call. Values are kept as sent (NULL when absent); the
-- readers apply the rollup key's defaults, so a figure read here equals the one read from events.
--
-- Retention drops whole event partitions and deletes the dropped events' ids from event_ids in one
-- transaction (datasource/storage/partitions.py); the trigger on event_ids at the end deletes the typed rows
-- of the ids deleted, so these rows go with their events.

CREATE FUNCTION sm_call_fields(payload jsonb)
    RETURNS TABLE (component text, service text, ok boolean, error_category text, latency_ms numeric)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
SELECT d->>'component', d->>'service', (d->>'ok')::boolean, d->>'error_category', (d->>'latency_ms')::numeric
FROM (SELECT CASE WHEN jsonb_typeof(payload->'data') = 'object' THEN payload->'data' ELSE payload END AS d) x
$$;

-- manual: a person made the attempt (automated = false, or the older manual = true), as rollup key k3 reads it
CREATE FUNCTION sm_contact_fields(payload jsonb)
    RETURNS TABLE (channel text, outcome text, manual boolean, consent boolean, recipient_local_time text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
SELECT d->>'channel', d->>'outcome', coalesce(NOT (d->>'automated')::boolean, (d->>'manual')::boolean, false),
       (d->>'consent')::boolean, d->>'recipient_local_time'
FROM (SELECT CASE WHEN jsonb_typeof(payload->'data') = 'object' THEN payload->'data' ELSE payload END AS d) x
$$;

CREATE TABLE component_calls (
    tenant_id      text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    event_id       text NOT NULL,
    component      text,
    service        text,
    ok             boolean,
    error_category text,
    latency_ms     numeric
);

CREATE TABLE contact_attempts (
    tenant_id            text NOT NULL,
    occurred_at          timestamptz NOT NULL,
    event_id             text NOT NULL,
    lead_id              text,
    channel              text,
    outcome              text,
    manual               boolean NOT NULL,
    consent              boolean,
    recipient_local_time text
);

-- Backfill before the indexes exist (one sorted build is faster than 2.8 M index inserts), in tenant and
-- time order, so that one tenant's range is a contiguous run of pages.
SET LOCAL work_mem = '256MB';
SET LOCAL maintenance_work_mem = '512MB';

INSERT INTO component_calls (tenant_id, occurred_at, event_id, component, service, ok, error_category, latency_ms)
SELECT e.tenant_id, e.occurred_at, e.event_id, f.component, f.service, f.ok, f.error_category, f.latency_ms
FROM events e CROSS JOIN LATERAL sm_call_fields(e.payload) f
WHERE e.type = 'component.call'
ORDER BY e.tenant_id, e.occurred_at, e.event_id;

INSERT INTO contact_attempts (tenant_id, occurred_at, event_id, lead_id, channel, outcome, manual, consent,
                              recipient_local_time)
SELECT e.tenant_id, e.occurred_at, e.event_id, e.lead_id, f.channel, f.outcome, f.manual, f.consent,
       f.recipient_local_time
FROM events e CROSS JOIN LATERAL sm_contact_fields(e.payload) f
WHERE e.type = 'contact.attempted'
ORDER BY e.tenant_id, e.occurred_at, e.event_id;

ALTER TABLE component_calls ADD PRIMARY KEY (tenant_id, occurred_at, event_id);
ALTER TABLE contact_attempts ADD PRIMARY KEY (tenant_id, occurred_at, event_id);
-- Failed calls are a few percent of all: MTTR starts from them and looks up their neighbours by primary key.
CREATE INDEX component_calls_failed ON component_calls (tenant_id, occurred_at) WHERE NOT ok;

ANALYZE component_calls;
ANALYZE contact_attempts;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['component_calls', 'contact_attempts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = sm_current_tenant()) '
            'WITH CHECK (tenant_id = sm_current_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON component_calls, contact_attempts TO sm_app;
GRANT EXECUTE ON FUNCTION sm_call_fields(jsonb), sm_contact_fields(jsonb) TO sm_app;

-- Rows of deleted event ids go with them (retention; see the head of this file).
CREATE FUNCTION sm_forget_typed_events() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    DELETE FROM component_calls c USING gone g
    WHERE c.tenant_id = g.tenant_id AND c.occurred_at = g.occurred_at AND c.event_id = g.event_id;
    DELETE FROM contact_attempts c USING gone g
    WHERE c.tenant_id = g.tenant_id AND c.occurred_at = g.occurred_at AND c.event_id = g.event_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER forget_typed_events AFTER DELETE ON event_ids REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION sm_forget_typed_events();
