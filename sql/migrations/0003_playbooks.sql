-- custos schema 3: what the playbooks write.
-- actions: every containment step a playbook asked for, written before it
-- runs, with its state machine; api_keys and model_deployments: the registry
-- a gateway reads; evidence_records: frozen evidence before a rollback;
-- audit_log: append-only, SHA-256 chained record of every transition.
-- Incidents are referred to by their text incident_id (no foreign key to
-- the analytics tables, which evolve on their own).

CREATE TABLE actions (
    id                bigserial   PRIMARY KEY,
    incident_id       text        NOT NULL,
    playbook          text        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('revoke_key', 'restore_key',
                          'throttle_key', 'unthrottle_key', 'rollback_model', 'notify',
                          'set_incident')),
    subject           text        NOT NULL,     -- key id, model or notify target
    params            jsonb       NOT NULL,
    params_key        text        NOT NULL,     -- sha256 of kind, params and dry-run
    state             text        NOT NULL CHECK (state IN ('proposed', 'pending_approval',
                          'approved', 'executing', 'done', 'failed', 'rejected', 'expired',
                          'dry_run')),
    dry_run           boolean     NOT NULL DEFAULT false,
    approval_required boolean     NOT NULL DEFAULT false,
    ttl_s             bigint      CHECK (ttl_s > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz,              -- pending approval runs out
    decided_at        timestamptz,
    decided_by        text,
    decision_reason   text,
    started_at        timestamptz,
    finished_at       timestamptz,
    attempts          integer     NOT NULL DEFAULT 0,
    error             text,
    result            jsonb,
    revert_at         timestamptz,              -- ttl: when to undo a done action
    reverted_at       timestamptz,
    revert_of         bigint      REFERENCES actions(id),
    actor             text        NOT NULL,     -- who proposed it
    UNIQUE (incident_id, kind, params_key)
);
CREATE INDEX actions_state ON actions (state, created_at);
CREATE INDEX actions_incident ON actions (incident_id);
CREATE INDEX actions_revert_due ON actions (revert_at) WHERE revert_at IS NOT NULL
    AND reverted_at IS NULL;

-- How often each incident has reached the playbooks (opened vs updated),
-- and its last JSON, so that an action failing later (after an approval,
-- say) can escalate with the incident in hand.
CREATE TABLE incident_deliveries (
    incident_id   text        PRIMARY KEY,
    deliveries    bigint      NOT NULL,
    first_at      timestamptz NOT NULL DEFAULT now(),
    last_at       timestamptz NOT NULL DEFAULT now(),
    last_incident text        NOT NULL
);

-- What playbooks said about incidents (custos.set_incident), for the
-- analytics and the console to show beside the incident.
CREATE TABLE incident_updates (
    id          bigserial   PRIMARY KEY,
    incident_id text        NOT NULL,
    action_id   bigint      REFERENCES actions(id),
    status      text,
    severity    text CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    note        text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id, at);

-- The registry a gateway reads (or is told about on the control topic).
CREATE TABLE api_keys (
    key_id          text        PRIMARY KEY,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    revoked_at      timestamptz,
    restored_at     timestamptz,
    reason          text,
    throttle_rps    double precision CHECK (throttle_rps > 0),
    throttled_until timestamptz,
    action_id       bigint      REFERENCES actions(id),   -- the last action that changed it
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_deployments (
    model        text        NOT NULL,
    version      text        NOT NULL,
    active       boolean     NOT NULL DEFAULT false,
    deployed_at  timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz,
    PRIMARY KEY (model, version)
);
CREATE UNIQUE INDEX model_deployments_one_active ON model_deployments (model) WHERE active;

CREATE TABLE model_deployment_history (
    id           bigserial   PRIMARY KEY,
    model        text        NOT NULL,
    from_version text,
    to_version   text        NOT NULL,
    action_id    bigint      REFERENCES actions(id),
    at           timestamptz NOT NULL DEFAULT now()
);

-- Evidence frozen before a rollback (EU AI Act Art. 73(6)): the incident,
-- its events and the drift windows, with the SHA-256 of the exact text.
CREATE TABLE evidence_records (
    id          bigserial   PRIMARY KEY,
    incident_id text        NOT NULL,
    action_id   bigint      NOT NULL REFERENCES actions(id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    content     text        NOT NULL,
    sha256      text        NOT NULL,
    events      bigint      NOT NULL
);
CREATE INDEX evidence_records_incident ON evidence_records (incident_id);

-- The audit chain. hash = SHA-256 over prev_hash and the row's fields
-- (docs/playbooks.md gives the exact encoding); audit_head holds the last
-- seq and hash, so that cutting rows off the end is noticed as well.
CREATE TABLE audit_log (
    seq         bigint      PRIMARY KEY,
    ts_us       bigint      NOT NULL,
    ts          timestamptz NOT NULL,
    actor       text        NOT NULL,
    event       text        NOT NULL,
    action_id   bigint,
    incident_id text,
    detail      text        NOT NULL,
    prev_hash   text        NOT NULL,
    hash        text        NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action_id) WHERE action_id IS NOT NULL;

CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint  NOT NULL,
    hash text    NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, repeat('0', 64));

CREATE FUNCTION custos_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION custos_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION custos_append_only();
CREATE TRIGGER evidence_append_only BEFORE UPDATE OR DELETE ON evidence_records
    FOR EACH ROW EXECUTE FUNCTION custos_append_only();
CREATE TRIGGER evidence_no_truncate BEFORE TRUNCATE ON evidence_records
    FOR EACH STATEMENT EXECUTE FUNCTION custos_append_only();
