/* The playbook engine: matching, runs, and the life of actions. */
#include "playbooks/pb_engine.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "core/log.h"
#include "core/share.h"
#include "playbooks/pb_store.h"

#define MAX_TODO 256
#define TICK_BATCH 100
#define ORPHAN_S 30   /* approved and not executed for this long: orphaned */
#define STUCK_S 600   /* executing for this long: the executor is gone */

typedef struct {
    pb_playbook pb;
    bool loaded;
} slot;

struct pb_engine {
    pb_engine_opts o;
    pb_sb_limits lim;
    slot *pbs;
    size_t n, cap;
    int64_t todo[MAX_TODO]; /* approved actions of the current delivery */
    bool todo_first[MAX_TODO]; /* containment: executed before notify/set_incident */
    int ntodo;
    int depth;              /* > 0 while handling an escalation */
    cJSON *mem;             /* in-memory actions */
    int64_t mem_next;
    cJSON *last_runs;
    pb_engine_stats st;
    core_log_limit run_limit;
    pb_incident *cur;       /* the incident being handled */
};

const char *pb_engine_dir(const core_config *cfg)
{
    return cfg->pb_dir && *cfg->pb_dir ? cfg->pb_dir : core_share_default("playbooks");
}

pb_engine *pb_engine_new(const pb_engine_opts *o, char *err, size_t errlen)
{
    pb_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->o = *o;
    if (e->o.persist && !e->o.db) {
        snprintf(err, errlen, "persisting actions needs a database connection");
        free(e);
        return NULL;
    }
    e->lim.max_bytes = (size_t)o->cfg->sec_lua_max_bytes;
    e->lim.max_instructions = (uint64_t)o->cfg->sec_lua_max_instructions;
    e->lim.deadline_us = o->cfg->sec_lua_deadline_ms * 1000;
    e->mem = cJSON_CreateArray();
    e->last_runs = cJSON_CreateArray();
    e->mem_next = 1;
    return e;
}

void pb_engine_free(pb_engine *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++)
        pb_playbook_free(&e->pbs[i].pb);
    free(e->pbs);
    cJSON_Delete(e->mem);
    cJSON_Delete(e->last_runs);
    free(e);
}

size_t pb_engine_count(const pb_engine *e) { return e->n; }
const cJSON *pb_engine_memory_actions(const pb_engine *e) { return e->mem; }
const cJSON *pb_engine_last_runs(const pb_engine *e) { return e->last_runs; }

void pb_engine_memory_reset(pb_engine *e)
{
    cJSON_Delete(e->mem);
    e->mem = cJSON_CreateArray();
}
void pb_engine_stats_get(const pb_engine *e, pb_engine_stats *s) { *s = e->st; }

/* ---- loading ---- */

static slot *find_path(pb_engine *e, const char *path)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->pbs[i].pb.path, path) == 0)
            return &e->pbs[i];
    return NULL;
}

static int put(pb_engine *e, pb_playbook *pb)
{
    slot *s = find_path(e, pb->path);
    if (s) {
        pb_playbook_free(&s->pb);
        s->pb = *pb;
        s->loaded = true;
        return 0;
    }
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 16;
        slot *np = realloc(e->pbs, nc * sizeof *np);
        if (!np)
            return -1;
        e->pbs = np;
        e->cap = nc;
    }
    e->pbs[e->n].pb = *pb;
    e->pbs[e->n].loaded = true;
    e->n++;
    return 0;
}

