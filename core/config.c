/* Declarative configuration table, YAML loader and environment overrides. */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <libpq-fe.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

typedef enum { T_STR, T_INT, T_BYTES, T_MS, T_ENUM } ctype;

typedef struct {
    const char *section;
    const char *key;
    ctype type;
    size_t off;
    const char *def;
    int64_t min, max;     /* T_INT, T_BYTES, T_MS */
    const char *choices;  /* T_ENUM: '|'-separated */
    bool secret;
    bool reloadable;
    const char *help;
} setting;

#define OFF(f) offsetof(core_config, f)
#define I64MAX INT64_MAX

/* The one table of settings. docs/config.md mirrors it. */
static const setting g_settings[] = {
    {"postgres", "dsn", T_STR, OFF(pg_dsn), "dbname=custos", 0, 0, NULL, true, false,
     "libpq connection string (conninfo or URI)"},
    {"postgres", "connect_timeout_s", T_INT, OFF(pg_connect_timeout_s), "10", 1, 600, NULL, false,
     false, "seconds to wait for a connection"},
    {"postgres", "partitions_ahead_days", T_INT, OFF(pg_partitions_ahead_days), "7", 1, 366, NULL,
     false, true, "daily partitions of interactions kept created ahead of today"},

    {"kafka", "brokers", T_STR, OFF(kafka_brokers), "localhost:9092", 0, 0, NULL, false, false,
     "bootstrap servers, comma-separated host:port"},
    {"kafka", "topics", T_STR, OFF(kafka_topics), "custos.interactions", 0, 0, NULL, false, false,
     "topics to consume, comma-separated"},
    {"kafka", "group", T_STR, OFF(kafka_group), "custos", 0, 0, NULL, false, false,
     "consumer group id; offsets are kept in PostgreSQL per group"},
    {"kafka", "client_id", T_STR, OFF(kafka_client_id), "custos", 0, 0, NULL, false, false,
     "client.id sent to the brokers"},
    {"kafka", "auto_offset_reset", T_ENUM, OFF(kafka_auto_offset_reset), "earliest", 0, 0,
     "earliest|latest", false, false,
     "where to start a partition that has no offset stored in PostgreSQL"},
    {"kafka", "fetch_wait_max_ms", T_MS, OFF(kafka_fetch_wait_max_ms), "100ms", 1, 10000, NULL,
     false, false, "longest time a broker holds a fetch that has no data"},
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
    {"collector", "max_inflight_bytes", T_BYTES, OFF(coll_max_inflight_bytes), "64MiB", 1 << 20,
     (int64_t)16 << 30, NULL, false, false,
     "bytes of events read but not yet committed; past it consumption pauses"},
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
    {"collector", "format", T_ENUM, OFF(coll_format), "native", 0, 0, "native", false, false,
     "event format of the Kafka messages (native JSON; more decoders plug in here)"},
    {"collector", "analytics", T_ENUM, OFF(coll_analytics), "on", 0, 0, "on|off", false, false,
     "hand committed events to the detectors (off: ingest only)"},

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
    {"analytics", "queue_events", T_INT, OFF(an_queue_events), "65536", 16, 16777216, NULL, false,
     false, "bounded queue between the collector and the analytics; full = back-pressure"},
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
    {"analytics", "max_keys", T_INT, OFF(an_max_keys), "1000000", 16, 100000000, NULL, false, false,
     "keys tracked at most; past it the longest idle key is dropped"},
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
     "model file of the learned detector (tools/train_learned.c writes it); empty: the shipped "
     "model, <share>/models/learned.bin"},
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
};

#define NSETTINGS (sizeof g_settings / sizeof g_settings[0])

static char **str_at(core_config *c, const setting *s) { return (char **)((char *)c + s->off); }
static int64_t *i64_at(core_config *c, const setting *s) { return (int64_t *)((char *)c + s->off); }

static const setting *find_setting(const char *section, const char *key)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(g_settings[i].section, section) == 0 && strcmp(g_settings[i].key, key) == 0)
            return &g_settings[i];
    return NULL;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(g_settings[i].section, section) == 0)
            return true;
    return false;
}

