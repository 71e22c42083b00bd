/* One batch, one transaction: COPY rows, dead letters, next offset. */
#include "collector/store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/coll_stages.h"
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

/* Reads the partition's stored offset outside any transaction, creating the
 * row as -1 on first use. No lock is taken: the conditional UPDATE at commit
 * time re-checks the value, so a member frozen mid-transaction holds no row
 * lock that would stall the member taking its partitions over. Returns the
 * offset (-1: nothing stored yet) or -2 on error. */
static int64_t read_offset(PGconn *c, const char *const p[3], char *err, size_t errlen)
{
    int32_t part = (int32_t)strtol(p[2], NULL, 10);
    int64_t v = coll_store_read_offset(c, p[0], p[1], part, err, errlen);
    if (v != -1)
        return v;
    PGresult *r = PQexecParams(c,
                               "INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition,"
                               " next_offset) VALUES ($1, $2, $3, -1) ON CONFLICT DO NOTHING",
                               3, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        core_db_error(c, "creating offset row", err, errlen);
        PQclear(r);
        return -2;
    }
    PQclear(r);
    return coll_store_read_offset(c, p[0], p[1], part, err, errlen);
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

/* Records that [first, next) of the partition was gone from the broker, in
 * the transaction of the batch that starts at next. Idempotent (a batch
 * stored twice over a lost COMMIT answer records it once). */
static int insert_gap(PGconn *c, const char *group, const char *topic, const char *part,
                      int64_t first, int64_t next, char *err, size_t errlen)
{
    char f[24], nx[24];
    snprintf(f, sizeof f, "%" PRId64, first);
    snprintf(nx, sizeof nx, "%" PRId64, next);
    const char *vals[] = {group, topic, part, f, nx};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO ingest_gaps (consumer_group, topic, kafka_partition,"
                               " first_missing, next_present) VALUES ($1, $2, $3, $4, $5)"
                               " ON CONFLICT DO NOTHING",
                               5, NULL, vals, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        core_db_error(c, "recording an offset gap", err, errlen);
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
 * is fine: each row under a savepoint; refused rows become dead letters at
 * their message's offset. Rows the batch took from messages have their
 * coordinates in b->at (an event of a message that held several is named by
 * its index in the reason); rows added otherwise (tests) are located by
 * their kafka_offset column. rejected_events keeps one dead letter per
 * offset: of two refused events of one message only the first is kept,
 * until its key holds the index. */
static int copy_row_by_row(PGconn *c, const char *group, const char *part, const coll_batch *b,
                           size_t *refused, char *err, size_t errlen)
{
    const coll_buf *rows = &b->copy;
    size_t start = 0;
    *refused = 0;
    for (size_t r = 0; start < rows->len; r++) {
        const char *nl = memchr(rows->data + start, '\n', rows->len - start);
        size_t end = nl ? (size_t)(nl - rows->data) + 1 : rows->len;
        if (core_db_exec(c, "SAVEPOINT custos_row", err, errlen) < 0)
            return -1;
        char why[512];
        if (copy_rows(c, rows->data + start, end - start, why, sizeof why) < 0) {
            if (conn_lost(c) || core_db_exec(c, "ROLLBACK TO SAVEPOINT custos_row", err, errlen) < 0)
                return -1;
            const coll_event_at *at = r < b->n_at ? &b->at[r] : NULL;
            char reason[640];
            if (at && at->count > 1)
                snprintf(reason, sizeof reason, "PostgreSQL refused the row of event %u: %s",
                         (unsigned)at->index, why);
            else
                snprintf(reason, sizeof reason, "PostgreSQL refused the row: %s", why);
            int64_t offset = at ? at->offset : row_offset(rows->data + start, end - start);
            if (insert_rejected(c, group, b->part_topic, part, offset, -1, reason,
                                rows->data + start, end - start, end - start, NULL, 0, err,
                                errlen) < 0)
                return -1;
            (*refused)++;
        } else if (core_db_exec(c, "RELEASE SAVEPOINT custos_row", err, errlen) < 0) {
            return -1;
        }
        start = end;
    }
    return 0;
}

/* Orders batches by partition, keeping queue order within one partition, so
 * that offset rows are locked in one global order (no deadlock between
 * collectors) and each partition's batches chain. */
static int cmp_batch(const void *a, const void *b)
{
    const coll_batch *x = *(coll_batch *const *)a, *y = *(coll_batch *const *)b;
    int c = strcmp(x->part_topic, y->part_topic);
    if (c)
        return c;
    if (x->part_partition != y->part_partition)
        return x->part_partition < y->part_partition ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Advances the partition from `from` to `next`, only if it still holds
 * `from`. Returns 0, 1 when another member moved it meanwhile (the caller
 * re-reads and fences again), or -1 with err. */
static int update_offset(PGconn *c, const char *group, const char *topic, int32_t partition,
                         int64_t from, int64_t next, char *err, size_t errlen)
{
    char part[16], off[24], was[24];
    snprintf(part, sizeof part, "%d", (int)partition);
    snprintf(off, sizeof off, "%" PRId64, next);
    snprintf(was, sizeof was, "%" PRId64, from);
    const char *up[] = {group, topic, part, off, was};
    PGresult *r = PQexecParams(c,
                               "UPDATE ingest_offsets SET next_offset = $4, updated_at = now()"
                               " WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3"
                               " AND next_offset = $5",
                               5, NULL, up, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        core_db_error(c, "advancing offset", err, errlen);
        rc = -1;
    } else if (strcmp(PQcmdTuples(r), "1") != 0) {
        rc = 1;
    }
    PQclear(r);
    return rc;
}

/* Fences each partition's chain of batches (bs is ordered by partition) on
 * the offset the database holds: res[j] and stored[j] for each batch, and
 * for the first of each chain adv (where the partition ends up, -1 when it
 * does not move) and ini (the offset read). Returns 0, or -1 with err. */
static int fence_chains(PGconn *c, const char *group, coll_batch **bs, size_t n,
                        coll_store_rc *res, int64_t *stored, int64_t *adv, int64_t *ini,
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < n;) {
        coll_batch *b = bs[i];
        char part[16];
        snprintf(part, sizeof part, "%d", (int)b->part_partition);
        const char *key[] = {group, b->part_topic, part};
        int64_t cur = read_offset(c, key, err, errlen);
        if (cur == -2)
            return -1;
        int64_t initial = cur;
        size_t j = i;
        bool broken = false;
        for (; j < n && bs[j]->part_partition == b->part_partition &&
               strcmp(bs[j]->part_topic, b->part_topic) == 0;
             j++) {
            coll_batch *x = bs[j];
            stored[j] = cur;
            if (!broken && cur == x->expected) {
                res[j] = COLL_STORE_OK;
                cur = x->next_offset;
            } else if (!broken && cur == x->next_offset) {
                /* A COMMIT whose answer was lost did go through: stored. */
                res[j] = COLL_STORE_OK;
                x->n_rows = 0;
                x->n_rej = 0;
                x->copy.len = 0;
                x->gap_first = x->gap_next = 0; /* recorded with it */
            } else {
                res[j] = COLL_STORE_FENCED;
                broken = true;
            }
            adv[j] = -1;
        }
        /* adv[first of the chain] = where the partition ends up, if it moved */
        adv[i] = cur != initial ? cur : -1;
        ini[i] = initial;
        i = j;
    }
    return 0;
}

/* One pass: read offsets, fence, then in one transaction COPY (whole or row
 * by row), dead letters, conditional offset updates, COMMIT. Returns 0
 * committed, 1 when the COPY was refused on data (redo by row), 2 when
 * another member moved a partition meanwhile (read and fence again), -1 to
 * retry later. */
static int store_pass(PGconn *c, const char *group, coll_batch **bs, size_t n, coll_store_rc *res,
                      int64_t *stored, int64_t *adv, int64_t *ini, bool by_row, char *err,
                      size_t errlen)
{
    int64_t t = core_mono_us(), t1;
    if (fence_chains(c, group, bs, n, res, stored, adv, ini, err, errlen) < 0)
        return -1;
    t1 = core_mono_us();
    coll_stage_add(COLL_ST_FENCE, t1 - t);
    t = t1;
    if (core_db_exec(c, "BEGIN", err, errlen) < 0)
        return -1;
    t1 = core_mono_us();
    coll_stage_add(COLL_ST_BEGIN, t1 - t);
    t = t1;
    bool any_rows = false;
    for (size_t i = 0; i < n; i++)
        if (res[i] == COLL_STORE_OK && bs[i]->copy.len)
            any_rows = true;
    if (any_rows && !by_row) {
        PGresult *r = PQexec(c, "COPY interactions (" COLL_COPY_COLUMNS ") FROM STDIN");
        if (PQresultStatus(r) != PGRES_COPY_IN) {
            core_db_error(c, "starting COPY", err, errlen);
            PQclear(r);
            goto retry;
        }
        PQclear(r);
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) {
            if (res[i] != COLL_STORE_OK)
                continue;
            const coll_buf *cb = &bs[i]->copy;
            for (size_t off = 0; off < cb->len && ok; off += COPY_CHUNK) {
                size_t len = cb->len - off < COPY_CHUNK ? cb->len - off : COPY_CHUNK;
                if (PQputCopyData(c, cb->data + off, (int)len) != 1)
                    ok = 0;
            }
        }
        if (PQputCopyEnd(c, ok ? NULL : "custos: sending rows failed") != 1)
            ok = 0;
        t1 = core_mono_us();
        coll_stage_add(COLL_ST_COPY_SEND, t1 - t);
        t = t1;
        int bad = !ok;
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK && !bad) {
                core_db_error(c, "COPY into interactions", err, errlen);
                bad = 1;
            }
            PQclear(r);
        }
        if (bad) {
            if (conn_lost(c))
                goto retry;
            core_log(CORE_LOG_WARN, "collector", "COPY refused, storing row by row", "error=%s",
                     core_log_quote((char[512]){0}, 512, err));
            rollback(c);
            return 1;
        }
    } else if (any_rows) {
        for (size_t i = 0; i < n; i++) {
            if (res[i] != COLL_STORE_OK || !bs[i]->copy.len)
                continue;
            char part[16];
            size_t refused;
            snprintf(part, sizeof part, "%d", (int)bs[i]->part_partition);
            if (copy_row_by_row(c, group, part, bs[i], &refused, err, errlen) < 0)
                goto retry;
            bs[i]->n_rows -= refused;
        }
    }
    t1 = core_mono_us();
    coll_stage_add(COLL_ST_COPY_EXEC, t1 - t);
    t = t1;
    for (size_t i = 0; i < n; i++) {
        if (res[i] != COLL_STORE_OK)
            continue;
        char part[16];
        snprintf(part, sizeof part, "%d", (int)bs[i]->part_partition);
        for (size_t k = 0; k < bs[i]->n_rej; k++) {
            const coll_rejected *r = &bs[i]->rej[k];
            if (insert_rejected(c, group, bs[i]->part_topic, part, r->offset, r->kafka_ts_ms,
                                r->reason, r->raw, r->raw_len, r->raw_size, r->key, r->key_len,
                                err, errlen) < 0)
                goto retry;
        }
        if (bs[i]->gap_next > bs[i]->gap_first &&
            insert_gap(c, group, bs[i]->part_topic, part, bs[i]->gap_first, bs[i]->gap_next, err,
                       errlen) < 0)
            goto retry;
    }
    t1 = core_mono_us();
    coll_stage_add(COLL_ST_DEAD, t1 - t);
    t = t1;
    /* Advance each partition whose chain moved. */
    for (size_t i = 0; i < n; i++) {
        if (adv[i] < 0)
            continue;
        int u = update_offset(c, group, bs[i]->part_topic, bs[i]->part_partition, ini[i], adv[i],
                              err, errlen);
        if (u < 0)
            goto retry;
        if (u > 0) {
            rollback(c);
            return 2;
        }
    }
    t1 = core_mono_us();
    coll_stage_add(COLL_ST_OFFSETS, t1 - t);
    t = t1;
    if (core_db_exec(c, "COMMIT", err, errlen) < 0)
        goto retry;
    coll_stage_add(COLL_ST_COMMIT, core_mono_us() - t);
    core_metric_add(&coll_m_transactions, 1);
    return 0;
retry:
    rollback(c);
    return -1;
}

coll_store_rc coll_store_batches(PGconn *c, const char *group, coll_batch **bs, size_t n,
                                 coll_store_rc *res, int64_t *stored, char *err, size_t errlen)
{
    int64_t *adv = malloc(2 * n * sizeof *adv);
    coll_store_rc rc = COLL_STORE_RETRY;
    if (!adv) {
        snprintf(err, errlen, "out of memory");
        return COLL_STORE_RETRY;
    }
    qsort(bs, n, sizeof *bs, cmp_batch);
    snprintf(err, errlen, "batches could not be stored after several passes");
    bool by_row = false;
    for (int pass = 0; pass < 4; pass++) {
        int r = store_pass(c, group, bs, n, res, stored, adv, adv + n, by_row, err, errlen);
        if (r == 0)
            rc = COLL_STORE_OK;
        if (r <= 0)
            break;
        if (r == 1)
            by_row = true;
        /* r == 2: raced with another member: read the offsets and fence again */
    }
    free(adv);
    return rc;
}
