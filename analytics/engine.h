/* The detection engine shared by `custos analyze` and the live analytics.
 *
 * Events go in through an_engine_push() in any order; each is reduced at once
 * to an observation (an_obs: its features, signature hits, numbers), the event
 * itself is not kept. Observations wait in a reorder heap and are handed to
 * the detectors in (ts, event_id, api_key_id) order once the watermark (the
 * least of the sources' newest event times) is reorder_window past them, so
 * any interleaving of partitions within the window gives the same incidents.
 * Detectors raise alerts; alerts group into incidents (incident.c). */
#ifndef AN_ENGINE_H
#define AN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/config.h"
#include "core/event.h"

#define AN_OBS_RULES_MAX 8
#define AN_OBS_SCORES_MAX 4

typedef enum { AN_EXTRACTION, AN_PROBING, AN_DRIFT, AN_LEAKAGE, AN_FLOOD, AN_NTYPES } an_type;
typedef enum { AN_LOW, AN_MEDIUM, AN_HIGH, AN_CRITICAL } an_severity;

const char *an_type_name(an_type t);
const char *an_severity_name(an_severity s);

/* Leak finding kinds (bits of an_obs.leak). */
enum {
    AN_LEAK_SECRET = 1u << 0,   /* API key or token format with real entropy */
    AN_LEAK_PRIVKEY = 1u << 1,  /* PEM private key */
    AN_LEAK_CARD = 1u << 2,     /* card number passing Luhn */
    AN_LEAK_IBAN = 1u << 3,     /* IBAN passing mod 97 */
    AN_LEAK_EMAILS = 1u << 4,   /* bulk e-mail addresses */
    AN_LEAK_PHONES = 1u << 5,   /* bulk phone numbers */
    AN_LEAK_SYSPROMPT = 1u << 6 /* the system prompt echoed back */
};

/* One event reduced to what the detectors read. Strings point into the same
 * allocation (one free()). */
typedef struct an_obs {
    int64_t ts_us;
    uint64_t seq; /* arrival order: the last tie-breaker only */
    int64_t arrival_us; /* live: monotonic time it was handed over (latency figures only) */
    int32_t source;
    const char *event_id, *api_key_id, *tenant, *model, *model_version, *finish_reason;
    uint64_t key_hash, tenant_hash;
    int64_t prompt_tokens, completion_tokens; /* -1 absent */
    double latency_ms;
    bool has_latency, has_status, has_prompt, has_response;
    int32_t status;
    int refusal; /* event's flag, else detected from the response (0/1) */
    uint32_t prompt_len, response_len;
    uint64_t simhash;     /* of the prompt's words */
    uint32_t prefix_hash; /* of the prompt's normalised first bytes: template reuse */
    float probe_score;    /* sum of matched prompt-rule weights (+ encoded payload) */
    bool encoded;         /* base64 payload that decodes to text */
    float learned;        /* learned detector's logit (an_learned.c); -INFINITY: not scored */
    uint8_t learned_level; /* 0; 1: at the model's threshold; 2: at its strong threshold */
    const char *learned_top; /* level > 0: JSON array of the top features, else NULL */
    uint8_t n_rules;
    uint16_t rules[AN_OBS_RULES_MAX]; /* matched probe rules (indices) */
    uint32_t leak;                    /* AN_LEAK_* */
    uint16_t n_emails, n_phones;
    uint8_t n_scores;
    const char *score_name[AN_OBS_SCORES_MAX];
    double score_val[AN_OBS_SCORES_MAX];
} an_obs;

/* ---- signature rules (rules.c) ---- */

typedef enum { AN_RULE_PROBE, AN_RULE_REFUSAL, AN_RULE_LEAK, AN_RULE_ENCODED } an_rule_kind;
typedef enum { AN_VAL_NONE, AN_VAL_LUHN, AN_VAL_IBAN, AN_VAL_ENTROPY, AN_VAL_BASE64 } an_validator;

