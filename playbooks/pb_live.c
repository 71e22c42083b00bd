/* The live side: a worker thread with its own PostgreSQL connection that
 * runs the playbooks for each incident, the timers (approval expiry,
 * auto-revert, reload requests), and a watchdog.
 *
 * Every loop reachable from Lua is bounded by the sandbox, but a run can
 * still block in C (a host call waiting on a PostgreSQL lock, say). The
 * watchdog sees a run that overstays its deadline by the margin, logs and
 * counts it, stops feeding that worker (it takes no more incidents) and
 * starts a replacement with its own connection, engine and effectors. The
 * abandoned worker is left to finish or hang; pb_live_stop() never waits
 * for it past the grace period, and reports it so that the process exits
 * with its own status. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/log.h"
#include "core/queue.h"
#include "core/signals.h"
#include "playbooks/pb_engine.h"
#include "playbooks/playbooks.h"

/* Abandoned workers kept at most; past it incidents are dropped. Each one
 * holds a connection and a Lua state that may never come back. */
#define MAX_ABANDONED 4
#define WATCH_EVERY_MS 100

typedef struct worker {
    struct pb_live *pl;
    PGconn *db;
    pb_fx *fx;
    pb_engine *eng;
    pthread_t th;
    bool started;
    /* guarded by pl->mu */
    int64_t run_since_us; /* core_mono_us() at the start of the run in hand; 0: none */
    char run_playbook[80], run_incident[216];
    bool retired;         /* abandoned: takes no more incidents, ends after this one */
    bool done;            /* the thread has left its loop */
} worker;

struct pb_live {
    const core_config *cfg;
    pthread_t watch;
    bool watch_started;
    pthread_mutex_t mu;
    pthread_cond_t wcv;     /* the watchdog's sleep, stop */
    worker *cur;            /* the worker being fed; NULL when none is left */
    worker *abandoned[MAX_ABANDONED];
    int nabandoned;
    core_queue *q; /* incidents (malloc'd JSON text), weight 1, playbooks.queue_max */
    bool stop;
    atomic_int reload;
    unsigned hup_seen; /* core_reload_generation() last acted on (worker only) */
    _Atomic uint64_t dropped;
    core_log_limit drop_limit;
};

static int listen_reload(PGconn *db, char *err, size_t errlen)
{
    return core_db_exec(db, "LISTEN custos_playbooks", err, errlen);
}

static void poll_notifies(worker *w)
{
    if (!PQconsumeInput(w->db))
        return;
    PGnotify *n;
    while ((n = PQnotifies(w->db))) {
        if (strcmp(n->relname, "custos_playbooks") == 0)
            atomic_store(&w->pl->reload, 1);
        PQfreemem(n);
    }
}

/* A lost connection comes back with back-off; the engine borrows the same
 * PGconn, which PQreset keeps. */
static void keep_connected(worker *w)
{
    if (PQstatus(w->db) == CONNECTION_OK)
        return;
    PQreset(w->db);
    char err[512];
    if (PQstatus(w->db) == CONNECTION_OK && listen_reload(w->db, err, sizeof err) == 0) {
        core_log(CORE_LOG_INFO, "playbooks", "reconnected to PostgreSQL", NULL);
        atomic_store(&w->pl->reload, 1);
    }
}

static void tick(worker *w)
{
    keep_connected(w);
    poll_notifies(w);
    unsigned hup = core_reload_generation();
    bool hup_new = hup != w->pl->hup_seen;
    w->pl->hup_seen = hup;
    if (atomic_exchange(&w->pl->reload, 0) || hup_new)
        pb_engine_load_dir(w->eng, pb_engine_dir(w->pl->cfg), NULL);
    char err[512];
    if (pb_engine_tick(w->eng, err, sizeof err) < 0) {
        char q[600];
        core_log(CORE_LOG_ERROR, "playbooks", "timers failed", "error=%s",
                 core_log_quote(q, sizeof q, err));
    }
}

