/* Effectors: registry tables, Kafka control topic, signed webhooks,
 * LiteLLM proxy. */
#include "playbooks/fx.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/log.h"

struct pb_fx {
    const core_config *cfg;
    bool registry, control;
    rd_kafka_t *rk;
    CURL *curl;
    const char *litellm_token; /* cfg's or the environment's; never logged */
    atomic_bool hurry;         /* stopping: no retries */
};

void pb_fx_hurry(pb_fx *fx) { atomic_store(&fx->hurry, true); }

/* Transient failures are retried; permanent ones (a 4xx, a rollback to a
 * version that does not exist) are not. */
typedef enum { FX_OK = 0, FX_TRANSIENT, FX_PERMANENT } fx_rc;

static bool on(const char *v) { return v && strcmp(v, "on") == 0; }

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk; (void)opaque;
    if (m->_private)
        *(rd_kafka_resp_err_t *)m->_private = m->err;
}

pb_fx *pb_fx_new(const core_config *cfg, char *err, size_t errlen)
{
    pb_fx *fx = calloc(1, sizeof *fx);
    rd_kafka_conf_t *conf = NULL;
    if (!fx) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    fx->cfg = cfg;
    fx->registry = on(cfg->fx_registry);
    fx->control = on(cfg->fx_control);
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
    if (fx->control) {
        char e[512];
        conf = rd_kafka_conf_new();
        struct { const char *k, *v; } kv[] = {
            {"bootstrap.servers", cfg->kafka_brokers},
            {"client.id", cfg->kafka_client_id},
            {"security.protocol", cfg->kafka_security_protocol},
            {"enable.idempotence", "true"},
            {"linger.ms", "0"},
            {"message.timeout.ms", NULL},
        };
        char tmo[32];
        snprintf(tmo, sizeof tmo, "%" PRId64, cfg->fx_control_timeout_ms);
        kv[5].v = tmo;
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
            if (rd_kafka_conf_set(conf, kv[i].k, kv[i].v, e, sizeof e) != RD_KAFKA_CONF_OK) {
                snprintf(err, errlen, "control topic producer: %s: %s", kv[i].k, e);
                goto error;
            }
        if (strncmp(cfg->kafka_security_protocol, "sasl", 4) == 0) {
            if (rd_kafka_conf_set(conf, "sasl.mechanism", cfg->kafka_sasl_mechanism, e, sizeof e) ||
                rd_kafka_conf_set(conf, "sasl.username", cfg->kafka_sasl_username, e, sizeof e) ||
                rd_kafka_conf_set(conf, "sasl.password", cfg->kafka_sasl_password, e, sizeof e)) {
                snprintf(err, errlen, "control topic producer: SASL: %s", e);
                goto error;
            }
        }
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        fx->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
        if (!fx->rk) {
            snprintf(err, errlen, "control topic producer: %s", e);
            goto error;
        }
        conf = NULL; /* rd_kafka_new took it */
        /* Connect now (metadata of the control topic) rather than at the
         * first action: a cold producer adds about a second to it. Not
         * fatal: the broker may come up later. */
        rd_kafka_topic_t *t = rd_kafka_topic_new(fx->rk, cfg->fx_control_topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        if (t && rd_kafka_metadata(fx->rk, 0, t, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        if (t)
            rd_kafka_topic_destroy(t);
    }
    if (*cfg->fx_webhook_url || *cfg->fx_litellm_url) {
        fx->curl = curl_easy_init();
        if (!fx->curl) {
            snprintf(err, errlen, "cannot initialise libcurl");
            goto error;
        }
    }
    return fx;
error:
    if (conf)
        rd_kafka_conf_destroy(conf);
    pb_fx_free(fx);
    return NULL;
}

void pb_fx_free(pb_fx *fx)
{
    if (!fx)
        return;
    if (fx->rk) {
        rd_kafka_flush(fx->rk, 2000);
        rd_kafka_destroy(fx->rk);
    }
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

void pb_fx_sign(const char *secret, long long ts, const char *body, size_t len, char out[80])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    char pre[32];
    int pl = snprintf(pre, sizeof pre, "%lld.", ts);
    size_t n = (size_t)pl + len;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        out[0] = '\0';
        return;
    }
    memcpy(buf, pre, (size_t)pl);
    memcpy(buf + pl, body, len);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), buf, n, mac, &ml);
    free(buf);
    memcpy(out, "v1=", 3);
    for (unsigned i = 0; i < ml && i < 32; i++)
        snprintf(out + 3 + 2 * i, 3, "%02x", mac[i]);
}

