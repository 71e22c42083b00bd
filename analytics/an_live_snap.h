/* The snapshot rows in PostgreSQL (an_live_snap.c), for the live analytics
 * (an_live.c): table analytics_snapshots, sql/migrations/0013. */
#ifndef AN_LIVE_SNAP_H
#define AN_LIVE_SNAP_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Stores the row of (group, topic, partition), in the caller's transaction;
 * a stored row at a later offset stays (a stalled former owner's snapshot
 * does not replace the new owner's). 0, or -1 with err. */
int an_snap_db_write(PGconn *c, const char *group, const char *topic, int32_t partition,
                     int64_t next_offset, uint32_t keys, const void *blob, size_t n, char *err,
                     size_t errlen);

/* Reads the row: 1 found (*blob is the caller's: free), 0 none, -1 with
 * err. */
int an_snap_db_read(PGconn *c, const char *group, const char *topic, int32_t partition,
                    int64_t *next_offset, void **blob, size_t *n, char *err, size_t errlen);

#endif
