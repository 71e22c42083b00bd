/* One batch, one transaction: COPY rows, dead letters, next offset. */
#include "collector/store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

#define COPY_CHUNK (1 << 20)

static bool conn_lost(PGconn *c) { return PQstatus(c) != CONNECTION_OK; }

static void rollback(PGconn *c)
{
    if (!conn_lost(c))
        PQclear(PQexec(c, "ROLLBACK"));
}

int64_t coll_store_read_offset(PGconn *c, const char *group, const char *topic,
                               int32_t partition, char *err, size_t errlen)
{
    char part[16];
    snprintf(part, sizeof part, "%d", (int)partition);
    const char *p[] = {group, topic, part};
    PGresult *r = PQexecParams(c,
                               "SELECT next_offset FROM ingest_offsets WHERE consumer_group = $1"
                               " AND topic = $2 AND kafka_partition = $3",
                               3, NULL, p, NULL, NULL, 0);
    int64_t v = -2;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        core_db_error(c, "reading stored offset", err, errlen);
    else
        v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

/* Locks the partition's offset row (creating it as -1 on first use) and
 * returns its value, or -2 on error. */
static int64_t lock_offset(PGconn *c, const char *const p[3], char *err, size_t errlen)
{
    static const char *sel = "SELECT next_offset FROM ingest_offsets WHERE consumer_group = $1"
                             " AND topic = $2 AND kafka_partition = $3 FOR UPDATE";
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *r = PQexecParams(c, sel, 3, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            core_db_error(c, "locking offset row", err, errlen);
            PQclear(r);
            return -2;
        }
        if (PQntuples(r)) {
            int64_t v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            PQclear(r);
            return v;
        }
        PQclear(r);
        r = PQexecParams(c,
                         "INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition,"
                         " next_offset) VALUES ($1, $2, $3, -1) ON CONFLICT DO NOTHING",
                         3, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            core_db_error(c, "creating offset row", err, errlen);
            PQclear(r);
            return -2;
        }
        PQclear(r);
    }
    snprintf(err, errlen, "offset row vanished while locking it");
    return -2;
}

/* Sends rows[0..len) through COPY. Returns 0, or -1 with err. */
static int copy_rows(PGconn *c, const char *rows, size_t len, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, "COPY interactions (" COLL_COPY_COLUMNS ") FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        core_db_error(c, "starting COPY", err, errlen);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int ok = 1;
    for (size_t off = 0; off < len && ok; off += COPY_CHUNK) {
        size_t n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
        if (PQputCopyData(c, rows + off, (int)n) != 1)
            ok = 0;
    }
    if (PQputCopyEnd(c, ok ? NULL : "custos: sending rows failed") != 1)
        ok = 0;
    int rc = 0;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0) {
            core_db_error(c, "COPY into interactions", err, errlen);
            rc = -1;
        }
        PQclear(r);
    }
    if (!ok && rc == 0) {
        core_db_error(c, "COPY into interactions", err, errlen);
        rc = -1;
    }
    return rc;
}

static int insert_rejected(PGconn *c, const char *group, const char *topic, const char *part,
                           int64_t offset, int64_t kts_ms, const char *reason, const void *raw,
                           size_t raw_len, size_t raw_size, const void *key, size_t key_len,
                           char *err, size_t errlen)
{
    char off[24], kts[24], size[24];
    snprintf(off, sizeof off, "%" PRId64, offset);
    snprintf(kts, sizeof kts, "%.3f", (double)kts_ms / 1000.0);
    snprintf(size, sizeof size, "%zu", raw_size);
    const char *vals[] = {group, topic, part, off, kts_ms >= 0 ? kts : NULL,
                          key,   reason, raw, size, raw_len < raw_size ? "t" : "f"};
    int lens[] = {0, 0, 0, 0, 0, (int)key_len, 0, (int)raw_len, 0, 0};
    int fmts[] = {0, 0, 0, 0, 0, 1, 0, 1, 0, 0};
    if (!key || !key_len)
        vals[5] = NULL;
    PGresult *r = PQexecParams(
        c,
        "INSERT INTO rejected_events (consumer_group, topic, kafka_partition, kafka_offset,"
        " kafka_ts, kafka_key, reason, raw, raw_size, raw_truncated)"
        " VALUES ($1, $2, $3, $4, to_timestamp($5::double precision), $6, $7, $8, $9, $10)"
        " ON CONFLICT DO NOTHING",
        10, NULL, vals, lens, fmts, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        core_db_error(c, "inserting dead letter", err, errlen);
        rc = -1;
    }
    PQclear(r);
    return rc;
}