typedef struct {
    char *id;
    char *file; /* where it was defined, for messages */
    an_rule_kind kind;
    bool on_response; /* field: response (else prompt) */
    double weight;
    an_validator validate;
    uint32_t leak_kind; /* AN_LEAK_* for kind leak */
    int min_count;
    int min_len; /* kind encoded: shortest base64 run that counts */
    char atlas[4][24];
    char owasp[4][16];
    int n_atlas, n_owasp;
} an_rule;

typedef struct an_rules an_rules;

/* Loads every *.yaml in dir (sorted by name) and compiles all patterns into
 * one vectorscan database. NULL with "FILE:LINE: problem" in err. The caller
 * owns the result: an_rules_free(). */
/* per_field: a database per field (analytics.rules_db); cache: the
 * analytics.rules_cache_dir setting. */
an_rules *an_rules_load(const char *dir, bool per_field, const char *cache, char *err,
                        size_t errlen);
/* True when the databases came from the compiled-rules cache. */
bool an_rules_cached(const an_rules *r);
void an_rules_free(an_rules *r);
size_t an_rules_count(const an_rules *r);
const an_rule *an_rules_get(const an_rules *r, size_t i);

/* Scans ev's prompt and response with the one database and fills the
 * signature fields of o (probe_score, rules, refusal when the event has none,
 * leak, n_emails, n_phones, encoded). Not thread-safe (one scratch). */
int an_rules_scan(an_rules *r, const core_event *ev, an_obs *o, int bulk_min);

/* ---- features (features.c) ---- */

uint64_t an_hash(const void *p, size_t n, uint64_t seed); /* FNV-1a 64 */
uint64_t an_simhash(const char *s, size_t n);
uint32_t an_prefix_hash(const char *s, size_t n);
int an_hamming(uint64_t a, uint64_t b);
bool an_luhn(const char *digits, size_t n); /* digits only */
bool an_iban_valid(const char *s, size_t n); /* letters/digits, spaces allowed */
double an_entropy(const char *s, size_t n);  /* bits per character */
bool an_base64_text(const char *s, size_t n);

/* ---- statistics (stats.c) ---- */

/* Shapiro-Wilk W of x[0..n) (sorted in place), 3 <= n <= 5000, Royston's
 * approximation (AS R94). Returns 1 when the sample has no spread. */
double an_shapiro_w(double *x, int n);
/* PSI of observed counts against reference proportions over nbins (with a
 * small floor so that empty bins stay finite). */
double an_psi(const double *ref_prop, const uint32_t *cnt, int nbins);

/* ---- engine ---- */

typedef struct an_engine an_engine;
typedef struct an_key an_key;

/* An alert a detector raises: it opens or updates the incident of its type
 * and subject. evidence is owned by the alert and moves into the incident. */
typedef struct {
    an_type type;
    an_severity severity;
    const an_obs *trigger; /* the event at which it fired */
    int64_t first_ts;      /* first contributing event time */
    const char *api_key_id; /* NULL for model-scoped (drift) */
    const char *model, *model_version;
    const char *summary;
    const an_rule *rules[AN_OBS_RULES_MAX]; /* probing: the rules that matched */
    int n_rules;
    cJSON *evidence;
    bool alert_only; /* a signal that alone opens no incident (and joins none) */
} an_alert;

/* What an incident looks like to the outside (live storage, callbacks). */
typedef struct {
    const char *incident_id;
    an_type type;
    an_severity severity;
    const char *api_key_id, *model, *model_version;
    int64_t first_seen_us, detected_at_us, last_seen_us;
    int n_alerts;
    bool opened; /* this call opened it (else an update) */
    bool final;  /* it closes now (quiet period, or the end of input) */
    const char *json;
} an_incident_view;

/* Called for each incident opened or updated (update_ms rate limit, always on
 * a severity rise, and once more at close or finish when it changed), and for
 * each alert (with the incident it went to, or inc NULL for an alert_only
 * alert). Pointers are valid for the call. */
