/* The collector's writer thread: takes the sealed batches in order, stores
 * a group of them and their partitions' next offsets in one PostgreSQL
 * transaction (with the fencing of store.c), retries while PostgreSQL
 * fails, and hands the committed events to the sink. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/coll_internal.h"
#include "collector/coll_metrics.h"
#include "collector/store.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"

/* Queues b on its partition's writer; co->mu held. */
static void push_locked(collector *co, coll_batch *b)
{
    atomic_fetch_add(&b->part->pending, 1);
    coll_writer *w = &co->w[b->part->writer];
    b->next = NULL;
    if (w->qtail)
        w->qtail->next = b;
    else
        w->qhead = b;
    w->qtail = b;
    w->qlen++;
    w->qbytes += b->copy.len;
}

void coll_writer_enqueue(collector *co, coll_batch *b)
{
    coll_writer_enqueue_many(co, &b, 1);
}

void coll_writer_enqueue_many(collector *co, coll_batch **bs, size_t n)
{
    pthread_mutex_lock(&co->mu);
    for (size_t i = 0; i < n; i++) {
        push_locked(co, bs[i]);
        atomic_store(&co->w[bs[i]->part->writer].idle, false);
    }
    for (size_t i = 0; i < n; i++)
        pthread_cond_signal(&co->w[bs[i]->part->writer].cv_work);
    pthread_mutex_unlock(&co->mu);
}

int coll_writer_least_loaded(collector *co, int current)
{
    pthread_mutex_lock(&co->mu);
    int best = current;
    size_t load = co->w[current].qbytes + co->w[current].busybytes;
    for (int i = 0; i < co->nwriters; i++) {
        size_t l = co->w[i].qbytes + co->w[i].busybytes;
        if (l < load) { /* strictly less: a tie keeps the partition where it is */
            load = l;
            best = i;
        }
    }
    pthread_mutex_unlock(&co->mu);
    return best;
}

void coll_writer_finish(collector *co, coll_batch *b)
{
    atomic_fetch_sub(&co->inflight, (int64_t)b->bytes);
    core_metric_sub(&coll_m_inflight_bytes, b->bytes);
    coll_part *p = b->part;
    coll_batch_free(b);
    pthread_mutex_lock(&co->mu);
    atomic_fetch_sub(&p->pending, 1);
    pthread_cond_broadcast(&co->cv_done);
    pthread_mutex_unlock(&co->mu);
}

