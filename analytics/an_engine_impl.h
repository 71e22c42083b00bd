/* The engine's state, shared by an_engine.c and its snapshots
 * (an_engine_snap.c) only: no other file reads it. */
#ifndef AN_ENGINE_IMPL_H
#define AN_ENGINE_IMPL_H

#include "analytics/an_detectors.h"
#include "analytics/an_engine.h"
#include "core/redact_scan.h"
#include "analytics/an_grouping.h"
#include "analytics/an_learned.h"

#define TENANT_SLOTS 65536 /* tenants tracked for the extraction baseline */
#define MAX_SOURCES 4096

typedef struct {
    uint64_t hash;
    float base;
    uint32_t n;
} tenant_slot;

#define POP_BINS 48       /* bin b >= 1 holds [2^((b-1)/2), 2^(b/2)): up to 2^23.5 */
#define POP_TENANTS 4096  /* tenants with a population of their own (others: fleet only) */
#define POP_DECAY 0.95    /* per 5-minute bucket: the population of the last ~2 hours */
#define POP_MIN_SAMPLES 50.0

typedef struct {
    uint64_t hash;
    uint32_t bucket; /* decayed up to this bucket */
    float total;
    float w[POP_BINS];
} pop_sketch;

typedef struct {
    int32_t id;
    int64_t max_ts;
    int64_t last_push_ms; /* live: when its newest event was handed over (monotonic) */
    int64_t next_offset;  /* the offset after its newest event pushed (-1: none) */
} src_hw;

struct an_engine {
    const core_config *cfg;
    an_rules *rules;
    unsigned char rd_key[CORE_PSEUDONYM_KEY_BYTES]; /* collector.redact_key's: leak value hashes */
    bool rd_keyed;                                  /* false: no key set (all-zero key) */
    an_learned_model *learned; /* NULL: analytics.learned off */
    an_learned_scratch *lscratch;
    struct an_pcache *pcache; /* NULL: analytics.prompt_memo 0 */
    void *det_state[AN_DETECTORS_MAX]; /* each detector's own state (an_detectors[i]) */
    an_incidents *inc;
    /* reorder heap */
    an_obs **heap;
    size_t nheap, capheap;
    src_hw *src;
    size_t nsrc;
    uint64_t seq;
    int64_t now_us;  /* event time of the last observation processed */
    int64_t jump_us; /* an event far ahead of now_us, waiting for a second one; 0: none */
    int64_t last_tick_min;
    int64_t source_idle_ms;
    int64_t last_new_source_ms; /* live: when a source was last seen for the first time */
    int64_t newest_arrival_ms;  /* live: the latest hand-over time pushed */
    /* keys */
    an_key **buckets;
    size_t nbuckets, nkeys;
    an_key *lru_head, *lru_tail; /* head: idle longest */
    tenant_slot *tenants;
    pop_sketch fleet, *pop_tenants;
    pop_sketch *pop_tenants_n; /* the same tenants (same slots): request counts */
    an_engine_stats st;
};

/* Frees k and what it owns (k is in no table). */
void an_engine_key_free(an_key *k);
/* Takes k out of the table and the LRU and frees it. */
void an_engine_key_remove(an_engine *e, an_key *k);
/* The key of id (hash h), or NULL. */
an_key *an_engine_key_find(an_engine *e, const char *id, uint64_t h);
/* Links a new key k (its id and hash set) into the table and the LRU tail. */
void an_engine_key_link(an_engine *e, an_key *k);
/* The slot of source id, added when add (-1: none / full). */
int an_engine_source_slot(an_engine *e, int32_t id, bool add);

/* The least observation of the heap, taken out (the heap is not empty). */
an_obs *an_engine_heap_pop(an_engine *e);
/* Runs the detectors over o in its turn and frees it. */
void an_engine_process(an_engine *e, an_obs *o);

#endif
