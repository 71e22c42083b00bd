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

/* Ready: the database answers and holds exactly this binary's schema. The
 * details go to the log, not to an unauthenticated client. */
web_result web_h_readyz(web_req *r)
{
    char err[512];
    if (core_db_check_schema(r->db, err, sizeof err) < 0) {
        char q[600];
        core_log(CORE_LOG_WARN, "web", "not ready", "error=%s", core_log_quote(q, sizeof q, err));
        bool down = PQstatus(r->db) != CONNECTION_OK;
        return web_reply_error(r, 503, "not_ready", "%s",
                               down ? "the database is not reachable"
                                    : "the database schema is not this binary's (custos migrate)");
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ready");
    cJSON_AddNumberToObject(o, "schema", core_db_schema_target());
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
