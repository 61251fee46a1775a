-- Access audit log (append-only, hash-chained per tenant), versioned role policy and identity settings.
--
-- audit_log: one row per data access, export, policy/key change and authentication attempt. The service
-- role may only INSERT and SELECT: UPDATE, DELETE and TRUNCATE are revoked from sm_app and refused for
-- everyone by triggers, so even the owner must first disable a trigger (a visible DDL step) to alter
-- history. Each row's hash covers its content and the previous row's hash (rbac/audit.py), so an edit or
-- deletion that gets past the triggers is still found by `success-metrics audit verify`.
-- Authentication failures that name no known tenant are recorded under tenant_id '_unattributed'
-- (no real tenant id starts with '_').

CREATE TABLE audit_log (
    tenant_id     text NOT NULL,
    seq           bigint NOT NULL CHECK (seq >= 1),
    at            timestamptz NOT NULL,
    subject       text,
    role          text,
    action        text NOT NULL,     -- query | export | auth.success | auth.failure | policy.change | key.change | identity.change | audit.read
    resource      jsonb NOT NULL DEFAULT '{}'::jsonb,   -- metrics list, range, filters, route
    outcome       text NOT NULL CHECK (outcome IN ('success', 'denied', 'error')),
    status        integer NOT NULL,
    masked_fields text[] NOT NULL DEFAULT '{}',
    rows_returned bigint,
    latency_ms    double precision,
    request_id    text,
    client_addr   text,
    user_agent    text,
    auth_method   text,
    reason        text,              -- why a request was denied or failed, in words (never a token)
    prev_hash     text NOT NULL,
    hash          text NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_log_time ON audit_log (tenant_id, at);
CREATE INDEX audit_log_action_time ON audit_log (tenant_id, action, at);

CREATE FUNCTION sm_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION sm_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION sm_audit_append_only();

-- Every version of each tenant's role policy; the highest version is the one in force.
CREATE TABLE policy_versions (
    tenant_id  text NOT NULL,
    version    integer NOT NULL CHECK (version >= 1),
    document   jsonb NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    comment    text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, version)
);

-- Identity provider settings changed through the admin API; they override the SM_CONFIG block.
CREATE TABLE identity_settings (
    tenant_id  text NOT NULL,
    version    integer NOT NULL CHECK (version >= 1),
    config     jsonb NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_log', 'policy_versions', 'identity_settings'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = sm_current_tenant()) '
            'WITH CHECK (tenant_id = sm_current_tenant())', t);
    END LOOP;
END
$$;

REVOKE ALL ON audit_log FROM sm_app;
GRANT SELECT, INSERT ON audit_log TO sm_app;
REVOKE UPDATE, DELETE, TRUNCATE ON policy_versions, identity_settings FROM sm_app;
GRANT SELECT, INSERT ON policy_versions, identity_settings TO sm_app;