/* Parses an integer with an optional unit suffix. mult_units: bytes or ms. */
static int parse_scaled(const char *v, ctype t, int64_t *out, char *why, size_t whylen)
{
    errno = 0;
    char *end;
    while (isspace((unsigned char)*v))
        v++;
    if (*v == '\0') {
        snprintf(why, whylen, "empty value");
        return -1;
    }
    double d = strtod(v, &end);
    if (end == v || errno || !isfinite(d)) {
        snprintf(why, whylen, "'%s' is not a number", v);
        return -1;
    }
    while (isspace((unsigned char)*end))
        end++;
    double mult = 1;
    if (*end) {
        static const struct { const char *u; double m; ctype t; } units[] = {
            {"B", 1, T_BYTES}, {"KiB", 1024.0, T_BYTES}, {"MiB", 1048576.0, T_BYTES},
            {"GiB", 1073741824.0, T_BYTES}, {"KB", 1000.0, T_BYTES}, {"MB", 1e6, T_BYTES},
            {"GB", 1e9, T_BYTES}, {"ms", 1, T_MS}, {"s", 1000, T_MS}, {"m", 60000, T_MS},
            {"h", 3600000, T_MS},
        };
        bool found = false;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (units[i].t == t && strcmp(end, units[i].u) == 0) {
                mult = units[i].m;
                found = true;
            }
        if (!found) {
            snprintf(why, whylen, "'%s' has an unknown unit '%s' (%s)", v, end,
                     t == T_BYTES ? "use B, KiB, MiB, GiB" :
                     t == T_MS    ? "use ms, s, m, h" : "no unit allowed");
            return -1;
        }
    }
    d *= mult;
    if (d != floor(d) || d < -9.2e18 || d > 9.2e18) {
        snprintf(why, whylen, "'%s' is not a whole number%s", v, t == T_MS ? " of milliseconds" : "");
        return -1;
    }
    *out = (int64_t)d;
    return 0;
}

static int apply(core_config *cfg, const setting *s, const char *value, char *why, size_t whylen)
{
    switch (s->type) {
    case T_STR: {
        char *dup = strdup(value);
        if (!dup) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        free(*str_at(cfg, s));
        *str_at(cfg, s) = dup;
        return 0;
    }
    case T_ENUM: {
        const char *c = s->choices;
        size_t vl = strlen(value);
        while (*c) {
            const char *bar = strchr(c, '|');
            size_t n = bar ? (size_t)(bar - c) : strlen(c);
            if (n == vl && strncasecmp(c, value, n) == 0) {
                char *dup = strndup(c, n);
                if (!dup)
                    return -1;
                free(*str_at(cfg, s));
                *str_at(cfg, s) = dup;
                return 0;
            }
            c += n + (bar ? 1 : 0);
        }
        snprintf(why, whylen, "'%s' is not one of %s", value, s->choices);
        return -1;
    }
    case T_INT:
    case T_BYTES:
    case T_MS: {
        int64_t v;
        if (parse_scaled(value, s->type, &v, why, whylen) < 0)
            return -1;
        if (v < s->min || v > s->max) {
            snprintf(why, whylen, "%s is out of range [%lld, %lld]%s", value, (long long)s->min,
                     (long long)s->max, s->type == T_BYTES ? " bytes" : s->type == T_MS ? " ms" : "");
            return -1;
        }
        *i64_at(cfg, s) = v;
        return 0;
    }
    }
    return -1;
}

void core_config_defaults(core_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char why[256];
    for (size_t i = 0; i < NSETTINGS; i++) {
        int rc = apply(cfg, &g_settings[i], g_settings[i].def, why, sizeof why);
        (void)rc; /* the defaults are valid by construction; tests check it */
    }
}

void core_config_free(core_config *cfg)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (g_settings[i].type == T_STR || g_settings[i].type == T_ENUM) {
            free(*str_at(cfg, &g_settings[i]));
            *str_at(cfg, &g_settings[i]) = NULL;
        }
}

