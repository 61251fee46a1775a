-- One statement per audit append: audit_append() serialises a tenant's appends by the same advisory lock as
-- before (rbac/audit.py LOCK_CLASS, hashtext(tenant)), reads the chain head under that lock and inserts the
-- rows only if the head is the one their hashes were computed from. Hashes stay computed in Python
-- (rbac/audit.py chain_hash, the one definition `audit verify` checks against); the function only refuses
-- rows that would not continue the chain it finds.
--
-- Called with the head the caller believes (p_seq, p_hash) and its rows (a jsonb array of audit_log rows):
--   head matches → the rows are inserted, all or none; returns (true, seq and hash of the last new row);
--   head differs, or p_rows is NULL → nothing is inserted; returns (false, the actual head), 0 and the
--   genesis hash for an empty chain, so that the caller recomputes from the real head and calls again.
-- The lock is a transaction lock: a single statement in autocommit holds it only while it runs; a caller
-- inside a transaction keeps it until commit, so a second call after a refused one cannot be refused.
--
-- Least privilege: the body runs as sm_app (the SET role clause; the caller's role is back on return) with
-- app.tenant_id set to p_tenant, so row-level security confines it to that tenant's rows and it can do only
-- what a tenant transaction may: SELECT and INSERT on audit_log. Called by the owner (the service's audit
-- writer, datasource/access.py GroupCommit, which saves a BEGIN, a set_config and a COMMIT per round this
-- way), it has no more rights than that; called inside a tenant transaction (Database.tenant), it refuses
-- another tenant than the one the transaction is confined to. It is SECURITY INVOKER: it lends no rights,
-- so EXECUTE is revoked from PUBLIC (every role's by default) and granted to sm_app only. The tenant setting
-- lasts until the caller's transaction ends (a single statement: until it ends), as Database.tenant's does.
--
-- A VOLATILE plpgsql function takes a new snapshot per statement (READ COMMITTED), so the head read after
-- the lock sees every append committed before the lock was granted.

CREATE FUNCTION audit_append(p_tenant text, p_seq bigint, p_hash text, p_rows jsonb, p_lock_timeout text)
    RETURNS TABLE (appended boolean, head_seq bigint, head_hash text)
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
    SET role = 'sm_app'
    AS $$
DECLARE
    cur_seq  bigint;
    cur_hash text;
    n        integer;
BEGIN
    IF sm_current_tenant() <> p_tenant THEN
        RAISE EXCEPTION 'audit_append: this transaction is confined to tenant %, not %', sm_current_tenant(), p_tenant
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM set_config('app.tenant_id', p_tenant, true);
    -- how long to wait for the tenant's lock or the table before failing (the request is then not served)
    PERFORM set_config('lock_timeout', p_lock_timeout, true);
    -- 5901591 = 0x5A0D17, rbac/audit.py LOCK_CLASS: the lock every other writer of the chain takes
    PERFORM pg_advisory_xact_lock(5901591, hashtext(p_tenant));
    SELECT a.seq, a.hash INTO cur_seq, cur_hash
        FROM audit_log a WHERE a.tenant_id = p_tenant ORDER BY a.seq DESC LIMIT 1;
    cur_seq := coalesce(cur_seq, 0);
    cur_hash := coalesce(cur_hash, repeat('0', 64));  -- rbac/audit.py GENESIS
    n := coalesce(jsonb_array_length(p_rows), 0);
    IF n = 0 OR p_seq IS DISTINCT FROM cur_seq OR p_hash IS DISTINCT FROM cur_hash THEN
        RETURN QUERY SELECT false, cur_seq, cur_hash;
        RETURN;
    END IF;
    -- the hashes cover tenant_id, seq and prev_hash: rows that do not continue this chain are the caller's
    -- error, never repaired here
    IF EXISTS (SELECT 1 FROM (SELECT r.tenant_id, r.seq, r.prev_hash, r.ordinality AS i,
                                     lag(r.hash, 1, cur_hash) OVER (ORDER BY r.ordinality) AS link
                              FROM jsonb_populate_recordset(NULL::audit_log, p_rows) WITH ORDINALITY AS r) x
               WHERE x.tenant_id IS DISTINCT FROM p_tenant OR x.seq IS DISTINCT FROM cur_seq + x.i
                  OR x.prev_hash IS DISTINCT FROM x.link) THEN
        RAISE EXCEPTION 'audit_append: the rows for tenant % do not continue its chain after row %', p_tenant, cur_seq
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO audit_log (tenant_id, seq, at, subject, role, action, resource, outcome, status, masked_fields,
                           rows_returned, latency_ms, request_id, client_addr, user_agent, auth_method, reason,
                           prev_hash, hash)
        SELECT r.tenant_id, r.seq, r.at, r.subject, r.role, r.action, r.resource, r.outcome, r.status,
               r.masked_fields, r.rows_returned, r.latency_ms, r.request_id, r.client_addr, r.user_agent,
               r.auth_method, r.reason, r.prev_hash, r.hash
        FROM jsonb_populate_recordset(NULL::audit_log, p_rows) AS r;
    RETURN QUERY SELECT true, cur_seq + n, p_rows -> (n - 1) ->> 'hash';
END
$$;

REVOKE ALL ON FUNCTION audit_append(text, bigint, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_append(text, bigint, text, jsonb, text) TO sm_app;