/* The 24th tab-separated field of a COPY row is kafka_offset. */
static int64_t row_offset(const char *row, size_t len)
{
    int field = 0;
    for (size_t i = 0; i < len; i++)
        if (row[i] == '\t' && ++field == 23)
            return strtoll(row + i + 1, NULL, 10);
    return -1;
}

/* Fallback when PostgreSQL refused the batch's COPY although the connection
 * is fine: each row under a savepoint; refused rows become dead letters. */
static int copy_row_by_row(PGconn *c, const char *group, const char *topic, const char *part,
                           const coll_buf *rows, size_t *refused, char *err, size_t errlen)
{
    size_t start = 0;
    *refused = 0;
    while (start < rows->len) {
        const char *nl = memchr(rows->data + start, '\n', rows->len - start);
        size_t end = nl ? (size_t)(nl - rows->data) + 1 : rows->len;
        if (core_db_exec(c, "SAVEPOINT custos_row", err, errlen) < 0)
            return -1;
        char why[512];
        if (copy_rows(c, rows->data + start, end - start, why, sizeof why) < 0) {
            if (conn_lost(c) || core_db_exec(c, "ROLLBACK TO SAVEPOINT custos_row", err, errlen) < 0)
                return -1;
            char reason[640];
            snprintf(reason, sizeof reason, "PostgreSQL refused the row: %s", why);
            if (insert_rejected(c, group, topic, part, row_offset(rows->data + start, end - start),
                                -1, reason, rows->data + start, end - start, end - start, NULL,
                                0, err, errlen) < 0)
                return -1;
            (*refused)++;
        } else if (core_db_exec(c, "RELEASE SAVEPOINT custos_row", err, errlen) < 0) {
            return -1;
        }
        start = end;
    }
    return 0;
}

coll_store_rc coll_store_batch(PGconn *c, const char *group, coll_batch *b, const char *topic,
                               int32_t partition, int64_t *stored, char *err, size_t errlen)
{
    char part[16], next[24];
    snprintf(part, sizeof part, "%d", (int)partition);
    snprintf(next, sizeof next, "%" PRId64, b->next_offset);
    const char *key[] = {group, topic, part};

    for (int pass = 0; pass < 2; pass++) {
        bool by_row = pass == 1;
        if (core_db_exec(c, "BEGIN", err, errlen) < 0)
            return COLL_STORE_RETRY;
        int64_t cur = lock_offset(c, key, err, errlen);
        if (cur == -2)
            goto retry;
        if (cur != b->expected && cur == b->next_offset) {
            /* A COMMIT whose answer was lost did go through: already stored. */
            rollback(c);
            return COLL_STORE_OK;
        }
        if (cur != b->expected) {
            *stored = cur;
            rollback(c);
            return COLL_STORE_FENCED;
        }
        if (b->copy.len) {
            if (!by_row) {
                if (copy_rows(c, b->copy.data, b->copy.len, err, errlen) < 0) {
                    if (conn_lost(c))
                        goto retry;
                    /* Bad data despite validation: redo this batch row by row. */
                    core_log(CORE_LOG_WARN, "collector", "COPY refused, storing row by row",
                             "topic=%s partition=%s error=%s", topic, part,
                             core_log_quote((char[512]){0}, 512, err));
                    rollback(c);
                    continue;
                }
            } else {
                size_t refused;
                if (copy_row_by_row(c, group, topic, part, &b->copy, &refused, err, errlen) < 0)
                    goto retry;
                b->n_rows -= refused;
            }
        }
        for (size_t i = 0; i < b->n_rej; i++) {
            const coll_rejected *r = &b->rej[i];
            if (insert_rejected(c, group, topic, part, r->offset, r->kafka_ts_ms, r->reason,
                                r->raw, r->raw_len, r->raw_size, r->key, r->key_len, err,
                                errlen) < 0)
                goto retry;
        }
        const char *up[] = {group, topic, part, next};
        PGresult *res = PQexecParams(c,
                                     "UPDATE ingest_offsets SET next_offset = $4, updated_at = now()"
                                     " WHERE consumer_group = $1 AND topic = $2"
                                     " AND kafka_partition = $3",
                                     4, NULL, up, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            core_db_error(c, "advancing offset", err, errlen);
            PQclear(res);
            goto retry;
        }
        PQclear(res);
        if (core_db_exec(c, "COMMIT", err, errlen) < 0)
            goto retry;
        return COLL_STORE_OK;
    }
    snprintf(err, errlen, "batch refused twice");
retry:
    rollback(c);
    return COLL_STORE_RETRY;
}
