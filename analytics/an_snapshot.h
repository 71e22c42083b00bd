/* Snapshots of the analytics state (an_snapshot.c): the per-key and
 * per-model baselines written to PostgreSQL per Kafka partition, so that a
 * restart or a rebalance continues where the previous owner of a partition
 * stopped (docs/analytics.md, "State across restarts and rebalances").
 *
 * The format is a tagged stream of records in this build's memory layout,
 * headed by a fingerprint of that layout and of the signature rules (the
 * per-key state holds rule indices): a snapshot of another build or rule
 * set is refused whole, never half read. */
#ifndef AN_SNAPSHOT_H
#define AN_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing output buffer; oom is sticky (the snapshot is then dropped). */
typedef struct an_snap_w {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} an_snap_w;

/* A bounds-checked reader; bad is sticky (short or malformed input). */
typedef struct an_snap_r {
    const uint8_t *p;
    size_t n, off;
    bool bad;
} an_snap_r;

void an_snap_put(an_snap_w *w, const void *p, size_t n);
void an_snap_put_u32(an_snap_w *w, uint32_t v);
/* A string, NULL included (length UINT32_MAX). */
void an_snap_put_str(an_snap_w *w, const char *s);
void an_snap_w_free(an_snap_w *w);

bool an_snap_get(an_snap_r *r, void *p, size_t n);
uint32_t an_snap_get_u32(an_snap_r *r);
/* A string written by an_snap_put_str, NUL-terminated, at most max bytes;
 * the caller owns it (free). NULL for a NULL string or on error (r->bad). */
char *an_snap_get_str(an_snap_r *r, size_t max);

/* Record tags of the stream. */
enum {
    AN_SNAP_END = 'E',
    AN_SNAP_KEY = 'K',
    AN_SNAP_INCIDENT = 'I',
    AN_SNAP_SOURCE = 'S',
    AN_SNAP_CLOCK = 'C',
    AN_SNAP_TENANT = 'T',
    AN_SNAP_POP = 'P',
    AN_SNAP_FLEET = 'F',
    AN_SNAP_DETECTOR = 'D',
};

#define AN_SNAP_SHARED (-1) /* the row of the state no partition owns */

#endif