int pb_engine_load_file(pb_engine *e, const char *path, char *err, size_t errlen)
{
    pb_playbook pb;
    if (pb_playbook_load_file(&pb, path, &e->lim, err, errlen) < 0) {
        pb_playbook_free(&pb);
        return -1;
    }
    if (put(e, &pb) < 0) {
        pb_playbook_free(&pb);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int pb_engine_load_dir(pb_engine *e, const char *dir, FILE *report)
{
    DIR *d = opendir(dir);
    if (!d) {
        char q[300];
        core_log(CORE_LOG_ERROR, "playbooks", "cannot read the playbook folder", "dir=%s",
                 core_log_quote(q, sizeof q, dir));
        if (report)
            fprintf(report, "%s: cannot read the folder\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t nn = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".lua") != 0 || de->d_name[0] == '.')
            continue;
        if (nn == cap) {
            cap = cap ? cap * 2 : 16;
            char **nb = realloc(names, cap * sizeof *nb);
            if (!nb)
                break;
            names = nb;
        }
        if (asprintf(&names[nn], "%s/%s", dir, de->d_name) >= 0)
            nn++;
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < e->n; i++)
        e->pbs[i].loaded = false;
    int refused = 0;
    cJSON *sum = cJSON_CreateObject();
    cJSON *ok = cJSON_AddArrayToObject(sum, "loaded");
    cJSON *bad = cJSON_AddArrayToObject(sum, "refused");
    for (size_t i = 0; i < nn; i++) {
        char err[600];
        slot *old = find_path(e, names[i]);
        if (pb_engine_load_file(e, names[i], err, sizeof err) < 0) {
            refused++;
            char q[700];
            core_log(CORE_LOG_ERROR, "playbooks", "playbook refused", "error=%s kept_old=%d",
                     core_log_quote(q, sizeof q, err), old != NULL);
            if (report)
                fprintf(report, "refused %s%s\n", err, old ? " (the previous version stays)" : "");
            cJSON *b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "file", names[i]);
            cJSON_AddStringToObject(b, "error", err);
            cJSON_AddBoolToObject(b, "kept_previous", old != NULL);
            cJSON_AddItemToArray(bad, b);
            if (old)
                old->loaded = true;
        } else {
            slot *s = find_path(e, names[i]);
            if (report)
                fprintf(report, "loaded  %s (%s) sha256:%.12s\n", s->pb.path, s->pb.name,
                        s->pb.sha256);
            cJSON *g = cJSON_CreateObject();
            cJSON_AddStringToObject(g, "file", s->pb.path);
            cJSON_AddStringToObject(g, "name", s->pb.name);
            cJSON_AddStringToObject(g, "sha256", s->pb.sha256);
            cJSON_AddItemToArray(ok, g);
        }
        free(names[i]);
    }
    free(names);
    /* Files that are gone from the folder are dropped. */
    size_t w = 0;
    for (size_t i = 0; i < e->n; i++) {
        if (e->pbs[i].loaded)
            e->pbs[w++] = e->pbs[i];
        else
            pb_playbook_free(&e->pbs[i].pb);
    }
    e->n = w;
    if (e->o.persist && e->o.audit_loads) {
        char *detail = cJSON_PrintUnformatted(sum);
        char err[512];
        if (detail && audit_append_tx(e->o.db, "custos", "playbooks_reloaded", 0, NULL, detail,
                                      err, sizeof err) < 0) {
            char q[600];
            core_log(CORE_LOG_ERROR, "playbooks", "cannot audit the reload", "error=%s",
                     core_log_quote(q, sizeof q, err));
        }
        free(detail);
    }
    cJSON_Delete(sum);
    core_log(refused ? CORE_LOG_WARN : CORE_LOG_INFO, "playbooks", "playbooks loaded",
             "count=%zu refused=%d", e->n, refused);
    return refused;
}

/* ---- descriptions ---- */

static const char *ps(const cJSON *p, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

char *pb_describe(pb_kind kind, const cJSON *params, const core_config *cfg)
{
    char *s = NULL;
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(params, "ttl_s");
    char ttls[64] = "";
    if (cJSON_IsNumber(ttl))
        snprintf(ttls, sizeof ttls, ", restored after %.0f s", ttl->valuedouble);
    int rc = -1;
    switch (kind) {
    case PB_K_REVOKE_KEY:
        rc = asprintf(&s, "revoke key %s%s", ps(params, "key_id"), ttls);
        break;
    case PB_K_RESTORE_KEY:
        rc = asprintf(&s, "restore key %s", ps(params, "key_id"));
        break;
    case PB_K_THROTTLE_KEY: {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(params, "rps");
        rc = asprintf(&s, "throttle key %s to %g requests/s%s", ps(params, "key_id"),
                      cJSON_IsNumber(r) ? r->valuedouble : 0, ttls);
        break;
    }
    case PB_K_UNTHROTTLE_KEY:
        rc = asprintf(&s, "lift the throttle on key %s", ps(params, "key_id"));
        break;
    case PB_K_ROLLBACK_MODEL:
        rc = asprintf(&s, "freeze the evidence, then roll model %s back from %s to %s",
                      ps(params, "model"), ps(params, "from"), ps(params, "to"));
        break;
    case PB_K_NOTIFY:
        rc = asprintf(&s, "notify %s", ps(params, "target"));
        break;
    case PB_K_SET_INCIDENT:
        rc = asprintf(&s, "update the incident:%s%s%s%s%s", *ps(params, "status") ? " status " : "",
                      ps(params, "status"), *ps(params, "severity") ? " severity " : "",
                      ps(params, "severity"), *ps(params, "note") ? " note" : "");
        break;
    case PB_K_COUNT:
        break;
    }
    if (rc < 0)
        return NULL;
    char targets[128];
    pb_fx_targets(cfg, kind, ps(params, "target"), targets, sizeof targets);
    char *full = NULL;
    if (asprintf(&full, "%s (effectors: %s)", s, targets) < 0)
        full = NULL;
    free(s);
    return full;
}

/* ---- the host ---- */

static bool kind_listed(const char *list, pb_kind k)
{
    const char *name = pb_kinds[k];
    size_t nl = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *q = p;
        while (*q && *q != ',' && *q != ' ')
            q++;
        if ((size_t)(q - p) == nl && strncmp(p, name, nl) == 0)
            return true;
        p = q;
    }
    return false;
}

static int host_action(void *ud, const pb_call *c, int64_t *id, char *state, size_t statelen,
                       char *err, size_t errlen)
{
    pb_engine *e = ud;
    const core_config *cfg = e->o.cfg;
    bool dry = e->o.force_dry_run || !e->o.persist || strcmp(cfg->pb_dry_run, "on") == 0 ||
               c->playbook->dry_run;
    bool appr = c->approval || kind_listed(cfg->pb_approval_kinds, c->kind);
    const char *first = dry ? "dry_run" : appr ? "pending_approval" : "approved";
    char *params = cJSON_PrintUnformatted(c->params);
    char *would = dry ? pb_describe(c->kind, c->params, cfg) : NULL;
    char actor[96];
    snprintf(actor, sizeof actor, "playbook:%s", c->playbook->name);
    int rc = -1;
    if (!params || (dry && !would)) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (e->o.persist) {
        char *res = NULL;
        if (would) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "would", would);
            cJSON_AddBoolToObject(r, "approval_required", appr);
            res = cJSON_PrintUnformatted(r);
            cJSON_Delete(r);
        }
        bool created;
        rc = pb_store_propose(e->o.db, c->inc->id, c->playbook->name, c->kind, c->subject, params,
                              dry, appr, c->ttl_s, 0, actor, first, cfg->pb_approval_expiry_ms,
                              res, id, state, statelen, &created, err, errlen);
        free(res);
        if (rc == 0 && created && strcmp(state, "approved") == 0 && e->ntodo < MAX_TODO) {
            e->todo_first[e->ntodo] = pb_kind_contains(c->kind);
            e->todo[e->ntodo++] = *id;
        }
        goto done;
    }
    /* In memory: the same incident, kind and params is the same action. */
    const cJSON *it;
    cJSON_ArrayForEach(it, e->mem)
    {
        if (strcmp(ps(it, "incident_id"), c->inc->id) == 0 &&
            strcmp(ps(it, "kind"), pb_kinds[c->kind]) == 0 &&
            cJSON_Compare(cJSON_GetObjectItemCaseSensitive(it, "params"), c->params, 1)) {
            *id = (int64_t)cJSON_GetObjectItemCaseSensitive(it, "id")->valuedouble;
            snprintf(state, statelen, "%s", ps(it, "state"));
            rc = 0;
            goto done;
        }
    }
    cJSON *a = cJSON_CreateObject();
    *id = e->mem_next++;
    cJSON_AddNumberToObject(a, "id", (double)*id);
    cJSON_AddStringToObject(a, "incident_id", c->inc->id);
    cJSON_AddStringToObject(a, "playbook", c->playbook->name);
    cJSON_AddStringToObject(a, "kind", pb_kinds[c->kind]);
    cJSON_AddStringToObject(a, "subject", c->subject);
    cJSON_AddItemToObject(a, "params", cJSON_Duplicate(c->params, 1));
    cJSON_AddStringToObject(a, "state", "dry_run");
    cJSON_AddBoolToObject(a, "approval_required", appr);
    cJSON_AddStringToObject(a, "would", would);
    cJSON_AddItemToArray(e->mem, a);
    snprintf(state, statelen, "dry_run");
    rc = 0;
done:
    if (rc == 0) {
        e->st.actions++;
        pb_metric_add(PB_M_ACTIONS, 1);
    }
    free(params);
    free(would);
    return rc;
}

