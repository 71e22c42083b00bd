/* The collector's shared state, private to collector/: the consumer
 * (collector.c) and the writer thread (writer.c). */
#ifndef COLL_INTERNAL_H
#define COLL_INTERNAL_H

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "collector/batch.h"
#include "collector/collector.h"
#include "core/json_scan.h"
#include "core/log.h"

#define MOD "collector"
#define WRITER_GROUP_MAX 256          /* batches per transaction */
#define WRITER_GROUP_BYTES (32 << 20) /* COPY bytes per transaction */
#define COLL_WRITERS_MAX 8            /* collector.writers */

typedef struct coll_part {
    struct coll_part *next;
    char *topic;
    int32_t partition;
    int writer;               /* the writer that stores its batches; changes only while
                               * none is pending (the least loaded one), so they stay in order */
    bool assigned;
    uint64_t gen;             /* bumped on every assignment and revocation */
    int64_t next_expected;    /* stored offset once every sealed batch commits */
    int64_t read_pos;         /* next offset expected from Kafka (-1: unknown) */
    int64_t stall_pos;        /* read_pos at the last lag tick (the retention watchdog) */
    int stall_ticks;          /* lag ticks since then with read_pos behind the log's start */
    int skips;                /* skips ahead since the partition last moved on its own */
    coll_batch *open;
    _Atomic int64_t committed; /* next offset committed by the writer (-1 unknown) */
    _Atomic uint64_t fenced_gen; /* generation whose batches the writer found fenced */
    _Atomic int pending;       /* batches sealed and not yet finished by the writer */
} coll_part;

struct collector;

/* One writer thread and its queue; a partition's batches always go to the
 * same writer, so they are stored in order, each writer on its own
 * connection (disjoint partitions: the per-partition fencing is the same). */
typedef struct {
    struct collector *co;
    int idx;
    bool started;
    pthread_t thread;
    pthread_cond_t cv_work; /* batches queued, or stop/abort */
    coll_batch *qhead, *qtail;
    size_t qlen;
    size_t qbytes;    /* COPY bytes queued (under mu) */
    size_t busybytes; /* COPY bytes of the transaction in progress (under mu) */
    _Atomic bool idle; /* waiting for work with an empty queue: its partitions' open
                        * batches are sealed from collector.batch_min_ms */
    bool failing; /* its last attempt failed (see collector.db_ok) */
} coll_writer;

typedef struct collector {
    const core_config *cfg;
    const core_event_sink *sink;
    volatile sig_atomic_t *stop;
    coll_intake intake; /* the configured decoder and its scratch */
    rd_kafka_t *rk;
    PGconn *db; /* main thread: assignment offsets, partitions upkeep */
    coll_part *parts;
    bool paused;
    int64_t held_since_ms; /* at the in-flight cap since then, taking nothing (0: not) */
    bool held_tick;        /* held or paused at some time since the last lag tick */
    uint64_t seal_seq;
    int64_t grace_deadline_ms; /* set once stopping */

    /* writer queues (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv_done;
    coll_writer w[COLL_WRITERS_MAX];
    int nwriters;
    bool writer_stop;   /* drain then exit */
    bool writer_abort;  /* exit now, leaving batches uncommitted */
    _Atomic int64_t inflight;
    /* PostgreSQL as the writers see it, so that an outage is logged once
     * (unavailable, then available again) however many writers meet it */
    _Atomic bool db_down;
    _Atomic int64_t down_since;
} collector;

/* Errors of the database, rate-limited together (consumer and writer). */
extern core_log_limit coll_db_rl;

/* The writer threads (writer.c): sealed batches go in with enqueue, to
 * their partition's writer; a writer stores them in groups, one transaction
 * each, then finishes them (frees them, lowers the in-flight bytes, wakes
 * waiters on cv_done). coll_writer_main takes its coll_writer. */
void coll_writer_enqueue(collector *co, coll_batch *b);
/* The same for several batches at once, so an idle writer wakes to all of
 * them in one transaction rather than to the first alone. */
void coll_writer_enqueue_many(collector *co, coll_batch **bs, size_t n);
/* The writer with the fewest COPY bytes queued and in progress (current
 * when none has strictly fewer than it). */
int coll_writer_least_loaded(collector *co, int current);
void coll_writer_finish(collector *co, coll_batch *b);
void *coll_writer_main(void *arg);

/* The absolute CLOCK_REALTIME time ms from now, for pthread_cond_timedwait. */
struct timespec coll_deadline_in(int64_t ms);

#endif
