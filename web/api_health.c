/* /healthz, /readyz and /metrics: for orchestrators and Prometheus. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/metrics.h"
#include "web/web_internal.h"

web_result web_h_healthz(web_req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    return web_reply_json(r, 200, o);
}

/* One check of /readyz: {"status": "ok"|"failed"|"not_applicable", ...}. */
static cJSON *check(cJSON *checks, const char *name, const char *status, const char *message)
{
    cJSON *c = cJSON_AddObjectToObject(checks, name);
    cJSON_AddStringToObject(c, "status", status);
    if (message)
        cJSON_AddStringToObject(c, "message", message);
    return c;
}

/* Ready: the database answers, holds exactly this binary's schema, and,
 * when this process runs the collector, its consumer holds partitions.
 * Each check is in the answer; the database's own words go to the log,
 * not to an unauthenticated client. The connection is the handler's own
 * (the route has no DB flag), so that an unreachable database is a check
 * that failed rather than the server's generic 503. */
web_result web_h_readyz(web_req *r)
{
    char err[512], q[600];
    cJSON *checks = cJSON_CreateObject();
    bool ready = true;
    const char *why = NULL;
    PGconn *db = core_db_pool_get(web_server_pool(r->srv), 2000, err, sizeof err);
    if (!db) {
        core_log(CORE_LOG_WARN, "web", "not ready", "error=%s", core_log_quote(q, sizeof q, err));
        check(checks, "database", "failed", "not reachable");
        check(checks, "schema", "failed", "unknown: the database is not reachable");
        ready = false;
        why = "the database is not reachable";
    } else {
        check(checks, "database", "ok", NULL);
        int applied = 0;
        bool known = core_db_schema_version(db, &applied, err, sizeof err) == 0;
        bool current = known && core_db_check_schema(db, err, sizeof err) == 0;
        if (!current)
            core_log(CORE_LOG_WARN, "web", "not ready", "error=%s",
                     core_log_quote(q, sizeof q, err));
        cJSON *c = check(checks, "schema", current ? "ok" : "failed",
                         current ? NULL : "not this binary's schema (custos migrate)");
        if (known)
            cJSON_AddNumberToObject(c, "version", applied);
        cJSON_AddNumberToObject(c, "want", core_db_schema_target());
        if (!current) {
            ready = false;
            why = PQstatus(db) != CONNECTION_OK
                      ? "the database is not reachable"
                      : "the database schema is not this binary's (custos migrate)";
        }
        core_db_pool_put(web_server_pool(r->srv), db);
    }
    /* The collector's gauges, by name (web/ does not include collector/). */
    if (core_metrics_value("custos_collector_running") == 0) {
        check(checks, "consumer", "not_applicable", "no collector in this process (custos web)");
    } else {
        uint64_t parts = core_metrics_value("custos_consumer_partitions_assigned");
        cJSON *c = check(checks, "consumer", parts > 0 ? "ok" : "failed",
                         parts > 0 ? NULL : "no Kafka partition assigned (yet)");
        cJSON_AddNumberToObject(c, "partitions", (double)parts);
        if (parts == 0) {
            ready = false;
            if (!why)
                why = "the consumer holds no partition";
        }
    }
    cJSON *o = cJSON_CreateObject();
    if (!ready) {
        /* The error object every error is, with the checks beside it. */
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", "not_ready");
        cJSON_AddStringToObject(e, "message", why);
        cJSON_AddStringToObject(o, "status", "not_ready");
        cJSON_AddItemToObject(o, "checks", checks);
        return web_reply_json(r, 503, o) == WEB_DONE ? WEB_CLIENT_ERROR : WEB_FAIL;
    }
    cJSON_AddStringToObject(o, "status", "ready");
    cJSON_AddNumberToObject(o, "schema", core_db_schema_target());
    cJSON_AddItemToObject(o, "checks", checks);
    return web_reply_json(r, 200, o);
}

/* Open unless web.metrics_token is set; then a Bearer token equal to it.
 * Both sides are hashed first so that the compare takes the same time
 * whatever the lengths. */
static bool metrics_allowed(web_req *r)
{
    const char *want = r->cfg->web_metrics_token;
    if (!want || !*want)
        return true;
    char got[256];
    if (web_bearer_get(web_req_header(r, "Authorization"), got, sizeof got) != 1)
        return false;
    unsigned char a[32], b[32];
    web_sha256(got, strlen(got), a);
    web_sha256(want, strlen(want), b);
    sodium_memzero(got, sizeof got);
    return sodium_memcmp(a, b, sizeof a) == 0;
}

web_result web_h_metrics(web_req *r)
{
    if (!metrics_allowed(r)) {
        web_reply_header(r, "WWW-Authenticate", "Bearer realm=\"metrics\"");
        return web_reply_error(r, 401, "unauthenticated", "/metrics needs its token (web.metrics_token)");
    }
    size_t len = 0;
    char *text = core_metrics_render(&len);
    if (!text)
        return web_fail(r, "cannot render the metrics (out of memory)");
    free(r->body);
    r->body = text;
    r->body_len = len;
    r->status = 200;
    r->ctype = "text/plain; version=0.0.4; charset=utf-8";
    return WEB_DONE;
}