static cJSON *query_json(PGconn *db, const char *sql, const char *arg)
{
    if (!db)
        return NULL;
    const char *v[] = {arg};
    PGresult *r = PQexecParams(db, sql, 1, NULL, v, NULL, NULL, 0);
    cJSON *j = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        j = cJSON_Parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    return j;
}

static cJSON *host_key_info(void *ud, const char *key)
{
    pb_engine *e = ud;
    return query_json(e->o.db,
                      "SELECT row_to_json(k)::text FROM (SELECT key_id, status, revoked_at, "
                      "restored_at, reason, throttle_rps, throttled_until, updated_at FROM "
                      "api_keys WHERE key_id = $1) k",
                      key);
}

static cJSON *host_model_info(void *ud, const char *model)
{
    pb_engine *e = ud;
    return query_json(e->o.db,
                      "SELECT json_build_object('model', $1::text, 'active_version', (SELECT "
                      "version FROM model_deployments WHERE model = $1 AND active), 'versions', "
                      "(SELECT json_agg(json_build_object('version', version, 'active', active, "
                      "'deployed_at', deployed_at, 'retired_at', retired_at) ORDER BY "
                      "deployed_at) FROM model_deployments WHERE model = $1))::text WHERE EXISTS "
                      "(SELECT 1 FROM model_deployments WHERE model = $1)",
                      model);
}

