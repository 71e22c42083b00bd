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
