/* The playbook engine: loading, matching, runs and the host behind the
 * Lua API. What happens to the actions afterwards is pb_engine_exec.c. */
#include "playbooks/pb_engine.h"
#include "playbooks/pb_engine_int.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "core/log.h"
#include "core/share.h"
#include "playbooks/pb_gate.h"
#include "playbooks/pb_store.h"

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
    /* Refuse to start on a sandbox that holds anything its allow-list does
     * not name (a library grown in a new Lua, a leaked binding). */
    if (pb_api_check_sandbox(&e->lim, err, errlen) < 0) {
        free(e);
        return NULL;
    }
    e->mem = cJSON_CreateArray();
    e->last_runs = cJSON_CreateArray();
    e->mem_next = 1;
    return e;
}

void pb_engine_set_db(pb_engine *e, PGconn *db) { e->o.db = db; }

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
        rc = asprintf(&s, "update the incident:%s%s%s%s%s%s%s", *ps(params, "status") ? " status " : "",
                      ps(params, "status"), *ps(params, "severity") ? " severity " : "",
                      ps(params, "severity"), *ps(params, "note") ? " note" : "",
                      *ps(params, "serious") ? " mark serious (EU AI Act Art. 73) " : "",
                      ps(params, "serious"));
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
    if (!appr && !dry && pb_gate_alters_system(c->kind)) {
        /* The preservation gate (Art. 73(6)): a change to the AI system
         * that a serious incident concerns waits for a person. */
        cJSON *ids = pb_gate_serious(e->o.db, c->kind, c->inc->id, c->params, err, errlen);
        if (!ids)
            return -1;
        appr = cJSON_GetArraySize(ids) > 0;
        cJSON_Delete(ids);
    }
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

/* One JSON value from sql with one parameter, or NULL (no database, no
 * row, or a failure: the Lua side sees nil, the host functions say "or
 * nil when unavailable"). */
static cJSON *query_json(PGconn *db, const char *sql, const char *arg)
{
    if (!db)
        return NULL;
    const char *v[] = {arg};
    char err[256];
    PGresult *r = core_db_query(db, sql, 1, v, "reading the registry", err, sizeof err);
    cJSON *j = NULL;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
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

void pb_engine_run_all(pb_engine *e, pb_incident *inc)
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

void pb_engine_execute_todo(pb_engine *e)
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
    pb_engine_run_all(e, inc);
    e->cur = saved;
    if (e->o.persist)
        pb_engine_execute_todo(e);
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
