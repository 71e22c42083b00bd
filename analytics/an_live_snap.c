/* The snapshot rows in PostgreSQL (an_live_snap.h). */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_live_snap.h"
#include "core/db.h"

int an_snap_db_write(PGconn *c, const char *group, const char *topic, int32_t partition,
                     int64_t next_offset, uint32_t keys, const void *blob, size_t n, char *err,
                     size_t errlen)
{
    char part[16], next[24], nkeys[16];
    snprintf(part, sizeof part, "%d", (int)partition);
    snprintf(next, sizeof next, "%lld", (long long)next_offset);
    snprintf(nkeys, sizeof nkeys, "%u", keys);
    const char *vals[] = {group, topic, part, next, nkeys, blob};
    int lens[] = {0, 0, 0, 0, 0, (int)n};
    int fmts[] = {0, 0, 0, 0, 0, 1};
    if (n > INT32_MAX) {
        snprintf(err, errlen, "snapshot of partition %d too large (%zu bytes)", (int)partition, n);
        return -1;
    }
    PGresult *r = core_db_exec_stmt(
        c,
        "INSERT INTO analytics_snapshots AS s (consumer_group, topic, kafka_partition, "
        "next_offset, keys, state) VALUES ($1, $2, $3, $4, $5, $6) "
        "ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE SET "
        "next_offset = EXCLUDED.next_offset, keys = EXCLUDED.keys, state = EXCLUDED.state, "
        "saved_at = now() WHERE EXCLUDED.next_offset >= s.next_offset OR s.kafka_partition = -1",
        6, vals, lens, fmts);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "storing the snapshot of partition %d: %s", (int)partition,
                 PQerrorMessage(c));
        rc = -1;
    }
    PQclear(r);
    return rc;
}

int an_snap_db_read(PGconn *c, const char *group, const char *topic, int32_t partition,
                    int64_t *next_offset, void **blob, size_t *n, char *err, size_t errlen)
{
    char part[16];
    snprintf(part, sizeof part, "%d", (int)partition);
    const char *vals[] = {group, topic, part};
    *blob = NULL;
    *n = 0;
    /* binary results: next_offset as int8 in network order, state as bytes */
    PGresult *r = PQexecParams(c,
                               "SELECT next_offset, state FROM analytics_snapshots WHERE "
                               "consumer_group = $1 AND topic = $2 AND kafka_partition = $3",
                               3, NULL, vals, NULL, NULL, 1);
    int rc = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "reading the snapshot of partition %d: %s", (int)partition,
                 PQerrorMessage(c));
        goto done;
    }
    if (PQntuples(r) == 0) {
        rc = 0;
        goto done;
    }
    uint64_t be;
    if (PQgetlength(r, 0, 0) != (int)sizeof be) {
        snprintf(err, errlen, "reading the snapshot of partition %d: bad offset", (int)partition);
        goto done;
    }
    memcpy(&be, PQgetvalue(r, 0, 0), sizeof be);
    *next_offset = (int64_t)be64toh(be);
    *n = (size_t)PQgetlength(r, 0, 1);
    if (!(*blob = malloc(*n ? *n : 1))) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    memcpy(*blob, PQgetvalue(r, 0, 1), *n);
    rc = 1;
done:
    PQclear(r);
    return rc;
}
