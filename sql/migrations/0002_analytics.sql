-- custos schema 2: what the analytics write.
-- incidents: one row per incident (type and subject, until a quiet period),
-- updated in place as alerts arrive; doc is the JSON published to Kafka and
-- printed by `custos analyze`. alerts: every detector alert, with the event
-- at which it fired. incident_events: the interactions rows that are
-- evidence (interactions has no primary key: (event_id, ts) finds the row in
-- its daily partition). The playbooks module refers to incidents by the text
-- incident_id only, and may move status past open/closed (contained,
-- escalated, resolved...); the analytics then leave status and severity alone.

CREATE TABLE incidents (
    incident_id   text        PRIMARY KEY,
    type          text        NOT NULL CHECK (type IN ('extraction', 'probing', 'drift',
                                                       'leakage', 'flood')),
    severity      text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status        text        NOT NULL DEFAULT 'open',
    api_key_id    text,                   -- key-scoped types
    model         text,
    model_version text,
    first_seen    timestamptz NOT NULL,   -- event times
    detected_at   timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL,
    alerts        integer     NOT NULL,
    atlas         text[]      NOT NULL,
    owasp         text[]      NOT NULL,
    summary       text        NOT NULL,
    doc           jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (api_key_id IS NOT NULL OR type = 'drift'),
    CHECK (type <> 'drift' OR (model IS NOT NULL AND model_version IS NOT NULL))
);
CREATE INDEX incidents_detected ON incidents (detected_at);
CREATE INDEX incidents_key ON incidents (api_key_id, detected_at);
CREATE INDEX incidents_model ON incidents (model, model_version, detected_at);
CREATE INDEX incidents_open ON incidents (status) WHERE status = 'open';

CREATE TABLE alerts (
    id            bigserial   PRIMARY KEY,
    incident_id   text        NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    type          text        NOT NULL,
    severity      text        NOT NULL,
    ts            timestamptz NOT NULL,   -- event time of the event at which it fired
    event_id      text        NOT NULL,
    api_key_id    text,
    model         text,
    model_version text,
    summary       text        NOT NULL,
    evidence      jsonb       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (incident_id, event_id, type)
);
CREATE INDEX alerts_ts ON alerts (ts);

CREATE TABLE incident_events (
    incident_id text        NOT NULL REFERENCES incidents (incident_id) ON DELETE CASCADE,
    event_id    text        NOT NULL,
    ts          timestamptz NOT NULL,
    api_key_id  text,
    PRIMARY KEY (incident_id, event_id)
);
CREATE INDEX incident_events_event ON incident_events (event_id, ts);