int core_config_set(core_config *cfg, const char *section, const char *key, const char *value,
                    char *err, size_t errlen)
{
    const setting *s = find_setting(section, key);
    if (!s) {
        if (!section_known(section))
            snprintf(err, errlen, "unknown section '%s'", section);
        else
            snprintf(err, errlen, "unknown key '%s' in section '%s'", key, section);
        return -1;
    }
    char why[512];
    if (apply(cfg, s, value, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s.%s: %s", section, key, why);
        return -1;
    }
    return 0;
}

/* Parses the YAML file: one document, a mapping of section -> mapping of
 * key -> scalar (a sequence of scalars is joined with commas, for lists
 * such as topics). A section or a key given twice is an error, as is a
 * second document: the file means one thing. */
static int load_yaml(core_config *cfg, const char *path, char *err, size_t errlen)
{
    struct stat stt;
    if (stat(path, &stt) == 0 && S_ISDIR(stt.st_mode)) {
        snprintf(err, errlen, "%s: is a directory, not a configuration file", path);
        return -1;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    yaml_parser_t p;
    yaml_event_t ev;
    int rc = -1;
    int depth = 0; /* 1 = root mapping, 2 = section mapping */
    int docs = 0;
    char section[128] = "", key[128] = "";
    bool have_key = false;
    char *seqbuf = NULL;
    size_t seqline = 0;
    /* where each setting and section was first given, for duplicates */
    size_t set_line[NSETTINGS];
    memset(set_line, 0, sizeof set_line);
    char seen_sections[1024] = ",";

    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(err, errlen, "%s:%zu: YAML syntax error: %s", path,
                     p.problem_mark.line + 1, p.problem ? p.problem : "unknown");
            goto done;
        }
        size_t line = ev.start_mark.line + 1;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        switch (t) {
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                snprintf(err, errlen, "%s:%zu: a second YAML document: the file must hold one "
                                      "mapping of sections", path, line);
                goto fail_ev;
            }
            break;
        case YAML_MAPPING_START_EVENT:
            if (depth == 0) {
                depth = 1;
            } else if (depth == 1 && have_key) {
                depth = 2;
                have_key = false;
            } else {
                snprintf(err, errlen, "%s:%zu: key %s%s%s: a nested mapping is not allowed here",
                         path, line, section, *key ? "." : "", key);
                goto fail_ev;
            }
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            if (depth == 1)
                section[0] = '\0';
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (seqbuf) {
                snprintf(err, errlen, "%s:%zu: key %s.%s: a list inside a list is not allowed "
                                      "(give the values as one flat list)", path, line, section,
                         key);
                goto fail_ev;
            }
            if (depth != 2 || !have_key) {
                snprintf(err, errlen, "%s:%zu: a list is only allowed as a setting's value", path,
                         line);
                goto fail_ev;
            }
            seqbuf = strdup("");
            if (!seqbuf) {
                snprintf(err, errlen, "%s:%zu: out of memory", path, line);
                goto fail_ev;
            }
            seqline = line;
            break;
        case YAML_SEQUENCE_END_EVENT: {
            char why[512];
            const setting *s = find_setting(section, key);
            if (!s || !seqbuf || apply(cfg, s, seqbuf, why, sizeof why) < 0) {
                snprintf(err, errlen, "%s:%zu: key %s.%s: %s", path, seqline, section, key,
                         s && seqbuf ? why : "a list is only allowed as a setting's value");
                goto fail_ev;
            }
            free(seqbuf);
            seqbuf = NULL;
            have_key = false;
            break;
        }
        case YAML_SCALAR_EVENT: {
            const char *v = (const char *)ev.data.scalar.value;
            if (strlen(v) != ev.data.scalar.length) {
                snprintf(err, errlen, "%s:%zu: %s%s%s: a NUL byte in a value", path, line,
                         section, *section ? "." : "", depth == 2 && have_key ? key : "");
                goto fail_ev;
            }
            if (seqbuf) {
                size_t n = strlen(seqbuf) + strlen(v) + 2;
                char *nb = malloc(n);
                if (!nb)
                    goto fail_ev;
                snprintf(nb, n, "%s%s%s", seqbuf, *seqbuf ? "," : "", v);
                free(seqbuf);
                seqbuf = nb;
            } else if (depth == 1 && have_key && ev.data.scalar.length == 0 &&
                       ev.data.scalar.plain_implicit) {
                /* "section:" with every key commented out: an empty section */
                have_key = false;
                section[0] = '\0';
            } else if (depth == 1 && have_key) {
                /* "section: scalar": checked before a section name is read,
                 * or the scalar would be taken for the next section */
                snprintf(err, errlen, "%s:%zu: key %s: a section must be a mapping", path, line,
                         section);
                goto fail_ev;
            } else if (depth == 1) {
                if (strlen(v) >= sizeof section || !section_known(v)) {
                    snprintf(err, errlen, "%s:%zu: key %s: unknown section", path, line, v);
                    goto fail_ev;
                }
                char tag[140];
                snprintf(tag, sizeof tag, ",%s,", v);
                if (strstr(seen_sections, tag)) {
                    snprintf(err, errlen, "%s:%zu: key %s: the section is given twice (merge "
                                          "its keys into one)", path, line, v);
                    goto fail_ev;
                }
                if (strlen(seen_sections) + strlen(v) + 2 < sizeof seen_sections)
                    snprintf(seen_sections + strlen(seen_sections),
                             sizeof seen_sections - strlen(seen_sections), "%s,", v);
                snprintf(section, sizeof section, "%s", v);
                have_key = true;
            } else if (depth == 2 && !have_key) {
                const setting *s = strlen(v) < sizeof key ? find_setting(section, v) : NULL;
                if (!s) {
                    snprintf(err, errlen, "%s:%zu: key %s.%s: unknown setting", path, line,
                             section, v);
                    goto fail_ev;
                }
                size_t idx = (size_t)(s - g_settings);
                if (set_line[idx]) {
                    snprintf(err, errlen, "%s:%zu: key %s.%s: given twice (first at line %zu)",
                             path, line, section, v, set_line[idx]);
                    goto fail_ev;
                }
                set_line[idx] = line;
                snprintf(key, sizeof key, "%s", v);
                have_key = true;
            } else if (depth == 2) {
                char why[512];
                const setting *s = find_setting(section, key);
                if (ev.data.scalar.length == 0 && ev.data.scalar.plain_implicit &&
                    s->type != T_STR) {
                    snprintf(err, errlen, "%s:%zu: key %s.%s: empty value", path, line, section,
                             key);
                    goto fail_ev;
                }
                if (apply(cfg, s, v, why, sizeof why) < 0) {
                    snprintf(err, errlen, "%s:%zu: key %s.%s: %s", path, line, section, key, why);
                    goto fail_ev;
                }
                have_key = false;
            } else if (depth == 0 && ev.data.scalar.length > 0) {
                snprintf(err, errlen, "%s:%zu: the file must be a mapping of sections", path, line);
                goto fail_ev;
            }
            break;
        }
        case YAML_ALIAS_EVENT:
            snprintf(err, errlen, "%s:%zu: YAML aliases are not supported", path, line);
            goto fail_ev;
        default:
            break;
        }
        yaml_event_delete(&ev);
        continue;
    fail_ev:
        yaml_event_delete(&ev);
        goto done;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(seqbuf);
    yaml_parser_delete(&p);
    fclose(f);
    return rc;
}

