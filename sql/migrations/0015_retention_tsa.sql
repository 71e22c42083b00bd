-- custos schema 15: retention of rejected events and alerts
-- (forensics/fo_retention.c, docs/forensics.md "Retention and legal holds").
-- Which of them an active legal hold keeps, as custos_held does for
-- interactions.

-- An alert is held by a hold on its incident, by a key hold on its key
-- covering its event time, or by a range hold covering its event time.
CREATE FUNCTION custos_alert_held(p_incident text, p_ts timestamptz, p_key text)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND (
            (h.kind = 'incident' AND h.incident_id = p_incident)
         OR (h.kind = 'key' AND h.api_key_id = p_key
             AND (h.since IS NULL OR p_ts >= h.since) AND (h.until IS NULL OR p_ts < h.until))
         OR (h.kind = 'range' AND p_ts >= h.since AND p_ts < h.until)))
$$;

-- A rejected event has no parsed key or event time: a range hold keeps it
-- when the range covers the time it was received or its Kafka timestamp.
CREATE FUNCTION custos_rejected_held(p_received timestamptz, p_kafka_ts timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND h.kind = 'range' AND (
            (p_received >= h.since AND p_received < h.until)
         OR (p_kafka_ts >= h.since AND p_kafka_ts < h.until)))
$$;