typedef struct {
    void (*incident)(void *ud, const an_incident_view *inc);
    void (*alert)(void *ud, const an_incident_view *inc, const an_alert *a);
    void *ud;
} an_callbacks;

/* Creates an engine with cfg's thresholds and rules. NULL + err on failure.
 * cfg must outlive the engine. */
an_engine *an_engine_new(const core_config *cfg, const an_callbacks *cb, char *err, size_t errlen);

/* Reduces ev to an observation and queues it; ev stays the caller's.
 * source: the ordering source (Kafka partition; 0 offline). arrival_us: live,
 * the monotonic time the event was handed over (for latency figures; 0
 * offline). Returns 0, or -1 when out of memory. */
int an_engine_push(an_engine *e, const core_event *ev, int32_t source, int64_t arrival_us);

/* Live only: a source whose newest event was handed over idle_ms before the
 * newest hand-over (arrival_us of an_engine_push) no longer holds the
 * watermark back, so a quiet partition does not stall detection (0, the
 * default: sources never go idle, as offline). */
void an_engine_set_source_idle_ms(an_engine *e, int64_t idle_ms);

/* Releases what the watermark allows without a new event (live, after a
 * quiet spell). */
void an_engine_advance(an_engine *e);

/* Processes everything still held (end of input / stop) and finishes the
 * open incidents (a last callback for those that changed). */
void an_engine_finish(an_engine *e);
void an_engine_free(an_engine *e);

typedef struct {
    uint64_t events, late, forced, keys, keys_evicted, alerts, incidents;
    uint64_t alerts_only; /* of alerts: those that opened no incident */
    size_t key_state_bytes;
    /* events more than analytics.key_idle_ms ahead of the clock that no
     * second such event confirmed: processed, but the clock stayed */
    uint64_t clock_outliers;
} an_engine_stats;
void an_engine_stats_get(const an_engine *e, an_engine_stats *st);

/* For detectors: raise an alert (the engine routes it to incident.c). */
void an_engine_alert(an_engine *e, an_alert *a);
const core_config *an_engine_cfg(const an_engine *e);
const an_rules *an_engine_rules(const an_engine *e);

/* ---- per-key detector state, laid out here so that it lives in one
 * allocation per key (bounded, see docs/analytics.md) ---- */

#define AN_EX_BUCKETS 12  /* 5-minute buckets: one hour */
#define AN_EX_RING 16     /* recent prompt sketches */
#define AN_EX_DIST 32     /* recent successive-query distances (PRADA) */

typedef struct {
    uint32_t id; /* bucket index (ts / 5 min) */
    uint16_t n, novel, tmpl, longout;
    float iat_sum, iat_sq; /* seconds */
    uint32_t ctok;         /* completion tokens (saturating) */
} an_ex_bucket;

typedef struct {
    an_ex_bucket b[AN_EX_BUCKETS];
    uint64_t ring[AN_EX_RING];
    uint32_t pref[AN_EX_RING];
    uint8_t dist[AN_EX_DIST];
    uint8_t ring_n, ring_i, dist_n, dist_i;
    int64_t last_ts;
    float base; /* EWMA of closed bucket counts */
    uint32_t base_n;
    uint32_t last_closed; /* last bucket folded into base */
    int64_t win_first_ts;
} an_ex_state;

#define AN_PR_WEAK 8 /* recent weak signature hits (rule, prompt) */

typedef struct {
    uint32_t id[6]; /* 10-minute buckets: one hour */
    uint16_t req[6], refused[6], attempts[6], variants[6];
    /* weak hits (prompts scoring below the attempt score): which rule, on
     * which of the key's weak prompts, in which bucket; two independent
     * ones corroborate each other */
    uint16_t wk_rule[AN_PR_WEAK];
    uint32_t wk_prompt[AN_PR_WEAK];
    int64_t wk_ts[AN_PR_WEAK];
    uint8_t wk_n, wk_i;
    uint32_t weak_prompts; /* serial of the key's weak prompts */
    uint32_t total_attempts;
    int64_t last_refusal_alert;
    int64_t learned_ts; /* event time of the key's last prompt at the learned threshold */
    int64_t last_incident_alert; /* event time of the last alert that went to an incident */
} an_pr_state;

