/* The HTTP server: libmicrohttpd with every limit explicit, bodies
 * collected by hand up to web.max_body_bytes, one place that routes,
 * authenticates, authorises (role, CSRF, Origin) before any handler runs,
 * and one place that writes every answer with the security headers. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/hostport.h"
#include "core/log.h"
#include "core/metrics.h"
#include "web/web.h"
#include "playbooks/playbooks.h"
#include "web/web_internal.h"

struct web_server {
    const core_config *cfg;
    struct MHD_Daemon *d;
    core_db_pool *pool;
    pb_actions *actions; /* people's decisions on pending actions (the playbooks') */
    web_throttle *throttle;
    web_hub *hub; /* the live stream's */
    _Atomic(web_hosts *) hosts; /* web.allowed_hosts */
    web_hosts *hosts_before;    /* the one made before port 0 was bound */
    _Atomic int64_t open_conns; /* connections open now (NOTIFY_CONNECTION) */
    bool tls;
    bool secure_cookie;
    char *cert_pem, *key_pem;
    char cookie_name[32];
    int port;
};

/* ---- metrics: requests by route and status class, in flight, failures ---- */

#define N_CLASSES 5 /* 1xx..5xx */
static _Atomic uint64_t g_requests[WEB_MAX_ROUTES + 1][N_CLASSES]; /* last: no route matched */

CORE_METRIC_DEFINE(web_m_in_flight, CORE_GAUGE, "custos_web_requests_in_flight",
                   "HTTP requests being served now");
CORE_METRIC_DEFINE(web_m_signin_failures, CORE_COUNTER, "custos_web_signin_failures_total",
                   "sign-ins refused for a wrong name or password or a disabled user");
CORE_METRIC_DEFINE(web_m_signin_throttled, CORE_COUNTER, "custos_web_signin_throttled_total",
                   "sign-ins refused without a check because the account or address must wait");
CORE_METRIC_DEFINE(web_m_internal, CORE_COUNTER, "custos_web_internal_errors_total",
                   "requests answered 500 (the cause is logged)");
CORE_METRIC_DEFINE(web_m_denied, CORE_COUNTER, "custos_web_access_denied_total",
                   "requests refused 401 or 403 (no session, wrong role, CSRF or Origin)");
CORE_METRIC_DEFINE(web_m_misdirected, CORE_COUNTER, "custos_web_misdirected_total",
                   "requests refused 421: a Host header web.allowed_hosts does not name");
CORE_METRIC_DEFINE(web_m_conn_refused, CORE_COUNTER, "custos_web_connections_refused_total",
                   "connections answered 503 (and closed) past web.max_connections");
CORE_METRIC_DEFINE(web_m_conns, CORE_GAUGE, "custos_web_connections_open",
                   "TCP connections open now (idle keep-alive and streams included)");

void web_count_signin_failure(void) { core_metric_add(&web_m_signin_failures, 1); }
void web_count_signin_throttled(void) { core_metric_add(&web_m_signin_throttled, 1); }

static void render_requests(core_metrics_out *out)
{
    core_metrics_header(out, "custos_web_requests_total", "counter",
                        "HTTP requests answered, by route pattern and status class");
    static const char *const cls[N_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t i = 0; i <= web_routes_count; i++) {
        size_t row = i < web_routes_count ? i : WEB_MAX_ROUTES;
        for (int c = 0; c < N_CLASSES; c++) {
            uint64_t v = atomic_load_explicit(&g_requests[row][c], memory_order_relaxed);
            if (v == 0 && (c == 0 || c == 2)) /* 1xx, 3xx: only once seen */
                continue;
            if (i < web_routes_count)
                core_metrics_printf(out,
                                    "custos_web_requests_total{method=\"%s\",route=\"%s\","
                                    "class=\"%s\"} %llu\n",
                                    web_routes[i].method, web_routes[i].pattern, cls[c],
                                    (unsigned long long)v);
            else
                core_metrics_printf(out,
                                    "custos_web_requests_total{method=\"\",route=\"unmatched\","
                                    "class=\"%s\"} %llu\n",
                                    cls[c], (unsigned long long)v);
        }
    }
}
CORE_METRICS_FAMILY_DEFINE(web_f_requests, "custos_web_requests_total", render_requests)

/* ---- one request ---- */

