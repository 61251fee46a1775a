-- Core schema: tenants and their people, the partitioned event log, the dedupe ledger and lead state.
-- Every key begins with tenant_id and nothing joins across tenants, so the schema can be distributed by
-- tenant. Row-level security keys every tenant table on the transaction's app.tenant_id; the service
-- computes as role sm_app, which owns nothing, so a query that forgets its tenant filter sees nothing.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sm_app') THEN
        CREATE ROLE sm_app NOLOGIN;
    END IF;
END
$$;
GRANT sm_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO sm_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sm_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO sm_app;

CREATE FUNCTION sm_current_tenant() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('app.tenant_id', true), '') $$;

CREATE TABLE tenants (
    tenant_id   text PRIMARY KEY,
    name        text NOT NULL,
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
    tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    team_id     text NOT NULL,
    name        text NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);

CREATE TABLE locations (
    tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    location_id text NOT NULL,
    name        text NOT NULL,
    PRIMARY KEY (tenant_id, location_id)
);

CREATE TABLE agents (
    tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    agent_id    text NOT NULL,
    name        text NOT NULL,
    team_id     text,
    location_id text,
    active      boolean NOT NULL DEFAULT true,
    PRIMARY KEY (tenant_id, agent_id)
);

-- The raw event log, one partition per calendar month (UTC) of occurred_at.
CREATE TABLE events (
    tenant_id   text NOT NULL,
    occurred_at timestamptz NOT NULL,
    event_id    text NOT NULL,
    type        text NOT NULL,
    lead_id     text,
    agent_id    text,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, occurred_at, event_id)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX events_type_time ON events (tenant_id, type, occurred_at);
CREATE INDEX events_lead ON events (tenant_id, lead_id) WHERE lead_id IS NOT NULL;

-- Idempotency: an event id is accepted once per tenant, whatever month it claims to be in.
CREATE TABLE event_ids (
    tenant_id   text NOT NULL,
    event_id    text NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX event_ids_time ON event_ids (occurred_at);

-- Current state of each lead, maintained by ingest as its events arrive.
CREATE TABLE leads (
    tenant_id         text NOT NULL,
    lead_id           text NOT NULL,
    created_at        timestamptz,
    source            text,
    location_id       text,
    contact_name      text,
    contact_email     text,
    contact_phone     text,
    first_response_at timestamptz,       -- automated first response (lead.responded)
    response_ok       boolean,
    enriched_at       timestamptz,
    enrichment_ok     boolean,
    score             smallint CHECK (score BETWEEN 0 AND 100),
    scored_at         timestamptz,
    routed_at         timestamptz,
    agent_id          text,
    team_id           text,
    nurtured_at       timestamptz,
    touches           integer NOT NULL DEFAULT 0,   -- contact attempts
    first_contact_at  timestamptz,       -- first contact attempt after creation
    appointment_at    timestamptz,
    closed_at         timestamptz,
    deal_value        numeric(14, 2),
    attribution_class text CHECK (attribution_class IN ('direct', 'assisted', 'influenced')),
    priority          text,
    consent_sms       boolean,
    unsubscribed_at   timestamptz,
    erasure_requested_at timestamptz,
    erased_at         timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, lead_id)
);
CREATE INDEX leads_created ON leads (tenant_id, created_at);
CREATE INDEX leads_agent ON leads (tenant_id, agent_id);
CREATE INDEX leads_closed ON leads (tenant_id, closed_at) WHERE closed_at IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'teams', 'locations', 'agents', 'events', 'event_ids', 'leads'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = sm_current_tenant()) '
            'WITH CHECK (tenant_id = sm_current_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, teams, locations, agents, events, event_ids, leads TO sm_app;
GRANT EXECUTE ON FUNCTION sm_current_tenant() TO sm_app;
