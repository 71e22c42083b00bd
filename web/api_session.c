/* /api/v1/session and /api/v1/sessions: sign-in, who am I, sign-out, and
 * one's own sessions. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/log.h"
#include "web/web_internal.h"

/* An audit detail object with the client's address. */
static cJSON *detail(const web_req *r)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "address", r->addr);
    return d;
}

/* Appends an audit row in the caller's transaction (detail consumed). */
static int audit_row(web_req *r, const char *actor, const char *event, cJSON *d)
{
    char *js = d ? cJSON_PrintUnformatted(d) : NULL;
    cJSON_Delete(d);
    if (!js) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    int rc = audit_append(r->db, actor, event, 0, NULL, js, r->err, sizeof r->err);
    free(js);
    if (rc == 0)
        r->audited = true;
    return rc;
}

/* The attempted user name as an audit value: printable ASCII, 64 bytes. */
static void safe_name(const char *in, char out[65])
{
    size_t n = 0;
    for (; in && *in && n < 64; in++)
        out[n++] = (*in >= 0x21 && *in < 0x7f) ? *in : '?';
    out[n] = '\0';
}

static void set_cookie(web_req *r, const char *value, long long max_age_s)
{
    char c[320];
    snprintf(c, sizeof c, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
             web_server_cookie_name(r->srv), value, max_age_s,
             web_server_cookie_secure(r->srv) ? "; Secure" : "");
    web_reply_header(r, "Set-Cookie", c);
    sodium_memzero(c, sizeof c);
}

web_result web_h_session_create(web_req *r)
{
    /* A browser's sign-in must come from the console (login CSRF); scripts
     * send no Origin. */
    const char *origin = web_req_header(r, "Origin");
    if (origin && !web_origin_ok(origin, r->cfg->web_origin, r->tls, web_req_header(r, "Host")))
        return web_reply_error(r, 403, "csrf", "the Origin header is not this console's");
    const char *user = NULL, *pw = NULL;
    if (web_json_string(r, "username", 256, true, &user) < 0 ||
        web_json_string(r, "password", 1024, true, &pw) < 0)
        return WEB_CLIENT_ERROR;
    char shown[65];
    safe_name(user, shown);

    int64_t now = core_mono_ms();
    int64_t wait = web_throttle_wait_ms(web_server_throttle(r->srv), user, r->addr, now);
    if (wait > 0) {
        char ra[24];
        snprintf(ra, sizeof ra, "%lld", (long long)((wait + 999) / 1000));
        web_reply_header(r, "Retry-After", ra);
        web_count_signin_throttled();
        char q[80];
        core_log(CORE_LOG_WARN, "web", "sign-in throttled", "user=%s addr=%s wait_ms=%lld",
                 core_log_quote(q, sizeof q, shown), r->addr, (long long)wait);
        return web_reply_error(r, 429, "throttled", "too many failed sign-ins: retry in %s s", ra);
    }

    int64_t uid = 0;
    web_role role = WEB_ROLE_VIEWER;
    bool disabled = false;
    char hash[128] = "";
    int found = web_user_find(r->db, user, &uid, &role, &disabled, hash, r->err, sizeof r->err);
    if (found < 0)
        return WEB_FAIL;
    /* Unknown user, disabled user and wrong password cost the same hash
     * and get the same answer. */
    bool ok = web_password_verify(found ? hash : NULL, pw);
    sodium_memzero(hash, sizeof hash);
    if (!found || disabled || !ok) {
        int64_t next_wait =
            web_throttle_failure(web_server_throttle(r->srv), user, r->addr, core_mono_ms());
        web_count_signin_failure();
        cJSON *d = detail(r);
        cJSON_AddStringToObject(d, "username", shown);
        cJSON_AddStringToObject(d, "reason", !found ? "unknown_user"
                                             : disabled ? "disabled"
                                                        : "bad_password");
        char *js = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
        if (!js)
            return web_fail(r, "out of memory");
        int rc = audit_append_tx(r->db, found ? shown : "anonymous", "signin_failed", 0, NULL, js,
                                 r->err, sizeof r->err);
        free(js);
        if (rc < 0)
            return WEB_FAIL;
        r->audited = true;
        char q[80];
        core_log(CORE_LOG_INFO, "web", "sign-in failed", "user=%s addr=%s next_wait_ms=%lld",
                 core_log_quote(q, sizeof q, shown), r->addr, (long long)next_wait);
        return web_reply_error(r, 401, "signin_failed", "wrong user name or password");
    }

    char token[WEB_TOKEN_CHARS + 1], csrf[WEB_TOKEN_CHARS + 1];
    if (core_db_begin(r->db, r->err, sizeof r->err) < 0)
        return WEB_FAIL;
    int64_t sid = web_session_create(r->db, uid, r->cfg->web_session_absolute_ms, r->addr,
                                     web_req_header(r, "User-Agent"), token, csrf, r->err,
                                     sizeof r->err);
    int rc = -1;
    if (sid >= 0) {
        cJSON *d = detail(r);
        cJSON_AddNumberToObject(d, "session_id", (double)sid);
        cJSON_AddStringToObject(d, "role", web_role_name(role));
        rc = audit_row(r, user, "signin", d);
    }
    if (rc < 0 || core_db_commit(r->db, r->err, sizeof r->err) < 0) {
        core_db_rollback(r->db);
        sodium_memzero(token, sizeof token);
        r->audited = false;
        return WEB_FAIL;
    }
    web_throttle_success(web_server_throttle(r->srv), user, core_mono_ms());
    set_cookie(r, token, (long long)(r->cfg->web_session_absolute_ms / 1000));
    sodium_memzero(token, sizeof token);
    core_log(CORE_LOG_INFO, "web", "signed in", "user=%s role=%s session=%lld addr=%s", shown,
             web_role_name(role), (long long)sid, r->addr);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", user);
    cJSON_AddStringToObject(o, "role", web_role_name(role));
    cJSON_AddStringToObject(o, "csrf_token", csrf);
    cJSON_AddNumberToObject(o, "session_id", (double)sid);
    cJSON_AddNumberToObject(o, "idle_timeout_s", (double)(r->cfg->web_session_idle_ms / 1000));
    cJSON_AddNumberToObject(o, "absolute_timeout_s",
                            (double)(r->cfg->web_session_absolute_ms / 1000));
    return web_reply_json(r, 200, o);
}

