/* The collector: a librdkafka consumer group feeding per-partition batches
 * to a writer thread that stores each batch and its next offset in one
 * PostgreSQL transaction.
 *
 * Exactly once: offsets live only in PostgreSQL (enable.auto.commit=false,
 * nothing committed to Kafka). On assignment each partition starts at the
 * offset stored there. Each batch carries the offset PostgreSQL must hold
 * before it ("expected"); the writer locks the offset row and drops the
 * batch if it differs (another member, or a zombie of ours, moved it), so
 * no interleaving of crashes, restarts and rebalances can store a message
 * twice or skip one. */
#include "collector/collector.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/batch.h"
#include "collector/store.h"
#include "core/cli.h"
#include "core/db.h"
#include "core/log.h"
#include "collector/coll_metrics.h"
#include "collector/coll_stages.h"

#include "collector/coll_internal.h"
#include "collector/redact_event.h"

static core_log_limit g_kafka_rl;
core_log_limit coll_db_rl;

/* ---- partitions ------------------------------------------------------ */

static coll_part *part_get(collector *co, const char *topic, int32_t partition, bool create)
{
    for (coll_part *p = co->parts; p; p = p->next)
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    if (!create)
        return NULL;
    coll_part *p = calloc(1, sizeof *p);
    if (!p || !(p->topic = strdup(topic))) {
        free(p);
        return NULL;
    }
    p->partition = partition;
    /* the same writer for good: a partition's batches are stored in order */
    uint32_t h = 2166136261u;
    for (const char *c = topic; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    p->writer = (int)((h + (uint32_t)partition) % (uint32_t)co->nwriters);
    p->next_expected = -1;
    p->read_pos = -1;
    atomic_store(&p->committed, -1);
    p->next = co->parts;
    co->parts = p;
    return p;
}

/* ---- batching -------------------------------------------------------- */

/* Takes p's open batch for its writer: the partition's writer, or, when none
 * of its batches is pending (so order cannot suffer), the least loaded one. */
static coll_batch *seal_take(collector *co, coll_part *p)
{
    coll_batch *b = p->open;
    if (!b)
        return NULL;
    p->open = NULL;
    p->next_expected = b->next_offset;
    b->part_topic = p->topic;
    b->part_partition = p->partition;
    b->seq = ++co->seal_seq;
    if (co->nwriters > 1 && atomic_load(&p->pending) == 0)
        p->writer = coll_writer_least_loaded(co, p->writer);
    return b;
}

static void seal(collector *co, coll_part *p)
{
    coll_batch *b = seal_take(co, p);
    if (b)
        coll_writer_enqueue(co, b);
}

/* Waits until the writer has finished every sealed batch of the parts for
 * which want() holds, or until deadline_ms (monotonic). */
static bool wait_pending(collector *co, coll_part **ps, size_t n, int64_t deadline_ms)
{
    pthread_mutex_lock(&co->mu);
    for (;;) {
        bool busy = false;
        for (size_t i = 0; i < n; i++)
            if (atomic_load(&ps[i]->pending) > 0)
                busy = true;
        if (!busy || core_mono_ms() >= deadline_ms) {
            pthread_mutex_unlock(&co->mu);
            return !busy;
        }
        struct timespec ts = coll_deadline_in(50);
        pthread_cond_timedwait(&co->cv_done, &co->mu, &ts);
    }
}

static coll_batch *open_batch(collector *co, coll_part *p)
{
    coll_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->part = p;
    b->gen = p->gen;
    b->expected = p->next_expected;
    b->opened_ms = core_mono_ms();
    p->open = b;
    return b;
}

/* Decodes one message (its N events, or one dead letter) into its
 * partition's open batch. Returns -1 only when out of memory (then the
 * collector stops: nothing is committed past it). */
static int take_message(collector *co, rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    coll_part *p = part_get(co, topic, m->partition, false);
    if (!p || !p->assigned)
        return 0; /* a message from before a revocation: its new owner reads it */
    if (atomic_load(&p->fenced_gen) == p->gen)
        return 0; /* waiting for the re-seek */
    int64_t gap_first = -1;
    if (p->read_pos >= 0 && m->offset < p->read_pos) {
        /* librdkafka only goes backwards on an offset reset (the stored
         * offset is past the log's end: the topic was recreated). Follow it,
         * loudly: these are new messages, not ones already stored. */
        core_metric_add(&coll_m_offset_gaps, 1);
        core_log(CORE_LOG_ERROR, MOD, "offset reset: the broker's log is behind the stored offset (topic recreated?)",
                 "topic=%s partition=%d stored=%" PRId64 " now_at=%" PRId64, topic,
                 (int)m->partition, p->read_pos, m->offset);
    } else if (p->read_pos >= 0 && m->offset > p->read_pos) {
        /* Offsets are dense on a normal topic: a jump means the broker no
         * longer has them (retention), or transaction markers. One line, and
         * the partition goes on from here: the range is recorded in
         * ingest_gaps with the batch that starts at this message. */
        core_metric_add(&coll_m_offset_gaps, 1);
        core_log(CORE_LOG_ERROR, MOD, "offset gap: messages missing from the broker",
                 "topic=%s partition=%d first_missing=%" PRId64 " next_present=%" PRId64
                 " lost=%" PRId64, topic, (int)m->partition, p->read_pos, m->offset,
                 m->offset - p->read_pos);
        gap_first = p->read_pos;
        seal(co, p); /* a gap always opens a batch: its row goes with that batch */
    }
    p->read_pos = m->offset + 1;
    coll_batch *b = p->open ? p->open : open_batch(co, p);
    if (!b)
        return -1;
    if (gap_first >= 0) {
        b->gap_first = gap_first;
        b->gap_next = m->offset;
    }
    rd_kafka_timestamp_type_t tstype;
    coll_msg msg = {p->topic, m->partition, m->offset, rd_kafka_message_timestamp(m, &tstype),
                    m->payload, m->len, m->key, m->key_len};
    char err[512];
    size_t kept = 0;
    int rc = coll_batch_add_message(b, &co->intake, &msg, &kept, err, sizeof err);
    if (rc < 0) {
        core_log(CORE_LOG_ERROR, MOD, "out of memory while batching", NULL);
        return -1;
    }
    if (rc > 0) {
        char key[160];
        core_log(CORE_LOG_DEBUG, MOD, "event rejected",
                 "topic=%s partition=%d offset=%" PRId64 " reason=%s", topic, (int)m->partition,
                 m->offset, core_log_quote(key, sizeof key, err));
    }
    size_t sz = m->len + m->key_len + 64 + kept;
    b->bytes += sz;
    atomic_fetch_add(&co->inflight, (int64_t)sz);
    core_metric_add(&coll_m_inflight_bytes, sz);
    core_metric_add(&coll_m_consumed, 1);
    /* a batch seals between messages, so a message's events are all in one
     * batch and its offset advances with them */
    if ((int64_t)(b->n_rows + b->n_rej) >= co->cfg->coll_batch_max_events)
        seal(co, p);
    return 0;
}

static void seal_expired(collector *co, int64_t now_ms)
{
    for (coll_part *p = co->parts; p; p = p->next)
        if (p->open && now_ms - p->open->opened_ms >= co->cfg->coll_batch_max_ms)
            seal(co, p);
}

/* A writer with nothing to store should not wait for batch_max_ms: the open
 * batches it would take (its partitions', and those with nothing pending,
 * which go to the least loaded writer) are sealed once batch_min_ms old,
 * all at once, so that it stores them in one transaction. Under load the
 * writers are never idle and batches grow while the previous transaction
 * runs; when they are idle this keeps events from waiting for nothing (and
 * the in-flight bytes, which count that wait, low). */
static void seal_idle(collector *co, int64_t now_ms)
{
    bool any_idle = false;
    for (int i = 0; i < co->nwriters && !any_idle; i++)
        any_idle = atomic_load(&co->w[i].idle);
    if (!any_idle)
        return;
    coll_batch *bs[64];
    size_t n = 0;
    for (coll_part *p = co->parts; p; p = p->next) {
        if (!p->open || now_ms - p->open->opened_ms < co->cfg->coll_batch_min_ms)
            continue;
        bool go = atomic_load(&p->pending) == 0 ? true : atomic_load(&co->w[p->writer].idle);
        if (!go)
            continue;
        bs[n++] = seal_take(co, p);
        if (n == sizeof bs / sizeof *bs) {
            coll_writer_enqueue_many(co, bs, n);
            n = 0;
        }
    }
    if (n)
        coll_writer_enqueue_many(co, bs, n);
}

/* ---- rebalancing ----------------------------------------------------- */

static int64_t read_offset_retrying(collector *co, const char *topic, int32_t partition)
{
    char err[1024];
    int64_t backoff = co->cfg->coll_retry_min_ms;
    for (;;) {
        if (!co->db)
            co->db = core_db_connect(co->cfg->pg_dsn, (int)co->cfg->pg_connect_timeout_s, err,
                                     sizeof err);
        if (co->db) {
            int64_t v = coll_store_read_offset(co->db, co->cfg->kafka_group, topic, partition,
                                               err, sizeof err);
            if (v >= -1)
                return v;
            if (PQstatus(co->db) != CONNECTION_OK) {
                PQfinish(co->db);
                co->db = NULL;
            }
        }
        core_metric_add(&coll_m_db_errors, 1);
        int64_t sup = core_log_limit_check(&coll_db_rl, co->cfg->log_error_interval_ms);
        if (sup >= 0)
            core_log(CORE_LOG_WARN, MOD, "cannot read stored offset, retrying",
                     "topic=%s partition=%d error=%s suppressed=%" PRId64, topic, (int)partition,
                     core_log_quote((char[768]){0}, 768, err), sup);
        if (*co->stop && core_mono_ms() > co->grace_deadline_ms)
            return -2;
        usleep((useconds_t)backoff * 1000);
        backoff = backoff * 2 > co->cfg->coll_retry_max_ms ? co->cfg->coll_retry_max_ms : backoff * 2;
    }
}

/* Where a partition's messages should start: the stored offset, or with
 * nothing stored and kafka.auto_offset_reset = earliest, offset 0, so that a
 * log whose head the broker already deleted shows as a gap from 0 (with
 * "latest", starting at the end is the choice made, not a loss: -1). */
static int64_t first_read_pos(const collector *co, int64_t stored)
{
    if (stored >= 0)
        return stored;
    return strcmp(co->cfg->kafka_auto_offset_reset, "earliest") == 0 ? 0 : -1;
}

static void on_assign(collector *co, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        coll_part *p = part_get(co, tp->topic, tp->partition, true);
        if (!p) {
            core_log(CORE_LOG_ERROR, MOD, "out of memory on assignment", NULL);
            continue;
        }
        int64_t stored = read_offset_retrying(co, tp->topic, tp->partition);
        p->gen++;
        if (!p->assigned)
            core_metric_add(&coll_m_assigned, 1);
        p->assigned = true;
        p->open = NULL;
        p->next_expected = stored;
        p->read_pos = first_read_pos(co, stored);
        atomic_store(&p->committed, stored);
        if (stored >= 0)
            tp->offset = stored;
        else
            tp->offset = strcmp(co->cfg->kafka_auto_offset_reset, "latest") == 0
                             ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
        core_log(CORE_LOG_INFO, MOD, "partition assigned",
                 "topic=%s partition=%d start_offset=%s%" PRId64, tp->topic, (int)tp->partition,
                 stored >= 0 ? "" : "none:", stored >= 0 ? stored : (int64_t)0);
        if (co->sink && co->sink->partition) /* the analytics restore its state */
            co->sink->partition(co->sink->ud, tp->topic, tp->partition, stored, true);
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(co->rk, parts);
    if (e)
        core_log(CORE_LOG_ERROR, MOD, "assign failed", "error=%s", rd_kafka_err2str(e));
    co->paused = false;
}

static void on_revoke(collector *co, rd_kafka_topic_partition_list_t *parts)
{
    coll_part **ps = calloc((size_t)parts->cnt + 1, sizeof *ps);
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        coll_part *p = part_get(co, parts->elems[i].topic, parts->elems[i].partition, false);
        if (!p)
            continue;
        seal(co, p);
        if (ps)
            ps[n++] = p;
    }
    /* Commit what we hold before letting go, but never wait past the grace
     * period: a batch that is not committed is simply read again by the new
     * owner, and the offset fence keeps a late commit from doubling it. */
    int64_t deadline = core_mono_ms() + co->cfg->coll_shutdown_grace_ms;
    if (*co->stop && co->grace_deadline_ms < deadline)
        deadline = co->grace_deadline_ms;
    bool drained = ps ? wait_pending(co, ps, n, deadline) : false;
    for (size_t i = 0; i < n; i++) {
        if (ps[i]->assigned)
            core_metric_sub(&coll_m_assigned, 1);
        ps[i]->assigned = false;
        ps[i]->gen++;
        core_log(CORE_LOG_INFO, MOD, "partition revoked", "topic=%s partition=%d committed=%s",
                 ps[i]->topic, (int)ps[i]->partition, drained ? "all" : "partial");
        if (co->sink && co->sink->partition) /* the analytics save its state */
            co->sink->partition(co->sink->ud, ps[i]->topic, ps[i]->partition,
                                atomic_load(&ps[i]->committed), false);
    }
    free(ps);
    rd_kafka_assign(co->rk, NULL);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    collector *co = opaque;
    core_metric_add(&coll_m_rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(co, parts);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        on_revoke(co, parts);
    } else {
        core_log(CORE_LOG_ERROR, MOD, "rebalance error", "error=%s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
}

/* A partition whose batch was fenced starts again from what PostgreSQL
 * holds (the writer already dropped its later batches of that generation). */
static void reseek_fenced(collector *co)
{
    for (coll_part *p = co->parts; p; p = p->next) {
        if (!p->assigned || atomic_load(&p->fenced_gen) != p->gen || atomic_load(&p->pending) > 0)
            continue;
        if (p->open) {
            coll_batch *b = p->open;
            p->open = NULL;
            atomic_fetch_add(&p->pending, 1);
            coll_writer_finish(co, b);
        }
        int64_t stored = read_offset_retrying(co, p->topic, p->partition);
        if (stored < -1)
            continue;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            stored >= 0 ? stored : RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(co->rk, l, 5000);
        if (e) {
            core_log(CORE_LOG_ERROR, MOD, "re-seek failed", "topic=%s partition=%d error=%s",
                     p->topic, (int)p->partition, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        } else if (l->elems[0].err) {
            core_log(CORE_LOG_ERROR, MOD, "re-seek failed", "topic=%s partition=%d error=%s",
                     p->topic, (int)p->partition, rd_kafka_err2str(l->elems[0].err));
        } else {
            p->gen++;
            p->next_expected = stored;
            p->read_pos = first_read_pos(co, stored);
            core_log(CORE_LOG_INFO, MOD, "partition re-read from stored offset",
                     "topic=%s partition=%d offset=%" PRId64, p->topic, (int)p->partition, stored);
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* ---- flow control and upkeep ----------------------------------------- */

/* Pauses (or resumes) every assigned partition. */
static void pause_all(collector *co, bool pause, int64_t inflight)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(co->rk, &l) || !l)
        return;
    if (pause) {
        rd_kafka_pause_partitions(co->rk, l);
        co->paused = true;
        core_metric_add(&coll_m_pauses, 1);
        core_log(CORE_LOG_INFO, MOD, "consumption paused: in-flight cap reached",
                 "inflight_bytes=%" PRId64 " cap=%" PRId64 " held_ms=%" PRId64, inflight,
                 co->cfg->coll_max_inflight_bytes, co->cfg->coll_inflight_hold_ms);
    } else {
        rd_kafka_resume_partitions(co->rk, l);
        co->paused = false;
        core_log(CORE_LOG_INFO, MOD, "consumption resumed", "inflight_bytes=%" PRId64, inflight);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* The in-flight cap. Past it the consumer first holds: it takes no message
 * (returns false) while the writers make room, and librdkafka keeps its
 * prefetched messages and goes on fetching within its own bound
 * (queued.max.messages.kbytes): a pause would drop that prefetch and
 * fetch it again from the broker, which by then may have deleted it (a hot
 * partition of the mock broker holds well under a second of traffic).
 * Held longer than collector.inflight_hold_ms (PostgreSQL down), it pauses
 * the partitions as before, so that polling goes on (rebalances are served)
 * and the prefetch is freed, and resumes once half the cap is free. */
static bool flow_control(collector *co, int64_t now)
{
    int64_t inflight = atomic_load(&co->inflight);
    int64_t cap = co->cfg->coll_max_inflight_bytes;
    if (co->paused) {
        co->held_tick = true;
        if (inflight < cap / 2)
            pause_all(co, false, inflight);
        return true; /* paused partitions deliver nothing; polling serves callbacks */
    }
    if (inflight < cap) {
        co->held_since_ms = 0;
        return true;
    }
    if (!co->held_since_ms) {
        co->held_since_ms = now;
        core_metric_add(&coll_m_holds, 1);
        /* Seal what is open so that the writers can make room. */
        for (coll_part *p = co->parts; p; p = p->next)
            seal(co, p);
    }
    co->held_tick = true;
    if (now - co->held_since_ms < co->cfg->coll_inflight_hold_ms)
        return false;
    co->held_since_ms = 0;
    pause_all(co, true, inflight);
    return true;
}

/* Waits up to ms for a writer to finish a batch while at the in-flight cap. */
static void wait_room(collector *co, int64_t ms)
{
    pthread_mutex_lock(&co->mu);
    if (atomic_load(&co->inflight) >= co->cfg->coll_max_inflight_bytes) {
        struct timespec ts = coll_deadline_in(ms);
        pthread_cond_timedwait(&co->cv_done, &co->mu, &ts);
    }
    pthread_mutex_unlock(&co->mu);
}

/* The retention watchdog, once a lag tick (a second). librdkafka answers
 * "offset out of range" by going on from the log's start as its last fetch
 * saw it, after a fetch backoff; a broker that deletes a busy partition's
 * head continuously (the embedded one keeps ~5 MiB: a third of a second at
 * 16 MB/s) has deleted that offset again by then, and the partition goes
 * round that loop for as long as the traffic lasts, taking nothing. So a
 * partition that took nothing for two ticks while the collector polled
 * (no hold, no pause) and whose next offset is below the log's start is
 * moved ahead, seven eighths of the way into what the broker keeps (the
 * newest part, deleted last), fifteen sixteenths if it is still stuck a
 * tick later. Nearer the start misses: the embedded broker answers a fetch
 * whose offset is gone only after kafka.fetch_wait_max_ms, so a round of
 * seek, fetch and answer takes that plus the fetch backoff, and with a
 * third of a second kept (live_gap.sh) three quarters of the way in was
 * deleted before the answer in three runs out of three on a quiet machine.
 * What it skips was going to be lost anyway; its first message then
 * records the whole gap (ingest_gaps, one log line). A partition that
 * moves on its own is never touched. */
static void watch_retention(collector *co, coll_part *p, int64_t lo, int64_t hi, bool held)
{
    if (held || p->read_pos < 0 || p->read_pos != p->stall_pos || lo <= p->read_pos ||
        hi <= lo) {
        if (p->read_pos != p->stall_pos)
            p->skips = 0;
        p->stall_pos = p->read_pos;
        p->stall_ticks = 0;
        return;
    }
    if (++p->stall_ticks < (p->skips ? 1 : 2))
        return;
    int64_t target = lo + (hi - lo) * (p->skips ? 15 : 14) / 16;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = target;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(co->rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    core_metric_add(&coll_m_retention_skips, 1);
    core_log(CORE_LOG_WARN, MOD, "partition stuck behind the broker's retention: skipping ahead",
             "topic=%s partition=%d next=%" PRId64 " log_start=%" PRId64 " log_end=%" PRId64
             " seek_to=%" PRId64 " error=%s",
             p->topic, (int)p->partition, p->read_pos, lo, hi, target,
             e ? rd_kafka_error_string(e) : "none");
    if (e)
        rd_kafka_error_destroy(e);
    p->skips++;
    p->stall_ticks = 0;
}

static void update_lag(collector *co)
{
    bool held = co->held_tick; /* flow_control sets it on every pass while held or paused */
    co->held_tick = false;
    for (coll_part *p = co->parts; p; p = p->next) {
        if (!p->assigned)
            continue;
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(co->rk, p->topic, p->partition, &lo, &hi))
            continue;
        int64_t c = atomic_load(&p->committed);
        if (hi >= 0)
            coll_metrics_set_lag(p->topic, p->partition, hi - (c >= 0 ? c : lo));
        watch_retention(co, p, lo, hi, held);
    }
}

static void ensure_partitions(collector *co)
{
    char err[1024];
    if (!co->db)
        co->db = core_db_connect(co->cfg->pg_dsn, (int)co->cfg->pg_connect_timeout_s, err,
                                 sizeof err);
    if (!co->db)
        return;
    int n = core_db_ensure_partitions(co->db, (int)co->cfg->pg_partitions_ahead_days, err,
                                      sizeof err);
    if (n < 0) {
        core_log(CORE_LOG_WARN, MOD, "cannot create daily partitions (events still land in the default partition)",
                 "error=%s", core_log_quote((char[768]){0}, 768, err));
        if (PQstatus(co->db) != CONNECTION_OK) {
            PQfinish(co->db);
            co->db = NULL;
        }
    } else if (n > 0) {
        core_log(CORE_LOG_INFO, MOD, "daily partitions created", "count=%d", n);
    }
}

static void log_stats(const char *msg)
{
    char stages[256];
    coll_stages_format(stages, sizeof stages);
    core_log(CORE_LOG_INFO, MOD, msg,
             "consumed=%" PRIu64 " stored=%" PRIu64 " rejected=%" PRIu64 " batches=%" PRIu64
             " retries=%" PRIu64 " fenced=%" PRIu64 " inflight_bytes=%" PRIu64
             " gaps=%" PRIu64 " gap_messages=%" PRIu64 " holds=%" PRIu64 " pauses=%" PRIu64
             " latency_p50_ms=%.1f latency_p99_ms=%.1f latency_p999_ms=%.1f latency_max_ms=%.1f"
             " analyzed=%" PRIu64 " alerts=%" PRIu64
             " incidents=%" PRIu64 " transactions=%" PRIu64 " stage_ms=%s",
             core_metric_get(&coll_m_consumed), core_metric_get(&coll_m_stored), core_metric_get(&coll_m_rejected),
             core_metric_get(&coll_m_batches), core_metric_get(&coll_m_batch_retries),
             core_metric_get(&coll_m_fenced), core_metric_get(&coll_m_inflight_bytes),
             core_metric_get(&coll_m_offset_gaps), core_metric_get(&coll_m_gap_messages),
             core_metric_get(&coll_m_holds), core_metric_get(&coll_m_pauses),
             (double)core_hdr_quantile(&coll_latency_hdr, 0.50) / 1000.0,
             (double)core_hdr_quantile(&coll_latency_hdr, 0.99) / 1000.0,
             (double)core_hdr_quantile(&coll_latency_hdr, 0.999) / 1000.0,
             (double)core_hdr_max(&coll_latency_hdr) / 1000.0,
             core_metrics_value("custos_analytics_events_total"),
             core_metrics_value("custos_analytics_alerts_total"), core_metrics_value("custos_analytics_incidents_total"),
             core_metric_get(&coll_m_transactions), stages);
}

/* ---- the loop -------------------------------------------------------- */

static void handle_kafka_error(collector *co, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    core_metric_add(&coll_m_kafka_errors, 1);
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
        /* Only with librdkafka's auto.offset.reset=error: with earliest or
         * latest (custos's choices) it resets by itself and says so in its
         * own log line; the next message's "offset gap" line then gives the
         * lost range (ingest_gaps records it), and watch_retention moves a
         * partition that the reset leaves stuck. */
        core_log(CORE_LOG_INFO, MOD, "stored offset no longer on the broker: resuming at the log's start",
                 "topic=%s partition=%d detail=%s", m->rkt ? rd_kafka_topic_name(m->rkt) : "-",
                 (int)m->partition, core_log_quote((char[512]){0}, 512, rd_kafka_message_errstr(m)));
        return;
    }
    int64_t sup = core_log_limit_check(&g_kafka_rl, co->cfg->log_error_interval_ms);
    if (sup >= 0)
        core_log(CORE_LOG_WARN, MOD, "kafka consumer error", "error=%s suppressed=%" PRId64,
                 core_log_quote((char[512]){0}, 512, rd_kafka_message_errstr(m)), sup);
    else
        core_metric_add(&coll_m_log_suppressed, 1);
}

/* Connects to PostgreSQL, checks the schema, creates the consumer and
 * subscribes. 0, or -1 (logged). */
static int start_consumer(collector *co)
{
    const core_config *cfg = co->cfg;
    char err[1024];
    if (coll_decoders_check(cfg, err, sizeof err) < 0) {
        core_log(CORE_LOG_ERROR, MOD, "unknown event format", "error=%s",
                 core_log_quote((char[768]){0}, 768, err));
        return -1;
    }
    co->db = core_db_connect(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, err, sizeof err);
    if (!co->db) {
        core_log(CORE_LOG_ERROR, MOD, "cannot connect to PostgreSQL", "error=%s",
                 core_log_quote((char[768]){0}, 768, err));
        return -1;
    }
    if (core_db_check_schema(co->db, err, sizeof err) < 0) {
        core_log(CORE_LOG_ERROR, MOD, "database schema mismatch", "error=%s",
                 core_log_quote((char[768]){0}, 768, err));
        return -1;
    }
    ensure_partitions(co);

    rd_kafka_conf_t *conf = coll_kafka_conf(cfg, true, err, sizeof err);
    if (!conf) {
        core_log(CORE_LOG_ERROR, MOD, "bad Kafka configuration", "error=%s",
                 core_log_quote((char[768]){0}, 768, err));
        return -1;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, co);
    co->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!co->rk) {
        rd_kafka_conf_destroy(conf);
        core_log(CORE_LOG_ERROR, MOD, "cannot create Kafka consumer", "error=%s",
                 core_log_quote((char[768]){0}, 768, err));
        return -1;
    }
    rd_kafka_poll_set_consumer(co->rk); /* rd_kafka_new took conf */

    rd_kafka_topic_partition_list_t *topics = coll_kafka_topic_list(cfg->kafka_topics);
    if (!topics || topics->cnt == 0) {
        core_log(CORE_LOG_ERROR, MOD, "no topics configured (kafka.topics)", NULL);
        if (topics)
            rd_kafka_topic_partition_list_destroy(topics);
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(co->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        core_log(CORE_LOG_ERROR, MOD, "subscribe failed", "error=%s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* The main loop: poll, batch, seal by age, flow control, upkeep, until
 * *stop. 0, or -1 on a fatal error. */
static int consume(collector *co)
{
    int64_t last_stats = core_mono_ms(), last_lag = 0, last_parts = core_mono_ms();
    while (!*co->stop) {
        if (flow_control(co, core_mono_ms())) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(co->rk, 20);
            if (m) {
                int rc = 0;
                if (m->err)
                    handle_kafka_error(co, m);
                else if (take_message(co, m) < 0)
                    rc = -1;
                rd_kafka_message_destroy(m);
                if (rc < 0)
                    return -1;
            }
        } else {
            wait_room(co, 20); /* holding at the in-flight cap */
        }
        int64_t now = core_mono_ms();
        seal_expired(co, now);
        seal_idle(co, now);
        reseek_fenced(co);
        if (now - last_lag >= 1000) {
            update_lag(co);
            last_lag = now;
        }
        if (now - last_stats >= 10000) {
            log_stats("stats");
            last_stats = now;
        }
        if (now - last_parts >= 3600 * 1000) {
            ensure_partitions(co);
            last_parts = now;
        }
    }
    return 0;
}

/* Graceful stop: commit the open batches within the grace period. */
static void drain(collector *co)
{
    co->grace_deadline_ms = core_mono_ms() + co->cfg->coll_shutdown_grace_ms;
    core_log(CORE_LOG_INFO, MOD, "stopping: committing open batches",
             "grace_ms=%" PRId64, co->cfg->coll_shutdown_grace_ms);
    size_t np = 0;
    for (coll_part *p = co->parts; p; p = p->next, np++)
        seal(co, p);
    coll_part **all = calloc(np + 1, sizeof *all);
    if (all) {
        size_t k = 0;
        for (coll_part *p = co->parts; p; p = p->next)
            all[k++] = p;
        if (!wait_pending(co, all, np, co->grace_deadline_ms))
            core_log(CORE_LOG_WARN, MOD, "grace period over with batches uncommitted", NULL);
        free(all);
    }
}

/* Stops the writer (everything committable was committed by drain), leaves
 * the group, frees everything. */
static void teardown(collector *co, bool writer_started)
{
    if (writer_started) {
        pthread_mutex_lock(&co->mu);
        co->writer_abort = true;
        for (int i = 0; i < co->nwriters; i++)
            pthread_cond_broadcast(&co->w[i].cv_work);
        pthread_mutex_unlock(&co->mu);
    }
    if (co->rk) {
        rd_kafka_consumer_close(co->rk);
        rd_kafka_destroy(co->rk);
    }
    for (int i = 0; i < co->nwriters; i++)
        if (co->w[i].started)
            pthread_join(co->w[i].thread, NULL);
    while (co->parts) {
        coll_part *p = co->parts;
        co->parts = p->next;
        if (p->open)
            coll_batch_free(p->open);
        free(p->topic);
        free(p);
    }
    if (co->db)
        PQfinish(co->db);
    coll_decoded_free(&co->intake.out);
    coll_redactor_free(co->intake.redact);
    log_stats("collector stopped");
    pthread_cond_destroy(&co->cv_done);
    for (int i = 0; i < co->nwriters; i++)
        pthread_cond_destroy(&co->w[i].cv_work);
    pthread_mutex_destroy(&co->mu);
}

int coll_run(const core_config *cfg, const core_event_sink *sink, volatile sig_atomic_t *stop)
{
    collector co;
    memset(&co, 0, sizeof co);
    co.cfg = cfg;
    co.sink = sink;
    co.stop = stop;
    co.intake.dec = coll_decoder_for(cfg);
    co.intake.cfg = cfg; /* kafka.topics entries may name their own format */
    coll_decoders_configure(cfg);
    co.intake.lim = coll_limits_from_config(cfg);
    co.intake.raw_max = (size_t)cfg->coll_rejected_raw_max_bytes;
    co.intake.keep_events = sink != NULL;
    char rerr[512];
    if (coll_redactor_open(cfg, &co.intake.redact, rerr, sizeof rerr) < 0) {
        char q[600];
        core_log(CORE_LOG_ERROR, MOD, "cannot start the redaction", "error=%s",
                 core_log_quote(q, sizeof q, rerr));
        return -1;
    }
    co.intake.binary = strcmp(cfg->coll_copy_format, "binary") == 0;
    pthread_mutex_init(&co.mu, NULL);
    pthread_cond_init(&co.cv_done, NULL);
    co.nwriters = (int)cfg->coll_writers;
    if (co.nwriters < 1 || co.nwriters > COLL_WRITERS_MAX)
        co.nwriters = 1;
    for (int i = 0; i < co.nwriters; i++) {
        co.w[i].co = &co;
        co.w[i].idx = i;
        pthread_cond_init(&co.w[i].cv_work, NULL);
    }
    bool writer_started = false;
    core_metric_set(&coll_m_running, 1);
    int rc = start_consumer(&co);
    for (int i = 0; rc == 0 && i < co.nwriters; i++) {
        if (pthread_create(&co.w[i].thread, NULL, coll_writer_main, &co.w[i]) != 0) {
            core_log(CORE_LOG_ERROR, MOD, "cannot start writer thread", NULL);
            rc = -1;
            break;
        }
        co.w[i].started = writer_started = true;
        char name[16];
        snprintf(name, sizeof name, "custos-writer%d", i);
        pthread_setname_np(co.w[i].thread, name); /* for top -H and perf */
    }
    if (rc == 0) {
        core_log(CORE_LOG_INFO, MOD, "collector started",
                 "group=%s topics=%s batch_max_events=%" PRId64 " batch_max_ms=%" PRId64
                 " writers=%d",
                 cfg->kafka_group, cfg->kafka_topics, cfg->coll_batch_max_events,
                 cfg->coll_batch_max_ms, co.nwriters);
        rc = consume(&co);
        drain(&co);
    }
    teardown(&co, writer_started);
    core_metric_set(&coll_m_assigned, 0);
    core_metric_set(&coll_m_running, 0);
    return rc;
}
