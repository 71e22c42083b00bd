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
    PGresult *r = core_db_exec_stmt(c,
                               "SELECT next_offset FROM ingest_offsets WHERE consumer_group = $1"
                               " AND topic = $2 AND kafka_partition = $3",
                               3, p, NULL, NULL);
    int64_t v = -2;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        core_db_error(c, "reading stored offset", err, errlen);
    else
        v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    return v;
}

/* The first of each chain of bs (ordered by partition): chain[k] is the
 * index in bs of chain k's first batch. Returns the number of chains. */
static size_t chain_starts(coll_batch **bs, size_t n, size_t *chain)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || bs[i]->part_partition != bs[i - 1]->part_partition ||
            strcmp(bs[i]->part_topic, bs[i - 1]->part_topic) != 0)
            chain[k++] = i;
    return k;
}

/* Reads the stored offset of every chain's partition in one query, outside
 * any transaction, creating missing rows as -1 on first use: cur[k] for
 * chain k (-1: nothing stored yet). No lock is taken: the conditional UPDATE
 * at commit time re-checks the values, so a member frozen mid-transaction
 * holds no row lock that would stall the member taking its partitions over.
 * Returns 0, or -1 with err. */
static int read_offsets(PGconn *c, const char *group, coll_batch **bs, const size_t *chain,
                        size_t k, int64_t *cur, char *err, size_t errlen)
{
    core_db_array topics = {0}, parts = {0};
    int rc = -1;
    for (size_t ci = 0; ci < k; ci++) {
        core_db_array_add(&topics, bs[chain[ci]]->part_topic);
        core_db_array_add_i64(&parts, bs[chain[ci]]->part_partition);
    }
    const char *p[] = {group, core_db_array_text(&topics), core_db_array_text(&parts)};
    if (!p[1] || !p[2]) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    for (int round = 0; round < 2; round++) {
        PGresult *r = core_db_exec_stmt(
            c,
            "SELECT v.i, o.next_offset FROM unnest($2::text[], $3::int[]) WITH ORDINALITY"
            " AS v(topic, part, i) LEFT JOIN ingest_offsets o ON o.consumer_group = $1"
            " AND o.topic = v.topic AND o.kafka_partition = v.part",
            3, p, NULL, NULL);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || (size_t)PQntuples(r) != k) {
            core_db_error(c, "reading stored offsets", err, errlen);
            PQclear(r);
            goto done;
        }
        bool missing = false;
        for (int t = 0; t < PQntuples(r); t++) {
            long long i = strtoll(PQgetvalue(r, t, 0), NULL, 10);
            if (i < 1 || (size_t)i > k)
                continue;
            if (PQgetisnull(r, t, 1))
                missing = true;
            else
                cur[i - 1] = strtoll(PQgetvalue(r, t, 1), NULL, 10);
        }
        PQclear(r);
        if (!missing) {
            rc = 0;
            goto done;
        }
        if (round == 1)
            break;
        r = core_db_exec_stmt(c,
                         "INSERT INTO ingest_offsets (consumer_group, topic, kafka_partition,"
                         " next_offset) SELECT $1, topic, part, -1 FROM unnest($2::text[],"
                         " $3::int[]) AS v(topic, part) ON CONFLICT DO NOTHING",
                         3, p, NULL, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            core_db_error(c, "creating offset rows", err, errlen);
            PQclear(r);
            goto done;
        }
        PQclear(r);
    }
    snprintf(err, errlen, "offset rows missing after creating them");
done:
    core_db_array_free(&topics);
    core_db_array_free(&parts);
    return rc;
}

#define COPY_TEXT_SQL "COPY interactions (" COLL_COPY_COLUMNS ") FROM STDIN"
#define COPY_BIN_SQL COPY_TEXT_SQL " (FORMAT binary)"

/* Starts COPY in the batch format (binary: with its header sent). Returns
 * 0; -1 with err when COPY did not start; -2 when the header could not be
 * sent (COPY is on: the caller ends it, failed, and its error says why). */
static int copy_start(PGconn *c, bool binary, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, binary ? COPY_BIN_SQL : COPY_TEXT_SQL);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        core_db_error(c, "starting COPY", err, errlen);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    if (binary && PQputCopyData(c, coll_copy_bin_header(), COLL_COPY_BIN_HEADER_LEN) != 1)
        return -2; /* the caller ends the COPY (its error says why) */
    return 0;
}

/* Sends data[0..len) in chunks; 0 when a send failed. */
static int copy_send(PGconn *c, const char *data, size_t len)
{
    for (size_t off = 0; off < len; off += COPY_CHUNK) {
        size_t n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
        if (PQputCopyData(c, data + off, (int)n) != 1)
            return 0;
    }
    return 1;
}

/* Ends a COPY (binary: trailer first) and reads its result. Returns 0, or
 * -1 with err. */