/* ---- incidents ---- */

static void run_all(pb_engine *e, pb_incident *inc)
{
    pb_host host = {.ud = e, .action = host_action, .key_info = host_key_info,
                    .model_info = host_model_info};
    for (size_t i = 0; i < e->n; i++) {
        const pb_playbook *pb = &e->pbs[i].pb;
        if (!pb_playbook_wants(pb, inc))
            continue;
        pb_run_result r;
        if (e->o.on_run)
            e->o.on_run(e->o.on_run_ud, pb->name, inc->id, true);
        pb_run(pb, inc, &host, &e->lim, (int)e->o.cfg->pb_max_actions_per_run, &r);
        if (e->o.on_run)
            e->o.on_run(e->o.on_run_ud, pb->name, inc->id, false);
        e->st.runs++;
        e->st.failed[r.status]++;
        pb_metric_run(r.status);
        if (r.matched)
            e->st.matched++;
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "playbook", pb->name);
        cJSON_AddStringToObject(j, "status", pb_sb_status_name(r.status));
        cJSON_AddBoolToObject(j, "matched", r.matched);
        cJSON_AddNumberToObject(j, "actions", r.actions);
        cJSON_AddNumberToObject(j, "us", (double)r.us);
        cJSON_AddNumberToObject(j, "peak_bytes", (double)r.peak_bytes);
        if (r.status != PB_SB_OK)
            cJSON_AddStringToObject(j, "error", r.err);
        cJSON_AddItemToArray(e->last_runs, j);
        if (r.status != PB_SB_OK) {
            /* Logged with file:line, rate-limited, counted; the other
             * playbooks still run. */
            int64_t sup = core_log_limit_check(&e->run_limit, e->o.cfg->log_error_interval_ms);
            if (sup >= 0) {
                char q1[120], q2[700], q3[240];
                core_log(CORE_LOG_ERROR, "playbooks", "playbook run failed",
                         "playbook=%s incident=%s class=%s error=%s suppressed=%" PRId64,
                         core_log_quote(q1, sizeof q1, pb->name),
                         core_log_quote(q3, sizeof q3, inc->id), pb_sb_status_name(r.status),
                         core_log_quote(q2, sizeof q2, r.err), sup);
            }
        }
    }
}