/* The CUSTOS_* variables that are not settings: the config file's path,
 * and what the build, test and demo scripts pass to their children. */
static const char *const g_env_other[] = {
    "CUSTOS_CONFIG", "CUSTOS_SHARE_DIR", "CUSTOS_PROMPTS_DIR", "CUSTOS_SOURCE_DIR", "CUSTOS_BIN",
    "CUSTOS_ROOT", "CUSTOS_TEST_FAST", "CUSTOS_TEST_RUN", "CUSTOS_FUZZ_SECONDS",
    "CUSTOS_FUZZ_TARGET_SECONDS", "CUSTOS_BUILD_JOBS", "CUSTOS_BUILD_TARGETS", "CUSTOS_DB_PASSWORD",
    "CUSTOS_DEMO_DIR", "CUSTOS_DEMO_PGPORT", "CUSTOS_DEMO_RATE", "CUSTOS_DEMO_CONFIG",
    "CUSTOS_DEMO_SEED", NULL};

static void env_name(const setting *s, char *name, size_t size)
{
    size_t o = (size_t)snprintf(name, size, "CUSTOS_%s_%s", s->section, s->key);
    for (size_t j = 0; j < o && j < size; j++)
        name[j] = (char)toupper((unsigned char)name[j]);
}

/* Levenshtein distance of a and b, capped at cap + 1. */
static size_t edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 150 || lb > 150)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t row[152];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* A CUSTOS_* variable that is no setting is refused when it names a known
 * section (CUSTOS_KAFKA_GRUOP) or is one or two letters off a setting's
 * variable (CUSTOS_KAKFA_GROUP): set to configure custos, it would be
 * ignored silently otherwise. */
