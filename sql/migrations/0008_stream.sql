-- custos schema 8: the change feed behind GET /api/v1/stream (web/web_stream.c).
-- Every incident opened or updated and every action that changes state adds a
-- row here, in the transaction that made the change; pg_notify wakes the web
-- server's one listener, which reads the new rows in id order and fans them
-- out to the open streams. A client resumes after the last id it saw.
--
-- Ids are handed out in commit order: the rows are written by deferred
-- triggers (at COMMIT), under a transaction-scoped advisory lock, so a reader
-- that has seen id N will never later see a row with a smaller id appear
-- (with a plain bigserial a transaction holding id 10 could commit after one
-- holding id 11, and a reader past 11 would miss it). The lock is held only
-- from the deferred triggers to the end of the commit.
--
-- The feed is bounded: every 1000th row prunes rows beyond the newest
-- change_feed_state.max_rows and older than max_age; pruned_upto remembers
-- the highest id removed, so that a client asking to resume before it gets
-- "event: reset" rather than a silent gap.

CREATE TABLE change_feed (
    id      bigserial   PRIMARY KEY,
    kind    text        NOT NULL CHECK (kind IN ('incident', 'action')),
    payload jsonb       NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX change_feed_at ON change_feed (at);

CREATE TABLE change_feed_state (
    one         boolean  PRIMARY KEY DEFAULT true CHECK (one),
    pruned_upto bigint   NOT NULL DEFAULT 0,
    max_rows    bigint   NOT NULL DEFAULT 100000 CHECK (max_rows >= 1000),
    max_age     interval NOT NULL DEFAULT '7 days' CHECK (max_age >= '1 hour')
);
INSERT INTO change_feed_state DEFAULT VALUES;

-- Removes what is past the bounds; returns the new pruned_upto.
CREATE FUNCTION change_feed_prune() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    st   change_feed_state;
    top  bigint;
    gone bigint;
BEGIN
    SELECT * INTO st FROM change_feed_state WHERE one;
    SELECT max(id) INTO top FROM change_feed;
    WITH d AS (
        DELETE FROM change_feed
         WHERE id <= top - st.max_rows OR at < clock_timestamp() - st.max_age
        RETURNING id)
    SELECT max(id) INTO gone FROM d;
    IF gone IS NOT NULL AND gone > st.pruned_upto THEN
        UPDATE change_feed_state SET pruned_upto = gone WHERE one;
        RETURN gone;
    END IF;
    RETURN st.pruned_upto;
END $$;

CREATE FUNCTION change_feed_add(k text, p jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    nid bigint;
BEGIN
    -- 'custos feed' as a lock key: ids in commit order (see above).
    PERFORM pg_advisory_xact_lock(x'637573746f66'::bigint);
    INSERT INTO change_feed (kind, payload) VALUES (k, p) RETURNING id INTO nid;
    IF nid % 1000 = 0 THEN
        PERFORM change_feed_prune();
    END IF;
    -- One notification per transaction (PostgreSQL folds equal ones).
    PERFORM pg_notify('custos_feed', '');
END $$;

CREATE FUNCTION change_feed_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION change_feed_incident() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM change_feed_add('incident', jsonb_build_object(
        'incident_id', NEW.incident_id,
        'op', CASE TG_OP WHEN 'INSERT' THEN 'opened' ELSE 'updated' END,
        'status', NEW.status,
        'severity', NEW.severity,
        'at', change_feed_ts(clock_timestamp())));
    RETURN NULL;
END $$;

CREATE FUNCTION change_feed_action() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM change_feed_add('action', jsonb_build_object(
        'action_id', NEW.id,
        'incident_id', NEW.incident_id,
        'state', NEW.state,
        'at', change_feed_ts(clock_timestamp())));
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER incidents_feed_insert AFTER INSERT ON incidents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION change_feed_incident();
CREATE CONSTRAINT TRIGGER incidents_feed_update AFTER UPDATE ON incidents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION change_feed_incident();
CREATE CONSTRAINT TRIGGER actions_feed_insert AFTER INSERT ON actions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION change_feed_action();
CREATE CONSTRAINT TRIGGER actions_feed_update AFTER UPDATE OF state ON actions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION change_feed_action();