static int copy_end(PGconn *c, bool binary, int ok, char *err, size_t errlen)
{
    if (ok && binary && PQputCopyData(c, coll_copy_bin_trailer(), COLL_COPY_BIN_TRAILER_LEN) != 1)
        ok = 0;
    if (PQputCopyEnd(c, ok ? NULL : "custos: sending rows failed") != 1)
        ok = 0;
    int rc = 0;
    PGresult *r;
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

/* Sends rows[0..len) (text rows, or binary tuples) through one COPY.
 * Returns 0, or -1 with err. */
static int copy_rows(PGconn *c, bool binary, const char *rows, size_t len, char *err,
                     size_t errlen)
{
    int s = copy_start(c, binary, err, errlen);
    if (s == -1)
        return -1;
    return copy_end(c, binary, s == 0 && copy_send(c, rows, len), err, errlen);
}

static int insert_rejected(PGconn *c, const char *group, const char *topic, const char *part,
                           int64_t offset, int32_t index, int64_t kts_ms, const char *reason,
                           const void *raw, size_t raw_len, size_t raw_size, const void *key,
                           size_t key_len, char *err, size_t errlen)
{
    char off[24], kts[24], size[24], idx[16];
    snprintf(off, sizeof off, "%" PRId64, offset);
    snprintf(idx, sizeof idx, "%d", (int)index);
    snprintf(kts, sizeof kts, "%.3f", (double)kts_ms / 1000.0);
    snprintf(size, sizeof size, "%zu", raw_size);
    const char *vals[] = {group, topic, part, off, kts_ms >= 0 ? kts : NULL,
                          key,   reason, raw, size, raw_len < raw_size ? "t" : "f", idx};
    int lens[] = {0, 0, 0, 0, 0, (int)key_len, 0, (int)raw_len, 0, 0, 0};
    int fmts[] = {0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0};
    if (!key || !key_len)
        vals[5] = NULL;
    PGresult *r = core_db_exec_stmt(
        c,
        "INSERT INTO rejected_events (consumer_group, topic, kafka_partition, kafka_offset,"
        " kafka_ts, kafka_key, reason, raw, raw_size, raw_truncated, event_index)"
        " VALUES ($1, $2, $3, $4, to_timestamp($5::double precision), $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT DO NOTHING",
        11, vals, lens, fmts);
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
    return core_db_exec_params(c,
                               "INSERT INTO ingest_gaps (consumer_group, topic, kafka_partition,"
                               " first_missing, next_present) VALUES ($1, $2, $3, $4, $5)"
                               " ON CONFLICT DO NOTHING",
                               5, vals, "recording an offset gap", err, errlen) < 0
               ? -1
               : 0;
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
 * their kafka_offset column. A dead letter's key is its offset and the
 * event's index (-1 for a message of one event). */
static int copy_row_by_row(PGconn *c, const char *group, const char *part, const coll_batch *b,
                           size_t *refused, char *err, size_t errlen)
{
    const coll_buf *rows = &b->copy;
    size_t start = 0;
    coll_buf text = {0};
    int rc = -1;
    *refused = 0;
    for (size_t r = 0; start < rows->len; r++) {
        size_t end;
        if (b->binary) { /* binary tuples are delimited by their coordinates */
            if (r >= b->n_at || b->at[r].end <= start || b->at[r].end > rows->len) {
                snprintf(err, errlen, "binary COPY rows without their bounds");
                goto done;
            }
            end = b->at[r].end;
        } else {
            const char *nl = memchr(rows->data + start, '\n', rows->len - start);
            end = nl ? (size_t)(nl - rows->data) + 1 : rows->len;
        }
        if (core_db_exec(c, "SAVEPOINT custos_row", err, errlen) < 0)
            goto done;
        char why[512];
        if (copy_rows(c, b->binary, rows->data + start, end - start, why, sizeof why) < 0) {
            if (conn_lost(c) || core_db_exec(c, "ROLLBACK TO SAVEPOINT custos_row", err, errlen) < 0)
                goto done;
            const coll_event_at *at = r < b->n_at ? &b->at[r] : NULL;
            char reason[640];
            if (at && at->count > 1)
                snprintf(reason, sizeof reason, "PostgreSQL refused the row of event %u: %s",
                         (unsigned)at->index, why);
            else
                snprintf(reason, sizeof reason, "PostgreSQL refused the row: %s", why);
            /* the dead letter keeps the row as COPY text, whatever was sent */
            const char *raw = rows->data + start;
            size_t raw_len = end - start;
            text.len = 0;
            if (b->binary && coll_copy_bin_to_text(raw, raw_len, &text) == 0) {
                raw = text.data;
                raw_len = text.len;
            }
            int64_t offset = at ? at->offset : row_offset(raw, raw_len);
            int32_t index = at && at->count > 1 ? (int32_t)at->index : -1;
            if (insert_rejected(c, group, b->part_topic, part, offset, index, -1, reason, raw,
                                raw_len, raw_len, NULL, 0, err, errlen) < 0)
                goto done;
            (*refused)++;
        } else if (core_db_exec(c, "RELEASE SAVEPOINT custos_row", err, errlen) < 0) {
            goto done;
        }
        start = end;
    }
    rc = 0;
done:
    coll_buf_free(&text);
    return rc;
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

/* Reads what a pipeline left, up to its sync point, so that the
 * connection can leave pipeline mode. */
static void pipeline_drain(PGconn *c)
{
    for (int nulls = 0; nulls < 2 && !conn_lost(c);) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            nulls++;
            continue;
        }
        nulls = 0;
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC)
            break;
    }
    PQexitPipelineMode(c);
}