/* The engine's run hook: what the watchdog reads. */
static void on_run(void *ud, const char *playbook, const char *incident_id, bool starting)
{
    worker *w = ud;
    pthread_mutex_lock(&w->pl->mu);
    if (starting) {
        w->run_since_us = core_mono_us();
        snprintf(w->run_playbook, sizeof w->run_playbook, "%s", playbook);
        snprintf(w->run_incident, sizeof w->run_incident, "%s", incident_id);
    } else {
        w->run_since_us = 0;
    }
    pthread_mutex_unlock(&w->pl->mu);
}

static void worker_free(worker *w)
{
    if (!w)
        return;
    pb_engine_free(w->eng);
    pb_fx_free(w->fx);
    if (w->db)
        PQfinish(w->db);
    free(w);
}

/* Drops what is queued (counted): stopping without a database, or with no
 * worker left. */
static size_t drop_queue(pb_live *pl)
{
    size_t n = 0;
    char *item;
    while ((item = core_queue_pop(pl->q, 0, NULL))) {
        free(item);
        n++;
    }
    if (n) {
        atomic_fetch_add(&pl->dropped, n);
        pb_metric_add(PB_M_DROPPED, n);
    }
    return n;
}

static void *loop(void *arg)
{
    worker *w = arg;
    pb_live *pl = w->pl;
    int64_t next_tick = core_mono_ms();
    for (;;) {
        /* An incident, or the next tick, or stop (the queue closes). */
        int64_t wait = next_tick - core_mono_ms();
        char *item = core_queue_pop(pl->q, wait > 0 ? wait : 0, NULL);
        pthread_mutex_lock(&pl->mu);
        bool retired = w->retired, stopping = pl->stop;
        pthread_mutex_unlock(&pl->mu);
        if (retired) {
            /* retired between runs: the incident is the replacement's */
            if (item && !core_queue_push_front(pl->q, item, 1)) {
                atomic_fetch_add(&pl->dropped, 1); /* out of memory: counted, not lost silently */
                pb_metric_add(PB_M_DROPPED, 1);
                free(item);
            }
            break;
        }
        size_t left = core_queue_len(pl->q);
        if (item && stopping && PQstatus(w->db) != CONNECTION_OK) {
            /* Stopping without a database: what is queued cannot be
             * recorded, so it is dropped (counted) instead of waiting for
             * a connection at every item. The analytics keep the incidents. */
            atomic_fetch_add(&pl->dropped, 1);
            pb_metric_add(PB_M_DROPPED, 1);
            free(item);
            item = NULL;
            size_t n = drop_queue(pl);
            core_log(CORE_LOG_ERROR, "playbooks", "stopping without a database, incidents dropped",
                     "dropped=%zu", 1 + n);
            break;
        }
        if (item) {
            char err[512];
            keep_connected(w);
            if (pb_engine_incident(w->eng, item, strlen(item), -1, 0, err, sizeof err) < 0) {
                char q[600];
                pthread_mutex_lock(&pl->mu);
                retired = w->retired;
                pthread_mutex_unlock(&pl->mu);
                if (PQstatus(w->db) != CONNECTION_OK && !stopping && !retired) {
                    /* The database is gone, not the incident: put it back
                     * at the head and wait for the connection. */
                    core_log(CORE_LOG_ERROR, "playbooks", "database lost, incident kept",
                             "error=%s", core_log_quote(q, sizeof q, err));
                    if (!core_queue_push_front(pl->q, item, 1)) {
                        atomic_fetch_add(&pl->dropped, 1);
                        pb_metric_add(PB_M_DROPPED, 1);
                        free(item);
                    }
                    item = NULL;
                    struct timespec ts = {.tv_sec = 0, .tv_nsec = 500000000};
                    nanosleep(&ts, NULL);
                } else {
                    core_log(CORE_LOG_ERROR, "playbooks", "incident refused", "error=%s",
                             core_log_quote(q, sizeof q, err));
                }
            }
            free(item);
            item = NULL;
        }
        pthread_mutex_lock(&pl->mu);
        retired = w->retired;
        pthread_mutex_unlock(&pl->mu);
        if (retired)
            break;
        if (core_mono_ms() >= next_tick) {
            tick(w);
            next_tick = core_mono_ms() + pl->cfg->pb_tick_ms;
        }
        if (stopping && left == 0)
            break;
    }
    pthread_mutex_lock(&pl->mu);
    w->done = true;
    pthread_cond_broadcast(&pl->wcv);
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

/* A worker with its own connection, effectors and engine, its playbooks
 * loaded; its thread started. NULL with err. */
static worker *worker_start(pb_live *pl, char *err, size_t errlen)
{
    const core_config *cfg = pl->cfg;
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->pl = pl;
    w->db = core_db_connect(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, err, errlen);
    if (!w->db)
        goto error;
    if (core_db_check_schema(w->db, err, errlen) < 0 || listen_reload(w->db, err, errlen) < 0)
        goto error;
    w->fx = pb_fx_new(cfg, err, errlen);
    if (!w->fx || pb_fx_connect(w->fx, err, errlen) < 0)
        goto error;
    pb_engine_opts o = {.cfg = cfg, .db = w->db, .persist = true, .fx = w->fx,
                        .audit_loads = true, .on_run = on_run, .on_run_ud = w};
    w->eng = pb_engine_new(&o, err, errlen);
    if (!w->eng)
        goto error;
    if (pb_engine_load_dir(w->eng, pb_engine_dir(cfg), NULL) < 0) {
        snprintf(err, errlen, "playbooks.dir %s cannot be read", pb_engine_dir(cfg));
        goto error;
    }
    if (pthread_create(&w->th, NULL, loop, w) != 0) {
        snprintf(err, errlen, "cannot start the playbooks thread");
        goto error;
    }
    pthread_setname_np(w->th, "custos-playbook"); /* for top -H and perf */
    w->started = true;
    return w;
error:
    worker_free(w);
    return NULL;
}

/* How long past its deadline a run may go before its worker is abandoned:
 * the deadline again, at least a second (a host call near the end of a
 * run may legitimately take that). */
static int64_t abandon_after_us(const core_config *cfg)
{
    int64_t d = cfg->sec_lua_deadline_ms * 1000;
    return d + (d > 1000000 ? d : 1000000);
}

static void *watchdog(void *arg)
{
    pb_live *pl = arg;
    int64_t limit = abandon_after_us(pl->cfg);
    int64_t next_try_ms = 0;
    pthread_mutex_lock(&pl->mu);
    while (!pl->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* wcv waits on the monotonic clock */
        ts.tv_nsec += WATCH_EVERY_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&pl->wcv, &pl->mu, &ts);
        if (pl->stop)
            break;
        worker *w = pl->cur;
        if (w && w->run_since_us && core_mono_us() - w->run_since_us > limit) {
            /* Overstayed: this worker gets nothing more. */
            int64_t ms = (core_mono_us() - w->run_since_us) / 1000;
            w->retired = true;
            pl->cur = NULL;
            pl->abandoned[pl->nabandoned++] = w;
            char q1[120], q2[260];
            core_log(CORE_LOG_ERROR, "playbooks",
                     "playbook run overstayed its deadline, its worker is abandoned",
                     "playbook=%s incident=%s running_ms=%" PRId64 " deadline_ms=%" PRId64
                     " abandoned=%d",
                     core_log_quote(q1, sizeof q1, w->run_playbook),
                     core_log_quote(q2, sizeof q2, w->run_incident), ms,
                     pl->cfg->sec_lua_deadline_ms, pl->nabandoned);
            pb_metric_add(PB_M_ABANDONED, 1);
            if (pl->nabandoned >= MAX_ABANDONED) {
                size_t n = drop_queue(pl);
                core_log(CORE_LOG_ERROR, "playbooks",
                         "too many abandoned playbook workers, incidents are dropped from now on",
                         "abandoned=%d dropped=%zu", pl->nabandoned, n);
            }
        }
        if (pl->cur || pl->nabandoned >= MAX_ABANDONED || core_mono_ms() < next_try_ms)
            continue;
        /* A replacement, connected without the lock held: incidents queue
         * meanwhile (up to queue_max). */
        pthread_mutex_unlock(&pl->mu);
        char err[1024];
        worker *nw = worker_start(pl, err, sizeof err);
        pthread_mutex_lock(&pl->mu);
        if (!nw) {
            char q[1100];
            core_log(CORE_LOG_ERROR, "playbooks", "cannot start a replacement playbook worker",
                     "error=%s", core_log_quote(q, sizeof q, err));
            next_try_ms = core_mono_ms() + 1000;
            continue;
        }
        pl->cur = nw; /* when stopping meanwhile, it sees stop and ends */
        core_log(CORE_LOG_INFO, "playbooks", "replacement playbook worker started",
                 "abandoned=%d", pl->nabandoned);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

pb_live *pb_live_start(const core_config *cfg, char *err, size_t errlen)
{
    pb_live *pl = calloc(1, sizeof *pl);
    if (!pl) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pl->cfg = cfg;
    pl->hup_seen = core_reload_generation();
    pthread_mutex_init(&pl->mu, NULL);
    /* The watchdog's sleep on the monotonic clock: a wall clock set back
     * must not stretch it (it would not see an overstaying run). */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pl->wcv, &ca);
    pthread_condattr_destroy(&ca);
    pl->q = core_queue_new((size_t)cfg->pb_queue_max);
    if (!pl->q) {
        snprintf(err, errlen, "out of memory");
        goto error;
    }
    pl->cur = worker_start(pl, err, errlen);
    if (!pl->cur)
        goto error;
    pb_fx_warn_unconfigured(cfg);
    if (pthread_create(&pl->watch, NULL, watchdog, pl) != 0) {
        snprintf(err, errlen, "cannot start the playbooks watchdog");
        goto error;
    }
    pthread_setname_np(pl->watch, "custos-pb-watch");
    pl->watch_started = true;
    core_log(CORE_LOG_INFO, "playbooks", "playbooks live", "playbooks=%zu dir=%s",
             pb_engine_count(pl->cur->eng), pb_engine_dir(cfg));
    return pl;
error:
    pb_live_stop(pl);
    return NULL;
}

void pb_live_incident(pb_live *pl, const char *incident_json)
{
    char *copy = strdup(incident_json);
    pthread_mutex_lock(&pl->mu);
    /* With every worker abandoned nothing would ever take it. */
    bool none = pl->cur == NULL && pl->nabandoned >= MAX_ABANDONED;
    pthread_mutex_unlock(&pl->mu);
    /* Never blocks the analytics: past playbooks.queue_max it is dropped. */
    bool full = !copy || none ||
                core_queue_push(pl->q, copy, 1, CORE_QUEUE_DROP, NULL) != CORE_QUEUE_OK;
    if (full) {
        free(copy);
        uint64_t n = atomic_fetch_add(&pl->dropped, 1) + 1;
        pb_metric_add(PB_M_DROPPED, 1);
        pthread_mutex_lock(&pl->mu);
        int64_t sup = core_log_limit_check(&pl->drop_limit, pl->cfg->log_error_interval_ms);
        pthread_mutex_unlock(&pl->mu);
        if (sup >= 0)
            core_log(CORE_LOG_ERROR, "playbooks",
                     none ? "no playbook worker left, incident dropped"
                          : "incident queue full, incident dropped",
                     "dropped_total=%" PRIu64 " queue_max=%" PRId64 " suppressed=%" PRId64, n,
                     pl->cfg->pb_queue_max, sup);
    }
}


/* Waits for w's thread until deadline (core_mono_ms); true when joined. */
static bool join_by(worker *w, int64_t deadline_ms)
{
    int64_t left = deadline_ms - core_mono_ms();
    if (left < 0)
        left = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return pthread_timedjoin_np(w->th, NULL, &ts) == 0;
}

int pb_live_stop(pb_live *pl)
{
    if (!pl)
        return 0;
    int64_t deadline = core_mono_ms() + pl->cfg->coll_shutdown_grace_ms;
    pthread_mutex_lock(&pl->mu);
    pl->stop = true;
    pthread_cond_broadcast(&pl->wcv);
    pthread_mutex_unlock(&pl->mu);
    /* The worker drains what is queued, then its pop returns at once. */
    if (pl->q)
        core_queue_close(pl->q);
    if (pl->watch_started)
        pthread_join(pl->watch, NULL);
    worker *w = pl->cur;
    if (!w) {
        /* no worker to hand what is queued to */
        size_t n = pl->q ? drop_queue(pl) : 0;
        if (n)
            core_log(CORE_LOG_ERROR, "playbooks", "stopping without a worker, incidents dropped",
                     "dropped=%zu", n);
    }
    bool stuck = false;
    for (int i = 0; i < pl->nabandoned; i++)
        pb_fx_hurry(pl->abandoned[i]->fx); /* should they come back: no retries */
    if (w && w->started) {
        pb_fx_hurry(w->fx);
        if (join_by(w, deadline)) {
            w->started = false;
        } else {
            /* Still in a run at the end of the grace period: abandoned too. */
            pthread_mutex_lock(&pl->mu);
            char q1[120], q2[260];
            core_log(CORE_LOG_ERROR, "playbooks",
                     "playbook worker still running at the end of the grace period, abandoned",
                     "playbook=%s incident=%s grace_ms=%" PRId64,
                     core_log_quote(q1, sizeof q1, w->run_since_us ? w->run_playbook : "-"),
                     core_log_quote(q2, sizeof q2, w->run_since_us ? w->run_incident : "-"),
                     pl->cfg->coll_shutdown_grace_ms);
            pthread_mutex_unlock(&pl->mu);
            pb_metric_add(PB_M_ABANDONED, 1);
            stuck = true;
        }
    }
    /* An abandoned worker that finished meanwhile is joined and freed;
     * one still running is left to the process' exit. */
    int running = 0;
    for (int i = 0; i < pl->nabandoned; i++) {
        worker *a = pl->abandoned[i];
        pthread_mutex_lock(&pl->mu);
        bool done = a->done;
        pthread_mutex_unlock(&pl->mu);
        if (done && join_by(a, deadline)) {
            worker_free(a);
            pl->abandoned[i] = NULL;
        } else {
            running++;
        }
    }
    if (w) {
        pb_engine_stats st;
        pb_engine_stats_get(w->eng, &st);
        core_log(CORE_LOG_INFO, "playbooks", "playbooks stopped",
                 "incidents=%" PRIu64 " runs=%" PRIu64 " ok=%" PRIu64 " errors=%" PRIu64
                 " blocked=%" PRIu64 " memory=%" PRIu64 " instructions=%" PRIu64
                 " deadline=%" PRIu64 " actions=%" PRIu64 " executed=%" PRIu64
                 " exec_failed=%" PRIu64 " escalations=%" PRIu64 " expired=%" PRIu64
                 " reverted=%" PRIu64 " dropped=%" PRIu64 " abandoned=%d",
                 st.incidents, st.runs, st.failed[PB_SB_OK],
                 st.failed[PB_SB_ERROR] + st.failed[PB_SB_SYNTAX], st.failed[PB_SB_BLOCKED],
                 st.failed[PB_SB_MEMORY], st.failed[PB_SB_INSTRUCTIONS],
                 st.failed[PB_SB_DEADLINE], st.actions, st.executed, st.exec_failed,
                 st.escalations, st.expired, st.reverted, atomic_load(&pl->dropped),
                 pl->nabandoned + (stuck ? 1 : 0));
    }
    bool abandoned = pl->nabandoned > 0 || stuck;
    if (stuck || running) {
        /* Threads still use pl (and their worker): leave both to the
         * process' exit, which the caller makes next. */
        return 1;
    }
    worker_free(w);
    if (pl->q)
        core_queue_free(pl->q, free);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->wcv);
    free(pl);
    return abandoned ? 1 : 0;
}
