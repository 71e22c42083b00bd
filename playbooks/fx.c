/* Effectors: the table that lists them, the context they share, and the
 * loop that gives each its turn with retries and back-off. What each one
 * does is in its own file (fx_effector.h lists them). */
#include "playbooks/fx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/db.h"
#include "core/log.h"
#include "playbooks/fx_effector.h"

/* Every effector, in the order each action gives them their turn and its
 * outcomes list them. The three registry rows act on disjoint kinds. */
static const fx_effector *const g_fx[] = {
    &fx_keys, &fx_registry, &fx_incident, &fx_control, &fx_webhook, &fx_litellm, &fx_log,
};
#define FX_N (sizeof g_fx / sizeof g_fx[0])

void pb_fx_hurry(pb_fx *fx) { atomic_store(&fx->hurry, true); }

int pb_fx_connect(pb_fx *fx, char *err, size_t errlen)
{
    return fx_control.off(fx->cfg) ? 0 : fx_control_open(fx, true, err, errlen);
}

pb_fx *pb_fx_new(const core_config *cfg, char *err, size_t errlen)
{
    pb_fx *fx = calloc(1, sizeof *fx);
    if (!fx) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fx->cfg = cfg;
    if (*cfg->fx_webhook_url && !*cfg->fx_webhook_secret) {
        snprintf(err, errlen, "effectors.webhook_url is set but effectors.webhook_secret is "
                              "empty: webhooks are always signed");
        goto error;
    }
    fx->litellm_token = *cfg->fx_litellm_token ? cfg->fx_litellm_token : getenv("LITELLM_MASTER_KEY");
    if (*cfg->fx_litellm_url && (!fx->litellm_token || !*fx->litellm_token)) {
        snprintf(err, errlen, "effectors.litellm_url is set but there is no admin token "
                              "(effectors.litellm_token or LITELLM_MASTER_KEY)");
        goto error;
    }
    if (!fx_control.off(cfg) && fx_control_check(fx, err, errlen) < 0)
        goto error;
    if (*cfg->fx_webhook_url || *cfg->fx_litellm_url) {
        fx->curl = curl_easy_init();
        if (!fx->curl) {
            snprintf(err, errlen, "cannot initialise libcurl");
            goto error;
        }
    }
    return fx;
error:
    pb_fx_free(fx);
    return NULL;
}

void pb_fx_free(pb_fx *fx)
{
    if (!fx)
        return;
    fx_control_close(fx);
    if (fx->curl)
        curl_easy_cleanup(fx->curl);
    free(fx);
}

char *pb_fx_message(const pb_action *a)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "schema", "custos.control.v1");
    cJSON_AddNumberToObject(m, "action_id", (double)a->id);
    cJSON_AddStringToObject(m, "kind", pb_kinds[a->kind]);
    cJSON_AddStringToObject(m, "subject", a->subject);
    cJSON_AddStringToObject(m, "incident_id", a->incident_id);
    cJSON_AddStringToObject(m, "playbook", a->playbook);
    cJSON_AddItemToObject(m, "params", cJSON_Duplicate(a->params, 1));
    if (a->revert_of > 0)
        cJSON_AddNumberToObject(m, "revert_of", (double)a->revert_of);
    else
        cJSON_AddNullToObject(m, "revert_of");
    char ts[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(m, "issued_at", ts);
    char *s = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    return s;
}

/* ---- shared by the effector files ---- */

const char *fx_registry_off(const core_config *cfg)
{
    return strcmp(cfg->fx_registry, "on") == 0 ? NULL : "effectors.registry is off";
}