/* ---- registry ---- */

static const char *pstr(const cJSON *p, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double pnum(const cJSON *p, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static fx_rc db_fail(PGconn *db, PGresult *r, const char *what, char *err, size_t errlen)
{
    core_db_error(db, what, err, errlen);
    /* A constraint or data error will not change on retry; a lost
     * connection or a serialisation failure may. */
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    bool permanent = state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                               strncmp(state, "42", 2) == 0);
    PQclear(r);
    if (PQstatus(db) != CONNECTION_OK)
        PQreset(db);
    return permanent ? FX_PERMANENT : FX_TRANSIENT;
}

static fx_rc reg_exec(PGconn *db, const char *sql, int n, const char *const *v, const char *what,
                      char *err, size_t errlen)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return db_fail(db, r, what, err, errlen);
    PQclear(r);
    return FX_OK;
}

static fx_rc reg_rollback(PGconn *db, const pb_action *a, cJSON *res, char *err, size_t errlen)
{
    const char *model = pstr(a->params, "model"), *from = pstr(a->params, "from"),
               *to = pstr(a->params, "to");
    char ids[32], target[160];
    snprintf(ids, sizeof ids, "%" PRId64, a->id);
    fx_rc rc = FX_TRANSIENT;
    PGresult *r = PQexec(db, "BEGIN");
    PQclear(r);
    const char *v1[] = {model};
    r = PQexecParams(db, "SELECT version FROM model_deployments WHERE model = $1 AND active "
                         "FOR UPDATE", 1, NULL, v1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = db_fail(db, r, "reading model_deployments", err, errlen);
        goto rollback;
    }
    char active[160] = "";
    if (PQntuples(r))
        snprintf(active, sizeof active, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (strcmp(active, from) != 0) {
        /* Done already by this very action (a retry after a lost reply)? */
        const char *v2[] = {model, ids};
        r = PQexecParams(db, "SELECT to_version FROM model_deployment_history WHERE model = $1 "
                             "AND action_id = $2::bigint", 2, NULL, v2, NULL, NULL, 0);
        bool mine = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        PQclear(r);
        if (mine) {
            cJSON_AddStringToObject(res, "registry", "already rolled back by this action");
            rc = FX_OK;
            goto rollback;
        }
        snprintf(err, errlen, "registry: the active version of %s is '%s', not '%s'", model,
                 *active ? active : "(none)", from);
        rc = FX_PERMANENT;
        goto rollback;
    }
    if (strcmp(to, "previous") == 0) {
        const char *v3[] = {model, from};
        r = PQexecParams(db, "SELECT version FROM model_deployments WHERE model = $1 AND version "
                             "<> $2 AND deployed_at <= (SELECT deployed_at FROM model_deployments "
                             "WHERE model = $1 AND version = $2) ORDER BY deployed_at DESC, "
                             "version DESC LIMIT 1", 2, NULL, v3, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = db_fail(db, r, "finding the previous version", err, errlen);
            goto rollback;
        }
        if (PQntuples(r) == 0) {
            PQclear(r);
            snprintf(err, errlen, "registry: %s has no version deployed before '%s'", model, from);
            rc = FX_PERMANENT;
            goto rollback;
        }
        snprintf(target, sizeof target, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    } else {
        snprintf(target, sizeof target, "%s", to);
    }
    const char *v4[] = {model, from, target, ids};
    r = PQexecParams(db,
                     "WITH off AS (UPDATE model_deployments SET active = false, retired_at = "
                     "now() WHERE model = $1 AND version = $2 RETURNING 1) "
                     "UPDATE model_deployments SET active = true, retired_at = NULL WHERE model = "
                     "$1 AND version = $3 AND EXISTS (SELECT 1 FROM off) RETURNING 1",
                     2 + 1, NULL, v4, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = db_fail(db, r, "switching the active version", err, errlen);
        goto rollback;
    }
    int n = PQntuples(r);
    PQclear(r);
    if (n != 1) {
        snprintf(err, errlen, "registry: %s has no version '%s' to roll back to", model, target);
        rc = FX_PERMANENT;
        goto rollback;
    }
    r = PQexecParams(db, "INSERT INTO model_deployment_history (model, from_version, to_version, "
                         "action_id) VALUES ($1, $2, $3, $4::bigint)", 4, NULL, v4, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = db_fail(db, r, "recording the rollback", err, errlen);
        goto rollback;
    }
    PQclear(r);
    r = PQexec(db, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return db_fail(db, r, "committing the rollback", err, errlen);
    PQclear(r);
    cJSON *o = cJSON_AddObjectToObject(res, "registry");
    cJSON_AddStringToObject(o, "from", from);
    cJSON_AddStringToObject(o, "to", target);
    return FX_OK;
rollback:
    PQclear(PQexec(db, "ROLLBACK"));
    return rc;
}

static fx_rc fx_registry(pb_fx *fx, PGconn *db, const pb_action *a, cJSON *res, char *err,
                         size_t errlen)
{
    (void)fx;
    char ids[32], num[64];
    snprintf(ids, sizeof ids, "%" PRId64, a->id);
    const char *key = pstr(a->params, "key_id"), *reason = pstr(a->params, "reason");
    fx_rc rc = FX_OK;
    switch (a->kind) {
    case PB_K_REVOKE_KEY: {
        const char *v[] = {key, reason, ids};
        rc = reg_exec(db,
                      "INSERT INTO api_keys (key_id, status, revoked_at, reason, action_id) VALUES "
                      "($1, 'revoked', now(), $2, $3::bigint) ON CONFLICT (key_id) DO UPDATE SET "
                      "status = 'revoked', revoked_at = now(), reason = $2, action_id = "
                      "$3::bigint, updated_at = now()",
                      3, v, "revoking the key", err, errlen);
        break;
    }
    case PB_K_RESTORE_KEY: {
        const char *v[] = {key, reason, ids};
        rc = reg_exec(db,
                      "INSERT INTO api_keys (key_id, status, restored_at, reason, action_id) VALUES "
                      "($1, 'active', now(), $2, $3::bigint) ON CONFLICT (key_id) DO UPDATE SET "
                      "status = 'active', restored_at = now(), reason = $2, action_id = "
                      "$3::bigint, updated_at = now()",
                      3, v, "restoring the key", err, errlen);
        break;
    }
    case PB_K_THROTTLE_KEY: {
        snprintf(num, sizeof num, "%.17g", pnum(a->params, "rps"));
        char ttl[32];
        snprintf(ttl, sizeof ttl, "%" PRId64, a->ttl_s);
        const char *v[] = {key, num, a->ttl_s > 0 ? ttl : NULL, ids};
        rc = reg_exec(db,
                      "INSERT INTO api_keys (key_id, throttle_rps, throttled_until, action_id) "
                      "VALUES ($1, $2::double precision, now() + $3::bigint * interval '1 second', "
                      "$4::bigint) ON CONFLICT (key_id) DO UPDATE SET throttle_rps = "
                      "$2::double precision, throttled_until = now() + $3::bigint * interval "
                      "'1 second', action_id = $4::bigint, updated_at = now()",
                      4, v, "throttling the key", err, errlen);
        break;
    }
    case PB_K_UNTHROTTLE_KEY: {
        const char *v[] = {key, ids};
        rc = reg_exec(db,
                      "INSERT INTO api_keys (key_id, action_id) VALUES ($1, $2::bigint) ON "
                      "CONFLICT (key_id) DO UPDATE SET throttle_rps = NULL, throttled_until = "
                      "NULL, action_id = $2::bigint, updated_at = now()",
                      2, v, "lifting the throttle", err, errlen);
        break;
    }
    case PB_K_ROLLBACK_MODEL:
        return reg_rollback(db, a, res, err, errlen);
    case PB_K_SET_INCIDENT: {
        const char *st = pstr(a->params, "status"), *sev = pstr(a->params, "severity"),
                   *note = pstr(a->params, "note");
        const char *v[] = {a->incident_id, ids, st, sev, note};
        rc = reg_exec(db,
                      "INSERT INTO incident_updates (incident_id, action_id, status, severity, "
                      "note) VALUES ($1, $2::bigint, $3, $4, $5)",
                      5, v, "recording the incident update", err, errlen);
        /* The analytics' incidents table (when present) takes the status
         * and severity, as schema 2 allows. */
        if (rc == FX_OK && (st || sev)) {
            const char *v2[] = {a->incident_id, st, sev};
            PGresult *r = PQexec(db, "SELECT to_regclass('incidents') IS NOT NULL");
            bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
            PQclear(r);
            if (have)
                rc = reg_exec(db,
                              "UPDATE incidents SET status = coalesce($2, status), severity = "
                              "coalesce($3, severity), updated_at = now() WHERE incident_id = $1",
                              3, v2, "updating the incident", err, errlen);
        }
        break;
    }
    case PB_K_NOTIFY:
    case PB_K_COUNT:
        return FX_OK;
    }
    if (rc == FX_OK)
        cJSON_AddStringToObject(res, "registry", "ok");
    return rc;
}

/* ---- control topic ---- */

static fx_rc fx_control(pb_fx *fx, const pb_action *a, const char *msg, cJSON *res, char *err,
                        size_t errlen)
{
    rd_kafka_resp_err_t dr = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        fx->rk, RD_KAFKA_V_TOPIC(fx->cfg->fx_control_topic),
        RD_KAFKA_V_KEY(a->subject, strlen(a->subject)),
        RD_KAFKA_V_VALUE((void *)msg, strlen(msg)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(&dr), RD_KAFKA_V_END);
    if (e) {
        snprintf(err, errlen, "control topic: %s", rd_kafka_err2str(e));
        return FX_TRANSIENT;
    }
    /* Wait for the broker's acknowledgement: the action is only done once
     * the gateways can read it. */
    int64_t deadline = core_mono_ms() + fx->cfg->fx_control_timeout_ms + 1000;
    while (dr == RD_KAFKA_RESP_ERR__IN_PROGRESS && core_mono_ms() < deadline)
        rd_kafka_poll(fx->rk, 50);
    if (dr == RD_KAFKA_RESP_ERR__IN_PROGRESS) {
        /* the message still points at dr: purge it before dr goes away */
        rd_kafka_purge(fx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(fx->rk, 0);
        rd_kafka_flush(fx->rk, 1000);
        snprintf(err, errlen, "control topic: no acknowledgement within %" PRId64 " ms",
                 fx->cfg->fx_control_timeout_ms);
        return FX_TRANSIENT;
    }
    if (dr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "control topic: %s", rd_kafka_err2str(dr));
        return FX_TRANSIENT;
    }
    cJSON_AddStringToObject(res, "control", "ok");
    return FX_OK;
}

/* ---- HTTP ---- */

typedef struct {
    char buf[512];
    size_t n;
} body_sink;

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

static fx_rc http_post(pb_fx *fx, const char *what, const char *url, const char *body,
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

static fx_rc fx_webhook(pb_fx *fx, const pb_action *a, const char *msg, cJSON *res, char *err,
                        size_t errlen)
{
    long long ts = (long long)time(NULL);
    char sig[80], h1[128], h2[120], h3[64], h4[80];
    pb_fx_sign(fx->cfg->fx_webhook_secret, ts, msg, strlen(msg), sig);
    snprintf(h1, sizeof h1, "X-Custos-Signature: %s", sig);
    snprintf(h2, sizeof h2, "X-Custos-Timestamp: %lld", ts);
    snprintf(h3, sizeof h3, "X-Custos-Action: %" PRId64, a->id);
    snprintf(h4, sizeof h4, "Idempotency-Key: custos-action-%" PRId64, a->id);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, h1);
    hd = curl_slist_append(hd, h2);
    hd = curl_slist_append(hd, h3);
    hd = curl_slist_append(hd, h4);
    long status = 0;
    fx_rc rc = http_post(fx, "webhook", fx->cfg->fx_webhook_url, msg, hd, &status, err, errlen);
    curl_slist_free_all(hd);
    if (rc == FX_OK)
        cJSON_AddNumberToObject(res, "webhook", (double)status);
    return rc;
}

static fx_rc fx_litellm(pb_fx *fx, const pb_action *a, cJSON *res, char *err, size_t errlen)
{
    const char *path = a->kind == PB_K_REVOKE_KEY ? "/key/block" : "/key/unblock";
    char url[1024];
    size_t bl = strlen(fx->cfg->fx_litellm_url);
    snprintf(url, sizeof url, "%.*s%s", (int)(bl && fx->cfg->fx_litellm_url[bl - 1] == '/' ? bl - 1 : bl),
             fx->cfg->fx_litellm_url, path);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "key", a->subject);
    char *body = cJSON_PrintUnformatted(b);
    cJSON_Delete(b);
    char *auth = NULL;
    if (!body || asprintf(&auth, "Authorization: Bearer %s", fx->litellm_token) < 0) {
        free(body);
        snprintf(err, errlen, "litellm: out of memory");
        return FX_TRANSIENT;
    }
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, auth);
    long status = 0;
    fx_rc rc = http_post(fx, "litellm", url, body, hd, &status, err, errlen);
    curl_slist_free_all(hd);
    /* the token is a secret: wipe it from the heap copy */
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(body);
    if (rc == FX_OK)
        cJSON_AddStringToObject(res, "litellm", path);
    return rc;
}

/* ---- all of them ---- */

typedef enum { E_REGISTRY, E_CONTROL, E_WEBHOOK, E_LITELLM, E_LOG, E_COUNT } effector;
static const char *const g_eff_names[E_COUNT] = {"registry", "control", "webhook", "litellm",
                                                 "log"};

static bool wants_cfg(const core_config *cfg, pb_kind kind, const char *target, effector e)
{
    switch (e) {
    case E_REGISTRY:
        return on(cfg->fx_registry) && kind != PB_K_NOTIFY;
    case E_CONTROL:
        return on(cfg->fx_control) && (!target || strcmp(target, "control") == 0);
    case E_WEBHOOK:
        return *cfg->fx_webhook_url && (!target || strcmp(target, "webhook") == 0);
    case E_LITELLM:
        return *cfg->fx_litellm_url && (kind == PB_K_REVOKE_KEY || kind == PB_K_RESTORE_KEY);
    case E_LOG:
        return target && strcmp(target, "log") == 0;
    case E_COUNT:
        break;
    }
    return false;
}

static bool wants(pb_fx *fx, const pb_action *a, effector e)
{
    const char *target = a->kind == PB_K_NOTIFY ? pstr(a->params, "target") : NULL;
    return wants_cfg(fx->cfg, a->kind, target, e);
}

/* Whether effector e would take part in an action of this kind (and notify
 * target) if it were configured, and the setting that turns it on: what a
 * skipped outcome says. NULL when e has nothing to do with it. */
static const char *skip_reason(const core_config *cfg, pb_kind kind, const char *target,
                               effector e)
{
    switch (e) {
    case E_REGISTRY:
        return kind != PB_K_NOTIFY && !on(cfg->fx_registry) ? "effectors.registry is off" : NULL;
    case E_CONTROL:
        return (!target || strcmp(target, "control") == 0) && !on(cfg->fx_control)
                   ? "effectors.control is off" : NULL;
    case E_WEBHOOK:
        return (!target || strcmp(target, "webhook") == 0) && !*cfg->fx_webhook_url
                   ? "effectors.webhook_url is empty" : NULL;
    case E_LITELLM:
        return (kind == PB_K_REVOKE_KEY || kind == PB_K_RESTORE_KEY) && !*cfg->fx_litellm_url
                   ? "effectors.litellm_url is empty" : NULL;
    case E_LOG:
    case E_COUNT:
        break;
    }
    return NULL;
}

void pb_fx_targets(const core_config *cfg, pb_kind kind, const char *notify_target, char *buf,
                   size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int e = 0; e < E_COUNT; e++)
        if (wants_cfg(cfg, kind, kind == PB_K_NOTIFY ? notify_target : NULL, (effector)e) &&
            o < n)
            o += (size_t)snprintf(buf + o, n - o, "%s%s", o ? "," : "", g_eff_names[e]);
    if (!o)
        snprintf(buf, n, "none");
}

