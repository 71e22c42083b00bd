/* The detectors: one file and one an_detector row each, listed in one
 * place (an_detectors.c) that the engine walks for every observation. Also
 * the per-key detector state, laid out here so that it lives in one
 * allocation per key (bounded, see docs/analytics.md). */
#ifndef AN_DETECTORS_H
#define AN_DETECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/an_engine.h"
#include "analytics/an_obs.h"
#include "core/config.h"

struct an_snap_w;
struct an_snap_r;

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
    int32_t src; /* the source (Kafka partition) of its newest event: whose snapshot holds it */
    struct an_rp_state *rp; /* owned; NULL until its first refused prompt (an_rephrase.h) */
};


/* A detector. init makes its own state beyond the key's (NULL: none, and
 * state is NULL in the calls); observe reads one observation in event-time
 * order with its key's state; bytes reports what its own state holds. */
typedef struct an_detector {
    const char *name;
    inc_type type;
    void *(*init)(const core_config *cfg);
    void (*observe)(void *state, an_engine *e, an_key *k, const an_obs *o);
    size_t (*bytes)(const void *state);
    void (*free)(void *state);
    /* snapshots (an_snapshot.h) of the detector's own state; NULL: none.
     * load adds what the state does not hold yet; 0, or -1 when malformed */
    void (*save)(const void *state, struct an_snap_w *w);
    int (*load)(void *state, struct an_snap_r *r);
} an_detector;

/* Every detector, in the order they see an observation (probing before
 * extraction, which adds the prompt to its ring). */
#define AN_DETECTORS_MAX 16
extern const an_detector *const an_detectors[];
extern const size_t an_detectors_count;

extern const an_detector an_detector_probing, an_detector_extraction, an_detector_leakage,
    an_detector_flood, an_detector_drift, an_detector_rephrase;

#endif