static int check_env_names(char *err, size_t errlen)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "CUSTOS_", 7) != 0)
            continue;
        char name[160];
        size_t n = strcspn(*e, "=");
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy(name, *e, n);
        name[n] = '\0';
        bool known = false;
        for (int i = 0; g_env_other[i] && !known; i++)
            known = strcmp(name, g_env_other[i]) == 0;
        const char *near = NULL;
        char cand[160], best[160] = "";
        for (size_t i = 0; i < NSETTINGS && !known; i++) {
            env_name(&g_settings[i], cand, sizeof cand);
            if (strcmp(cand, name) == 0)
                known = true;
            else if (!near && edit_distance(cand, name, 2) <= 2) {
                snprintf(best, sizeof best, "%s", cand);
                near = best;
            }
        }
        if (known)
            continue;
        /* the section part: CUSTOS_<SECTION>_... */
        char sec[64];
        size_t sl = strcspn(name + 7, "_");
        bool in_section = false;
        if (sl < sizeof sec && name[7 + sl] == '_') {
            for (size_t j = 0; j < sl; j++)
                sec[j] = (char)tolower((unsigned char)name[7 + j]);
            sec[sl] = '\0';
            in_section = section_known(sec);
        }
        if (near) {
            snprintf(err, errlen, "environment %s: no such setting (did you mean %s?)", name,
                     near);
            return -1;
        }
        if (in_section) {
            snprintf(err, errlen, "environment %s: no such setting in section '%s' (see `custos "
                                  "config reference`)", name, sec);
            return -1;
        }
    }
    return 0;
}

