-- Alerts and scheduled reports: rules as data, alert state and history, the notification outbox that is
-- also the delivery log, notification channels, report schedules and the report delivery log.
--
-- Exactly-once notification across restarts and replicas: a state transition (pending -> firing, firing ->
-- resolved) and its outbox rows are written in one transaction; delivery only ever works on outbox rows, and
-- the unique key (event, transition, channel) means the same transition cannot be queued twice.

-- Rules a tenant changed or added; the built-in defaults (datasource/alerting/defaults.py) apply where no
-- row of the same rule_id exists.
CREATE TABLE alert_rules (
    tenant_id  text NOT NULL,
    rule_id    text NOT NULL,
    definition jsonb NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, rule_id)
);

-- Current evaluation state of each rule: inactive | pending | firing.
CREATE TABLE alert_state (
    tenant_id      text NOT NULL,
    rule_id        text NOT NULL,
    state          text NOT NULL CHECK (state IN ('inactive', 'pending', 'firing')),
    since          timestamptz NOT NULL,          -- when the rule entered this state
    event_id       bigint,                        -- the open alert_events row while firing
    last_value     double precision,
    evaluated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, rule_id)
);

-- One row per firing episode; resolved_at is set when it resolves. Annotations and action items read this.
CREATE TABLE alert_events (
    tenant_id   text NOT NULL,
    event_id    bigint GENERATED ALWAYS AS IDENTITY,
    rule_id     text NOT NULL,
    family      text NOT NULL CHECK (family IN ('critical', 'performance', 'business', 'maintenance')),
    severity    text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    state       text NOT NULL CHECK (state IN ('firing', 'resolved')),
    started_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    title       text NOT NULL,
    summary     text NOT NULL,
    value       double precision,
    threshold   double precision,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX alert_events_time ON alert_events (tenant_id, started_at);
CREATE INDEX alert_events_open ON alert_events (tenant_id) WHERE state = 'firing';

-- Where a tenant's alerts go. The secret (HMAC key, SMTP password) is write-only through the API.
CREATE TABLE alert_channels (
    tenant_id  text NOT NULL,
    channel_id text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
    config     jsonb NOT NULL,
    secret     text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, channel_id)
);

-- The outbox and delivery log of alert notifications: one row per (transition, channel).
CREATE TABLE alert_deliveries (
    tenant_id       text NOT NULL,
    delivery_id     bigint GENERATED ALWAYS AS IDENTITY,
    event_id        bigint NOT NULL,
    transition      text NOT NULL CHECK (transition IN ('firing', 'resolved')),
    channel_id      text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),   -- also a lease: a replica claims a row by moving it
    sent_at         timestamptz,
    PRIMARY KEY (tenant_id, delivery_id),
    UNIQUE (tenant_id, event_id, transition, channel_id)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (tenant_id, next_attempt_at) WHERE status = 'pending';

-- Report schedules per tenant and kind; last_period is the period last sent (or claimed), so a missed
-- report is sent once after downtime and a second replica finds nothing to claim.
CREATE TABLE report_schedules (
    tenant_id   text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('daily', 'weekly', 'monthly')),
    enabled     boolean NOT NULL DEFAULT true,
    at_time     time NOT NULL,
    recipients  jsonb NOT NULL DEFAULT '[]'::jsonb,
    last_period text,
    claimed_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);

CREATE TABLE report_deliveries (
    tenant_id   text NOT NULL,
    delivery_id bigint GENERATED ALWAYS AS IDENTITY,
    kind        text NOT NULL,
    period      text NOT NULL,
    recipient   text NOT NULL,
    role        text NOT NULL,
    status      text NOT NULL CHECK (status IN ('sent', 'failed')),
    error       text,
    attachments text[] NOT NULL DEFAULT '{}',
    sent_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, delivery_id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alert_rules', 'alert_state', 'alert_events', 'alert_channels', 'alert_deliveries',
                             'report_schedules', 'report_deliveries'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I USING (tenant_id = sm_current_tenant()) '
            'WITH CHECK (tenant_id = sm_current_tenant())', t);
    END LOOP;
END
$$;
