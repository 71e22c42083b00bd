-- custos schema 1: what the collector writes.
-- interactions: every accepted event, range-partitioned by day on its event
-- time; rejected_events: dead letters with their Kafka coordinates;
-- ingest_offsets: the next Kafka offset per group/topic/partition, advanced in
-- the same transaction as the rows (exactly once).

CREATE TABLE interactions (
    ts                 timestamptz      NOT NULL,
    event_id           text             NOT NULL,
    api_key_id         text             NOT NULL,
    model              text             NOT NULL,
    model_version      text             NOT NULL,
    tenant             text,
    user_id            text,
    session_id         text,
    client_ip          inet,
    prompt             text,
    response           text,
    prompt_truncated   boolean          NOT NULL DEFAULT false,
    response_truncated boolean          NOT NULL DEFAULT false,
    prompt_tokens      bigint           CHECK (prompt_tokens >= 0),
    completion_tokens  bigint           CHECK (completion_tokens >= 0),
    latency_ms         double precision CHECK (latency_ms >= 0),
    status             integer,
    finish_reason      text,
    refusal            boolean,
    scores             jsonb,
    attrs              jsonb,
    kafka_topic        text,
    kafka_partition    integer,
    kafka_offset       bigint,
    kafka_ts           timestamptz,
    received_at        timestamptz      NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);

CREATE TABLE interactions_default PARTITION OF interactions DEFAULT;

-- The forensic questions: this key over this time, this model version over
-- this time, this event id.
CREATE INDEX interactions_key_ts ON interactions (api_key_id, ts);
CREATE INDEX interactions_model_ts ON interactions (model, model_version, ts);
CREATE INDEX interactions_event_id ON interactions (event_id);

CREATE TABLE rejected_events (
    id              bigserial   PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    kafka_ts        timestamptz,
    kafka_key       bytea,
    reason          text        NOT NULL,
    raw             bytea       NOT NULL,
    raw_size        bigint      NOT NULL,
    raw_truncated   boolean     NOT NULL DEFAULT false,
    UNIQUE (consumer_group, topic, kafka_partition, kafka_offset)
);
CREATE INDEX rejected_events_received ON rejected_events (received_at);

CREATE TABLE ingest_offsets (
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    next_offset     bigint      NOT NULL,  -- -1: nothing stored yet
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);

-- Creates the daily partitions [first, first + days) that do not exist yet.
-- Rows that landed in the default partition for such a day are moved into
-- the new partition in the same transaction, so ATTACH never fails.
CREATE FUNCTION custos_ensure_partitions(first date, days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d       date;
    lo      timestamptz;
    hi      timestamptz;
    part    text;
    created integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('custos_ensure_partitions'));
    FOR i IN 0 .. days - 1 LOOP
        d := first + i;
        part := 'interactions_' || to_char(d, 'YYYYMMDD');
        lo := d::timestamp AT TIME ZONE 'UTC';   -- days are UTC days
        hi := (d + 1)::timestamp AT TIME ZONE 'UTC';
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE interactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        EXECUTE format(
            'WITH moved AS (DELETE FROM interactions_default WHERE ts >= %L AND ts < %L RETURNING *) '
            'INSERT INTO %I SELECT * FROM moved',
            lo, hi, part);
        EXECUTE format('ALTER TABLE interactions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
