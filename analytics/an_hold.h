/* The live analytics' hold on incident updates (analytics/an_live.c,
 * analytics.incident_hold_ms): per open incident, when its row was last
 * written, and what waits to be written with the next one. An index by
 * incident id and a list in the order of the last write, so that the
 * entries due are always at its head. The entries are the caller's (it
 * embeds an_hold_entry first in its own struct and frees them). */
#ifndef CUSTOS_AN_HOLD_H
#define CUSTOS_AN_HOLD_H

#include <stddef.h>
#include <stdint.h>

typedef struct an_hold_entry {
    char id[24];        /* the incident id (inc-%016llx) */
    int64_t written_ms; /* when its row was last written (monotonic clock) */
    struct an_hold_entry *prev, *next, *hnext;
} an_hold_entry;

typedef struct {
    an_hold_entry **buckets;
    size_t nbuckets; /* 0, or a power of two */
    size_t count;
    an_hold_entry *head, *tail; /* oldest written first */
} an_hold;

/* The entry of id, or NULL. */
an_hold_entry *an_hold_find(const an_hold *h, const char *id);
/* Adds e (its id set, not held yet) as written at now_ms, at the list's
 * tail; -1 when out of memory (e not added). */
int an_hold_add(an_hold *h, an_hold_entry *e, int64_t now_ms);
/* e written again at now_ms (not before its last write): to the tail. */
void an_hold_touch(an_hold *h, an_hold_entry *e, int64_t now_ms);
/* Takes e out (the caller frees it). */
void an_hold_remove(an_hold *h, an_hold_entry *e);
/* The entry written longest ago, or NULL. */
static inline an_hold_entry *an_hold_oldest(const an_hold *h) { return h->head; }
/* Frees the index (the entries must have been removed). */
void an_hold_free(an_hold *h);

#endif