/* One outcome under res.effectors. */
static void outcome(cJSON *outs, effector e, const char *state, const char *key, const char *text,
                    int attempts)
{
    cJSON *o = cJSON_AddObjectToObject(outs, g_eff_names[e]);
    cJSON_AddStringToObject(o, "state", state);
    if (key && text)
        cJSON_AddStringToObject(o, key, text);
    if (attempts)
        cJSON_AddNumberToObject(o, "attempts", attempts);
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
    const char *target = a->kind == PB_K_NOTIFY ? pstr(a->params, "target") : NULL;
    int used = 0, failed = 0;
    char failures[1024] = "";
    for (int e = 0; e < E_COUNT; e++) {
        if (!wants(fx, a, (effector)e)) {
            const char *why = skip_reason(fx->cfg, a->kind, target, (effector)e);
            if (why)
                outcome(outs, (effector)e, "skipped", "why", why, 0);
            continue;
        }
        used++;
        /* Every effector gets its turn whatever the others did, so that
         * what happened is recorded effector by effector. Its attempts
         * stop when the next one would start past effectors.max_wait_ms. */
        int64_t backoff = fx->cfg->fx_retry_min_ms;
        int64_t until = core_mono_ms() + fx->cfg->fx_max_wait_ms;
        char eerr[512] = "";
        int attempt;
        fx_rc r = FX_OK;
        for (attempt = 0;; attempt++) {
            r = FX_OK;
            switch ((effector)e) {
            case E_REGISTRY:
                r = fx_registry(fx, db, a, res, eerr, sizeof eerr);
                break;
            case E_CONTROL:
                r = fx_control(fx, a, msg, res, eerr, sizeof eerr);
                break;
            case E_WEBHOOK:
                r = fx_webhook(fx, a, msg, res, eerr, sizeof eerr);
                break;
            case E_LITELLM:
                r = fx_litellm(fx, a, res, eerr, sizeof eerr);
                break;
            case E_LOG: {
                char qm[1200];
                core_log(CORE_LOG_WARN, "playbook", "notify", "action=%" PRId64 " message=%s",
                         a->id, core_log_quote(qm, sizeof qm, msg));
                cJSON_AddStringToObject(res, "log", "ok");
                break;
            }
            case E_COUNT:
                break;
            }
            if (r == FX_OK)
                break;
            char q[600];
            core_log(CORE_LOG_WARN, "playbook", "effector failed", "action=%" PRId64
                     " effector=%s attempt=%d permanent=%d error=%s", a->id, g_eff_names[e],
                     attempt + 1, r == FX_PERMANENT, core_log_quote(q, sizeof q, eerr));
            if (r == FX_PERMANENT || attempt >= fx->cfg->fx_retries || atomic_load(&fx->hurry))
                break;
            if (core_mono_ms() + backoff >= until) {
                size_t l = strlen(eerr);
                snprintf(eerr + l, sizeof eerr - l, " (gave up: effectors.max_wait_ms %" PRId64
                         " ms spent)", fx->cfg->fx_max_wait_ms);
                break;
            }
            usleep((useconds_t)backoff * 1000);
            backoff = backoff * 2 > fx->cfg->fx_retry_max_ms ? fx->cfg->fx_retry_max_ms
                                                             : backoff * 2;
        }
        if (r == FX_OK) {
            outcome(outs, (effector)e, "done", NULL, NULL, attempt + 1);
        } else {
            failed++;
            outcome(outs, (effector)e, "failed", "error", eerr, attempt + 1);
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
            for (int e = 0; e < E_COUNT; e++) {
                any = any || wants_cfg(cfg, (pb_kind)k, target, (effector)e);
                const char *r = skip_reason(cfg, (pb_kind)k, target, (effector)e);
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
