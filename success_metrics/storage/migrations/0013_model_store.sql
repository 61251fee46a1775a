-- The per-tenant model store (issue 14): fitted models and their results (forecasts, backtests, anomaly scans,
-- scoring models), one row per (tenant, kind, key), written only by the background trainer
-- (datasource/trainer.py) and read by the metrics (calculators/models.py). ``watermark`` says which data the row
-- was fitted on (the tenant's latest ingest batch, its settings and the month): the trainer refits a kind only
-- when the tenant's watermark moved past it. ``payload`` is bytes the kind's own code wrote (JSON for our
-- results; a pickle only of objects our trainer built) — no user ever writes this table.
CREATE TABLE fitted_models (
    tenant_id  text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    kind       text NOT NULL,
    key        text NOT NULL,
    fitted_at  timestamptz NOT NULL,
    watermark  text NOT NULL,
    payload    bytea NOT NULL,
    PRIMARY KEY (tenant_id, kind, key)
);

ALTER TABLE fitted_models ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON fitted_models USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON fitted_models TO sm_app;