/* Advances each partition whose chain moved (adv[i] >= 0 for the first batch
 * i of the chain; ini[i] the offset read) from ini[i] to adv[i], only if it
 * still holds ini[i]: one UPDATE per partition, in the chains' global order
 * (so collectors lock the rows in one order and cannot deadlock), sent as
 * one pipeline (one round trip). Returns 0, 1 when another member moved a
 * partition meanwhile (the caller rolls back, re-reads and fences again),
 * or -1 with err. */
static int update_offsets(PGconn *c, const char *group, coll_batch **bs, size_t n,
                          const int64_t *adv, const int64_t *ini, char *err, size_t errlen)
{
    if (PQenterPipelineMode(c) != 1) {
        core_db_error(c, "advancing offsets (pipeline)", err, errlen);
        return -1;
    }
    int rc = 0;
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (adv[i] < 0)
            continue;
        char part[16], off[24], was[24];
        snprintf(part, sizeof part, "%d", (int)bs[i]->part_partition);
        snprintf(off, sizeof off, "%" PRId64, adv[i]);
        snprintf(was, sizeof was, "%" PRId64, ini[i]);
        const char *up[] = {group, bs[i]->part_topic, part, off, was};
        if (PQsendQueryParams(c,
                              "UPDATE ingest_offsets SET next_offset = $4, updated_at = now()"
                              " WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3"
                              " AND next_offset = $5",
                              5, NULL, up, NULL, NULL, 0) != 1) {
            core_db_error(c, "advancing offset", err, errlen);
            rc = -1;
            break;
        }
        sent++;
    }
    if (PQpipelineSync(c) != 1) {
        core_db_error(c, "advancing offsets (sync)", err, errlen);
        rc = -1;
    }
    for (size_t q = 0; q < sent && rc >= 0; q++) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            core_db_error(c, "advancing offset", err, errlen);
            rc = -1;
            break;
        }
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            core_db_error(c, "advancing offset", err, errlen);
            rc = -1;
        } else if (strcmp(PQcmdTuples(r), "1") != 0) {
            rc = 1; /* read the rest: the caller rolls back */
        }
        PQclear(r);
        if (rc >= 0 && (r = PQgetResult(c)) != NULL) { /* each query's end */
            PQclear(r);
            snprintf(err, errlen, "advancing offsets: unexpected result");
            rc = -1;
        }
    }
    pipeline_drain(c);
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF && rc == 0) {
        snprintf(err, errlen, "advancing offsets: pipeline not closed");
        rc = -1;
    }
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
    size_t *chain = malloc(n * sizeof *chain);
    int64_t *cur_of = malloc(n * sizeof *cur_of);
    int rc = -1;
    if (!chain || !cur_of) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    size_t k = chain_starts(bs, n, chain);
    if (read_offsets(c, group, bs, chain, k, cur_of, err, errlen) < 0)
        goto done;
    for (size_t ci = 0; ci < k; ci++) {
        size_t i = chain[ci], end = ci + 1 < k ? chain[ci + 1] : n;
        int64_t cur = cur_of[ci];
        int64_t initial = cur;
        bool broken = false;
        for (size_t j = i; j < end; j++) {
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
    }
    rc = 0;
done:
    free(chain);
    free(cur_of);
    return rc;
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
    /* one COPY per format the batches hold (one, unless the setting changed
     * between them) */
    for (int fmt = 0; fmt < 2 && any_rows && !by_row; fmt++) {
        bool binary = fmt == 1, any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = res[i] == COLL_STORE_OK && bs[i]->copy.len && bs[i]->binary == binary;
        if (!any)
            continue;
        int s = copy_start(c, binary, err, errlen);
        if (s == -1)
            goto retry;
        int ok = s == 0;
        for (size_t i = 0; i < n && ok; i++)
            if (res[i] == COLL_STORE_OK && bs[i]->binary == binary)
                ok = copy_send(c, bs[i]->copy.data, bs[i]->copy.len);
        t1 = core_mono_us();
        coll_stage_add(COLL_ST_COPY_SEND, t1 - t);
        t = t1;
        if (copy_end(c, binary, ok, err, errlen) < 0) {
            if (conn_lost(c))
                goto retry;
            core_log(CORE_LOG_WARN, "collector", "COPY refused, storing row by row", "error=%s",
                     core_log_quote((char[512]){0}, 512, err));
            rollback(c);
            return 1;
        }
    }
    if (any_rows && by_row) {
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
            if (insert_rejected(c, group, bs[i]->part_topic, part, r->offset, r->index,
                                r->kafka_ts_ms,
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
    /* Advance each partition whose chain moved: one round trip. */
    {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = adv[i] >= 0;
        int u = any ? update_offsets(c, group, bs, n, adv, ini, err, errlen) : 0;
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