typedef struct {
    web_req r;
    int route_idx; /* -1: none matched */
    char *buf;     /* the body, NUL-terminated */
    size_t len, cap;
    bool too_big;
    size_t discarded;
    bool answered;
    int64_t start_us;
} web_ctx;

web_throttle *web_server_throttle(web_server *s) { return s->throttle; }
pb_actions *web_server_actions(web_server *s) { return s->actions; }

core_db_pool *web_server_pool(web_server *s) { return s->pool; }
web_hub *web_server_hub(web_server *s) { return s->hub; }
const char *web_server_cookie_name(const web_server *s) { return s->cookie_name; }
bool web_server_cookie_secure(const web_server *s) { return s->secure_cookie; }

void web_reply_header(web_req *r, const char *name, const char *value)
{
    if (r->nhdr >= (int)(sizeof r->hdr / sizeof r->hdr[0]))
        return;
    r->hdr[r->nhdr].name = name;
    snprintf(r->hdr[r->nhdr].value, sizeof r->hdr[r->nhdr].value, "%s", value);
    r->nhdr++;
}

web_result web_reply_json(web_req *r, int status, cJSON *v)
{
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    cJSON_Delete(v);
    if (!s)
        return web_fail(r, "cannot print the answer (out of memory)");
    size_t n = strlen(s);
    /* One newline at the end, as curl users expect. */
    char *b = realloc(s, n + 2);
    if (!b) {
        free(s);
        return web_fail(r, "out of memory");
    }
    b[n] = '\n';
    b[n + 1] = '\0';
    free(r->body);
    r->body = b;
    r->body_len = n + 1;
    r->status = status;
    r->ctype = "application/json; charset=utf-8";
    return WEB_DONE;
}

web_result web_reply_error(web_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    if (web_reply_json(r, status, o) != WEB_DONE) {
        /* Out of memory: a fixed answer still goes out. */
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n";
        free(r->body);
        r->body = strdup(oom);
        r->body_len = r->body ? sizeof oom - 1 : 0;
        r->status = 500;
        r->ctype = "application/json; charset=utf-8";
    }
    return WEB_CLIENT_ERROR;
}

web_result web_reply_empty(web_req *r, int status)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->status = status;
    r->ctype = NULL;
    return WEB_DONE;
}

web_result web_fail(web_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return WEB_FAIL;
}

