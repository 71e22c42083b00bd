/* The forensics service of custos run: one thread with its own database
 * connection that signs an audit checkpoint every
 * audit.checkpoint_interval_ms (when audit.signing_key is set), applies
 * the retention every retention.interval_ms (fo_retention.c) and checks
 * the serious incidents' Art. 73 report deadlines every
 * incidents.serious_check_interval_ms (incidents/inc_serious.c). It waits on
 * a condition variable against the monotonic clock, so a stop is prompt and
 * a wall clock set back does not stretch a wait. */
#include "forensics/forensics.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cli.h"
#include "core/db.h"
#include "core/log.h"
#include "forensics/fo_internal.h"
#include "incidents/incidents.h"

struct forensics_service {
    const core_config *cfg;
    audit_key key;
    bool have_key;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    PGconn *db;
};

PGconn *forensics_service_db(forensics_service *s)
{
    if (s->db && PQstatus(s->db) == CONNECTION_OK)
        return s->db;
    if (s->db)
        PQfinish(s->db);
    char err[1024];
    s->db = core_cli_db_err(s->cfg, false, err, sizeof err);
    if (!s->db) {
        char q[1100];
        core_log(CORE_LOG_WARN, "forensics", "cannot reach PostgreSQL", "error=%s",
                 core_log_quote(q, sizeof q, err));
    }
    return s->db;
}

const core_config *forensics_service_cfg(forensics_service *s) { return s->cfg; }

static void checkpoint(forensics_service *s)
{
    PGconn *c = forensics_service_db(s);
    if (!c)
        return;
    char err[1024], q[1100];
    int64_t seq = 0;
    bool written = false;
    if (audit_checkpoint(c, &s->key, &seq, &written, err, sizeof err) < 0)
        core_log(CORE_LOG_WARN, "forensics", "audit checkpoint failed", "error=%s",
                 core_log_quote(q, sizeof q, err));
    else if (written)
        core_log(CORE_LOG_INFO, "forensics", "audit checkpoint signed", "seq=%lld key_id=%s",
                 (long long)seq, s->key.id);
}

/* Notifies and escalates the serious incidents' report deadlines. */
static void serious_deadlines(forensics_service *s)
{
    PGconn *c = forensics_service_db(s);
    if (!c)
        return;
    char err[1024], q[1100];
    int notified = 0, escalated = 0;
    if (inc_serious_check(c, s->cfg->inc_serious_notify_before_ms, &notified, &escalated, err,
                          sizeof err) < 0)
        core_log(CORE_LOG_WARN, "forensics", "serious incident deadline check failed",
                 "error=%s", core_log_quote(q, sizeof q, err));
}

/* Waits until ms from now on the monotonic clock, or a stop. */
static bool wait_ms(forensics_service *s, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
        ;
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return !stop;
}

static void *service_main(void *arg)
{
    forensics_service *s = arg;
    /* Checkpoints at once; the first retention pass one interval after
     * start, so a restart loop cannot turn into a drop loop, and a daemon
     * started to look at old data has an interval to be told otherwise. */
    int64_t next_cp = 0, next_ret = core_mono_ms() + s->cfg->ret_interval_ms, next_serious = 0;
    for (;;) {
        int64_t now = core_mono_ms();
        if (now >= next_serious) {
            serious_deadlines(s);
            next_serious = now + s->cfg->inc_serious_check_ms;
        }
        if (s->have_key && now >= next_cp) {
            checkpoint(s);
            next_cp = now + s->cfg->audit_checkpoint_interval_ms;
        }
        if (now >= next_ret) {
            forensics_service_retention(s);
            next_ret = now + s->cfg->ret_interval_ms;
        }
        int64_t wait = next_ret - core_mono_ms();
        if (s->have_key && next_cp - core_mono_ms() < wait)
            wait = next_cp - core_mono_ms();
        if (next_serious - core_mono_ms() < wait)
            wait = next_serious - core_mono_ms();
        if (!wait_ms(s, wait > 0 ? wait : 0))
            break;
    }
    return NULL;
}

forensics_service *forensics_service_start(const core_config *cfg, char *err, size_t errlen)
{
    forensics_service *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    if (cfg->audit_signing_key[0]) {
        if (audit_key_load(cfg->audit_signing_key, &s->key, err, errlen) < 0) {
            free(s);
            return NULL;
        }
        s->have_key = true;
    } else {
        core_log(CORE_LOG_INFO, "forensics", "no audit.signing_key: the audit chain's head is "
                 "not checkpointed", NULL);
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, service_main, s) != 0) {
        snprintf(err, errlen, "cannot start the forensics thread");
        audit_key_wipe(&s->key);
        free(s);
        return NULL;
    }
    return s;
}

void forensics_service_stop(forensics_service *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    if (s->db)
        PQfinish(s->db);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    audit_key_wipe(&s->key);
    free(s);
}
