-- Per-tenant API keys (ingest and service) and the record of every ingest batch.
--
-- A key's secret is `smk_<key_id>_<random>`, shown once at creation. Only its SHA-256 (hex) is stored;
-- that hex digest is also the HMAC-SHA256 key a sender may sign request bodies with instead of sending
-- the secret (see rbac/keys.py). key_id is unique across tenants so a key can be found before the
-- tenant is known (on the system connection); every other read goes through row-level security.

CREATE TABLE api_keys (
    tenant_id   text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    key_id      text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('ingest', 'service')),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role        text CHECK (role IN ('executive', 'manager', 'agent', 'admin', 'auditor')),
    secret_sha256 text NOT NULL CHECK (secret_sha256 ~ '^[0-9a-f]{64}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    revoked_at  timestamptz,
    PRIMARY KEY (tenant_id, key_id),
    -- a service key is bound to exactly one role; an ingest key to none
    CHECK ((kind = 'service') = (role IS NOT NULL))
);
CREATE UNIQUE INDEX api_keys_key_id ON api_keys (key_id);

-- One row per stored batch (an API request, a chunk of a CLI backfill, a chunk of the demo load).
-- run_id groups the chunks of one backfill or demo load; the protocol shows runs as annotations.
CREATE TABLE ingest_batches (
    tenant_id   text NOT NULL,
    batch_id    bigint GENERATED ALWAYS AS IDENTITY,
    run_id      text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    source      text NOT NULL CHECK (source IN ('api', 'cli', 'demo')),
    key_id      text,
    accepted    integer NOT NULL CHECK (accepted >= 0),
    duplicates  integer NOT NULL CHECK (duplicates >= 0),
    rejected    integer NOT NULL CHECK (rejected >= 0),
    first_occurred_at timestamptz,
    last_occurred_at  timestamptz,
    PRIMARY KEY (tenant_id, batch_id)
);
CREATE INDEX ingest_batches_at ON ingest_batches (tenant_id, at);
CREATE INDEX ingest_batches_run ON ingest_batches (tenant_id, run_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'ingest_batches'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = sm_current_tenant()) '
            'WITH CHECK (tenant_id = sm_current_tenant())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON api_keys TO sm_app;
-- batches are a record: the service adds rows, never edits them
GRANT SELECT, INSERT ON ingest_batches TO sm_app;
REVOKE UPDATE, DELETE, TRUNCATE ON ingest_batches FROM sm_app;
