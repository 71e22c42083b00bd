/* A memo of what the engine computes from a prompt's text alone (the
 * learned detector's logit, level and top features; the SimHash and prefix
 * hash; the signature rules' pass over the prompt), keyed by the exact bytes: a prompt sent again (a batch job, a
 * template, a key repeating a favourite question) is looked up instead of
 * featurized again. The values are pure functions of the bytes, so the
 * incidents are the same with the memo or without it. Private to analytics/. */
#ifndef CUSTOS_AN_PCACHE_H
#define CUSTOS_AN_PCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/an_rules.h"

/* Longer prompts are not kept (the memo's memory stays below entries x ~3 KB). */
#define AN_PCACHE_MAX_BYTES 2048

typedef struct an_pcache an_pcache;

typedef struct an_pcache_val {
    float learned;   /* the learned logit, -INFINITY when not scored */
    uint8_t level;   /* an_obs.learned_level */
    uint64_t simhash;
    uint32_t prefix_hash;
    an_rules_prompt rules; /* the signature scan's pass over the prompt */
    const char *top; /* level > 0: the top features' JSON (owned by the memo), else NULL */
    const char *planted; /* an_obs.learned_planted (a static string) */
} an_pcache_val;

/* A memo of at most entries prompts (rounded down to a power of two; 0 or
 * out of memory: NULL, and the engine computes every prompt). Caller frees. */
an_pcache *an_pcache_new(size_t entries);
void an_pcache_free(an_pcache *c);

/* The hash the lookups and stores of text[0..n) take. */
uint64_t an_pcache_hash(const char *text, size_t n);

/* The values stored for exactly text[0..n), or NULL. Valid until the next
 * an_pcache_put. */
const an_pcache_val *an_pcache_get(an_pcache *c, uint64_t h, const char *text, size_t n);

/* Keeps v for text[0..n) (copied, top too) at the front of its set, the
 * set's least recently used prompt leaving when the set is full;
 * nothing when n > AN_PCACHE_MAX_BYTES or out of memory. */
void an_pcache_put(an_pcache *c, uint64_t h, const char *text, size_t n, const an_pcache_val *v);

/* Lookups that found their prompt, and all lookups. */
void an_pcache_counts(const an_pcache *c, uint64_t *hits, uint64_t *lookups);

#endif
