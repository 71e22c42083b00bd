/* Refused rephrasings (an_rephrase.c): a persuasion-style attacker (PAIR)
 * sends many rephrasings of one goal that keep being refused; no signature
 * or bag of n-grams sees a single one of them, but the key's refused
 * prompts share their meaning-bearing words. */
#ifndef AN_REPHRASE_H
#define AN_REPHRASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AN_RP_SKETCH 32 /* the smallest hashes of a prompt's content words (bottom-k) */
#define AN_RP_RING 8    /* the key's recent refused prompts */

/* The key's recent refused prompts (allocated at its first refused prompt:
 * most keys never need it). */
typedef struct an_rp_state {
    uint16_t mh[AN_RP_RING][AN_RP_SKETCH];
    int64_t ts[AN_RP_RING];
    uint8_t n, i;
    uint8_t alerted_n; /* the cluster size last alerted */
    int64_t alerted_ts;
} an_rp_state;

/* The bottom-k sketch of the content words of s (stop words out, folded,
 * crude stems): their AN_RP_SKETCH smallest distinct 16-bit hashes,
 * ascending; false when s holds fewer than 3 such words. */
bool an_rephrase_sketch(const char *s, size_t n, uint16_t out[AN_RP_SKETCH]);
/* The Jaccard similarity of two sketches x AN_RP_SKETCH, rounded down
 * (exact up to AN_RP_SKETCH distinct words in the two together). */
int an_rephrase_match(const uint16_t a[AN_RP_SKETCH], const uint16_t b[AN_RP_SKETCH]);

#endif
