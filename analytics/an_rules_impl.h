/* The compiled rule set, shared by the two halves of the signature rules:
 * loading (an_rules_load.c) and scanning (an_rules_scan.c). Private to
 * those two files. */
#ifndef AN_RULES_IMPL_H
#define AN_RULES_IMPL_H

#include <hs/hs.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analytics/an_rules.h"

struct an_rules {
    an_rule *rules;
    size_t n, cap;
    unsigned *pat_rule; /* pattern id -> rule index */
    size_t npat;
    hs_database_t *db[2]; /* for the prompt, the response: the same one unless per field */
    hs_scratch_t *scratch;
    /* per-scan state */
    uint16_t *count;
    long long *last_from;
    size_t *touched;
    size_t ntouched;
    size_t *enc; /* the encoded rules */
    size_t nenc;
    bool from_cache;
};

#endif
