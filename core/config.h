/* Configuration: one YAML file of sections, each a mapping of key: scalar.
 *
 * Every setting is declared once in the table in config.c (name, type,
 * default, bounds, whether it is secret, whether it may change on reload).
 * Precedence: built-in default < YAML file < environment CUSTOS_<SECTION>_<KEY>.
 * A wrong value stops start-up with a message naming the file (or the
 * environment variable), the line and the key. */
#ifndef CORE_CONFIG_H
#define CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct core_config {
    /* postgres */
    char *pg_dsn;
    int64_t pg_connect_timeout_s;
    int64_t pg_partitions_ahead_days;
    char *pg_prepared; /* on|off: postgres.prepared_statements */

    /* kafka */
    char *kafka_brokers;
    char *kafka_topics;      /* comma-separated, each "topic" or "topic=format" */
    char *kafka_group;
    char *kafka_client_id;
    char *kafka_auto_offset_reset;
    int64_t kafka_fetch_wait_max_ms;
    int64_t kafka_fetch_error_backoff_ms;
    int64_t kafka_session_timeout_ms;
    char *kafka_security_protocol;
    char *kafka_sasl_mechanism;
    char *kafka_sasl_username;
    char *kafka_sasl_password; /* secret */

    /* collector */
    int64_t coll_batch_max_events;
    int64_t coll_batch_max_ms;
    int64_t coll_max_inflight_bytes;
    int64_t coll_max_message_bytes;
    int64_t coll_prompt_max_bytes;
    int64_t coll_response_max_bytes;
    int64_t coll_attrs_max_bytes;
    int64_t coll_rejected_raw_max_bytes;
    int64_t coll_shutdown_grace_ms;
    int64_t coll_retry_min_ms;
    int64_t coll_retry_max_ms;
    char *coll_format;
    char *coll_analytics;    /* on|off: hand committed events to the detectors */
    int64_t coll_writers;    /* writer threads, each with its own connection */
    /* redaction at ingest (collector/redact_event.c, docs/formats.md) */
    char *coll_redact_secrets;  /* mask|pseudonymise|off */
    char *coll_redact_personal; /* off|mask|pseudonymise */
    char *coll_redact_key;      /* path of the pseudonym key file ("": none) */
    char *coll_copy_format;  /* binary|text: the COPY format of the rows */
    int64_t coll_batch_min_ms;     /* seal at this age when the writer is idle */
    int64_t coll_inflight_hold_ms; /* stop taking messages this long, then pause */

    /* otel: the OTLP decoders (collector/decode_otel.c) */
    char *otel_api_key_attribute;
    char *otel_tenant_attribute;

    /* log */
    char *log_level;
    int64_t log_error_interval_ms;

    /* analytics (thresholds documented in docs/analytics.md) */
    char *an_rules_dir;
    char *an_rules_db;
    char *an_rules_cache_dir;
    char *an_learned;       /* on|off */
    char *an_learned_model; /* empty: <share>/models/learned.bin */
    int64_t an_prompt_memo; /* speed: prompts remembered (an_pcache.c); 0 off */
    char *an_snapshots;     /* on|off (h-analytics: snapshots) */
    int64_t an_snapshot_interval_ms;
    int64_t an_snapshot_wait_ms;
    int64_t an_alert_rows_per_incident; /* alerts of an incident stored one row each */
    int64_t an_pr_rephrase_min; /* h-analytics: refused rephrasings */
    char *an_incidents_topic;
    int64_t an_queue_events;
    int64_t an_reorder_window_ms;
    int64_t an_partition_idle_ms;
    int64_t an_reorder_max_events;
    int64_t an_key_idle_ms;
    int64_t an_max_keys;
    int64_t an_incident_quiet_ms;
    int64_t an_incident_update_ms;
    int64_t an_incident_hold_ms; /* live: wall-clock time between an incident's written updates */
    int64_t an_ex_fast_min;
    int64_t an_ex_slow_min;
    int64_t an_ex_baseline_mult;
    int64_t an_ex_novelty_pct;
    int64_t an_ex_novel_bits;
    int64_t an_ex_iat_cv_pct;
    int64_t an_ex_prada_w_x1000;
    int64_t an_ex_long_tokens;
    int64_t an_ex_cold_fence_pct;
    int64_t an_pr_attempt_score_pct;
    int64_t an_pr_refusal_min;
    int64_t an_pr_refusal_pct;
    int64_t an_pr_weak_share_pct;
    int64_t an_dr_window_ms;
    int64_t an_dr_reference_ms;
    int64_t an_dr_min_events;
    int64_t an_dr_min_keys;
    int64_t an_dr_psi_x1000;
    int64_t an_dr_consecutive;
    int64_t an_dr_key_cap;
    int64_t an_lk_bulk_min;
    int64_t an_fl_min_rpm;
    int64_t an_fl_mult;
    int64_t an_fl_min_tpm;
    int64_t an_fl_cold_rpm;
    int64_t an_fl_cold_tpm;
    int64_t an_fl_error_min;
    int64_t an_fl_error_pct;

    /* playbooks (docs/playbooks.md) */
    char *pb_enabled;             /* auto|on|off */
    char *pb_dir;                 /* "": the shipped playbooks in the source tree */
    char *pb_dry_run;             /* off|on: every action is recorded as dry_run */
    char *pb_approval_kinds;      /* comma-separated action kinds that always need approval */
    int64_t pb_approval_expiry_ms;
    int64_t pb_max_actions_per_run;
    int64_t pb_queue_max;
    int64_t pb_tick_ms;
    int64_t pb_evidence_max_events;

    /* effectors */
    char *fx_registry;            /* on|off */
    char *fx_control;             /* on|off */
    char *fx_control_topic;
    int64_t fx_control_timeout_ms;
    char *fx_webhook_url;         /* "": no webhook */
    char *fx_webhook_secret;      /* secret: HMAC-SHA256 key */
    int64_t fx_webhook_timeout_ms;
    char *fx_litellm_url;         /* "": no LiteLLM */
    char *fx_litellm_token;       /* secret: admin bearer token */
    int64_t fx_retries;
    int64_t fx_retry_min_ms;
    int64_t fx_retry_max_ms;
    int64_t fx_max_wait_ms;

    /* security */
    int64_t sec_lua_max_bytes;
    int64_t sec_lua_max_instructions;
    int64_t sec_lua_deadline_ms;

    /* web (the HTTP server and JSON API, web/) */
    char *web_enabled;            /* on|off: custos run starts the web server */
    char *web_listen;             /* host:port, [v6]:port */
    char *web_tls_cert;           /* "": plain HTTP (behind a TLS proxy) */
    char *web_tls_key;
    char *web_origin;             /* "": scheme://Host of the request */
    int64_t web_threads;
    int64_t web_max_connections;
    int64_t web_max_connections_per_ip;
    int64_t web_connection_timeout_ms;
    int64_t web_connection_memory_bytes;
    int64_t web_max_body_bytes;
    int64_t web_db_pool;
    int64_t web_session_idle_ms;
    int64_t web_session_absolute_ms;
    int64_t web_signin_free_failures;
    int64_t web_signin_ip_free_failures;
    char *web_metrics_token;      /* secret: "" = /metrics is open */
    int64_t web_max_streams;      /* open SSE streams at most */
    int64_t web_stream_ping_ms;
    int64_t web_stream_buffer_bytes;
    char *web_allowed_hosts;      /* "": the listen address, localhost, 127.0.0.1, web.origin */

    /* audit: the instance's signing key, checkpoints; forensics; retention */
    char *audit_signing_key;          /* path of the Ed25519 secret key file ("": none) */
    int64_t audit_checkpoint_interval_ms;
    int64_t fo_max_range_days;        /* a forensic query's time range at most */
    int64_t fo_page_max;              /* rows per page at most (JSON pages) */
    int64_t ret_interactions_days;    /* daily partitions older than this are dropped */
    int64_t ret_interval_ms;          /* how often custos run applies retention */
    int64_t ret_rejected_days;        /* rejected events older than this are deleted (0: never) */
    int64_t ret_alerts_days;          /* alerts older than this are deleted (0: never) */
    char *fo_tsa_url;                 /* RFC 3161 TSA ("": no timestamp tokens) */
    char *fo_tsa_ca_file;             /* PEM CA the TSA chains to ("": not checked at export) */
    int64_t fo_tsa_timeout_ms;
    int64_t fo_tsa_max_bytes;         /* the TSA's answer at most */
    char *fo_tsa_required;            /* on|off: no token fails the export */
    /* incidents: serious incidents (EU AI Act Art. 73, incidents/inc_serious.c) */
    int64_t inc_serious_notify_before_ms; /* notify this long before a report is due */
    int64_t inc_serious_check_ms;         /* how often custos run checks the deadlines */
} core_config;

/* Fills cfg with the built-in defaults. Strings are heap-owned by cfg. */
void core_config_defaults(core_config *cfg);

/* Loads defaults, then path (NULL: no file), then the environment.
 * On error returns -1 and writes "FILE:LINE: key section.key: problem" (or
 * "environment CUSTOS_X: problem") into err. The caller frees cfg with
 * core_config_free() in both cases. */
int core_config_load(core_config *cfg, const char *path, char *err, size_t errlen);

/* Sets one setting by its dotted name ("collector.batch_max_events") from
 * text, as the file and environment do. Returns -1 with err on a bad value. */
int core_config_set(core_config *cfg, const char *section, const char *key, const char *value,
                    char *err, size_t errlen);

/* Writes the effective config as YAML with secrets masked (passwords in
 * the DSN as well). */
void core_config_print(const core_config *cfg, FILE *out);

/* Writes the reference of every setting (Markdown tables, one per section):
 * docs/config.md is generated from it. */
void core_config_reference(FILE *out);

/* Releases the strings owned by cfg. */
void core_config_free(core_config *cfg);

/* Writes dsn into buf with any password replaced by "****". */
const char *core_config_mask_dsn(const char *dsn, char *buf, size_t size);

#endif
