/* The live side: a thread with its own PostgreSQL connection that runs the
 * playbooks for each incident, and the timers (approval expiry,
 * auto-revert, reload requests). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/log.h"
#include "playbooks/engine.h"
#include "playbooks/playbooks.h"

struct pb_live {
    const core_config *cfg;
    PGconn *db;
    pb_fx *fx;
    pb_engine *eng;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **q; /* ring of queued incidents */
    size_t qcap, qhead, qn;
    bool stop;
    atomic_int reload;
    _Atomic uint64_t dropped;
    core_log_limit drop_limit;
};

static int listen_reload(PGconn *db, char *err, size_t errlen)
{
    return core_db_exec(db, "LISTEN custos_playbooks", err, errlen);
}

static void poll_notifies(pb_live *pl)
{
    if (!PQconsumeInput(pl->db))
        return;
    PGnotify *n;
    while ((n = PQnotifies(pl->db))) {
        if (strcmp(n->relname, "custos_playbooks") == 0)
            atomic_store(&pl->reload, 1);
        PQfreemem(n);
    }
}

/* A lost connection comes back with back-off; the engine borrows the same
 * PGconn, which PQreset keeps. */
static void keep_connected(pb_live *pl)
{
    if (PQstatus(pl->db) == CONNECTION_OK)
        return;
    PQreset(pl->db);
    char err[512];
    if (PQstatus(pl->db) == CONNECTION_OK && listen_reload(pl->db, err, sizeof err) == 0) {
        core_log(CORE_LOG_INFO, "playbooks", "reconnected to PostgreSQL", NULL);
        atomic_store(&pl->reload, 1);
    }
}

static void tick(pb_live *pl)
{
    keep_connected(pl);
    poll_notifies(pl);
    if (atomic_exchange(&pl->reload, 0))
        pb_engine_load_dir(pl->eng, pb_engine_dir(pl->cfg), NULL);
    char err[512];
    if (pb_engine_tick(pl->eng, err, sizeof err) < 0) {
        char q[600];
        core_log(CORE_LOG_ERROR, "playbooks", "timers failed", "error=%s",
                 core_log_quote(q, sizeof q, err));
    }
}

