-- custos schema 17: the change feed's triggers write their row themselves.
-- Under an alert storm the feed's deferred triggers (schema 8) were a sixth
-- of PostgreSQL's CPU: every incident update and action step ran a trigger
-- function that called change_feed_add(), a second PL/pgSQL function, through
-- another query. Each trigger now takes the lock, inserts and notifies in
-- its own body: the same rows, payloads, lock and order (ids in commit order,
-- 0008_stream.sql), half the cost at COMMIT (docs/architecture.md, "The
-- statement cache and the change feed").

CREATE OR REPLACE FUNCTION change_feed_incident() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    nid bigint;
BEGIN
    -- 'custos feed' as a lock key: ids in commit order (0008_stream.sql).
    PERFORM pg_advisory_xact_lock(x'637573746f66'::bigint);
    INSERT INTO change_feed (kind, payload) VALUES ('incident', jsonb_build_object(
        'incident_id', NEW.incident_id,
        'op', CASE TG_OP WHEN 'INSERT' THEN 'opened' ELSE 'updated' END,
        'status', NEW.status,
        'severity', NEW.severity,
        'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
        RETURNING id INTO nid;
    IF nid % 1000 = 0 THEN
        PERFORM change_feed_prune();
    END IF;
    -- One notification per transaction (PostgreSQL folds equal ones).
    PERFORM pg_notify('custos_feed', '');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION change_feed_action() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    nid bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(x'637573746f66'::bigint);
    INSERT INTO change_feed (kind, payload) VALUES ('action', jsonb_build_object(
        'action_id', NEW.id,
        'incident_id', NEW.incident_id,
        'state', NEW.state,
        'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
        RETURNING id INTO nid;
    IF nid % 1000 = 0 THEN
        PERFORM change_feed_prune();
    END IF;
    PERFORM pg_notify('custos_feed', '');
    RETURN NULL;
END $$;

-- No trigger calls it any more.
DROP FUNCTION change_feed_add(text, jsonb);
