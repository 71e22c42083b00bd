/* The one table of settings: name, type, default, bounds, whether it is
 * secret, whether it may change on reload, and what it does. docs/config.md
 * is generated from it (custos config reference). */
#include <stdint.h>

#include "core/config_int.h"

#define I64MAX INT64_MAX

const setting core_cfg_settings[] = {
    {"postgres", "dsn", T_STR, OFF(pg_dsn), "dbname=custos", 0, 0, NULL, true, false,
     "libpq connection string (conninfo or URI)"},
    {"postgres", "connect_timeout_s", T_INT, OFF(pg_connect_timeout_s), "10", 1, 600, NULL, false,
     false, "seconds to wait for a connection"},
    {"postgres", "partitions_ahead_days", T_INT, OFF(pg_partitions_ahead_days), "7", 1, 366, NULL,
     false, true, "daily partitions of interactions kept created ahead of today"},
    {"postgres", "prepared_statements", T_ENUM, OFF(pg_prepared), "on", 0, 0, "on|off", false,
     false,
     "prepare each statement custos repeats once per connection, so that the server parses and "
     "plans it once (off: every statement parsed and planned at every call, for a connection "
     "pooler that gives each transaction another server session and keeps no prepared "
     "statement, such as PgBouncer before 1.21 in transaction mode)"},

    {"kafka", "brokers", T_STR, OFF(kafka_brokers), "localhost:9092", 0, 0, NULL, false, false,
     "bootstrap servers, comma-separated host:port"},
    {"kafka", "topics", T_STR, OFF(kafka_topics), "custos.interactions", 0, 0, NULL, false, false,
     "topics to consume, comma-separated; an entry topic=FORMAT reads that topic in FORMAT (one "
     "of collector.format's), the others in collector.format (docs/formats.md)"},
    {"kafka", "group", T_STR, OFF(kafka_group), "custos", 0, 0, NULL, false, false,
     "consumer group id; offsets are kept in PostgreSQL per group"},
    {"kafka", "client_id", T_STR, OFF(kafka_client_id), "custos", 0, 0, NULL, false, false,
     "client.id sent to the brokers"},
    {"kafka", "auto_offset_reset", T_ENUM, OFF(kafka_auto_offset_reset), "earliest", 0, 0,
     "earliest|latest", false, false,
     "where to start a partition that has no offset stored in PostgreSQL"},
    {"kafka", "fetch_wait_max_ms", T_MS, OFF(kafka_fetch_wait_max_ms), "100ms", 1, 10000, NULL,
     false, false, "longest time a broker holds a fetch that has no data"},
    {"kafka", "fetch_error_backoff_ms", T_MS, OFF(kafka_fetch_error_backoff_ms), "50ms", 1, 10000,
     NULL, false, false,
     "wait before fetching a partition again after a fetch error, an offset reset included "
     "(librdkafka's 500 ms let a broker keeping under half a second of a busy partition delete "
     "the reset offset again, and the partition stalled)"},
    {"kafka", "session_timeout_ms", T_MS, OFF(kafka_session_timeout_ms), "10s", 1000, 300000,
     NULL, false, false, "group session timeout: how soon a dead member's partitions move"},
    {"kafka", "security_protocol", T_ENUM, OFF(kafka_security_protocol), "plaintext", 0, 0,
     "plaintext|ssl|sasl_plaintext|sasl_ssl", false, false, "security.protocol"},
    {"kafka", "sasl_mechanism", T_STR, OFF(kafka_sasl_mechanism), "", 0, 0, NULL, false, false,
     "sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) when SASL is used"},
    {"kafka", "sasl_username", T_STR, OFF(kafka_sasl_username), "", 0, 0, NULL, false, false,
     "SASL user name"},
    {"kafka", "sasl_password", T_STR, OFF(kafka_sasl_password), "", 0, 0, NULL, true, false,
     "SASL password; prefer the environment variable CUSTOS_KAFKA_SASL_PASSWORD"},

    {"collector", "batch_max_events", T_INT, OFF(coll_batch_max_events), "5000", 1, 1000000, NULL,
     false, true, "a partition's batch is committed when it holds this many events"},
    {"collector", "batch_max_ms", T_MS, OFF(coll_batch_max_ms), "200ms", 1, 60000, NULL, false,
     true, "... or when its oldest event has waited this long"},
    {"collector", "max_inflight_bytes", T_BYTES, OFF(coll_max_inflight_bytes), "96MiB", 1 << 20,
     (int64_t)16 << 30, NULL, false, false,
     "bytes of events read but not yet committed; past it the consumer holds, then pauses "
     "(inflight_hold_ms)"},
    {"collector", "max_message_bytes", T_BYTES, OFF(coll_max_message_bytes), "1MiB", 1024,
     64 << 20, NULL, false, true, "larger Kafka messages are rejected as dead letters"},
    {"collector", "prompt_max_bytes", T_BYTES, OFF(coll_prompt_max_bytes), "32KiB", 0, 16 << 20,
     NULL, false, true, "prompts are kept up to this size and flagged prompt_truncated"},
    {"collector", "response_max_bytes", T_BYTES, OFF(coll_response_max_bytes), "64KiB", 0,
     16 << 20, NULL, false, true,
     "responses are kept up to this size and flagged response_truncated"},
    {"collector", "attrs_max_bytes", T_BYTES, OFF(coll_attrs_max_bytes), "64KiB", 64, 16 << 20,
     NULL, false, true, "an event whose attrs object is larger is rejected"},
    {"collector", "rejected_raw_max_bytes", T_BYTES, OFF(coll_rejected_raw_max_bytes), "4MiB", 0,
     64 << 20, NULL, false, true,
     "a dead letter keeps at most this many bytes of the raw message (raw_size keeps the size)"},
    {"collector", "shutdown_grace_ms", T_MS, OFF(coll_shutdown_grace_ms), "10s", 0, 600000, NULL,
     false, true, "on SIGTERM/SIGINT, time allowed to commit open batches before exiting"},
    {"collector", "retry_min_ms", T_MS, OFF(coll_retry_min_ms), "100ms", 1, 60000, NULL, false,
     true, "first back-off when PostgreSQL fails"},
    {"collector", "retry_max_ms", T_MS, OFF(coll_retry_max_ms), "10s", 1, 600000, NULL, false,
     true, "back-off cap when PostgreSQL keeps failing"},
    {"collector", "format", T_ENUM, OFF(coll_format), "native", 0, 0,
     "native|litellm|otlp_json|otlp_proto", false, false,
     "event format of the Kafka messages of topics whose kafka.topics entry names none: native "
     "JSON, LiteLLM StandardLoggingPayload, OTLP traces as JSON or protobuf (docs/formats.md)"},
    {"collector", "analytics", T_ENUM, OFF(coll_analytics), "on", 0, 0, "on|off", false, false,
     "hand committed events to the detectors (off: ingest only)"},
    {"collector", "writers", T_INT, OFF(coll_writers), "2", 1, 8, NULL, false, false,
     "writer threads, each with its own PostgreSQL connection; a partition's batches go to one "
     "writer at a time, the least loaded when none of them is in flight (in order, fenced as "
     "with one)"},
    {"collector", "copy_format", T_ENUM, OFF(coll_copy_format), "binary", 0, 0, "binary|text",
     false, false, "how rows go to PostgreSQL: COPY binary (the values in their send formats, "
     "less parsing in the server) or COPY text; the same rows either way"},

    /* collector.redact_*: what is stored of secrets and personal data (docs/formats.md,
     * "Redaction at ingest"); the detectors always see the original */
    {"collector", "redact_secrets", T_ENUM, OFF(coll_redact_secrets), "mask", 0, 0,
     "mask|pseudonymise|off", false, false,
     "API keys and tokens, JWTs, bearer tokens, PEM private keys and URL passwords in stored "
     "prompts, responses and attrs (and dead letters, always masked unless off): mask writes "
     "[redacted:CLASS], pseudonymise [CLASS:HMAC] (the same value, the same token; needs "
     "collector.redact_key)"},
    {"collector", "redact_personal", T_ENUM, OFF(coll_redact_personal), "off", 0, 0,
     "off|mask|pseudonymise", false, false,
     "e-mail addresses, phone numbers, card numbers (Luhn) and IBANs (mod 97), as "
     "redact_secrets; off: kept as received"},
    {"collector", "redact_key", T_STR, OFF(coll_redact_key), "", 0, 0, NULL, false, false,
     "file of the pseudonym key (64 hex digits, mode 0600), made at first start when missing; "
     "also keys the hashes of leaked values in leakage evidence. Keep it: a new key gives the "
     "same values new tokens"},
    /* the write path's pacing (collector/collector.c: seal_idle, flow_control) */
    {"collector", "batch_min_ms", T_MS, OFF(coll_batch_min_ms), "50ms", 1, 60000, NULL, false,
     false, "a partition's batch is also committed, while its writer has nothing to store, "
     "once its oldest event has waited this long (an idle writer starts at once rather than "
     "after batch_max_ms)"},
    {"collector", "inflight_hold_ms", T_MS, OFF(coll_inflight_hold_ms), "10s", 0, 120000, NULL,
     false, false, "at max_inflight_bytes the consumer stops taking messages (librdkafka keeps "
     "what it prefetched, within its bound) for at most this long, then pauses the partitions, "
     "dropping the prefetch, until half the cap is free; 0: pause at once (at most 2 min: a "
     "consumer that does not poll for librdkafka's max.poll.interval.ms, 5 min, leaves the "
     "group)"},

    /* otel: the OTLP decoders (docs/formats.md) */
    {"otel", "api_key_attribute", T_STR, OFF(otel_api_key_attribute), "custos.api_key_id", 0, 0,
     NULL, false, false, "span attribute (else resource attribute) that holds the api key id; "
     "OpenTelemetry has none of its own"},
    {"otel", "tenant_attribute", T_STR, OFF(otel_tenant_attribute), "tenant.id", 0, 0, NULL,
     false, false, "span attribute (else resource attribute) that holds the tenant"},

    {"log", "level", T_ENUM, OFF(log_level), "info", 0, 0, "debug|info|warn|error", false, true,
     "lowest level written to stderr (also --log-level)"},
    {"log", "error_interval_ms", T_MS, OFF(log_error_interval_ms), "10s", 0, 3600000, NULL, false,
     true, "a repeated error is logged at most once per interval (every one is counted)"},

    /* analytics: every threshold here is explained in docs/analytics.md */
    {"analytics", "rules_dir", T_STR, OFF(an_rules_dir), "", 0, 0, NULL, false, false,
     "folder of signature rule files (*.yaml), compiled into vectorscan (see rules_db); empty: "
     "the shipped rules, <share>/rules (see CUSTOS_SHARE_DIR)"},
    {"analytics", "rules_db", T_ENUM, OFF(an_rules_db), "per_field", 0, 0, "per_field|single", false,
     false, "per_field: each field's rules in that field's vectorscan database, so prompt rules "
     "never scan responses; single: every rule in one database scanned over both fields (the "
     "rule's field filters the matches), the same matches at about twice the scan time"},
    {"analytics", "rules_cache_dir", T_STR, OFF(an_rules_cache_dir), "", 0, 0, NULL, false, false,
     "compiled rules are kept here so that a start skips compiling the same rules (~0.4 s); "
     "empty: $XDG_CACHE_HOME/custos, else $HOME/.cache/custos; off: no cache. Only files of this "
     "user in a directory only it can write are read"},
    {"analytics", "incidents_topic", T_STR, OFF(an_incidents_topic), "custos.incidents", 0, 0,
     NULL, false, false, "Kafka topic the live analytics publish incident JSON to"},
    {"analytics", "queue_events", T_INT, OFF(an_queue_events), "16384", 16, 16777216, NULL, false,
     false, "bounded queue between the collector and the analytics; full = back-pressure. An "
     "event waiting costs ~1.3 KB of RSS: a storm that outruns the analytics keeps it full "
     "(at 65536, 85-145 MB more RSS than with it empty)"},
    {"analytics", "reorder_window_ms", T_MS, OFF(an_reorder_window_ms), "100ms", 0, 86400000, NULL,
     false, false, "event-time disorder tolerated within a partition: events are processed in "
     "(ts, event_id) order once the watermark (the least of the partitions' newest event times) "
     "is this far past them"},
    {"analytics", "partition_idle_ms", T_MS, OFF(an_partition_idle_ms), "500ms", 1, 3600000, NULL,
     false, false, "live: a partition that delivered nothing for this long (wall time) stops "
     "holding the watermark back; also how long start-up waits for the partitions to show up"},
    {"analytics", "reorder_max_events", T_INT, OFF(an_reorder_max_events), "500000", 1, 100000000,
     NULL, false, false, "events held for reordering at most; past it the oldest is processed early"},
    {"analytics", "key_idle_ms", T_MS, OFF(an_key_idle_ms), "6h", 60000, (int64_t)30 * 86400000,
     NULL, false, false, "per-key detection state is dropped after this much event time without events"},
    {"analytics", "max_keys", T_INT, OFF(an_max_keys), "100000", 16, 100000000, NULL, false, false,
     "keys tracked at most; past it the longest idle key is dropped. A key seen once costs "
     "~0.33 KB of RSS, a busy one ~1.2 KB (docs/analytics.md, Per-key state): the default "
     "holds even 100k busy keys in ~120 MB, so custos run stays within 256 MB; "
     "bench/ingest/keys_rss.sh measures custos run with 1M keys"},
    {"analytics", "incident_quiet_ms", T_MS, OFF(an_incident_quiet_ms), "30m", 1000, 86400000, NULL,
     false, false, "an incident with no alert for this long closes; a later alert opens a new one"},
    {"analytics", "incident_update_ms", T_MS, OFF(an_incident_update_ms), "1m", 0, 3600000, NULL,
     false, false, "an open incident is re-published at most this often unless its severity rises"},
    {"analytics", "extraction_fast_min", T_INT, OFF(an_ex_fast_min), "80", 2, 10000000, NULL, false,
     false, "extraction burst: requests of one key in the last 5-10 minutes at least"},
    {"analytics", "extraction_slow_min", T_INT, OFF(an_ex_slow_min), "120", 2, 10000000, NULL,
     false, false, "extraction low-and-slow: requests of one key in the last 25-30 minutes at least"},
    {"analytics", "extraction_baseline_mult", T_INT, OFF(an_ex_baseline_mult), "5", 1, 1000000,
     NULL, false, false, "the window's volume must exceed this many times the key's own and its "
     "tenant's usual volume"},
    {"analytics", "extraction_novelty_pct", T_INT, OFF(an_ex_novelty_pct), "50", 0, 100, NULL,
     false, false, "share of the window's prompts unlike the key's recent prompts, at least"},
    {"analytics", "extraction_novel_bits", T_INT, OFF(an_ex_novel_bits), "16", 1, 64, NULL, false,
     false, "SimHash Hamming distance from every recent prompt that makes a prompt novel"},
    {"analytics", "extraction_iat_cv_pct", T_INT, OFF(an_ex_iat_cv_pct), "60", 1, 1000, NULL, false,
     false, "low-and-slow: inter-arrival coefficient of variation at most (machine-steady pacing)"},
    {"analytics", "extraction_prada_w_x1000", T_INT, OFF(an_ex_prada_w_x1000), "900", 0, 1000, NULL,
     false, false, "PRADA: Shapiro-Wilk W of successive-query distances below this departs from normal"},
    {"analytics", "extraction_long_tokens", T_INT, OFF(an_ex_long_tokens), "150", 0, 10000000,
     NULL, false, false, "harvesting: mean completion tokens of the window at least"},
    {"analytics", "extraction_cold_fence_pct", T_INT, OFF(an_ex_cold_fence_pct), "200", 100,
     100000, NULL, false, false, "a key without a baseline of its own is judged on volume only "
     "past this many times (x100) the 99th percentile of the per-key 5-minute completion tokens "
     "of its tenant and of the fleet"},
    {"analytics", "learned", T_ENUM, OFF(an_learned), "on", 0, 0, "on|off", false, false,
     "the learned prompt detector (docs/analytics.md): its score at the model's threshold is one "
     "probing signal, at its strong threshold an attempt by itself"},
    {"analytics", "learned_model", T_STR, OFF(an_learned_model), "", 0, 0, NULL, false, false,
     "model file of the learned detector (analytics/train_learned.c writes it); empty: the shipped "
     "model, <share>/models/learned.bin"},
    /* speed: the prompt memo (issue 12) */
    {"analytics", "prompt_memo", T_INT, OFF(an_prompt_memo), "4096", 0, 1048576, NULL, false,
     false, "prompts (of at most 2 KB) whose learned score and sketches are remembered, so that "
     "a prompt sent again is not featurized again (the same results; 0: off; about 3 KB each "
     "at most)"},
    /* h-analytics: snapshots of the analytics state (docs/analytics.md) */
    {"analytics", "snapshots", T_ENUM, OFF(an_snapshots), "on", 0, 0, "on|off", false, false,
     "live: the per-key and per-model baselines are saved to PostgreSQL per Kafka partition and "
     "restored when a partition is assigned, so a restart or a rebalance continues where the "
     "previous owner stopped"},
    {"analytics", "snapshot_interval_ms", T_MS, OFF(an_snapshot_interval_ms), "10s", 100,
     3600000, NULL, false, false, "live: the state is saved at most this often (at a batch "
     "commit), and always when a partition is revoked or custos stops"},
    {"analytics", "snapshot_wait_ms", T_MS, OFF(an_snapshot_wait_ms), "10s", 0, 600000, NULL,
     false, false, "live: on assignment, how long to wait for the previous owner's snapshot to "
     "reach the partition's stored offset before going on with the one there is"},
    /* alert storms (analytics/an_live.c, docs/analytics.md "Alert storms") */
    {"analytics", "incident_hold_ms", T_MS, OFF(an_incident_hold_ms), "5s", 0, 600000, NULL, false,
     false, "live: an open incident's row is written and published again only after this much "
     "wall-clock time, its newest state and its coalesced alerts waiting meanwhile; an incident "
     "that opens, closes or rises in severity is written at once (0: every update at once; "
     "docs/analytics.md, Alert storms)"},
    {"analytics", "alert_rows_per_incident", T_INT, OFF(an_alert_rows_per_incident), "20", 0,
     1000000, NULL, false, false, "live: the first this many alerts of an incident are stored as "
     "a row and an evidence link each; past them, the alerts of one incident that one flush "
     "writes are one coalesced row with their count, first and last time (docs/analytics.md, "
     "Alert storms)"},
    {"analytics", "probing_rephrase_min", T_INT, OFF(an_pr_rephrase_min), "5", 2, 255, NULL,
     false, false, "refused prompts of a key within the hour that are rephrasings of one request "
     "(near-duplicates by their content words) before they are an attempt (persuasion-style "
     "iteration)"},
    {"analytics", "probing_attempt_score_pct", T_INT, OFF(an_pr_attempt_score_pct), "100", 1,
     100000, NULL, false, false, "a prompt whose rule weights sum to this (x100) is an attempt"},
    {"analytics", "probing_refusal_min", T_INT, OFF(an_pr_refusal_min), "12", 1, 1000000, NULL,
     false, false, "requests of a key in the last hour before its refusal rate is judged"},
    {"analytics", "probing_refusal_pct", T_INT, OFF(an_pr_refusal_pct), "40", 1, 100, NULL, false,
     false, "refusal rate of a key in the last hour that counts as probing"},
    {"analytics", "probing_weak_share_pct", T_INT, OFF(an_pr_weak_share_pct), "10", 0, 100, NULL,
     false, false, "weak signature hits corroborate each other only when the prompts holding them "
     "make at least this share of the key's requests in the hour (a busy key meets weak rules "
     "by chance)"},
    {"analytics", "drift_window_ms", T_MS, OFF(an_dr_window_ms), "4m", 10000, 86400000, NULL, false,
     false, "drift compares tumbling windows of this length (event time) with the reference"},
    {"analytics", "drift_reference_ms", T_MS, OFF(an_dr_reference_ms), "30m", 60000, 604800000,
     NULL, false, false, "a model version's reference is its first traffic over this long"},
    {"analytics", "drift_min_events", T_INT, OFF(an_dr_min_events), "40", 10, 100000000, NULL,
     false, false, "events a window (and five times this, the reference) needs to be judged"},
    {"analytics", "drift_min_keys", T_INT, OFF(an_dr_min_keys), "15", 1, 100000000, NULL, false,
     false, "distinct keys a window needs to be judged: a handful of keys is a traffic mix, "
     "not the model"},
    {"analytics", "drift_psi_x1000", T_INT, OFF(an_dr_psi_x1000), "200", 1, 100000, NULL, false,
     false, "population stability index (x1000) that counts as a shift"},
    {"analytics", "drift_consecutive", T_INT, OFF(an_dr_consecutive), "3", 1, 1000, NULL, false,
     false, "windows in a row over the PSI threshold before drift is raised"},
    {"analytics", "drift_key_cap", T_INT, OFF(an_dr_key_cap), "5", 1, 100000000, NULL, false,
     false, "events one key contributes to a drift window at most"},
    {"analytics", "leakage_bulk_min", T_INT, OFF(an_lk_bulk_min), "5", 2, 100000, NULL, false,
     false, "e-mail addresses or phone numbers in one response that count as bulk personal data"},
    {"analytics", "flood_min_rpm", T_INT, OFF(an_fl_min_rpm), "300", 1, 100000000, NULL, false,
     false, "flood: requests of one key in a minute at least"},
    {"analytics", "flood_mult", T_INT, OFF(an_fl_mult), "10", 1, 1000000, NULL, false, false,
     "flood: ... and this many times the key's per-minute baseline"},
    {"analytics", "flood_min_tpm", T_INT, OFF(an_fl_min_tpm), "200000", 1, (int64_t)1 << 50, NULL,
     false, false, "flood: tokens of one key in a minute at least (and flood_mult x baseline)"},
    {"analytics", "flood_cold_rpm", T_INT, OFF(an_fl_cold_rpm), "6000", 1, 100000000, NULL,
     false, false,
     "flood: a key with under 10 minutes of history (new, or custos restarted) is judged only "
     "against this absolute rate"},
    {"analytics", "flood_cold_tpm", T_INT, OFF(an_fl_cold_tpm), "4000000", 1, (int64_t)1 << 50,
     NULL, false, false, "flood: ... and this absolute token rate"},
    {"analytics", "flood_error_min", T_INT, OFF(an_fl_error_min), "60", 1, 100000000, NULL, false,
     false, "error storm: failed requests (status >= 400) of one key in a minute at least"},
    {"analytics", "flood_error_pct", T_INT, OFF(an_fl_error_pct), "50", 1, 100, NULL, false, false,
     "error storm: ... making at least this share of its requests"},

    {"playbooks", "enabled", T_ENUM, OFF(pb_enabled), "auto", 0, 0, "auto|on|off", false, false,
     "run the playbooks inside custos run; auto: when collector.analytics is on (the "
     "incidents come from there; on also runs them without, for approvals and ttl reverts)"},
    {"playbooks", "dir", T_STR, OFF(pb_dir), "", 0, 0, NULL, false, true,
     "folder of *.lua playbooks; empty: the shipped playbooks, <share>/playbooks (see "
     "CUSTOS_SHARE_DIR)"},
    {"playbooks", "dry_run", T_ENUM, OFF(pb_dry_run), "off", 0, 0, "off|on", false, true,
     "on: every action is only recorded as dry_run, nothing is changed"},
    {"playbooks", "approval_kinds", T_STR, OFF(pb_approval_kinds), "rollback_model", 0, 0, NULL,
     false, true, "action kinds that always wait for a human's approval (comma-separated)"},
    {"playbooks", "approval_expiry_ms", T_MS, OFF(pb_approval_expiry_ms), "24h", 1000,
     (int64_t)30 * 86400000, NULL, false, true, "a pending approval expires after this long"},
    {"playbooks", "max_actions_per_run", T_INT, OFF(pb_max_actions_per_run), "32", 1, 1000, NULL,
     false, true, "action calls one playbook run may make"},
    {"playbooks", "queue_max", T_INT, OFF(pb_queue_max), "10000", 1, 10000000, NULL, false, false,
     "incidents waiting for the playbooks; past it new ones are dropped and counted"},
    {"playbooks", "tick_ms", T_MS, OFF(pb_tick_ms), "500ms", 10, 60000, NULL, false, true,
     "how often approvals, expiries, auto-reverts and reload requests are looked at"},
    {"playbooks", "evidence_max_events", T_INT, OFF(pb_evidence_max_events), "10000", 0,
     10000000, NULL, false, true, "events frozen into an evidence record before a rollback"},

    {"effectors", "registry", T_ENUM, OFF(fx_registry), "on", 0, 0, "off|on", false, true,
     "write api_keys and model_deployments in PostgreSQL"},
    {"effectors", "control", T_ENUM, OFF(fx_control), "on", 0, 0, "off|on", false, true,
     "publish every action on the Kafka control topic (kafka.brokers)"},
    {"effectors", "control_topic", T_STR, OFF(fx_control_topic), "custos.control", 0, 0, NULL,
     false, true, "the control topic"},
    {"effectors", "control_timeout_ms", T_MS, OFF(fx_control_timeout_ms), "5s", 100, 600000, NULL,
     false, true, "time allowed for the broker to acknowledge a control message"},
    {"effectors", "webhook_url", T_STR, OFF(fx_webhook_url), "", 0, 0, NULL, false, true,
     "POST every action here as JSON, signed (X-Custos-Signature); empty: off"},
    {"effectors", "webhook_secret", T_STR, OFF(fx_webhook_secret), "", 0, 0, NULL, true, true,
     "HMAC-SHA256 key for the webhook signature; prefer CUSTOS_EFFECTORS_WEBHOOK_SECRET"},
    {"effectors", "webhook_timeout_ms", T_MS, OFF(fx_webhook_timeout_ms), "5s", 100, 600000, NULL,
     false, true, "time allowed for one webhook or LiteLLM request"},
    {"effectors", "litellm_url", T_STR, OFF(fx_litellm_url), "", 0, 0, NULL, false, true,
     "LiteLLM proxy base URL: revoke/restore call /key/block and /key/unblock; empty: off"},
    {"effectors", "litellm_token", T_STR, OFF(fx_litellm_token), "", 0, 0, NULL, true, true,
     "LiteLLM admin bearer token; prefer CUSTOS_EFFECTORS_LITELLM_TOKEN (or LITELLM_MASTER_KEY)"},
    {"effectors", "retries", T_INT, OFF(fx_retries), "3", 0, 100, NULL, false, true,
     "retries of a failed effector before the action fails and the incident escalates"},
    {"effectors", "retry_min_ms", T_MS, OFF(fx_retry_min_ms), "200ms", 1, 60000, NULL, false,
     true, "first back-off between retries (doubling)"},
    {"effectors", "retry_max_ms", T_MS, OFF(fx_retry_max_ms), "5s", 1, 600000, NULL, false, true,
     "back-off cap between retries"},
    {"effectors", "max_wait_ms", T_MS, OFF(fx_max_wait_ms), "15s", 100, 3600000, NULL, false,
     true, "time one effector may spend on one action, retries included: no attempt starts "
     "past it (each attempt is also bounded by control_timeout_ms or webhook_timeout_ms)"},

    {"security", "lua_max_bytes", T_BYTES, OFF(sec_lua_max_bytes), "16MiB", 64 << 10, 1 << 30,
     NULL, false, true, "memory one playbook run may hold (the Lua state included)"},
    {"security", "lua_max_instructions", T_INT, OFF(sec_lua_max_instructions), "10000000", 1000,
     (int64_t)1 << 40, NULL, false, true, "Lua VM instructions one playbook run may execute"},
    {"security", "lua_deadline_ms", T_MS, OFF(sec_lua_deadline_ms), "1s", 1, 60000, NULL, false,
     true, "wall time one playbook run may take (host calls included)"},

    {"web", "enabled", T_ENUM, OFF(web_enabled), "off", 0, 0, "on|off", false, false,
     "custos run starts the web server and JSON API (custos web runs it alone)"},
    {"web", "listen", T_STR, OFF(web_listen), "127.0.0.1:8440", 0, 0, NULL, false, false,
     "address and port the web server listens on: HOST:PORT or [IPV6]:PORT"},
    {"web", "tls_cert", T_STR, OFF(web_tls_cert), "", 0, 0, NULL, false, false,
     "PEM certificate (chain) file for HTTPS; empty: plain HTTP, put a TLS reverse proxy in "
     "front (README); set with tls_key"},
    {"web", "tls_key", T_STR, OFF(web_tls_key), "", 0, 0, NULL, false, false,
     "PEM private key file for tls_cert"},
    {"web", "origin", T_STR, OFF(web_origin), "", 0, 0, NULL, false, false,
     "the console's origin (https://soc.example.com) that state-changing requests must come "
     "from; empty: the request's own scheme and Host header (set it behind a TLS proxy)"},
    {"web", "threads", T_INT, OFF(web_threads), "4", 1, 64, NULL, false, false,
     "worker threads serving requests (each holds at most one request at a time)"},
    {"web", "max_connections", T_INT, OFF(web_max_connections), "1024", 1, 65536, NULL, false,
     false, "open connections at most (idle keep-alive included); past it new ones are refused"},
    {"web", "max_connections_per_ip", T_INT, OFF(web_max_connections_per_ip), "64", 1, 65536,
     NULL, false, false, "open connections from one client address at most"},
    {"web", "connection_timeout_ms", T_MS, OFF(web_connection_timeout_ms), "30s", 1000, 3600000,
     NULL, false, false, "an idle connection is closed after this long (whole seconds)"},
    {"web", "connection_memory_bytes", T_BYTES, OFF(web_connection_memory_bytes), "64KiB",
     16 << 10, 16 << 20, NULL, false, false,
     "memory for one connection's request line and headers; larger headers are refused"},
    {"web", "max_body_bytes", T_BYTES, OFF(web_max_body_bytes), "1MiB", 1024, 16 << 20, NULL,
     false, false, "largest request body; past it the answer is 413"},
    {"web", "db_pool", T_INT, OFF(web_db_pool), "4", 1, 256, NULL, false, false,
     "PostgreSQL connections the web server keeps at most"},
    {"web", "session_idle_ms", T_MS, OFF(web_session_idle_ms), "30m", 60000, 86400000, NULL,
     false, false, "a session unused for this long ends"},
    {"web", "session_absolute_ms", T_MS, OFF(web_session_absolute_ms), "12h", 300000,
     (int64_t)30 * 86400000, NULL, false, false,
     "a session ends this long after sign-in whatever its use"},
    {"web", "signin_free_failures", T_INT, OFF(web_signin_free_failures), "3", 1, 1000, NULL,
     false, false, "failed sign-ins of one account before each further attempt waits: 1 s, "
     "then doubling up to 15 min"},
    {"web", "signin_ip_free_failures", T_INT, OFF(web_signin_ip_free_failures), "20", 1, 100000,
     NULL, false, false, "failed sign-ins from one address before each further attempt waits, "
     "as for one account"},
    {"web", "metrics_token", T_STR, OFF(web_metrics_token), "", 0, 0, NULL, true, false,
     "when set, GET /metrics needs 'Authorization: Bearer TOKEN'; empty: /metrics is open; "
     "prefer the environment variable CUSTOS_WEB_METRICS_TOKEN"},
    /* the live stream (web/web_stream.c) */
    {"web", "max_streams", T_INT, OFF(web_max_streams), "1000", 1, 65536, NULL, false, false,
     "open GET /api/v1/stream connections at most (they count in max_connections too); past it "
     "the answer is 503"},
    {"web", "stream_ping_ms", T_MS, OFF(web_stream_ping_ms), "15s", 1000, 600000, NULL, false,
     false, "a ': ping' comment goes to every stream this often (keeps proxies from closing it)"},
    {"web", "stream_buffer_bytes", T_BYTES, OFF(web_stream_buffer_bytes), "64KiB", 4096,
     16 << 20, NULL, false, false,
     "events waiting to be sent to one stream at most; a client slower than that is cut off"},
    /* the Host allowlist (web/web_hosts.c) */
    {"web", "allowed_hosts", T_STR, OFF(web_allowed_hosts), "", 0, 0, NULL, false, false,
     "Host headers the server answers, comma-separated (HOST any port, HOST:PORT, [V6]:PORT); "
     "others get 421 (a DNS-rebinding defence); empty: the listen address, localhost and "
     "127.0.0.1 with the port, and web.origin's host when set"},

    /* the signing key, checkpoints, forensic queries and retention (docs/forensics.md) */
    {"audit", "signing_key", T_STR, OFF(audit_signing_key), "", 0, 0, NULL, false, false,
     "path of the instance's Ed25519 secret key file ('custos keys init' makes it, mode 0600); "
     "it signs evidence bundles and audit checkpoints; empty: no key, no signing"},
    {"audit", "checkpoint_interval_ms", T_MS, OFF(audit_checkpoint_interval_ms), "10m", 1000,
     (int64_t)7 * 86400000, NULL, false, false,
     "custos run signs the audit chain's head this often (when audit.signing_key is set and "
     "the head moved)"},
    {"forensics", "max_range_days", T_INT, OFF(fo_max_range_days), "31", 1, 3660, NULL, false,
     true, "a forensic query or export covers at most this many days (--since to --until)"},
    {"forensics", "page_max", T_INT, OFF(fo_page_max), "1000", 1, 100000, NULL, false, true,
     "rows per page of a forensic query at most (--limit, ?limit=)"},
    /* RFC 3161 timestamp tokens on evidence bundles (forensics/fo_tsa.c) */
    {"forensics", "tsa_url", T_STR, OFF(fo_tsa_url), "", 0, 0, NULL, false, true,
     "URL of an RFC 3161 time-stamping authority (http:// or https://): each evidence bundle "
     "gets a timestamp token over its manifest's SHA-256 (timestamp.tsr); empty: none"},
    {"forensics", "tsa_ca_file", T_STR, OFF(fo_tsa_ca_file), "", 0, 0, NULL, false, true,
     "PEM file of the CA the TSA's certificate chains to: the token is checked against it at "
     "export; empty: checked for the digest and nonce only"},
    {"forensics", "tsa_timeout_ms", T_MS, OFF(fo_tsa_timeout_ms), "10s", 100, 300000, NULL,
     false, true, "longest wait for the TSA's answer (connection included)"},
    {"forensics", "tsa_max_bytes", T_BYTES, OFF(fo_tsa_max_bytes), "64KiB", 1024, 16 << 20,
     NULL, false, true, "a larger answer from the TSA is refused"},
    {"forensics", "tsa_required", T_ENUM, OFF(fo_tsa_required), "off", 0, 0, "off|on",
     false, true, "on: an export fails (and leaves no file) when the TSA gives no valid "
     "token; off: the bundle is written without one, which the export says and audits"},
    {"retention", "interactions_days", T_INT, OFF(ret_interactions_days), "180", 1, 36500, NULL,
     false, true, "daily partitions of interactions older than this many days are dropped "
     "(rows under a legal hold are kept; the EU AI Act asks for at least six months)"},
    {"retention", "interval_ms", T_MS, OFF(ret_interval_ms), "1h", 1000, 86400000, NULL, false,
     false, "how often custos run applies the retention (the first time one interval after it "
     "starts)"},
    /* retention of rejected events and alerts (forensics/fo_retention.c) */
    {"retention", "rejected_days", T_INT, OFF(ret_rejected_days), "30", 0, 36500, NULL, false,
     true, "rejected events (dead letters, with their raw payload) received longer ago than "
     "this many days are deleted, except under a range hold; 0: kept for ever"},
    {"retention", "alerts_days", T_INT, OFF(ret_alerts_days), "365", 0, 36500, NULL, false, true,
     "alerts whose event time is older than this many days are deleted, except under a hold "
     "of their incident, key or time; their incidents stay; 0: kept for ever"},

    /* serious incidents (EU AI Act Art. 73): docs/incidents.md */
    {"incidents", "serious_notify_before_ms", T_MS, OFF(inc_serious_notify_before_ms), "24h",
     60000, (int64_t)15 * 86400000, NULL, false, true,
     "a serious incident with no report filed is notified (once, audited) this long before its "
     "Art. 73 report is due"},
    {"incidents", "serious_check_interval_ms", T_MS, OFF(inc_serious_check_ms), "1m", 1000,
     3600000, NULL, false, false,
     "how often custos run checks the serious incidents' report deadlines"},
};

const size_t core_cfg_nsettings = sizeof core_cfg_settings / sizeof core_cfg_settings[0];