static int load_env(core_config *cfg, char *err, size_t errlen)
{
    if (check_env_names(err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *s = &g_settings[i];
        char name[160];
        env_name(s, name, sizeof name);
        const char *v = getenv(name);
        if (!v)
            continue;
        char why[512];
        if (apply(cfg, s, v, why, sizeof why) < 0) {
            snprintf(err, errlen, "environment %s: key %s.%s: %s", name, s->section, s->key, why);
            return -1;
        }
    }
    return 0;
}

int core_config_load(core_config *cfg, const char *path, char *err, size_t errlen)
{
    core_config_defaults(cfg);
    if (path && load_yaml(cfg, path, err, errlen) < 0)
        return -1;
    return load_env(cfg, err, errlen);
}

/* Appends n bytes of s to buf (size bytes, o used), truncating; returns
 * the new length. buf stays NUL-terminated. */
static size_t put_n(char *buf, size_t size, size_t o, const char *s, size_t n)
{
    while (n-- && o + 1 < size)
        buf[o++] = *s++;
    buf[o] = '\0';
    return o;
}

/* True for the keywords libpq itself hides (PQconndefaults() marks them
 * with dispchar "*": password and sslpassword in libpq 15, and whatever a
 * later libpq adds). */
static bool pq_secret_keyword(const char *k, size_t n)
{
    PQconninfoOption *opts = PQconndefaults();
    bool secret = false;
    for (PQconninfoOption *o = opts; o && o->keyword && !secret; o++)
        secret = o->dispchar && o->dispchar[0] == '*' && strlen(o->keyword) == n &&
                 memcmp(o->keyword, k, n) == 0;
    PQconninfoFree(opts);
    /* without libpq's table (out of memory), hide what libpq 15 hides */
    if (!opts)
        secret = (n == 8 && memcmp(k, "password", 8) == 0) ||
                 (n == 11 && memcmp(k, "sslpassword", 11) == 0);
    return secret;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The URI form, read as libpq reads it: user info up to the first '@'
 * before a '/', its password after the first ':'; query parameters whose
 * percent-decoded name is a secret keyword. */
static size_t mask_uri(const char *dsn, const char *rest, char *buf, size_t size)
{
    size_t o = put_n(buf, size, 0, dsn, (size_t)(rest - dsn));
    const char *p = rest;
    while (*p && *p != '@' && *p != '/')
        p++;
    if (*p == '@') {
        const char *colon = memchr(rest, ':', (size_t)(p - rest));
        if (colon) {
            o = put_n(buf, size, o, rest, (size_t)(colon - rest + 1));
            o = put_n(buf, size, o, "****", 4);
            rest = p;
        }
    }
    const char *q = strchr(rest, '?');
    if (!q)
        return put_n(buf, size, o, rest, strlen(rest));
    o = put_n(buf, size, o, rest, (size_t)(q - rest + 1));
    p = q + 1;
    while (*p) {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        char key[64];
        size_t kl = 0;
        for (const char *k = p; eq && k < eq && kl + 1 < sizeof key; k++) {
            if (*k == '%' && k + 2 < eq && hexval(k[1]) >= 0 && hexval(k[2]) >= 0) {
                key[kl++] = (char)(hexval(k[1]) * 16 + hexval(k[2]));
                k += 2;
            } else {
                key[kl++] = *k;
            }
        }
        if (eq && pq_secret_keyword(key, kl)) {
            o = put_n(buf, size, o, p, (size_t)(eq - p + 1));
            o = put_n(buf, size, o, "****", 4);
        } else {
            o = put_n(buf, size, o, p, plen);
        }
        p += plen;
        if (*p == '&')
            o = put_n(buf, size, o, p++, 1);
    }
    return o;
}

/* The keyword=value form, read as libpq's conninfo_parse reads it: a
 * value is quoted ('...', backslash escapes) or runs to the next space,
 * a backslash escaping the next character in both. */
static size_t mask_conninfo(const char *p, char *buf, size_t size)
{
    size_t o = 0;
    while (*p) {
        const char *ws = p;
        while (isspace((unsigned char)*p))
            p++;
        o = put_n(buf, size, o, ws, (size_t)(p - ws));
        if (!*p)
            break;
        const char *kw = p;
        while (*p && !isspace((unsigned char)*p) && *p != '=')
            p++;
        size_t kl = (size_t)(p - kw);
        const char *after_kw = p;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=') /* not conninfo after all: libpq refuses it */
            return put_n(buf, size, o, kw, strlen(kw));
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *val = p;
        if (*p == '\'') {
            p++;
            while (*p && *p != '\'') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p++;
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
        }
        if (pq_secret_keyword(kw, kl)) {
            o = put_n(buf, size, o, kw, kl);
            o = put_n(buf, size, o, "=****", 5);
        } else {
            o = put_n(buf, size, o, kw, (size_t)(after_kw - kw));
            o = put_n(buf, size, o, after_kw, (size_t)(val - after_kw));
            o = put_n(buf, size, o, val, (size_t)(p - val));
        }
    }
    return o;
}

const char *core_config_mask_dsn(const char *dsn, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
    /* libpq's own reading decides what is secret; a string it cannot read
     * is not shown at all (it could be anything, a password included) */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    PQfreemem(perr);
    if (!opts) {
        put_n(buf, size, 0, "(not a valid libpq connection string: not shown)", 48);
        return buf;
    }
    const char *scheme = strstr(dsn, "://");
    bool uri = strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0;
    if (uri)
        mask_uri(dsn, scheme + 3, buf, size);
    else
        mask_conninfo(dsn, buf, size);
    /* Belt and braces: libpq reads the masked text back, and should it
     * not parse or hold a secret other than "****" (a form this reading
     * missed), libpq's own options are printed instead, secrets masked. */
    bool leak = false;
    PQconninfoOption *back = PQconninfoParse(buf, &perr);
    PQfreemem(perr);
    if (!back)
        leak = true;
    for (PQconninfoOption *o = back; o && o->keyword && !leak; o++)
        leak = o->val && *o->val && o->dispchar && o->dispchar[0] == '*' &&
               strcmp(o->val, "****") != 0;
    PQconninfoFree(back);
    if (leak) {
        size_t n = 0;
        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (!o->val)
                continue;
            if (n)
                n = put_n(buf, size, n, " ", 1);
            n = put_n(buf, size, n, o->keyword, strlen(o->keyword));
            if (o->dispchar && o->dispchar[0] == '*') {
                n = put_n(buf, size, n, "=****", 5);
                continue;
            }
            n = put_n(buf, size, n, "='", 2);
            for (const char *v = o->val; *v; v++) {
                if (*v == '\'' || *v == '\\')
                    n = put_n(buf, size, n, "\\", 1);
                n = put_n(buf, size, n, v, 1);
            }
            n = put_n(buf, size, n, "'", 1);
        }
    }
    PQconninfoFree(opts);
    return buf;
}

void core_config_print(const core_config *cfg, FILE *out)
{
    const char *cur = "";
    core_config *c = (core_config *)cfg;
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *s = &g_settings[i];
        if (strcmp(cur, s->section) != 0) {
            fprintf(out, "%s:\n", s->section);
            cur = s->section;
        }
        if (s->type == T_STR || s->type == T_ENUM) {
            const char *v = *str_at(c, s);
            char masked[1024];
            if (s->secret && s->off == OFF(pg_dsn))
                v = core_config_mask_dsn(v, masked, sizeof masked);
            else if (s->secret && v && *v)
                v = "****";
            fputs("  ", out);
            fputs(s->key, out);
            fputs(": \"", out);
            /* YAML double-quoted: what YAML does not take raw (C0, DEL,
             * C1 and NEL, the line separators, U+FFFE/FFFF) is written as
             * an escape, so that the printed file reads back the same */
            for (const unsigned char *q = (const unsigned char *)(v ? v : ""); *q; q++) {
                if (*q == '"' || *q == '\\') {
                    fputc('\\', out);
                    fputc(*q, out);
                } else if (*q < 0x20 || *q == 0x7f) {
                    fprintf(out, "\\x%02x", *q);
                } else if (q[0] == 0xC2 && q[1] >= 0x80 && q[1] <= 0x9F) {
                    fprintf(out, "\\u%04x", q[1]);
                    q++;
                } else if (q[0] == 0xE2 && q[1] == 0x80 && (q[2] == 0xA8 || q[2] == 0xA9)) {
                    fprintf(out, "\\u%04x", 0x2028 + (q[2] - 0xA8));
                    q += 2;
                } else if (q[0] == 0xEF && q[1] == 0xBF && (q[2] == 0xBE || q[2] == 0xBF)) {
                    fprintf(out, "\\u%04x", 0xFFFE + (q[2] - 0xBE));
                    q += 2;
                } else {
                    fputc(*q, out);
                }
            }
            fputs("\"", out);
        } else {
            fprintf(out, "  %s: %lld", s->key, (long long)*i64_at(c, s));
        }
        fprintf(out, "    # %s\n", s->help);
    }
}

