/* Humans' decisions on pending actions, for the CLI and the web console:
 * one engine with its effectors and playbooks, kept between decisions and
 * given the caller's connection for each. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/event.h"
#include "incidents/incidents.h"
#include "playbooks/pb_engine.h"
#include "playbooks/pb_store.h"
#include "playbooks/playbooks.h"

#define REASON_MAX 1000
#define TTL_MAX_S (30LL * 24 * 3600) /* as the Lua API's */

struct pb_actions {
    pthread_mutex_t mu; /* one decision at a time: the effectors are not shared-safe */
    const core_config *cfg;
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
    pa->cfg = cfg;
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

static bool line_ok(const char *s, size_t max);

int pb_action_approve(pb_actions *pa, PGconn *db, int64_t id, const char *actor,
                      const char *reason, pb_gate gate, char *state, size_t statelen, char *err,
                      size_t errlen)
{
    if (reason && !*reason)
        reason = NULL;
    if (reason && !line_ok(reason, REASON_MAX)) {
        snprintf(err, errlen, "the reason is one line of at most %d bytes", REASON_MAX);
        return PB_DECIDE_BAD_REASON;
    }
    if (!pb_gate_name(gate) && gate != PB_GATE_NONE) {
        snprintf(err, errlen, "the gate is authority_informed or override");
        return PB_DECIDE_BAD_REASON;
    }
    pthread_mutex_lock(&pa->mu);
    pb_engine_set_db(pa->eng, db);
    int rc = pb_engine_approve(pa->eng, id, actor, reason, gate, state, statelen, err, errlen);
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

/* ---- a person's own request ---- */

/* A line of 1..max bytes: valid UTF-8, no control character. */
static bool line_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= max && core_utf8_invalid_at((const unsigned char *)s, n) < 0 &&
           core_text_control_at(s, n) < 0;
}

/* Checks rq and builds its parameters (the Lua API's members, in its order,
 * plus who asked and when: each request is an action of its own). Returns
 * the params (the caller cJSON_Delete()s them), or NULL with err. */
static cJSON *request_params(const pb_request *rq, const char *actor, pb_kind *kind,
                             const char **subject, char *err, size_t errlen)
{
    int k = rq->kind ? pb_kind_parse(rq->kind) : -1;
    if (k != PB_K_REVOKE_KEY && k != PB_K_RESTORE_KEY && k != PB_K_THROTTLE_KEY &&
        k != PB_K_UNTHROTTLE_KEY && k != PB_K_ROLLBACK_MODEL) {
        snprintf(err, errlen, "kind is one of revoke_key, restore_key, throttle_key, "
                              "unthrottle_key, rollback_model");
        return NULL;
    }
    const char *p = rq->reason;
    while (p && (*p == ' ' || *p == '\t'))
        p++;
    if (!p || !*p) {
        snprintf(err, errlen, "a containment request needs a reason");
        return NULL;
    }
    if (!line_ok(rq->reason, REASON_MAX)) {
        snprintf(err, errlen, "the reason is one line of at most %d bytes", REASON_MAX);
        return NULL;
    }
    if ((rq->gate != PB_GATE_NONE && !pb_gate_name(rq->gate)) ||
        (rq->gate != PB_GATE_NONE && !line_ok(rq->gate_reason, REASON_MAX)) ||
        (rq->gate == PB_GATE_NONE && rq->gate_reason)) {
        snprintf(err, errlen, "the gate (authority_informed or override) comes with its "
                              "gate_reason, one line of at most %d bytes", REASON_MAX);
        return NULL;
    }
    if (rq->incident_id && !line_ok(rq->incident_id, 256)) {
        snprintf(err, errlen, "incident_id is 1 to 256 bytes of text");
        return NULL;
    }
    bool key = k != PB_K_ROLLBACK_MODEL;
    if (key && !line_ok(rq->key_id, 256)) {
        snprintf(err, errlen, "a key id is 1 to 256 bytes of text");
        return NULL;
    }
    if (rq->ttl_s < 0 || rq->ttl_s > TTL_MAX_S ||
        (rq->ttl_s && k != PB_K_REVOKE_KEY && k != PB_K_THROTTLE_KEY)) {
        snprintf(err, errlen, "ttl_s is 1 to %lld seconds, for revoke_key and throttle_key only",
                 TTL_MAX_S);
        return NULL;
    }
    if (k == PB_K_THROTTLE_KEY && !(rq->rps >= 0.001 && rq->rps <= 1e6)) {
        snprintf(err, errlen, "rps (requests per second) is 0.001 to 1000000");
        return NULL;
    }
    const char *to = rq->to ? rq->to : "previous";
    if (!key) {
        if (!line_ok(rq->model, 256) || !line_ok(rq->from, 128) || !line_ok(to, 128)) {
            snprintf(err, errlen, "a rollback names the model (1 to 256 bytes) and the versions "
                                  "from and to (1 to 128 bytes; to may be \"previous\")");
            return NULL;
        }
        if (strcmp(rq->from, to) == 0) {
            snprintf(err, errlen, "'from' and 'to' are the same version");
            return NULL;
        }
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char at[40], ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(at, sizeof at, "%s.%06ldZ", ts, (long)tv.tv_usec);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (key) {
        cJSON_AddStringToObject(o, "key_id", rq->key_id);
        if (k == PB_K_THROTTLE_KEY)
            cJSON_AddNumberToObject(o, "rps", rq->rps);
        if (rq->ttl_s)
            cJSON_AddNumberToObject(o, "ttl_s", (double)rq->ttl_s);
        *subject = rq->key_id;
    } else {
        cJSON_AddStringToObject(o, "model", rq->model);
        cJSON_AddStringToObject(o, "from", rq->from);
        cJSON_AddStringToObject(o, "to", to);
        *subject = rq->model;
    }
    cJSON_AddStringToObject(o, "reason", rq->reason);
    cJSON_AddStringToObject(o, "requested_by", actor);
    cJSON_AddStringToObject(o, "requested_at", at);
    *kind = (pb_kind)k;
    return o;
}

int pb_action_request(pb_actions *pa, PGconn *db, const pb_request *rq, const char *actor,
                      int64_t *id, char *state, size_t statelen, char *err, size_t errlen)
{
    pb_kind kind;
    const char *subject = NULL;
    if (!actor || !*actor) {
        snprintf(err, errlen, "a request needs an actor");
        return 1;
    }
    cJSON *params = request_params(rq, actor, &kind, &subject, err, errlen);
    if (!params)
        return 1;
    int rc = -1;
    char *pj = cJSON_PrintUnformatted(params), *res = NULL, *would = NULL;
    if (!pj) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (rq->incident_id) {
        bool found = false;
        err[0] = '\0';
        cJSON *inc = inc_get(db, rq->incident_id, false, &found, err, errlen);
        cJSON_Delete(inc);
        if (!found) {
            if (!err[0]) {
                snprintf(err, errlen, "no incident %s", rq->incident_id);
                rc = 2;
            }
            goto done;
        }
    }
    bool dry = strcmp(pa->cfg->pb_dry_run, "on") == 0;
    if (dry) {
        would = pb_describe(kind, params, pa->cfg);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "would", would ? would : "");
        res = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
    }
    bool created = false;
    char st[32] = "";
    pthread_mutex_lock(&pa->mu);
    /* Proposed and pending as any action that waits for a person, then
     * approved by the very person who asked: decided_by and the audit
     * chain name them, and the execution is the approval path's. */
    int got = pb_store_propose(db, rq->incident_id ? rq->incident_id : "", "manual", kind,
                               subject, pj, dry, false, rq->ttl_s, 0, actor,
                               dry ? "dry_run" : "pending_approval",
                               pa->cfg->pb_approval_expiry_ms, res, id, st, sizeof st, &created,
                               err, errlen);
    if (got == 0 && !created) {
        snprintf(err, errlen, "the same request is already recorded as action %" PRId64, *id);
        got = -1;
    }
    if (got == 0 && !dry) {
        /* The same approval path, the preservation gate included: a
         * person's own rollback is held like a playbook's. */
        pb_engine_set_db(pa->eng, db);
        got = pb_engine_approve(pa->eng, *id, actor, rq->gate_reason, rq->gate, st, sizeof st,
                                err, errlen);
        pb_engine_set_db(pa->eng, NULL);
    }
    pthread_mutex_unlock(&pa->mu);
    if (got == 0) {
        snprintf(state, statelen, "%s", st);
        rc = 0;
    } else if (got == PB_DECIDE_GATE || got == PB_DECIDE_NEEDS_REASON) {
        snprintf(state, statelen, "pending_approval");
        rc = 3;
    }
done:
    cJSON_Delete(params);
    free(pj);
    free(res);
    free(would);
    return rc;
}
