/* Humans' decisions on pending actions, for the CLI and the web console:
 * one engine with its effectors and playbooks, kept between decisions and
 * given the caller's connection for each. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "playbooks/pb_engine.h"
#include "playbooks/playbooks.h"

struct pb_actions {
    pthread_mutex_t mu; /* one decision at a time: the effectors are not shared-safe */
    pb_fx *fx;
    pb_engine *eng;
};

pb_actions *pb_actions_open(const core_config *cfg, core_db_pool *pool, char *err,
                            size_t errlen)
{
    pb_actions *pa = calloc(1, sizeof *pa);
    if (!pa) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&pa->mu, NULL);
    PGconn *db = core_db_pool_get(pool, (int64_t)cfg->pg_connect_timeout_s * 1000, err, errlen);
    if (!db || core_db_check_schema(db, err, errlen) < 0)
        goto error;
    pa->fx = pb_fx_new(cfg, err, errlen);
    if (!pa->fx)
        goto error;
    pb_engine_opts o = {.cfg = cfg, .db = db, .persist = true, .fx = pa->fx};
    pa->eng = pb_engine_new(&o, err, errlen);
    if (!pa->eng)
        goto error;
    /* An action that fails here escalates through the playbooks, as in the
     * daemon. A refused file is reported by the loader's log. */
    if (pb_engine_load_dir(pa->eng, pb_engine_dir(cfg), NULL) < 0) {
        snprintf(err, errlen, "playbooks.dir %s cannot be read", pb_engine_dir(cfg));
        goto error;
    }
    pb_engine_set_db(pa->eng, NULL); /* each decision brings its own */
    core_db_pool_put(pool, db);
    return pa;
error:
    if (db)
        core_db_pool_put(pool, db);
    pb_actions_close(pa);
    return NULL;
}

void pb_actions_close(pb_actions *pa)
{
    if (!pa)
        return;
    pb_engine_free(pa->eng);
    pb_fx_free(pa->fx);
    pthread_mutex_destroy(&pa->mu);
    free(pa);
}

int pb_action_approve(pb_actions *pa, PGconn *db, int64_t id, const char *actor, char *state,
                      size_t statelen, char *err, size_t errlen)
{
    pthread_mutex_lock(&pa->mu);
    pb_engine_set_db(pa->eng, db);
    int rc = pb_engine_approve(pa->eng, id, actor, state, statelen, err, errlen);
    pb_engine_set_db(pa->eng, NULL);
    pthread_mutex_unlock(&pa->mu);
    return rc;
}

int pb_action_reject(pb_actions *pa, PGconn *db, int64_t id, const char *actor,
                     const char *reason, char *err, size_t errlen)
{
    if (!reason || !*reason) {
        snprintf(err, errlen, "a rejection needs a reason");
        return PB_DECIDE_NEEDS_REASON;
    }
    pthread_mutex_lock(&pa->mu);
    pb_engine_set_db(pa->eng, db);
    int rc = pb_engine_reject(pa->eng, id, actor, reason, err, errlen);
    pb_engine_set_db(pa->eng, NULL);
    pthread_mutex_unlock(&pa->mu);
    return rc;
}