const char *fx_pstr(const cJSON *p, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double fx_pnum(const cJSON *p, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

fx_rc fx_db_fail(PGconn *db, PGresult *r, const char *what, char *err, size_t errlen)
{
    core_db_error(db, what, err, errlen);
    /* core_db_transient's failures (the connection, serialisation,
     * resources, a shutdown) are retried; so is any other one except a
     * data, constraint or syntax error, which will not change on retry. */
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    bool permanent = !core_db_transient(db, r) && state &&
                     (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                      strncmp(state, "42", 2) == 0);
    PQclear(r);
    if (PQstatus(db) != CONNECTION_OK)
        PQreset(db);
    return permanent ? FX_PERMANENT : FX_TRANSIENT;
}

fx_rc fx_db_exec(PGconn *db, const char *sql, int n, const char *const *v, const char *what,
                 char *err, size_t errlen)
{
    /* Not core_db_query: the failed result's SQLSTATE decides the retry. */
    PGresult *r = core_db_exec_stmt(db, sql, n, v, NULL, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return fx_db_fail(db, r, what, err, errlen);
    PQclear(r);
    return FX_OK;
}

typedef struct {
    char buf[512];
    size_t n;
} body_sink;

/* Keeps the first 511 bytes of an answer (for the error), drops the rest. */
static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    body_sink *b = ud;
    size_t n = sz * nm;
    size_t room = sizeof b->buf - 1 - b->n;
    memcpy(b->buf + b->n, p, n < room ? n : room);
    b->n += n < room ? n : room;
    b->buf[b->n] = '\0';
    return n;
}

fx_rc fx_http_post(pb_fx *fx, const char *what, const char *url, const char *body,
                   struct curl_slist *hdrs, long *status, char *err, size_t errlen)
{
    CURL *c = fx->curl;
    body_sink sink = {.n = 0};
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)fx->cfg->fx_webhook_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)fx->cfg->fx_webhook_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s: %s", what, curl_easy_strerror(cc));
        return FX_TRANSIENT;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (*status >= 200 && *status < 300)
        return FX_OK;
    char q[200];
    snprintf(err, errlen, "%s: HTTP %ld %s", what, *status, core_log_quote(q, sizeof q, sink.buf));
    return (*status == 408 || *status == 429 || *status >= 500) ? FX_TRANSIENT : FX_PERMANENT;
}

/* ---- which effectors an action gets ---- */

/* Whether e has anything to do with an action of this kind (and notify
 * target, NULL for the other kinds), configured or not. */
static bool relevant(const fx_effector *e, pb_kind kind, const char *target)
{
    if (!(e->kinds & FX_KIND(kind)))
        return false;
    if (!target)
        return !e->target_only;
    return e->target && strcmp(target, e->target) == 0;
}

static bool wants_cfg(const core_config *cfg, pb_kind kind, const char *target,
                      const fx_effector *e)
{
    return relevant(e, kind, target) && !e->off(cfg);
}

/* The setting that would turn e on for this action, when it is off: what
 * a skipped outcome says. NULL when e is on or has nothing to do with it. */
static const char *skip_reason(const core_config *cfg, pb_kind kind, const char *target,
                               const fx_effector *e)
{
    return relevant(e, kind, target) ? e->off(cfg) : NULL;
}

void pb_fx_targets(const core_config *cfg, pb_kind kind, const char *notify_target, char *buf,
                   size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < FX_N; i++)
        if (wants_cfg(cfg, kind, kind == PB_K_NOTIFY ? notify_target : NULL, g_fx[i]) && o < n)
            o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? "," : "", g_fx[i]->name);
    if (!o)
        snprintf(buf, n, "none");
}

/* One outcome under res.effectors. */
static void outcome(cJSON *outs, const fx_effector *e, const char *state, const char *key,
                    const char *text, int attempts)
{
    cJSON *o = cJSON_AddObjectToObject(outs, e->name);
    cJSON_AddStringToObject(o, "state", state);
    if (key && text)
        cJSON_AddStringToObject(o, key, text);
    if (attempts)
        cJSON_AddNumberToObject(o, "attempts", attempts);
}

/* Gives e its attempts at a: the first at once, then after each transient
 * failure, with back-off from effectors.retry_min_ms up to retry_max_ms,
 * while attempts stay within effectors.retries and the next one would
 * start within effectors.max_wait_ms (none once hurried). Writes the
 * attempts made; eerr holds the last error. */