static void execute_todo(pb_engine *e)
{
    /* Escalations nest: take this level's list and start a fresh one. */
    /* Containment first (the key is revoked before anyone is told), in
     * the order the playbooks asked, then notifications and updates. */
    int n = 0;
    int64_t ids[MAX_TODO];
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < e->ntodo; i++)
            if (e->todo_first[i] == (pass == 0))
                ids[n++] = e->todo[i];
    e->ntodo = 0;
    for (int i = 0; i < n; i++) {
        char err[512];
        if (pb_engine_execute(e, ids[i], err, sizeof err) < 0) {
            char q[600];
            core_log(CORE_LOG_ERROR, "playbooks", "cannot execute the action",
                     "action=%" PRId64 " error=%s", ids[i], core_log_quote(q, sizeof q, err));
        }
    }
}

static int handle(pb_engine *e, pb_incident *inc)
{
    cJSON_Delete(e->last_runs);
    e->last_runs = cJSON_CreateArray();
    e->st.incidents++;
    pb_metric_add(PB_M_INCIDENTS, 1);
    pb_incident *saved = e->cur;
    e->cur = inc;
    run_all(e, inc);
    e->cur = saved;
    if (e->o.persist)
        execute_todo(e);
    return 0;
}

int pb_engine_incident(pb_engine *e, const char *json, size_t len, int event, int64_t deliveries,
                       char *err, size_t errlen)
{
    pb_incident inc;
    int rc = -1;
    if (pb_incident_parse(&inc, json, len, err, errlen) < 0)
        goto done;
    if (event >= 0) {
        inc.event = event;
    } else if (e->o.persist) {
        int64_t d, a;
        if (pb_store_delivery(e->o.db, inc.id, json, &d, &a, err, errlen) < 0)
            goto done;
        inc.deliveries = d;
        inc.prior_actions = a;
        inc.event = d == 1 ? PB_EV_OPENED : PB_EV_UPDATED;
    }
    if (deliveries > 0)
        inc.deliveries = deliveries;
    rc = handle(e, &inc);
done:
    pb_incident_free(&inc);
    return rc;
}

/* ---- execution ---- */

/* Freezes the incident, its events and the drift windows into an
 * immutable evidence record (audit_evidence_freeze) before a rollback
 * changes the system, in a transaction of its own. */
static int freeze_evidence(pb_engine *e, const pb_action *a, char *err, size_t errlen)
{
    PGconn *db = e->o.db;
    char *inc = pb_store_incident_json(db, a->incident_id, err, errlen);
    const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->params, "model"));
    const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a->params, "from"));
    char sha[65];
    int rc = -1;
    if (core_db_begin(db, err, errlen) < 0)
        goto done;
    if (audit_evidence_freeze(db, a->incident_id, inc, model, from, a->id, "custos",
                              e->o.cfg->pb_evidence_max_events, sha, err, errlen) < 0 ||
        core_db_commit(db, err, errlen) < 0) {
        core_db_rollback(db);
        goto done;
    }
    rc = 0;
done:
    free(inc);
    return rc;
}

/* An escalation did not reach anyone: an action it asked for failed or
 * was skipped, or no playbook listens for action_failed. It does not
 * escalate again (that could loop), so it is made visible: an error line,
 * custos_playbook_escalations_failed_total, and an escalation_failed
 * audit row against the incident. */