const char *web_req_header(web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *web_req_arg(web_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int web_json_string(web_req *r, const char *name, size_t maxlen, bool required,
                    const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);
    if (!v) {
        if (required) {
            web_reply_error(r, 400, "bad_request", "'%s' is required", name);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        web_reply_error(r, 400, "bad_request", "'%s' must be a string", name);
        return -1;
    }
    if (strlen(v->valuestring) > maxlen) {
        web_reply_error(r, 400, "bad_request", "'%s' is longer than %zu bytes", name, maxlen);
        return -1;
    }
    *out = v->valuestring;
    return 1;
}

/* The headers every answer carries (STYLE.md, issue 10). */
static const char k_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                            "frame-ancestors 'none'; form-action 'self'";

static enum MHD_Result send_answer(web_ctx *x)
{
    web_req *r = &x->r;
    struct MHD_Response *resp = r->resp;
    r->resp = NULL;
    if (!resp) {
        resp = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (void *)"",
                                               r->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        r->body = NULL; /* the response owns it now */
    }
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    MHD_add_response_header(resp, "Content-Security-Policy", k_csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    /* API data is never stored by a cache; a handler that says otherwise
     * (the console's content-hashed assets) sets its own Cache-Control. */
    bool own_cache = false;
    for (int i = 0; i < r->nhdr; i++)
        own_cache |= strcasecmp(r->hdr[i].name, "Cache-Control") == 0;
    if (!own_cache)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (x->r.srv->tls)
        MHD_add_response_header(resp, "Strict-Transport-Security",
                                "max-age=31536000; includeSubDomains");
    for (int i = 0; i < r->nhdr; i++)
        MHD_add_response_header(resp, r->hdr[i].name, r->hdr[i].value);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    x->answered = true;
    int cls = r->status / 100 - 1;
    if (cls >= 0 && cls < N_CLASSES)
        atomic_fetch_add_explicit(&g_requests[x->route_idx >= 0 ? x->route_idx : WEB_MAX_ROUTES][cls], 1,
                                  memory_order_relaxed);
    if (r->status == 401 || r->status == 403)
        core_metric_add(&web_m_denied, 1);
    if (core_log_get_level() <= CORE_LOG_DEBUG)
        core_log(CORE_LOG_DEBUG, "web", "request", "method=%s route=%s status=%d ms=%.1f addr=%s",
                 r->method, x->route_idx >= 0 ? web_routes[x->route_idx].pattern : "unmatched",
                 r->status, (double)(core_mono_us() - x->start_us) / 1000.0, r->addr);
    return ret;
}

static void client_addr(struct MHD_Connection *conn, char *out, size_t len)
{
    snprintf(out, len, "?");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)len);
}

/* Who is asking: an API token (Authorization: Bearer) or a session cookie.
 * 1 authenticated, 0 answered 401, -1 failure. */
static int authenticate(web_req *r)
{
    const char *authz = web_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    char secret[128];
    int rc;
    if (authz) {
        int b = web_bearer_get(authz, secret, sizeof secret);
        if (b <= 0) {
            web_reply_header(r, "WWW-Authenticate", "Bearer");
            web_reply_error(r, 401, "unauthenticated", "the Authorization header is not a Bearer token");
            return 0;
        }
        rc = web_token_lookup(r->db, secret, &r->auth, r->err, sizeof r->err);
    } else {
        const char *cookies = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                                          MHD_HTTP_HEADER_COOKIE);
        int g = web_cookie_get(cookies, r->srv->cookie_name, secret, sizeof secret);
        if (g < 0) {
            web_reply_error(r, 400, "bad_cookie", "the session cookie is malformed or repeated");
            return 0;
        }
        rc = g == 0 ? 0
                    : web_session_lookup(r->db, secret, r->cfg->web_session_idle_ms, &r->auth,
                                         r->err, sizeof r->err);
    }
    sodium_memzero(secret, sizeof secret);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (authz)
            web_reply_header(r, "WWW-Authenticate", "Bearer");
        web_reply_error(r, 401, "unauthenticated",
                        "sign in (POST /api/v1/session) or send an API token");
        return 0;
    }
    return 1;
}

/* CSRF (a per-session token in X-CSRF-Token) and the Origin of a
 * state-changing request made with a session cookie. Bearer tokens are not
 * sent by browsers on their own, so they need neither. */
static bool csrf_ok(web_req *r, const char **why)
{
    const char *t = web_req_header(r, "X-CSRF-Token");
    size_t want = strlen(r->auth.csrf);
    if (!t || strlen(t) != want || want == 0 ||
        sodium_memcmp(t, r->auth.csrf, want) != 0) {
        *why = "the X-CSRF-Token header is missing or wrong";
        return false;
    }
    const char *origin = web_req_header(r, "Origin");
    if (!web_origin_ok(origin, r->cfg->web_origin, r->tls, web_req_header(r, "Host"))) {
        *why = "the Origin header is missing or not this console's";
        return false;
    }
    return true;
}

static web_result run_route(web_ctx *x)
{
    web_req *r = &x->r;
    const web_route *rt = r->route;
    if ((rt->flags & WEB_F_BODY) && !((rt->flags & WEB_F_BODY_OPTIONAL) && x->len == 0)) {
        const char *why;
        size_t at;
        r->json = web_body_parse(x->buf ? x->buf : "", x->len, &why, &at);
        if (!r->json)
            return web_reply_error(r, 400, "bad_json", "%s (near byte %zu)", why, at);
    }
    if ((rt->flags & WEB_F_DB) || rt->need != WEB_NEED_NONE) {
        r->db = core_db_pool_get(r->srv->pool, 2000, r->err, sizeof r->err);
        if (!r->db) {
            core_log(CORE_LOG_WARN, "web", "no database connection", "route=%s", rt->pattern);
            web_reply_header(r, "Retry-After", "1");
            return web_reply_error(r, 503, "unavailable", "the database is not reachable now");
        }
    }
    if (rt->need != WEB_NEED_NONE) {
        int a = authenticate(r);
        if (a < 0)
            return WEB_FAIL;
        if (a == 0)
            return WEB_CLIENT_ERROR;
        /* Authorise before looking anything up: ids cannot be probed. */
        if (!web_role_allows(r->auth.role, rt->need)) {
            core_log(CORE_LOG_INFO, "web", "access denied", "actor=%s role=%s route=%s need=%s",
                     r->auth.actor, web_role_name(r->auth.role), rt->pattern,
                     web_need_name(rt->need));
            return web_reply_error(r, 403, "forbidden", "the %s role may not do this",
                                   web_role_name(r->auth.role));
        }
        const char *why;
        if ((rt->flags & WEB_F_CSRF) && r->auth.kind == WEB_AUTH_SESSION && !csrf_ok(r, &why)) {
            core_log(CORE_LOG_WARN, "web", "CSRF check failed", "actor=%s route=%s addr=%s",
                     r->auth.actor, rt->pattern, r->addr);
            return web_reply_error(r, 403, "csrf", "%s", why);
        }
    }
    web_result res = rt->handler(r);
    if (res == WEB_DONE && (rt->flags & WEB_F_AUDITED) && r->status < 300 && !r->audited &&
        !r->unchanged)
        return web_fail(r, "route %s %s succeeded without an audit row", rt->method, rt->pattern);
    return res;
}