static void *loop(void *arg)
{
    pb_live *pl = arg;
    int64_t next_tick = core_mono_ms();
    for (;;) {
        char *item = NULL;
        bool stopping;
        pthread_mutex_lock(&pl->mu);
        while (!pl->stop && pl->qn == 0 && core_mono_ms() < next_tick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait = next_tick - core_mono_ms();
            if (wait < 1)
                wait = 1;
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&pl->cv, &pl->mu, &ts);
        }
        if (pl->qn) {
            item = pl->q[pl->qhead];
            pl->qhead = (pl->qhead + 1) % pl->qcap;
            pl->qn--;
        }
        stopping = pl->stop;
        size_t left = pl->qn;
        pthread_mutex_unlock(&pl->mu);
        if (item && stopping && PQstatus(pl->db) != CONNECTION_OK) {
            /* Stopping without a database: what is queued cannot be
             * recorded, so it is dropped (counted) instead of waiting for
             * a connection at every item. The analytics keep the incidents. */
            atomic_fetch_add(&pl->dropped, 1 + left);
            pb_metric_add(PB_M_DROPPED, 1 + left);
            core_log(CORE_LOG_ERROR, "playbooks", "stopping without a database, incidents dropped",
                     "dropped=%zu", 1 + left);
            free(item);
            item = NULL;
            pthread_mutex_lock(&pl->mu);
            while (pl->qn) {
                free(pl->q[pl->qhead]);
                pl->qhead = (pl->qhead + 1) % pl->qcap;
                pl->qn--;
            }
            pthread_mutex_unlock(&pl->mu);
            break;
        }
        if (item) {
            char err[512];
            keep_connected(pl);
            if (pb_engine_incident(pl->eng, item, strlen(item), -1, 0, err, sizeof err) < 0) {
                char q[600];
                if (PQstatus(pl->db) != CONNECTION_OK && !stopping) {
                    /* The database is gone, not the incident: put it back
                     * at the head and wait for the connection. */
                    core_log(CORE_LOG_ERROR, "playbooks", "database lost, incident kept",
                             "error=%s", core_log_quote(q, sizeof q, err));
                    pthread_mutex_lock(&pl->mu);
                    if (pl->qn < pl->qcap) {
                        pl->qhead = (pl->qhead + pl->qcap - 1) % pl->qcap;
                        pl->q[pl->qhead] = item;
                        pl->qn++;
                        item = NULL;
                    }
                    pthread_mutex_unlock(&pl->mu);
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
        if (core_mono_ms() >= next_tick) {
            tick(pl);
            next_tick = core_mono_ms() + pl->cfg->pb_tick_ms;
        }
        if (stopping && left == 0)
            break;
    }
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
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->cv, NULL);
    pl->qcap = (size_t)cfg->pb_queue_max;
    pl->q = calloc(pl->qcap, sizeof *pl->q);
    if (!pl->q) {
        snprintf(err, errlen, "out of memory");
        goto error;
    }
    pl->db = core_db_connect(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, err, errlen);
    if (!pl->db)
        goto error;
    if (core_db_check_schema(pl->db, err, errlen) < 0 || listen_reload(pl->db, err, errlen) < 0)
        goto error;
    pl->fx = pb_fx_new(cfg, err, errlen);
    if (!pl->fx)
        goto error;
    pb_engine_opts o = {.cfg = cfg, .db = pl->db, .persist = true, .fx = pl->fx,
                          .audit_loads = true};
    pl->eng = pb_engine_new(&o, err, errlen);
    if (!pl->eng)
        goto error;
    if (pb_engine_load_dir(pl->eng, pb_engine_dir(cfg), NULL) < 0) {
        snprintf(err, errlen, "playbooks.dir %s cannot be read", pb_engine_dir(cfg));
        goto error;
    }
    if (pthread_create(&pl->th, NULL, loop, pl) != 0) {
        snprintf(err, errlen, "cannot start the playbooks thread");
        goto error;
    }
    pthread_setname_np(pl->th, "custos-playbook"); /* for top -H and perf */
    pl->started = true;
    core_log(CORE_LOG_INFO, "playbooks", "playbooks live", "playbooks=%zu dir=%s",
             pb_engine_count(pl->eng), pb_engine_dir(cfg));
    return pl;
error:
    pb_live_stop(pl);
    return NULL;
}

void pb_live_incident(pb_live *pl, const char *incident_json)
{
    char *copy = strdup(incident_json);
    pthread_mutex_lock(&pl->mu);
    bool full = !copy || pl->qn >= pl->qcap;
    if (!full) {
        pl->q[(pl->qhead + pl->qn) % pl->qcap] = copy;
        pl->qn++;
        pthread_cond_signal(&pl->cv);
    }
    pthread_mutex_unlock(&pl->mu);
    if (full) {
        free(copy);
        uint64_t n = atomic_fetch_add(&pl->dropped, 1) + 1;
        pb_metric_add(PB_M_DROPPED, 1);
        pthread_mutex_lock(&pl->mu);
        int64_t sup = core_log_limit_check(&pl->drop_limit, pl->cfg->log_error_interval_ms);
        pthread_mutex_unlock(&pl->mu);
        if (sup >= 0)
            core_log(CORE_LOG_ERROR, "playbooks", "incident queue full, incident dropped",
                     "dropped_total=%" PRIu64 " queue_max=%" PRId64 " suppressed=%" PRId64, n,
                     pl->cfg->pb_queue_max, sup);
    }
}

void pb_live_reload(pb_live *pl) { atomic_store(&pl->reload, 1); }

void pb_live_stop(pb_live *pl)
{
    if (!pl)
        return;
    if (pl->started) {
        pb_fx_hurry(pl->fx);
        pthread_mutex_lock(&pl->mu);
        pl->stop = true;
        pthread_cond_signal(&pl->cv);
        pthread_mutex_unlock(&pl->mu);
        pthread_join(pl->th, NULL);
        pb_engine_stats st;
        pb_engine_stats_get(pl->eng, &st);
        core_log(CORE_LOG_INFO, "playbooks", "playbooks stopped",
                 "incidents=%" PRIu64 " runs=%" PRIu64 " ok=%" PRIu64 " errors=%" PRIu64
                 " blocked=%" PRIu64 " memory=%" PRIu64 " instructions=%" PRIu64
                 " deadline=%" PRIu64 " actions=%" PRIu64 " executed=%" PRIu64
                 " exec_failed=%" PRIu64 " escalations=%" PRIu64 " expired=%" PRIu64
                 " reverted=%" PRIu64 " dropped=%" PRIu64,
                 st.incidents, st.runs, st.failed[PB_SB_OK],
                 st.failed[PB_SB_ERROR] + st.failed[PB_SB_SYNTAX], st.failed[PB_SB_BLOCKED],
                 st.failed[PB_SB_MEMORY], st.failed[PB_SB_INSTRUCTIONS],
                 st.failed[PB_SB_DEADLINE], st.actions, st.executed, st.exec_failed,
                 st.escalations, st.expired, st.reverted, atomic_load(&pl->dropped));
    }
    for (size_t i = 0; pl->q && i < pl->qn; i++)
        free(pl->q[(pl->qhead + i) % pl->qcap]);
    free(pl->q);
    pb_engine_free(pl->eng);
    pb_fx_free(pl->fx);
    if (pl->db)
        PQfinish(pl->db);
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->cv);
    free(pl);
}
