/* Exponential back-off: min_ms, then doubling up to max_ms, back to min_ms
 * after a success. No jitter: each retrying part is one thread per process,
 * and a fleet's instances fail at different moments anyway. */
#ifndef CORE_BACKOFF_H
#define CORE_BACKOFF_H

#include <stdint.h>

typedef struct {
    int64_t min_ms, max_ms;
    int64_t next_ms; /* the delay the next failure waits */
} core_backoff;

static inline void core_backoff_init(core_backoff *b, int64_t min_ms, int64_t max_ms)
{
    b->min_ms = min_ms > 0 ? min_ms : 1;
    b->max_ms = max_ms > b->min_ms ? max_ms : b->min_ms;
    b->next_ms = b->min_ms;
}

/* After a failure: the delay to wait now (min_ms, 2 min_ms, ... max_ms). */
static inline int64_t core_backoff_next(core_backoff *b)
{
    int64_t d = b->next_ms;
    b->next_ms = d > b->max_ms / 2 ? b->max_ms : d * 2;
    return d;
}

/* The delay the next failure would wait, without taking it. */
static inline int64_t core_backoff_peek(const core_backoff *b) { return b->next_ms; }

/* After a success. */
static inline void core_backoff_reset(core_backoff *b) { b->next_ms = b->min_ms; }

#endif