static void dispatch(web_ctx *x)
{
    web_req *r = &x->r;
    web_result res;
    if (x->too_big)
        res = web_reply_error(r, 413, "too_large", "the body is larger than %lld bytes",
                              (long long)r->cfg->web_max_body_bytes);
    else
        res = run_route(x);
    if (res == WEB_FAIL) {
        char q[600];
        core_log(CORE_LOG_ERROR, "web", "request failed", "method=%s route=%s error=%s",
                 r->method, r->route ? r->route->pattern : "-",
                 core_log_quote(q, sizeof q, r->err));
        core_metric_add(&web_m_internal, 1);
        r->nhdr = 0;
        if (r->resp) {
            MHD_destroy_response(r->resp);
            r->resp = NULL;
        }
        web_reply_error(r, 500, "internal", "internal error (logged)");
    }
    if (r->db) {
        /* A handler that failed inside a transaction: the pool rolls it back. */
        core_db_pool_put(r->srv->pool, r->db);
        r->db = NULL;
    }
}

/* The bytes of the request line and headers, as libmicrohttpd parsed them. */
static enum MHD_Result add_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    size_t *n = cls;
    *n += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* What is refused before the router looks at the path: a connection past
 * web.max_connections (libmicrohttpd's own limit is set higher, so that
 * these get a JSON 503 rather than a bare close), a request line or
 * headers past web.connection_memory_bytes (libmicrohttpd's pool is
 * WEB_POOL_HEADROOM larger, so that these get a JSON 414/431 rather than
 * its HTML), and a Host
 * header web.allowed_hosts does not name (421). True when answered. */
static bool refuse_early(web_ctx *x, const char *url)
{
    web_req *r = &x->r;
    web_server *s = r->srv;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context) {
        core_metric_add(&web_m_conn_refused, 1);
        web_reply_header(r, "Connection", "close");
        web_reply_header(r, "Retry-After", "1");
        web_reply_error(r, 503, "too_many_connections",
                        "%lld connections are open (web.max_connections)",
                        (long long)s->cfg->web_max_connections);
        return true;
    }
    size_t limit = (size_t)s->cfg->web_connection_memory_bytes;
    size_t line = strlen(url) + strlen(r->method) + 12;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_size, &line);
    if (line > limit) {
        web_reply_header(r, "Connection", "close");
        web_reply_error(r, 414, "uri_too_long",
                        "the request line is longer than %zu bytes (web.connection_memory_bytes)",
                        limit);
        return true;
    }
    size_t all = line;
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_size, &all);
    if (all > limit) {
        web_reply_header(r, "Connection", "close");
        web_reply_error(r, 431, "headers_too_large",
                        "the request line and headers are larger than %zu bytes "
                        "(web.connection_memory_bytes)",
                        limit);
        return true;
    }
    const char *host = web_req_header(r, MHD_HTTP_HEADER_HOST);
    if (!web_hosts_allow(atomic_load(&s->hosts), host)) {
        char q[300];
        core_log(CORE_LOG_WARN, "web", "Host not allowed", "host=%s addr=%s",
                 core_log_quote(q, sizeof q, host ? host : "(none)"), r->addr);
        core_metric_add(&web_m_misdirected, 1);
        web_reply_error(r, 421, "misdirected",
                        "this server does not answer for that Host (web.allowed_hosts)");
        return true;
    }
    return false;
}

