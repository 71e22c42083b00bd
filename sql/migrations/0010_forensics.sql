-- custos schema 10: forensics (docs/forensics.md).
-- audit_checkpoints: the audit chain's head (seq, hash) at a time, signed
-- with the instance's Ed25519 key (audit/audit_checkpoint.c), append-only:
-- a checkpoint covering a row the log no longer has shows rows cut off the
-- end of the chain.

CREATE TABLE audit_checkpoints (
    id          bigserial   PRIMARY KEY,
    seq         bigint      NOT NULL CHECK (seq > 0),
    hash        text        NOT NULL,
    ts_us       bigint      NOT NULL,
    ts          timestamptz NOT NULL,
    key_id      text        NOT NULL,
    public_key  text        NOT NULL,   -- base64 of the 32-byte Ed25519 public key
    signature   text        NOT NULL    -- base64 of the 64-byte detached signature
);
CREATE INDEX audit_checkpoints_seq ON audit_checkpoints (seq);

CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION custos_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION custos_append_only();

-- Legal holds (forensics/fo_retention.c). A hold keeps interactions from
-- retention: an incident's (its evidence links, and its key's or, for
-- drift, its model version's events over its span), a key's (optionally
-- within [since, until)), or every event in [since, until). Released only
-- with a reason (by an admin); a released hold stays as the record of it.
CREATE TABLE legal_holds (
    id             bigserial   PRIMARY KEY,
    kind           text        NOT NULL CHECK (kind IN ('incident', 'key', 'range')),
    incident_id    text,
    api_key_id     text,
    since          timestamptz,
    until          timestamptz,
    reason         text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    released_at    timestamptz,
    released_by    text,
    release_reason text,
    CHECK (kind <> 'incident' OR incident_id IS NOT NULL),
    CHECK (kind <> 'key' OR api_key_id IS NOT NULL),
    CHECK (kind <> 'range' OR (since IS NOT NULL AND until IS NOT NULL)),
    CHECK (since IS NULL OR until IS NULL OR since < until),
    CHECK (released_at IS NULL OR (released_by IS NOT NULL AND length(release_reason) > 0))
);
CREATE INDEX legal_holds_active ON legal_holds (kind) WHERE released_at IS NULL;

-- Whether an interaction is under an active hold.
CREATE FUNCTION custos_held(p_ts timestamptz, p_event_id text, p_key text, p_model text,
                            p_version text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND (
            (h.kind = 'key' AND h.api_key_id = p_key
             AND (h.since IS NULL OR p_ts >= h.since) AND (h.until IS NULL OR p_ts < h.until))
         OR (h.kind = 'range' AND p_ts >= h.since AND p_ts < h.until)
         OR (h.kind = 'incident' AND (
                EXISTS (SELECT 1 FROM incident_events ie WHERE ie.incident_id = h.incident_id
                        AND ie.event_id = p_event_id AND ie.ts = p_ts)
             OR EXISTS (SELECT 1 FROM incidents n WHERE n.incident_id = h.incident_id
                        AND p_ts >= n.first_seen AND p_ts <= n.last_seen
                        AND (n.api_key_id = p_key
                             OR (n.type = 'drift' AND n.model = p_model
                                 AND n.model_version = p_version)))))))
$$;

-- Retention of one daily partition of interactions: counts its rows and
-- the held ones; unless dry, detaches it, moves the held rows into the
-- default partition (no daily partition covers their day any more, so
-- they stay in interactions, queryable as before) and drops it, in the
-- caller's transaction. The partition name comes from the catalog
-- (forensics/fo_retention.c lists them) and is checked here.
CREATE FUNCTION custos_retention_drop(part text, dry boolean, OUT total bigint, OUT held bigint)
LANGUAGE plpgsql AS $$
BEGIN
    IF part !~ '^interactions_[0-9]{8}$' OR NOT EXISTS (
        SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'interactions'::regclass AND c.relname = part) THEN
        RAISE EXCEPTION '% is not a daily partition of interactions', part;
    END IF;
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE custos_held(ts, event_id, '
                   'api_key_id, model, model_version)) FROM %I', part) INTO total, held;
    IF dry THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE interactions DETACH PARTITION %I', part);
    EXECUTE format('INSERT INTO interactions SELECT * FROM %I WHERE custos_held(ts, event_id, '
                   'api_key_id, model, model_version)', part);
    EXECUTE format('DROP TABLE %I', part);
END
$$;

-- custos_auditor: a read-only role for auditors who use psql. It has no
-- right on any table; it reads these views, which show content masked
-- (its length and SHA-256, as the forensic queries do) and nothing of the
-- web identities. Roles belong to the whole cluster, so it may already
-- exist (another custos database on the same server): created only when
-- missing. Give a person a login in it: CREATE ROLE alice LOGIN PASSWORD
-- '...' IN ROLE custos_auditor (docs/forensics.md).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'custos_auditor') THEN
        CREATE ROLE custos_auditor NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    END IF;
END
$$;

CREATE VIEW auditor_interactions AS
    SELECT ts, event_id, api_key_id, model, model_version, tenant, user_id, session_id,
           client_ip, length(prompt) AS prompt_chars,
           encode(sha256(convert_to(prompt, 'UTF8')), 'hex') AS prompt_sha256,
           length(response) AS response_chars,
           encode(sha256(convert_to(response, 'UTF8')), 'hex') AS response_sha256,
           prompt_truncated, response_truncated, prompt_tokens, completion_tokens, latency_ms,
           status, finish_reason, refusal, scores, attrs, kafka_topic, kafka_partition,
           kafka_offset, kafka_ts, received_at
    FROM interactions;
CREATE VIEW auditor_incidents AS SELECT * FROM incidents;
CREATE VIEW auditor_alerts AS SELECT * FROM alerts;
CREATE VIEW auditor_incident_events AS SELECT * FROM incident_events;
CREATE VIEW auditor_actions AS SELECT * FROM actions;
CREATE VIEW auditor_audit_log AS SELECT * FROM audit_log;
CREATE VIEW auditor_audit_checkpoints AS SELECT * FROM audit_checkpoints;
CREATE VIEW auditor_legal_holds AS SELECT * FROM legal_holds;
CREATE VIEW auditor_evidence_records AS
    SELECT id, incident_id, action_id, created_at, sha256, events FROM evidence_records;

GRANT SELECT ON auditor_interactions, auditor_incidents, auditor_alerts,
    auditor_incident_events, auditor_actions, auditor_audit_log, auditor_audit_checkpoints,
    auditor_legal_holds, auditor_evidence_records TO custos_auditor;