void core_config_reference(FILE *out)
{
    static const char *const tname[] = {"string", "integer", "size", "duration", "one of"};
    const char *cur = "";
    for (size_t i = 0; i < NSETTINGS; i++) {
        const setting *s = &g_settings[i];
        if (strcmp(cur, s->section) != 0) {
            fprintf(out, "%s## %s\n\n| key | type | default | environment | meaning |\n"
                         "|---|---|---|---|---|\n",
                    *cur ? "\n" : "", s->section);
            cur = s->section;
        }
        char env[160];
        size_t n = (size_t)snprintf(env, sizeof env, "CUSTOS_%s_%s", s->section, s->key);
        for (size_t j = 0; j < n && j < sizeof env; j++)
            env[j] = (char)toupper((unsigned char)env[j]);
        char type[160];
        if (s->type == T_ENUM) {
            /* '|' would end the Markdown cell */
            size_t o = (size_t)snprintf(type, sizeof type, "one of ");
            for (const char *c = s->choices; *c && o + 8 < sizeof type; c++) {
                if (*c == '|') {
                    memcpy(type + o, ", ", 2);
                    o += 2;
                } else {
                    type[o++] = *c;
                }
            }
            type[o] = '\0';
        }
        else if (s->type == T_STR)
            snprintf(type, sizeof type, "string");
        else
            snprintf(type, sizeof type, "%s %lld..%lld", tname[s->type], (long long)s->min,
                     (long long)s->max);
        fprintf(out, "| `%s` | %s | `%s` | `%s` | %s%s |\n", s->key, type,
                s->def[0] ? s->def : "\"\"", env, s->help,
                s->secret ? " (secret: masked when printed)" : "");
    }
}