/* The absolute CLOCK_REALTIME time ms from now, for pthread_cond_timedwait. */
struct timespec coll_deadline_in(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Sleeps up to ms, waking early when the writer is told to abort. */
static void writer_sleep(coll_writer *w, int64_t ms)
{
    collector *co = w->co;
    struct timespec ts = coll_deadline_in(ms);
    /* cv_work is also signalled by every coll_writer_enqueue: keep waiting until the
     * deadline, or the backoff would end at the next sealed batch. */
    pthread_mutex_lock(&co->mu);
    while (!co->writer_abort)
        if (pthread_cond_timedwait(&w->cv_work, &co->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&co->mu);
}

static bool writer_aborted(collector *co)
{
    pthread_mutex_lock(&co->mu);
    bool a = co->writer_abort;
    pthread_mutex_unlock(&co->mu);
    return a;
}

static void deliver_stats(collector *co, coll_batch *b)
{
    int64_t now_ms = core_wall_us() / 1000;
    for (size_t i = 0; i < b->n_kts; i++)
        if (b->kts[i] > 0) {
            core_histogram_observe_us(&coll_latency, (now_ms - b->kts[i]) * 1000);
            core_hdr_observe(&coll_latency_hdr, (now_ms - b->kts[i]) * 1000);
        }
    core_metric_add(&coll_m_stored, b->n_rows);
    core_metric_add(&coll_m_rejected, b->n_rej);
    core_metric_add(&coll_m_batches, 1);
    if (b->gap_next > b->gap_first)
        core_metric_add(&coll_m_gap_messages, (uint64_t)(b->gap_next - b->gap_first));
    if (co->sink && b->n_evs) {
        co->sink->deliver(co->sink->ud, b->evs, b->n_evs);
        b->evs = NULL;
        b->n_evs = b->cap_evs = 0;
    }
}

/* Commits a group of batches in one transaction, retrying with capped
 * exponential backoff for as long as PostgreSQL fails, unless the writer is
 * aborted. Fenced batches mark their partition for a re-read. */
static void store_group(coll_writer *w, PGconn **db, coll_batch **bs, size_t n)
{
    collector *co = w->co;
    const core_config *cfg = co->cfg;
    int64_t backoff = cfg->coll_retry_min_ms;
    char err[1024];
    coll_store_rc res[WRITER_GROUP_MAX];
    int64_t stored[WRITER_GROUP_MAX];
    /* Batches of a generation already fenced are dropped unseen. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&bs[i]->part->fenced_gen) == bs[i]->gen) {
            core_metric_add(&coll_m_fenced, 1);
            coll_writer_finish(co, bs[i]);
        } else {
            bs[k++] = bs[i];
        }
    }
    n = k;
    if (!n)
        return;
    for (int attempt = 0;; attempt++) {
        if (!*db) {
            *db = core_db_connect(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, err, sizeof err);
            /* A member frozen inside a batch transaction (SIGSTOP, a paused
             * VM) keeps its offset rows locked and would stall, forever, the
             * member that took its partitions over: PostgreSQL ends such a
             * transaction once it has been idle for a session timeout. */
            char set[96];
            snprintf(set, sizeof set, "SET idle_in_transaction_session_timeout = %" PRId64,
                     cfg->kafka_session_timeout_ms);
            if (*db && core_db_exec(*db, set, err, sizeof err) < 0) {
                PQfinish(*db);
                *db = NULL;
            }
        }
        coll_store_rc rc = COLL_STORE_RETRY;
        int64_t t0 = core_mono_us();
        bool had_conn = *db != NULL;
        if (*db)
            rc = coll_store_batches(*db, cfg->kafka_group, bs, n, res, stored, err, sizeof err);
        if (rc == COLL_STORE_OK) {
            /* Only a writer that met the outage ends it: another one's
             * success says nothing of the server the failing one met. */
            if (w->failing) {
                w->failing = false;
                if (atomic_exchange(&co->db_down, false))
                    core_log(CORE_LOG_INFO, MOD, "postgres available again", "down_ms=%" PRId64,
                             core_mono_ms() - atomic_load(&co->down_since));
            }
            size_t rows = 0;
            for (size_t i = 0; i < n; i++) {
                coll_batch *b = bs[i];
                coll_part *p = b->part;
                if (res[i] == COLL_STORE_OK) {
                    atomic_store(&p->committed, b->next_offset);
                    rows += b->n_rows;
                    deliver_stats(co, b);
                } else if (atomic_load(&p->fenced_gen) != b->gen) {
                    atomic_store(&p->fenced_gen, b->gen);
                    atomic_store(&p->committed, stored[i]);
                    core_metric_add(&coll_m_fenced, 1);
                    core_log(CORE_LOG_WARN, MOD,
                             "batch fenced: partition moved on, re-reading from stored offset",
                             "topic=%s partition=%d expected=%" PRId64 " stored=%" PRId64,
                             p->topic, (int)p->partition, b->expected, stored[i]);
                } else {
                    core_metric_add(&coll_m_fenced, 1);
                }
                coll_writer_finish(co, b);
            }
            core_log(CORE_LOG_DEBUG, MOD, "batches committed",
                     "batches=%zu rows=%zu commit_us=%" PRId64, n, rows, core_mono_us() - t0);
            return;
        }
        core_metric_add(&coll_m_db_errors, 1);
        core_metric_add(&coll_m_batch_retries, 1);
        if (attempt == 0 && had_conn && *db && PQstatus(*db) != CONNECTION_OK && !w->failing) {
            /* A connection that went stale while this writer had nothing to
             * store (the server restarted meanwhile): reconnect and retry at
             * once before calling PostgreSQL unavailable. */
            PQfinish(*db);
            *db = NULL;
            continue;
        }
        w->failing = true;
        if (!atomic_exchange(&co->db_down, true)) {
            atomic_store(&co->down_since, core_mono_ms());
            core_log(CORE_LOG_ERROR, MOD, "postgres unavailable, pausing and retrying",
                     "error=%s", core_log_quote((char[768]){0}, 768, err));
        } else {
            int64_t sup = core_log_limit_check(&coll_db_rl, cfg->log_error_interval_ms);
            if (sup >= 0)
                core_log(CORE_LOG_WARN, MOD, "postgres still unavailable",
                         "error=%s suppressed=%" PRId64 " backoff_ms=%" PRId64,
                         core_log_quote((char[768]){0}, 768, err), sup, backoff);
            else
                core_metric_add(&coll_m_log_suppressed, 1);
        }
        if (*db && PQstatus(*db) != CONNECTION_OK) {
            PQfinish(*db);
            *db = NULL;
        }
        if (writer_aborted(co)) {
            for (size_t i = 0; i < n; i++)
                coll_writer_finish(co, bs[i]);
            return;
        }
        writer_sleep(w, backoff);
        backoff = backoff * 2 > cfg->coll_retry_max_ms ? cfg->coll_retry_max_ms : backoff * 2;
    }
}

void *coll_writer_main(void *arg)
{
    coll_writer *w = arg;
    collector *co = w->co;
    PGconn *db = NULL;
    for (;;) {
        pthread_mutex_lock(&co->mu);
        w->busybytes = 0;
        if (!w->qhead)
            atomic_store(&w->idle, true); /* the consumer seals for it (seal_idle) */
        while (!w->qhead && !co->writer_stop && !co->writer_abort)
            pthread_cond_wait(&w->cv_work, &co->mu);
        atomic_store(&w->idle, false);
        if (co->writer_abort || (!w->qhead && co->writer_stop)) {
            pthread_mutex_unlock(&co->mu);
            break;
        }
        /* Take what is queued, up to a bound: one transaction, one fsync. */
        coll_batch *bs[WRITER_GROUP_MAX];
        size_t n = 0, bytes = 0;
        while (w->qhead && n < WRITER_GROUP_MAX && bytes < WRITER_GROUP_BYTES) {
            coll_batch *b = w->qhead;
            w->qhead = b->next;
            w->qlen--;
            bytes += b->copy.len;
            bs[n++] = b;
        }
        if (!w->qhead)
            w->qtail = NULL;
        w->qbytes -= bytes;
        w->busybytes = bytes;
        pthread_mutex_unlock(&co->mu);
        store_group(w, &db, bs, n);
    }
    /* Whatever is left was not committed: its offsets were not advanced, so
     * the next owner of the partition reads it again. */
    pthread_mutex_lock(&co->mu);
    size_t left = 0;
    while (w->qhead) {
        coll_batch *b = w->qhead;
        w->qhead = b->next;
        left++;
        pthread_mutex_unlock(&co->mu);
        coll_writer_finish(co, b);
        pthread_mutex_lock(&co->mu);
    }
    w->qtail = NULL;
    w->qlen = 0;
    w->qbytes = w->busybytes = 0;
    pthread_mutex_unlock(&co->mu);
    if (left)
        core_log(CORE_LOG_WARN, MOD, "batches left uncommitted; they will be read again",
                 "writer=%d batches=%zu", w->idx, left);
    if (db)
        PQfinish(db);
    return NULL;
}
