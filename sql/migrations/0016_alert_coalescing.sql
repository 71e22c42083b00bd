-- custos schema 16: coalesced alerts (docs/analytics.md, "Alert storms").
-- The live analytics number an incident's alerts as they raise them
-- (first_seq, last_seq: 1 = the incident's first alert). The first
-- analytics.alert_rows_per_incident alerts of an incident keep a row and an
-- evidence link each, as before (first_seq = last_seq, count 1, last_ts
-- NULL). Past them, the alerts of one incident that one flush writes become
-- ONE row that stands for all of them (Elastic's "alert suppression"):
-- count alerts, the first of them at ts with its event_id, summary and
-- evidence, the last at last_ts, the incident's alert numbers
-- first_seq..last_seq. So no alert is lost: the counts of an incident's rows
-- add up to incidents.alerts, and a flush replayed after a crash stores
-- only the alert numbers no row covers yet. Rows written before this
-- migration, and by inc_alert_insert, have no numbers (NULL).
ALTER TABLE alerts
    ADD COLUMN count integer NOT NULL DEFAULT 1 CHECK (count >= 1),
    ADD COLUMN last_ts timestamptz,
    ADD COLUMN first_seq integer,
    ADD COLUMN last_seq integer,
    ADD CONSTRAINT alerts_seq_shape CHECK (
        (first_seq IS NULL AND last_seq IS NULL AND last_ts IS NULL AND count = 1)
        OR (first_seq >= 1 AND last_seq >= first_seq AND incident_id IS NOT NULL
            AND count <= last_seq - first_seq + 1
            AND (last_ts IS NOT NULL OR (last_seq = first_seq AND count = 1))
            AND (last_ts IS NULL OR last_ts >= ts)));

-- Rows without numbers: one alert per (incident, event, type), as before.
-- Numbered rows: one per incident and first number (an event may raise two
-- alerts of one type; each is counted, as the incident counts it).
ALTER TABLE alerts DROP CONSTRAINT alerts_incident_id_event_id_type_key;
CREATE UNIQUE INDEX alerts_unnumbered ON alerts (incident_id, event_id, type)
    WHERE first_seq IS NULL;
CREATE UNIQUE INDEX alerts_numbered ON alerts (incident_id, first_seq)
    WHERE first_seq IS NOT NULL;

-- The auditors' view expanded alerts' columns when it was made: again, with
-- the new ones (appended, so the view's columns keep their order).
CREATE OR REPLACE VIEW auditor_alerts AS SELECT * FROM alerts;

-- Retention of a coalesced row: a hold keeps it when it covers any part of
-- [ts, last_ts] (custos_alert_held for a single alert's time).
CREATE FUNCTION custos_alert_span_held(p_incident text, p_from timestamptz, p_to timestamptz,
                                       p_key text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND (
            (h.kind = 'incident' AND h.incident_id = p_incident)
         OR (h.kind = 'key' AND h.api_key_id = p_key
             AND (h.until IS NULL OR p_from < h.until) AND (h.since IS NULL OR p_to >= h.since))
         OR (h.kind = 'range' AND p_from < h.until AND p_to >= h.since)))
$$;
