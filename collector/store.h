/* Storing one batch in PostgreSQL: rows, dead letters and the partition's
 * next offset in one transaction, fenced on the offset it expects. */
#ifndef COLL_STORE_H
#define COLL_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/batch.h"

typedef enum {
    COLL_STORE_OK = 0,  /* committed */
    COLL_STORE_FENCED,  /* the stored offset is not what the batch expects: drop it */
    COLL_STORE_RETRY,   /* PostgreSQL failed (connection, deadlock...): try again later */
} coll_store_rc;

/* Stores the batches bs[0..n) for consumer group `group` on connection c
 * (in no transaction) in one transaction. Offsets are read without locks and
 * the transaction advances each one only if it still holds what was read (a
 * conditional UPDATE, row locks held just until COMMIT), so a member frozen
 * mid-transaction cannot stall the one that took its partitions. bs is reordered by partition (queue
 * order kept within one). Each partition's chain is fenced on the offset the
 * database holds: res[i] is COLL_STORE_OK (stored, or found already stored)
 * or COLL_STORE_FENCED (dropped; stored[i] holds the offset found). Returns
 * COLL_STORE_RETRY when PostgreSQL failed and nothing was committed. A row
 * PostgreSQL refuses despite validation becomes a dead letter (row by row,
 * under savepoints), so batches can never be stuck on bad data. */
coll_store_rc coll_store_batches(PGconn *c, const char *group, coll_batch **bs, size_t n,
                                 coll_store_rc *res, int64_t *stored, char *err, size_t errlen);

/* Reads the next offset stored for a partition: >= 0, -1 when none is
 * stored, -2 on error (err set). */
int64_t coll_store_read_offset(PGconn *c, const char *group, const char *topic,
                               int32_t partition, char *err, size_t errlen);

#endif