typedef struct {
    int64_t minute;
    uint32_t n, errors;
    uint64_t tokens;
    float base_n, base_tok;
    uint32_t minutes_seen;
    bool fired_n, fired_tok, fired_err;
} an_fl_state;

struct an_key {
    char *id; /* owned */
    uint64_t hash, tenant_hash;
    int64_t first_ts, last_ts;
    an_key *hnext, *lru_prev, *lru_next;
    an_ex_state ex;
    an_pr_state pr;
    an_fl_state fl;
    int64_t dr_window;
    uint16_t dr_n;
};

/* The population of per-key 5-minute volumes (completion tokens), for the
 * fleet and per tenant: log-binned histograms (bins of a factor of sqrt 2),
 * decayed by 5-minute bucket of event time, mergeable by adding bins. A key
 * notes each of its buckets when it has closed. */
void an_engine_pop_note(an_engine *e, uint64_t tenant_hash, uint32_t bucket, double value,
                        double requests);
/* The median of the tenant's per-key 5-minute request counts (the same
 * buckets, counted in requests); -1 while it has too few. A median, since a
 * few busy keys of a tenant, active in every bucket, pull a mean up so far
 * that an attacker beside them looks ordinary. */
double an_engine_pop_tenant_median_n(an_engine *e, uint64_t tenant_hash, uint32_t bucket);
/* The q-quantile of the tenant's and of the fleet's populations, the higher
 * of the two (a tenant counts once it has enough samples), without the
 * judged key's own buckets (own[i] noted for bucket own_bucket[i]): a key is
 * not its own population. False while the fleet has too few samples to say
 * what is usual. */
bool an_engine_pop_quantile(an_engine *e, uint64_t tenant_hash, uint32_t bucket, double q,
                            const double *own, const uint32_t *own_bucket, int n_own,
                            double *value, double *samples);

/* Tenant volume baseline for extraction: EWMA of a key's 5-minute count. */
double an_engine_tenant_base(an_engine *e, uint64_t tenant_hash);
void an_engine_tenant_note(an_engine *e, uint64_t tenant_hash, double bucket_count);

/* The detectors. Each reads one observation in order, with its key's state. */
void an_extraction_observe(an_engine *e, an_key *k, const an_obs *o);
void an_probing_observe(an_engine *e, an_key *k, const an_obs *o);
void an_leakage_observe(an_engine *e, an_key *k, const an_obs *o);
void an_flood_observe(an_engine *e, an_key *k, const an_obs *o);

/* Drift is per model version, not per key. */
typedef struct an_drift an_drift;
an_drift *an_drift_new(const core_config *cfg);
void an_drift_free(an_drift *d);
/* cap_ok: the key has not used up its share of the current window. */
void an_drift_observe(an_drift *d, an_engine *e, an_key *k, const an_obs *o);
size_t an_drift_bytes(const an_drift *d);

/* ---- incidents (incident.c) ---- */

typedef struct an_incidents an_incidents;
an_incidents *an_incidents_new(const core_config *cfg, const an_callbacks *cb);
void an_incidents_free(an_incidents *g);
/* Routes an alert; takes a->evidence. An alert_only alert goes to the alert
 * callback alone. */
void an_incidents_alert(an_incidents *g, an_alert *a);
/* Closes incidents quiet since before now_us - quiet. */
void an_incidents_tick(an_incidents *g, int64_t now_us);
/* Publishes the last changes of every open incident and closes them all. */
void an_incidents_finish(an_incidents *g);
uint64_t an_incidents_count(const an_incidents *g);

#endif