static void escalation_failed(pb_engine *e, int64_t action_id, const char *incident_id,
                              const char *kind, const char *why)
{
    pb_metric_add(PB_M_ESCALATION_FAILED, 1);
    char q1[240], q2[600];
    core_log(CORE_LOG_ERROR, "playbooks", "escalation failed",
             "incident=%s action=%" PRId64 " kind=%s error=%s",
             core_log_quote(q1, sizeof q1, incident_id), action_id, kind,
             core_log_quote(q2, sizeof q2, why));
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "action_id", (double)action_id);
    cJSON_AddStringToObject(d, "kind", kind);
    cJSON_AddStringToObject(d, "error", why);
    char *detail = cJSON_PrintUnformatted(d);
    char err[512];
    if (detail && audit_append_tx(e->o.db, "custos", "escalation_failed",
                                  action_id > 0 ? action_id : 0, incident_id, detail, err,
                                  sizeof err) < 0)
        core_log(CORE_LOG_ERROR, "playbooks", "cannot audit the failed escalation", "error=%s",
                 core_log_quote(q2, sizeof q2, err));
    free(detail);
    cJSON_Delete(d);
}

/* An action failed: record it against the incident and give the playbooks
 * that listen for action_failed their turn (once: their own failures do
 * not escalate again). */
static void escalate(pb_engine *e, const pb_action *a, const char *why)
{
    e->st.escalations++;
    pb_metric_add(PB_M_ESCALATIONS, 1);
    char err[512];
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "action_id", (double)a->id);
    cJSON_AddStringToObject(d, "kind", pb_kinds[a->kind]);
    cJSON_AddStringToObject(d, "error", why);
    char *detail = cJSON_PrintUnformatted(d);
    if (detail)
        audit_append_tx(e->o.db, "custos", "escalated", a->id, a->incident_id, detail, err,
                        sizeof err);
    free(detail);
    if (e->depth > 0) {
        cJSON_Delete(d);
        return;
    }
    char *json = pb_store_incident_json(e->o.db, a->incident_id, err, sizeof err);
    pb_incident inc;
    if (json && pb_incident_parse(&inc, json, strlen(json), err, sizeof err) == 0) {
        inc.event = PB_EV_ACTION_FAILED;
        cJSON_AddStringToObject(d, "subject", a->subject);
        cJSON_AddStringToObject(d, "playbook", a->playbook);
        inc.failed_action = d;
        d = NULL;
        e->depth++;
        /* Keep the outer delivery's run report; escalation runs add theirs. */
        pb_incident *saved = e->cur;
        e->cur = &inc;
        uint64_t matched = e->st.matched;
        run_all(e, &inc);
        e->cur = saved;
        if (e->st.matched == matched)
            escalation_failed(e, a->id, a->incident_id, pb_kinds[a->kind],
                              "no playbook took the escalation (none listens for action_failed "
                              "on this incident)");
        execute_todo(e);
        e->depth--;
    } else {
        char q[600];
        core_log(CORE_LOG_WARN, "playbooks", "escalation without playbooks",
                 "action=%" PRId64 " error=%s", a->id, core_log_quote(q, sizeof q, err));
    }
    if (json)
        pb_incident_free(&inc);
    free(json);
    cJSON_Delete(d);
}

