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

/* The key's recent prompts: allocated at its second prompt (the first one's
 * sketch is kept in an_ex_state itself), so that a key seen once costs
 * none of it. */
typedef struct {
    uint64_t ring[AN_EX_RING];
    uint32_t pref[AN_EX_RING];
    uint8_t dist[AN_EX_DIST];
} an_ex_hist;

/* Twelve buckets are a ring indexed by bucket id; until the key's events
 * fall in a second bucket, the one bucket (one) stands for the whole ring
 * (every other slot reads as empty) and b is NULL. Read and write them
 * through an_ex_peek / an_ex_at / an_ex_slot only. */
typedef struct {
    an_ex_bucket one;
    an_ex_bucket *b;  /* AN_EX_BUCKETS, owned, NULL until needed */
    an_ex_hist *hist; /* owned, NULL until the key's second prompt */
    uint64_t ring0;   /* ring[0] and pref[0] while hist is NULL */
    uint32_t pref0;
    uint8_t ring_n, ring_i, dist_n, dist_i;
    int64_t last_ts;
    float base; /* EWMA of closed bucket counts */
    uint32_t base_n;
    uint32_t last_closed; /* last bucket folded into base */
    int64_t win_first_ts;
} an_ex_state;

/* The bucket in ring slot j (0..AN_EX_BUCKETS-1), for reading. */
const an_ex_bucket *an_ex_at(const an_ex_state *s, int j);
/* The ring slot of bucket id, for reading (it may hold another bucket). */
static inline const an_ex_bucket *an_ex_peek(const an_ex_state *s, uint32_t id)
{
    return an_ex_at(s, (int)(id % AN_EX_BUCKETS));
}
/* The ring slot of bucket id, for writing: the ring is allocated when a
 * second bucket needs it (NULL when out of memory). */
an_ex_bucket *an_ex_slot(an_engine *e, an_key *k, uint32_t id);
/* Prompt sketch i (< ring_n) of the ring, and its prefix hash. */
static inline uint64_t an_ex_ring_at(const an_ex_state *s, int i)
{
    return s->hist ? s->hist->ring[i] : s->ring0;
}
static inline uint32_t an_ex_pref_at(const an_ex_state *s, int i)
{
    return s->hist ? s->hist->pref[i] : s->pref0;
}

#define AN_PR_WEAK 8 /* recent weak signature hits (rule, prompt) */

/* What probing keeps of a key once a signal fired (a weak or strong
 * signature, the learned score, an alert): allocated then, so that a key
 * that never sent anything suspicious costs none of it. */
typedef struct {
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
} an_pr_rare;

typedef struct {
    uint32_t id[6]; /* 10-minute buckets: one hour */
    uint16_t req[6], refused[6], attempts[6], variants[6];
    an_pr_rare *rare; /* owned, NULL until a signal fired */
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
    char id[];              /* the api key id, NUL-terminated, in the key's allocation */
};

/* What the key's state holds in memory: itself, its id, and what it
 * allocated since (the engine's key_state_bytes counts the same). */
size_t an_key_size(const an_key *k);


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
