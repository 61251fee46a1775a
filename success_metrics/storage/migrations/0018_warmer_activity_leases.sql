-- Issue 17: what the cache warmer shares across restarts and replicas. Service bookkeeping read and written by
-- the owner role only (no grant to sm_app): no tenant's request reads it.

-- When each tenant's users last asked for values. Every replica writes it, at most about once a minute per
-- tenant (query/activity.py); the warmer warms the tenants seen recently, most recent first.
CREATE TABLE tenant_activity (
    tenant_id   text PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    last_asked  timestamptz NOT NULL
);

-- A tenant's warm-up lease (query/leases.py): the quarter hour a replica warms (or warmed) the tenant's dashboards
-- for, and that replica's lease connection (pid and start, as pg_stat_activity shows them). The lease holds while
-- that connection lives: a replica that dies, or restarts, frees it without any clock.
CREATE TABLE tenant_warmups (
    tenant_id       text PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
    warmed_for      timestamptz NOT NULL,
    holder_pid      integer NOT NULL,
    holder_started  timestamptz NOT NULL
);