int pb_engine_execute(pb_engine *e, int64_t id, char *err, size_t errlen)
{
    if (!e->o.persist) {
        snprintf(err, errlen, "no database: nothing executes");
        return -1;
    }
    pb_action a;
    int got = pb_store_get(e->o.db, id, &a, err, errlen);
    if (got <= 0) {
        if (got == 0)
            snprintf(err, errlen, "action %" PRId64 " not found", id);
        return -1;
    }
    int rc = 0;
    cJSON *result = NULL;
    char *res = NULL;
    if (strcmp(a.state, "approved") != 0)
        goto done;
    int claimed = pb_store_transition(e->o.db, id, "{approved}", "executing", "custos", NULL, NULL,
                                      err, errlen);
    if (claimed <= 0) {
        rc = claimed;
        goto done;
    }
    char why[512] = "";
    int ok = -1;
    if (!e->o.fx)
        snprintf(why, sizeof why, "no effectors configured in this process");
    else if (a.kind == PB_K_ROLLBACK_MODEL && freeze_evidence(e, &a, why, sizeof why) < 0)
        ; /* no rollback without its evidence */
    else
        ok = pb_fx_apply(e->o.fx, e->o.db, &a, &result, why, sizeof why);
    e->st.executed++;
    if (ok == 0) {
        res = cJSON_PrintUnformatted(result);
        if (pb_store_transition(e->o.db, id, "{executing}", "done", "custos", NULL, res, err,
                                errlen) < 0) {
            rc = -1;
            goto done;
        }
        if (a.revert_of > 0 &&
            pb_store_mark_reverted(e->o.db, a.revert_of, a.id, err, errlen) < 0) {
            rc = -1;
            goto done;
        }
        char q[100];
        core_log(CORE_LOG_INFO, "playbooks", "action done", "action=%" PRId64 " kind=%s subject=%s",
                 id, pb_kinds[a.kind], core_log_quote(q, sizeof q, a.subject));
        pb_metric_add(PB_M_DONE, 1);
        rc = 1;
    } else if (ok == 1) {
        /* No effector carries it out: skipped, with each one's why. */
        res = cJSON_PrintUnformatted(result);
        char q[600];
        core_log(CORE_LOG_WARN, "playbooks", "action skipped", "action=%" PRId64 " kind=%s error=%s",
                 id, pb_kinds[a.kind], core_log_quote(q, sizeof q, why));
        pb_metric_add(PB_M_SKIPPED, 1);
        if (pb_store_transition(e->o.db, id, "{executing}", "skipped", "custos", why, res, err,
                                errlen) < 0) {
            rc = -1;
            goto done;
        }
        if (e->depth > 0)
            escalation_failed(e, a.id, a.incident_id, pb_kinds[a.kind], why);
    } else {
        e->st.exec_failed++;
        pb_metric_add(PB_M_FAILED, 1);
        char q[600];
        core_log(CORE_LOG_ERROR, "playbooks", "action failed", "action=%" PRId64 " kind=%s error=%s",
                 id, pb_kinds[a.kind], core_log_quote(q, sizeof q, why));
        /* what the effectors that did act did (a partial effect) is kept */
        res = result ? cJSON_PrintUnformatted(result) : NULL;
        if (pb_store_transition(e->o.db, id, "{executing}", "failed", "custos", why, res, err,
                                errlen) < 0) {
            rc = -1;
            goto done;
        }
        if (e->depth > 0)
            escalation_failed(e, a.id, a.incident_id, pb_kinds[a.kind], why);
        escalate(e, &a, why);
    }
done:
    free(res);
    cJSON_Delete(result);
    pb_action_clear(&a);
    return rc;
}

static int expire_due(pb_engine *e, char *err, size_t errlen)
{
    int64_t ids[TICK_BATCH];
    int n = pb_store_due_expiry(e->o.db, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < n; i++) {
        if (pb_store_transition(e->o.db, ids[i], "{pending_approval}", "expired", "expiry",
                                "no decision before the approval expired", NULL, err, errlen) < 0)
            return -1;
        e->st.expired++;
        pb_metric_add(PB_M_EXPIRED, 1);
    }
    return n;
}

/* A human's decision: moves a pending action to `to` ("approved" or
 * "rejected") as actor, after expiring what is due. Returns 0, or -1 with err
 * (no database, not found, not pending approval, database error). */
static int decide_pending(pb_engine *e, int64_t id, const char *to, const char *actor,
                          const char *reason, char *err, size_t errlen)
{
    if (!e->o.persist) {
        snprintf(err, errlen, "no database");
        return -1;
    }
    if (expire_due(e, err, errlen) < 0)
        return -1;
    int m = pb_store_transition(e->o.db, id, "{pending_approval}", to, actor, reason, NULL, err,
                                errlen);
    if (m != 0)
        return m < 0 ? -1 : 0;
    pb_action a;
    int got = pb_store_get(e->o.db, id, &a, err, errlen);
    if (got == 0)
        snprintf(err, errlen, "action %" PRId64 " not found", id);
    else if (got > 0)
        snprintf(err, errlen, "action %" PRId64 " is %s, not pending approval", id, a.state);
    pb_action_clear(&a);
    return -1;
}