/* Counts connections; marks those past web.max_connections, which the
 * first request on them finds (refuse_early). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)conn;
    web_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        int64_t n = atomic_fetch_add(&s->open_conns, 1) + 1;
        core_metric_add(&web_m_conns, 1);
        *socket_context = n > s->cfg->web_max_connections ? (void *)s : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&s->open_conns, 1);
        core_metric_sub(&web_m_conns, 1);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's memory per connection is this much above
 * web.connection_memory_bytes: room for our JSON 431/414 after headers that
 * fill the configured amount. Not more: each connection's resident memory
 * grows with its pool (bench/web: ~110 KiB at a 128 KiB pool, ~60 KiB at
 * 64 KiB). */
#define WEB_POOL_HEADROOM (16 << 10)

/* Room above web.max_connections for connections that are answered 503
 * rather than closed unanswered. */
static unsigned conn_headroom(const core_config *cfg)
{
    int64_t h = cfg->web_max_connections / 16;
    return (unsigned)(h < 16 ? 16 : h);
}

static bool method_has_body(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    web_server *s = cls;
    web_ctx *x = *con_cls;
    if (!x) {
        x = calloc(1, sizeof *x);
        if (!x)
            return MHD_NO;
        *con_cls = x;
        core_metric_add(&web_m_in_flight, 1);
        x->start_us = core_mono_us();
        x->route_idx = -1;
        web_req *r = &x->r;
        r->srv = s;
        r->cfg = s->cfg;
        r->conn = conn;
        r->method = method;
        r->tls = s->tls;
        r->status = 500;
        client_addr(conn, r->addr, sizeof r->addr);
        if (refuse_early(x, url))
            return send_answer(x);
        char allow[64];
        int idx = web_route_match(web_routes, web_routes_count, method, url, &r->params, allow,
                                  sizeof allow);
        if (idx == -405) {
            web_reply_header(r, "Allow", allow);
            web_reply_error(r, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)",
                            method, allow);
            return send_answer(x);
        }
        if (idx == -404) {
            web_reply_error(r, 404, "not_found", "no such resource");
            return send_answer(x);
        }
        if (idx < 0) {
            web_reply_error(r, 400, "bad_id", "a path parameter is malformed or too long");
            return send_answer(x);
        }
        x->route_idx = idx;
        r->route = &web_routes[idx];
        /* What can be refused before reading a byte of the body. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->cfg->web_max_body_bytes) {
            web_reply_error(r, 413, "too_large", "the body is larger than %lld bytes",
                            (long long)s->cfg->web_max_body_bytes);
            return send_answer(x);
        }
        bool no_body = (r->route->flags & WEB_F_BODY_OPTIONAL) &&
                       (!cl || strtoull(cl, NULL, 10) == 0) &&
                       !MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_TRANSFER_ENCODING);
        if ((r->route->flags & WEB_F_BODY) && method_has_body(method) && !no_body) {
            const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_CONTENT_TYPE);
            size_t n = strlen("application/json");
            if (!ct || strncasecmp(ct, "application/json", n) != 0 ||
                (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')) {
                web_reply_error(r, 415, "unsupported_media_type",
                                "the body must be application/json");
                return send_answer(x);
            }
        }
        return MHD_YES;
    }
    if (x->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        size_t cap = (size_t)s->cfg->web_max_body_bytes;
        if (!x->too_big && x->len + n <= cap) {
            if (x->len + n + 1 > x->cap) {
                size_t nc = x->cap ? x->cap * 2 : 4096;
                while (nc < x->len + n + 1)
                    nc *= 2;
                if (nc > cap + 1)
                    nc = cap + 1;
                char *b = realloc(x->buf, nc);
                if (!b)
                    return MHD_NO;
                x->buf = b;
                x->cap = nc;
            }
            memcpy(x->buf + x->len, upload_data, n);
            x->len += n;
            x->buf[x->len] = '\0';
        } else {
            /* Chunked past the cap (a Content-Length past it was refused
             * at once): read on to answer 413, but not forever. */
            x->too_big = true;
            x->discarded += n;
            if (x->discarded > 4 * cap)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    dispatch(x);
    return send_answer(x);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    web_ctx *x = *con_cls;
    if (!x)
        return;
    web_server *s = cls;
    if (x->r.db)
        core_db_pool_put(s->pool, x->r.db);
    cJSON_Delete(x->r.json);
    free(x->r.body);
    if (x->r.resp)
        MHD_destroy_response(x->r.resp);
    if (x->buf) {
        sodium_memzero(x->buf, x->cap); /* bodies hold passwords */
        free(x->buf);
    }
    free(x);
    *con_cls = NULL;
    core_metric_sub(&web_m_in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512], q[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    core_log(CORE_LOG_WARN, "web", "libmicrohttpd", "detail=%s", core_log_quote(q, sizeof q, msg));
}

/* Reads a PEM file of at most 1 MiB. */
static char *read_pem(const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "web.%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *b = malloc((1 << 20) + 1);
    size_t n = b ? fread(b, 1, 1 << 20, f) : 0;
    bool more = b && fgetc(f) != EOF;
    fclose(f);
    if (!b || n == 0 || more) {
        snprintf(err, errlen, "web.%s %s: %s", what, path,
                 !b ? "out of memory" : n == 0 ? "empty" : "larger than 1 MiB");
        free(b);
        return NULL;
    }
    b[n] = '\0';
    return b;
}

/* The TLS settings and libsodium: -1 with err when they cannot work. */
static int check_tls(const core_config *cfg, bool *tls, char *err, size_t errlen)
{
    bool cert = cfg->web_tls_cert && *cfg->web_tls_cert;
    bool key = cfg->web_tls_key && *cfg->web_tls_key;
    if (cert != key) {
        snprintf(err, errlen, "web.tls_cert and web.tls_key go together: set both or neither");
        return -1;
    }
    if (cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen,
                 "web.tls_cert is set but this libmicrohttpd has no TLS support: unset it and "
                 "put a TLS reverse proxy in front (README)");
        return -1;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium cannot start");
        return -1;
    }
    *tls = cert;
    return 0;
}

