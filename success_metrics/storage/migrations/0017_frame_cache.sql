-- Issue 17: computed frames shared by every replica (success_metrics/query/shared_cache.py). UNLOGGED: a frame is
-- recomputed from the events whenever it is missing, so the table needs no WAL and may be emptied by a crash.
-- key is the sha256 of full_key (the whole ScopedQuery as text, tenant first); a reader compares full_key too.
-- body is a frame_codec body (MessagePack, never pickle). Rows past expires_at are never served and are deleted
-- a bounded batch at a time.
CREATE UNLOGGED TABLE frame_cache (
    tenant_id   text NOT NULL,
    key         text NOT NULL,
    full_key    text NOT NULL,
    expires_at  timestamptz NOT NULL,
    body        bytea NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX frame_cache_expires ON frame_cache (expires_at);
-- bodies over 16 KiB are zlib-compressed by the codec already; PostgreSQL's own compression of the rest was most
-- of a large write's cost (a 200 KB put: 31 ms compressed, 4.5 ms stored as is; benchmarks/cache_backends.py)
ALTER TABLE frame_cache ALTER COLUMN body SET STORAGE EXTERNAL;

-- When each tenant's frames were last invalidated: a computation that began before it read the old data and
-- is not written.
CREATE UNLOGGED TABLE frame_cache_invalidations (
    tenant_id       text PRIMARY KEY,
    invalidated_at  timestamptz NOT NULL
);

ALTER TABLE frame_cache ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON frame_cache USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
ALTER TABLE frame_cache_invalidations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON frame_cache_invalidations USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON frame_cache, frame_cache_invalidations TO sm_app;