int pb_engine_approve(pb_engine *e, int64_t id, const char *actor, char *state, size_t statelen,
                      char *err, size_t errlen)
{
    if (decide_pending(e, id, "approved", actor, NULL, err, errlen) < 0 ||
        pb_engine_execute(e, id, err, errlen) < 0)
        return -1;
    pb_action a;
    int got = pb_store_get(e->o.db, id, &a, err, errlen);
    if (got > 0)
        snprintf(state, statelen, "%s", a.state);
    pb_action_clear(&a);
    return got > 0 ? 0 : -1;
}

int pb_engine_reject(pb_engine *e, int64_t id, const char *actor, const char *reason, char *err,
                     size_t errlen)
{
    return decide_pending(e, id, "rejected", actor, reason, err, errlen);
}

static int revert_due(pb_engine *e, char *err, size_t errlen)
{
    int64_t ids[TICK_BATCH];
    int n = pb_store_due_revert(e->o.db, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < n; i++) {
        pb_action a;
        if (pb_store_get(e->o.db, ids[i], &a, err, errlen) <= 0)
            return -1;
        pb_kind k = a.kind == PB_K_REVOKE_KEY ? PB_K_RESTORE_KEY : PB_K_UNTHROTTLE_KEY;
        if (a.kind != PB_K_REVOKE_KEY && a.kind != PB_K_THROTTLE_KEY) {
            pb_store_mark_reverted(e->o.db, a.id, 0, err, errlen);
            pb_action_clear(&a);
            continue;
        }
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "key_id", a.subject);
        char reason[96];
        snprintf(reason, sizeof reason, "ttl of action %" PRId64 " ran out", a.id);
        cJSON_AddStringToObject(p, "reason", reason);
        char *params = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        int64_t rid = 0;
        char state[32];
        bool created;
        int rc = params ? pb_store_propose(e->o.db, a.incident_id, a.playbook, k, a.subject,
                                           params, false, false, 0, a.id, "auto-revert",
                                           "approved", 0, NULL, &rid, state, sizeof state,
                                           &created, err, errlen)
                        : -1;
        free(params);
        pb_action_clear(&a);
        if (rc < 0)
            return -1;
        if (strcmp(state, "approved") == 0) {
            if (pb_engine_execute(e, rid, err, errlen) < 0)
                return -1;
        } else if (strcmp(state, "done") == 0) {
            pb_store_mark_reverted(e->o.db, ids[i], rid, err, errlen);
        }
        e->st.reverted++;
        pb_metric_add(PB_M_REVERTED, 1);
    }
    return n;
}

/* A process that stopped between approval and execution leaves approved
 * actions behind: execute them (the claim is atomic, so two daemons do not
 * both). One that stopped mid-execution leaves an action executing: whether
 * its effect happened is unknown, so it fails and escalates for a human. */
static int recover(pb_engine *e, char *err, size_t errlen)
{
    int64_t ids[TICK_BATCH];
    int n = pb_store_due_orphans(e->o.db, ORPHAN_S, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < n; i++)
        if (pb_engine_execute(e, ids[i], err, errlen) < 0)
            return -1;
    int m = pb_store_due_stuck(e->o.db, STUCK_S, ids, TICK_BATCH, err, errlen);
    for (int i = 0; i < m; i++) {
        int moved = pb_store_transition(e->o.db, ids[i], "{executing}", "failed", "custos",
                                        "interrupted: custos stopped while executing it", NULL,
                                        err, errlen);
        if (moved < 0)
            return -1;
        pb_action a;
        if (moved == 1 && pb_store_get(e->o.db, ids[i], &a, err, errlen) == 1) {
            escalate(e, &a, "interrupted: custos stopped while executing it");
            pb_action_clear(&a);
        }
    }
    return n < 0 || m < 0 ? -1 : n + m;
}

int pb_engine_tick(pb_engine *e, char *err, size_t errlen)
{
    if (!e->o.persist)
        return 0;
    int a = expire_due(e, err, errlen);
    if (a < 0)
        return -1;
    int b = revert_due(e, err, errlen);
    if (b < 0)
        return -1;
    int c = e->o.fx ? recover(e, err, errlen) : 0;
    if (c < 0)
        return -1;
    return a + b + c;
}