web_result web_h_session_get(web_req *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "user", r->auth.kind == WEB_AUTH_TOKEN ? r->auth.actor
                                                                      : r->auth.name);
    cJSON_AddStringToObject(o, "role", web_role_name(r->auth.role));
    if (r->auth.kind == WEB_AUTH_SESSION) {
        cJSON_AddStringToObject(o, "auth", "session");
        cJSON_AddStringToObject(o, "csrf_token", r->auth.csrf);
        cJSON_AddNumberToObject(o, "session_id", (double)r->auth.session_id);
    } else {
        cJSON_AddStringToObject(o, "auth", "token");
    }
    return web_reply_json(r, 200, o);
}

/* Ends session id of the signed-in user, audited. 1 ended, 0 none such. */
static int end_session(web_req *r, int64_t id, const char *reason, const char *event)
{
    if (core_db_begin(r->db, r->err, sizeof r->err) < 0)
        return -1;
    int n = web_session_end(r->db, r->auth.user_id, id, reason, r->err, sizeof r->err);
    if (n <= 0) {
        core_db_rollback(r->db);
        return n;
    }
    cJSON *d = detail(r);
    cJSON_AddNumberToObject(d, "session_id", (double)id);
    if (audit_row(r, r->auth.actor, event, d) < 0 ||
        core_db_commit(r->db, r->err, sizeof r->err) < 0) {
        core_db_rollback(r->db);
        r->audited = false;
        return -1;
    }
    return 1;
}

static web_result need_session(web_req *r)
{
    return web_reply_error(r, 400, "not_a_session",
                           "an API token has no session: revoke it with custos token revoke");
}

web_result web_h_session_delete(web_req *r)
{
    if (r->auth.kind != WEB_AUTH_SESSION)
        return need_session(r);
    int n = end_session(r, r->auth.session_id, "signout", "signout");
    if (n < 0)
        return WEB_FAIL;
    set_cookie(r, "", 0);
    return web_reply_empty(r, 204);
}

web_result web_h_sessions_list(web_req *r)
{
    if (r->auth.kind != WEB_AUTH_SESSION)
        return need_session(r);
    cJSON *a = web_session_list(r->db, r->auth.user_id, r->cfg->web_session_idle_ms,
                                r->auth.session_id, r->err, sizeof r->err);
    if (!a)
        return WEB_FAIL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "sessions", a);
    return web_reply_json(r, 200, o);
}

web_result web_h_sessions_delete(web_req *r)
{
    if (r->auth.kind != WEB_AUTH_SESSION)
        return need_session(r);
    int64_t id = web_parse_id(r->params.v[0]);
    if (id < 0)
        return web_reply_error(r, 400, "bad_id", "a session id is a positive number");
    int n = end_session(r, id, "ended_by_user", "session_ended");
    if (n < 0)
        return WEB_FAIL;
    if (n == 0)
        return web_reply_error(r, 404, "not_found", "you have no live session %lld",
                               (long long)id);
    if (id == r->auth.session_id)
        set_cookie(r, "", 0);
    return web_reply_empty(r, 204);
}
