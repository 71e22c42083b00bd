-- custos schema 11: a dead letter names the item of its message. A message
-- may hold many events (an OTLP export request's spans, LiteLLM's JSON array
-- or NDJSON batch); one bad item is a dead letter of its own at the
-- message's offset and its index among the message's items, while the
-- message's other events are stored. -1: the message as a whole.
ALTER TABLE rejected_events ADD COLUMN event_index integer NOT NULL DEFAULT -1
    CHECK (event_index >= -1);

DO $$
DECLARE
    c text;
BEGIN
    SELECT conname INTO c FROM pg_constraint
     WHERE conrelid = 'rejected_events'::regclass AND contype = 'u';
    IF c IS NOT NULL THEN
        EXECUTE format('ALTER TABLE rejected_events DROP CONSTRAINT %I', c);
    END IF;
END
$$;

ALTER TABLE rejected_events ADD CONSTRAINT rejected_events_item_key
    UNIQUE (consumer_group, topic, kafka_partition, kafka_offset, event_index);
