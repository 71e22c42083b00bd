/* The detection engine shared by `custos analyze` and the live analytics.
 *
 * Events go in through an_engine_push() in any order; each is reduced at once
 * to an observation (an_obs: its features, signature hits, numbers), the event
 * itself is not kept. Observations wait in a reorder heap and are handed to
 * the detectors in (ts, event_id, api_key_id) order once the watermark (the
 * least of the sources' newest event times) is reorder_window past them, so
 * any interleaving of partitions within the window gives the same incidents.
 * Detectors (an_detectors.h) raise alerts; alerts group into incidents
 * (an_grouping.h). */
#ifndef AN_ENGINE_H
#define AN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "analytics/an_obs.h"
#include "analytics/an_rules.h"
#include "core/config.h"
#include "core/event.h"
#include "incidents/incidents.h"

typedef struct an_engine an_engine;
typedef struct an_key an_key;

/* An alert a detector raises: it opens or updates the incident of its type
 * and subject. evidence is owned by the alert and moves into the incident:
 * it is only ever written out (the incident, its alert rows, snapshots), so
 * it is kept as text. */
typedef struct {
    inc_type type;
    inc_severity severity;
    const an_obs *trigger; /* the event at which it fired */
    int64_t first_ts;      /* first contributing event time */
    const char *api_key_id; /* NULL for model-scoped (drift) */
    const char *model, *model_version;
    const char *summary;
    const an_rule *rules[AN_OBS_RULES_MAX]; /* probing: the rules that matched */
    int n_rules;
    char *evidence; /* a JSON object's compact text (malloc'd; NULL: none), as
                     * cJSON_PrintUnformatted writes it */
    bool alert_only; /* a signal that alone opens no incident (and joins none) */
} an_alert;

/* What an incident looks like to the outside (live storage, callbacks). */
typedef struct {
    const char *incident_id;
    inc_type type;
    inc_severity severity;
    const char *api_key_id, *model, *model_version;
    const char *tenant; /* of the event that opened it (key-scoped types); NULL: none */
    const char *summary;
    const char (*atlas)[24]; /* MITRE ATLAS ids, n_atlas of them */
    const char (*owasp)[16]; /* OWASP LLM ids */
    int n_atlas, n_owasp;
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
    uint64_t keys_peak;          /* the most keys held at once */
    size_t key_state_bytes_peak; /* the most key state held at once */
    /* events more than analytics.key_idle_ms ahead of the clock that no
     * second such event confirmed: processed, but the clock stayed */
    uint64_t clock_outliers;
    /* prompts looked up in the prompt memo (analytics.prompt_memo), and found */
    uint64_t memo_lookups, memo_hits;
} an_engine_stats;
void an_engine_stats_get(const an_engine *e, an_engine_stats *st);

/* For detectors: raise an alert (the engine routes it to incident.c). */
void an_engine_alert(an_engine *e, an_alert *a);
const core_config *an_engine_cfg(const an_engine *e);
/* For detectors: n bytes more of per-key state (counted in key_state_bytes). */
void an_engine_key_bytes(an_engine *e, size_t n);
const an_rules *an_engine_rules(const an_engine *e);

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

/* Snapshots (an_snapshot.h, docs/analytics.md): the state of a source (a
 * Kafka partition) is its keys (those whose newest event came from it) with
 * their open incidents, and its offsets; the shared state (AN_SNAP_SHARED)
 * the clock, the tenant baselines and populations, the detectors' own state
 * and the model-scoped incidents. */
#define AN_SNAP_ALL INT32_MIN
/* One saved row: blob (n bytes, valid for the call) is the state of source
 * up to next_offset (-1: none), holding keys keys. */
typedef void (*an_snap_cb)(void *ud, int32_t source, int64_t next_offset, uint32_t keys,
                           const void *blob, size_t n);
/* Saves source's state (AN_SNAP_ALL: every source's) and the shared state,
 * one cb call each. 0, or -1 when out of memory (no call made). */
int an_engine_save(an_engine *e, int32_t source, an_snap_cb cb, void *ud);
/* Adds a saved row of source (AN_SNAP_SHARED: the shared state) to the
 * engine: keys and incidents it does not hold yet. -1 with err when the row
 * is not this build's or is malformed (a prefix may be loaded). */
int an_engine_load(an_engine *e, int32_t source, const void *blob, size_t n, char *err,
                   size_t errlen);
/* Processes every observation held for reordering (a partition is leaving:
 * what it delivered is judged here); incidents stay open. */
void an_engine_drain(an_engine *e);
/* Forgets source: closes its keys' incidents (a last callback each; the new
 * owner continues them), drops its keys and its watermark. */
void an_engine_release(an_engine *e, int32_t source);
/* The collector committed source up to next_offset: a state saved now
 * covers that far (its last messages may have held no event). */
void an_engine_source_committed(an_engine *e, int32_t source, int64_t next_offset);
/* True when the engine has processed nothing and holds no key. */
bool an_engine_fresh(const an_engine *e);

/* Tenant volume baseline for extraction: EWMA of a key's 5-minute count. */
double an_engine_tenant_base(an_engine *e, uint64_t tenant_hash);
void an_engine_tenant_note(an_engine *e, uint64_t tenant_hash, double bucket_count);

#endif
