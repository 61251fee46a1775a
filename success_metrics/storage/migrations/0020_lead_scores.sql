-- Issue 12 item 6: every lead's P(close) from the tenant's scoring model, written by the background trainer
-- when it fits the model (calculators/scoring.py) and read by scoring.leads and leads.at_risk, which before
-- this unpickled the model and scored every open lead on each request. Replaced whole at every fit, in the
-- transaction that stores the model, so a score is always the stored model's.
CREATE TABLE lead_scores (
    tenant_id  text NOT NULL REFERENCES tenants ON DELETE CASCADE,
    lead_id    text NOT NULL,
    p_close    double precision NOT NULL CHECK (p_close BETWEEN 0 AND 1),
    PRIMARY KEY (tenant_id, lead_id)
);

ALTER TABLE lead_scores ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lead_scores USING (tenant_id = sm_current_tenant())
    WITH CHECK (tenant_id = sm_current_tenant());
GRANT SELECT, INSERT, DELETE ON lead_scores TO sm_app;

-- scoring fits stored before this table have no scores in it: drop them so the trainer's next round refits them
-- (the panels say "not fitted" until then, a quarter hour at most)
DELETE FROM fitted_models WHERE kind = 'scoring';