static fx_rc attempts(pb_fx *fx, const fx_effector *e, PGconn *db, const pb_action *a,
                      const char *msg, cJSON *res, int *made, char *eerr, size_t eerrlen)
{
    core_backoff bo;
    core_backoff_init(&bo, fx->cfg->fx_retry_min_ms, fx->cfg->fx_retry_max_ms);
    int64_t until = core_mono_ms() + fx->cfg->fx_max_wait_ms;
    fx_rc r = FX_OK;
    int attempt;
    for (attempt = 0;; attempt++) {
        r = e->run(fx, db, a, msg, res, eerr, eerrlen);
        if (r == FX_OK)
            break;
        char q[600];
        core_log(CORE_LOG_WARN, "playbook", "effector failed", "action=%" PRId64
                 " effector=%s attempt=%d permanent=%d error=%s", a->id, e->name,
                 attempt + 1, r == FX_PERMANENT, core_log_quote(q, sizeof q, eerr));
        if (r == FX_PERMANENT || attempt >= fx->cfg->fx_retries || atomic_load(&fx->hurry))
            break;
        if (core_mono_ms() + core_backoff_peek(&bo) >= until) {
            size_t l = strlen(eerr);
            snprintf(eerr + l, eerrlen - l, " (gave up: effectors.max_wait_ms %" PRId64
                     " ms spent)", fx->cfg->fx_max_wait_ms);
            break;
        }
        usleep((useconds_t)core_backoff_next(&bo) * 1000);
    }
    *made = attempt + 1;
    return r;
}

int pb_fx_apply(pb_fx *fx, PGconn *db, const pb_action *a, cJSON **result, char *err,
                size_t errlen)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *outs = res ? cJSON_AddObjectToObject(res, "effectors") : NULL;
    char *msg = pb_fx_message(a);
    int rc = -1;
    *result = NULL;
    if (!res || !outs || !msg) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    const char *target = a->kind == PB_K_NOTIFY ? fx_pstr(a->params, "target") : NULL;
    int used = 0, failed = 0;
    char failures[1024] = "";
    /* Every effector gets its turn whatever the others did, so that what
     * happened is recorded effector by effector. */
    for (size_t i = 0; i < FX_N; i++) {
        const fx_effector *e = g_fx[i];
        if (!wants_cfg(fx->cfg, a->kind, target, e)) {
            const char *why = skip_reason(fx->cfg, a->kind, target, e);
            if (why)
                outcome(outs, e, "skipped", "why", why, 0);
            continue;
        }
        used++;
        char eerr[512] = "";
        int made = 0;
        if (attempts(fx, e, db, a, msg, res, &made, eerr, sizeof eerr) == FX_OK) {
            outcome(outs, e, "done", NULL, NULL, made);
        } else {
            failed++;
            outcome(outs, e, "failed", "error", eerr, made);
            size_t l = strlen(failures);
            snprintf(failures + l, sizeof failures - l, "%s%s", l ? "; " : "", eerr);
        }
    }
    *result = res;
    res = NULL;
    if (failed) {
        snprintf(err, errlen, "%s", failures);
        rc = -1;
    } else if (!used) {
        /* Nothing is configured to carry it out (a notify to a webhook
         * that is not set up): skipped, and the outcomes say why. */
        snprintf(err, errlen, "no effector is configured for %s%s%s", pb_kinds[a->kind],
                 target ? " to " : "", target ? target : "");
        rc = 1;
    } else {
        rc = 0;
    }
done:
    cJSON_Delete(res);
    free(msg);
    return rc;
}

void pb_fx_warn_unconfigured(const core_config *cfg)
{
    static const char *const targets[] = {"webhook", "control"};
    for (int k = 0; k < PB_K_COUNT; k++) {
        int nt = k == PB_K_NOTIFY ? 2 : 1;
        for (int t = 0; t < nt; t++) {
            const char *target = k == PB_K_NOTIFY ? targets[t] : NULL;
            bool any = false;
            char why[200] = "";
            for (size_t i = 0; i < FX_N; i++) {
                any = any || wants_cfg(cfg, (pb_kind)k, target, g_fx[i]);
                const char *r = skip_reason(cfg, (pb_kind)k, target, g_fx[i]);
                if (r && strlen(why) + strlen(r) + 3 < sizeof why)
                    snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s",
                             *why ? ", " : "", r);
            }
            if (any)
                continue;
            char what[64];
            snprintf(what, sizeof what, "%s%s%s", pb_kinds[k], target ? " to " : "",
                     target ? target : "");
            char q1[80], q2[240];
            core_log(CORE_LOG_WARN, "playbooks",
                     "no effector configured: such actions will be recorded skipped",
                     "action=%s why=%s", core_log_quote(q1, sizeof q1, what),
                     core_log_quote(q2, sizeof q2, why));
        }
    }
}