/* What the handlers share: TLS files, the sign-in throttle, the pool (the
 * schema checked on it), the playbooks' decision context. */
static int open_parts(web_server *s, char *err, size_t errlen)
{
    const core_config *cfg = s->cfg;
    if (s->tls) {
        s->cert_pem = read_pem(cfg->web_tls_cert, "tls_cert", err, errlen);
        if (!s->cert_pem)
            return -1;
        s->key_pem = read_pem(cfg->web_tls_key, "tls_key", err, errlen);
        if (!s->key_pem)
            return -1;
    }
    s->throttle = web_throttle_new((int)cfg->web_signin_free_failures,
                                   (int)cfg->web_signin_ip_free_failures);
    s->pool = core_db_pool_new(cfg->pg_dsn, (int)cfg->pg_connect_timeout_s, (int)cfg->web_db_pool);
    if (!s->throttle || !s->pool) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    {
        char dberr[512];
        PGconn *c = core_db_pool_get(s->pool, (int64_t)cfg->pg_connect_timeout_s * 1000, dberr,
                                     sizeof dberr);
        if (!c) {
            snprintf(err, errlen, "web: %s", dberr);
            return -1;
        }
        int rc = core_db_check_schema(c, dberr, sizeof dberr);
        core_db_pool_put(s->pool, c);
        if (rc < 0) {
            snprintf(err, errlen, "web: %s", dberr);
            return -1;
        }
    }
    /* The playbooks' decision context: effectors and playbooks loaded once,
     * not at every approval. */
    s->actions = pb_actions_open(cfg, s->pool, err, errlen);
    if (!s->actions)
        return -1;
    s->hub = web_hub_start(cfg, err, errlen);
    if (!s->hub)
        return -1;
    /* Prepare the dummy hash now, not on the first unknown user's sign-in. */
    (void)web_password_verify(NULL, "");

    return 0;
}

