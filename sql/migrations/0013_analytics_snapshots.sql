-- custos schema 13: the analytics' state per Kafka partition, so that a
-- restart or a rebalance continues where the previous owner of a partition
-- stopped (docs/analytics.md, "State across restarts and rebalances").
-- One row per (consumer group, topic, partition): the keys whose newest event
-- came from that partition, with their open incidents (an_engine_snap.c's
-- stream, refused whole when another build or rule set wrote it), covering
-- the partition's events before next_offset. kafka_partition -1 (topic '')
-- holds what no partition owns: the event-time clock, the tenants' baselines
-- and populations, drift's per-model-version state, model-scoped incidents.
-- A row is only replaced by one at the same or a later offset, so a stalled
-- former owner cannot write an older state over the new owner's.
CREATE TABLE analytics_snapshots (
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL CHECK (kafka_partition >= -1),
    next_offset     bigint      NOT NULL,
    keys            integer     NOT NULL CHECK (keys >= 0),
    state           bytea       NOT NULL,
    saved_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kafka_partition)
);
