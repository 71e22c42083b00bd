-- custos schema 12: what was never ingested. A row per range of a
-- partition's offsets the broker no longer had when the collector came to
-- read them (retention ran ahead of it, or a fresh group met a log whose
-- head was already deleted): [first_missing, next_present). Written in the
-- same transaction as the batch that starts at next_present, so a range is
-- recorded exactly when the offset moves past it; forensic exports read it
-- to say what is missing.

CREATE TABLE ingest_gaps (
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    first_missing   bigint      NOT NULL CHECK (first_missing >= 0),
    next_present    bigint      NOT NULL,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition, first_missing),
    CHECK (next_present > first_missing)
);
CREATE INDEX ingest_gaps_detected ON ingest_gaps (detected_at);