/* Binds web.listen and starts libmicrohttpd with every limit set. */
static int start_daemon(web_server *s, const char *host, int port, char *err, size_t errlen)
{
    const core_config *cfg = s->cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errlen, "web.listen '%s': %s", cfg->web_listen, gai_strerror(gai));
        return -1;
    }
    web_hosts *first = web_hosts_new(cfg->web_allowed_hosts, host, port, cfg->web_origin, err,
                                     errlen);
    if (!first) {
        freeaddrinfo(ai);
        return -1;
    }
    atomic_store(&s->hosts, first);
    /* Internal epoll threads (web.threads of them), each serving many
     * connections; the streams suspend theirs while they wait (web_stream.c). */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (s->tls)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_OptionItem no_opts[] = {{MHD_OPTION_END, 0, NULL}};
    s->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, /* first, so that it gets every message */
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->web_threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->web_max_connections + conn_headroom(cfg),
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->web_max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(cfg->web_connection_timeout_ms / 1000),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)cfg->web_connection_memory_bytes + WEB_POOL_HEADROOM,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_ARRAY, s->tls ? tls_opts : no_opts,
        MHD_OPTION_END);
    int bind_errno = errno;
    freeaddrinfo(ai);
    if (!s->d) {
        snprintf(err, errlen, "web: cannot listen on %s (%s)", cfg->web_listen,
                 bind_errno ? strerror(bind_errno) : "libmicrohttpd refused the settings");
        return -1;
    }
    if (cfg->web_db_pool < cfg->web_threads)
        core_log(CORE_LOG_WARN, "web", "fewer database connections than workers",
                 "db_pool=%lld threads=%lld (a worker may wait up to 2 s, then answer 503)",
                 (long long)cfg->web_db_pool, (long long)cfg->web_threads);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    if (s->port != port) {
        /* Port 0: the default names carry the port the system chose. */
        web_hosts *h = web_hosts_new(cfg->web_allowed_hosts, host, s->port, cfg->web_origin, err,
                                     errlen);
        if (!h)
            return -1;
        s->hosts_before = atomic_exchange(&s->hosts, h);
    }
    char hosts[512];
    web_hosts_describe(atomic_load(&s->hosts), hosts, sizeof hosts);
    core_log(CORE_LOG_INFO, "web", "listening",
             "listen=%s port=%d tls=%s threads=%lld max_connections=%lld per_ip=%lld "
             "timeout_s=%lld allowed_hosts=%s",
             cfg->web_listen, s->port, s->tls ? "on" : "off", (long long)cfg->web_threads,
             (long long)cfg->web_max_connections, (long long)cfg->web_max_connections_per_ip,
             (long long)(cfg->web_connection_timeout_ms / 1000), hosts);
    return 0;
}

web_server *web_service_start(const core_config *cfg, char *err, size_t errlen)
{
    char host[256];
    int port;
    bool tls;
    if (core_listen_split(cfg->web_listen, host, sizeof host, &port) < 0) {
        snprintf(err, errlen, "web.listen '%s' is not HOST:PORT or [IPV6]:PORT", cfg->web_listen);
        return NULL;
    }
    if (check_tls(cfg, &tls, err, errlen) < 0)
        return NULL;
    web_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->tls = tls;
    /* Behind a TLS proxy (web.origin https://...) the browser sees HTTPS:
     * the cookie is Secure and __Host- there too. */
    s->secure_cookie = s->tls || (cfg->web_origin && strncasecmp(cfg->web_origin, "https://", 8) == 0);
    snprintf(s->cookie_name, sizeof s->cookie_name, "%s",
             s->secure_cookie ? "__Host-custos_session" : "custos_session");
    if (open_parts(s, err, errlen) < 0 || start_daemon(s, host, port, err, errlen) < 0) {
        web_service_stop(s);
        return NULL;
    }
    return s;
}

int web_service_port(const web_server *ws)
{
    return ws ? ws->port : 0;
}

void web_service_stop(web_server *s)
{
    if (!s)
        return;
    web_hub_stop(s->hub); /* no stream may stay suspended past here */
    web_hub_drain(s->hub, 2000);
    if (s->d) {
        MHD_stop_daemon(s->d);
        core_log(CORE_LOG_INFO, "web", "web server stopped", "port=%d", s->port);
    }
    web_hub_free(s->hub);
    web_hosts_free(atomic_load(&s->hosts));
    web_hosts_free(s->hosts_before);
    pb_actions_close(s->actions);
    core_db_pool_free(s->pool);
    web_throttle_free(s->throttle);
    if (s->key_pem) {
        sodium_memzero(s->key_pem, strlen(s->key_pem));
        free(s->key_pem);
    }
    free(s->cert_pem);
    free(s);
}
