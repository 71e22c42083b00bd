/* The identity store: web_users, web_sessions and web_api_tokens (sql
 * migration 0007), for the server and the CLI. Parameterised SQL only;
 * tokens travel in and out as text and are stored as their SHA-256; every
 * change appends its audit row in the same transaction. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "web/web_internal.h"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* bytea parameter as text: '\x' and 64 hex digits. */
static void hash_param(const char *secret, char out[67])
{
    unsigned char h[32];
    web_sha256(secret, strlen(secret), h);
    out[0] = '\\';
    out[1] = 'x';
    sodium_bin2hex(out + 2, 65, h, sizeof h);
}

/* Appends the audit row of a change: detail is consumed. */
static int audit(PGconn *c, const char *actor, const char *event, cJSON *detail, char *err,
                 size_t errlen)
{
    return audit_append_json(c, actor, event, 0, NULL, detail, err, errlen);
}

/* ---- look-ups on every request ---- */

int web_session_lookup(PGconn *c, const char *cookie, int64_t idle_ms, web_auth *a, char *err,
                       size_t errlen)
{
    if (strlen(cookie) != WEB_TOKEN_CHARS)
        return 0;
    char h[67], idle[32];
    hash_param(cookie, h);
    snprintf(idle, sizeof idle, "%lld", (long long)idle_ms);
    const char *p[] = {h, idle};
    PGresult *r = core_db_query(
        c,
        "UPDATE web_sessions s SET last_seen_at = now() FROM web_users u "
        "WHERE s.token_sha256 = $1::bytea AND u.user_id = s.user_id AND s.ended_at IS NULL "
        "AND NOT u.disabled AND s.expires_at > now() "
        "AND s.last_seen_at > now() - make_interval(secs => $2::bigint / 1000.0) "
        "RETURNING s.session_id, u.user_id, u.username, u.role, s.csrf_token",
        2, p, "session lookup", err, errlen);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        memset(a, 0, sizeof *a);
        a->kind = WEB_AUTH_SESSION;
        a->session_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        a->user_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
        snprintf(a->name, sizeof a->name, "%s", PQgetvalue(r, 0, 2));
        snprintf(a->actor, sizeof a->actor, "%s", a->name);
        int role = web_role_parse(PQgetvalue(r, 0, 3));
        snprintf(a->csrf, sizeof a->csrf, "%s", PQgetvalue(r, 0, 4));
        if (role < 0) {
            found = 0; /* the table's CHECK makes this impossible; refuse anyway */
        } else {
            a->role = (web_role)role;
        }
    }
    PQclear(r);
    return found;
}

int web_token_lookup(PGconn *c, const char *token, web_auth *a, char *err, size_t errlen)
{
    if (strncmp(token, "cst_", 4) != 0 || strlen(token) != 4 + WEB_TOKEN_CHARS)
        return 0;
    char h[67];
    hash_param(token, h);
    const char *p[] = {h};
    PGresult *r = core_db_query(
        c,
        "WITH t AS (SELECT token_id, name, role, last_used_at FROM web_api_tokens "
        "           WHERE token_sha256 = $1::bytea AND revoked_at IS NULL), "
        "u AS (UPDATE web_api_tokens w SET last_used_at = now() FROM t "
        "      WHERE w.token_id = t.token_id AND (t.last_used_at IS NULL "
        "            OR t.last_used_at < now() - interval '1 minute')) "
        "SELECT token_id, name, role FROM t",
        1, p, "token lookup", err, errlen);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        int role = web_role_parse(PQgetvalue(r, 0, 2));
        memset(a, 0, sizeof *a);
        a->kind = WEB_AUTH_TOKEN;
        a->token_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(a->name, sizeof a->name, "%s", PQgetvalue(r, 0, 1));
        snprintf(a->actor, sizeof a->actor, "token:%s", a->name);
        if (role < 0)
            found = 0;
        else
            a->role = (web_role)role;
    }
    PQclear(r);
    return found;
}

int web_user_find(PGconn *c, const char *username, int64_t *user_id, web_role *role,
                  bool *disabled, char hash[128], char *err, size_t errlen)
{
    const char *p[] = {username};
    PGresult *r = core_db_query(c,
                                "SELECT user_id, role, disabled, password_hash FROM web_users "
                                "WHERE username = $1",
                                1, p, "user lookup", err, errlen);
    if (!r)
        return -1;
    int found = PQntuples(r) == 1;
    if (found) {
        *user_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        int ro = web_role_parse(PQgetvalue(r, 0, 1));
        *role = ro < 0 ? WEB_ROLE_VIEWER : (web_role)ro;
        *disabled = strcmp(PQgetvalue(r, 0, 2), "t") == 0 || ro < 0;
        snprintf(hash, 128, "%s", PQgetvalue(r, 0, 3));
    }
    PQclear(r);
    return found;
}

int64_t web_session_create(PGconn *c, int64_t user_id, int64_t absolute_ms, const char *addr,
                           const char *user_agent, char token[WEB_TOKEN_CHARS + 1],
                           char csrf[WEB_TOKEN_CHARS + 1], char *err, size_t errlen)
{
    web_random_token(token);
    web_random_token(csrf);
    char h[67], uid[24], abs_ms[24], ua[257];
    hash_param(token, h);
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    snprintf(abs_ms, sizeof abs_ms, "%lld", (long long)absolute_ms);
    /* At most 256 bytes of the user agent, printable ASCII only (it is
     * shown back in the session list and may hold anything). */
    size_t ul = 0;
    for (const char *q = user_agent ? user_agent : ""; *q && ul < 256; q++)
        ua[ul++] = (*q >= 0x20 && *q < 0x7f) ? *q : '?';
    ua[ul] = '\0';
    const char *p[] = {h, uid, csrf, abs_ms, addr ? addr : "", ua};
    PGresult *r = core_db_query(
        c,
        "INSERT INTO web_sessions (token_sha256, user_id, csrf_token, expires_at, address, "
        "user_agent) VALUES ($1::bytea, $2, $3, now() + make_interval(secs => $4::bigint / "
        "1000.0), $5, $6) RETURNING session_id",
        6, p, "session insert", err, errlen);
    if (!r)
        return -1;
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}

int web_session_end(PGconn *c, int64_t user_id, int64_t session_id, const char *reason,
                    char *err, size_t errlen)
{
    char uid[24], sid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    snprintf(sid, sizeof sid, "%lld", (long long)session_id);
    const char *p[] = {uid, sid, reason};
    long long n = core_db_exec_params(c,
                                      "UPDATE web_sessions SET ended_at = now(), ended_reason = $3 "
                                      "WHERE user_id = $1 AND session_id = $2 AND ended_at IS NULL",
                                      3, p, "session end", err, errlen);
    return n < 0 ? -1 : n > 0;
}

/* Ends every live session of a user (disabled, new password). */
static long long end_user_sessions(PGconn *c, const char *name, const char *reason, char *err,
                                   size_t errlen)
{
    const char *p[] = {name, reason};
    return core_db_exec_params(c,
                               "UPDATE web_sessions s SET ended_at = now(), ended_reason = $2 "
                               "FROM web_users u WHERE u.user_id = s.user_id AND u.username = $1 "
                               "AND s.ended_at IS NULL",
                               2, p, "sessions end", err, errlen);
}

/* ---- changes (CLI and admin API) ---- */

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  (i > 0 && (ch == '_' || ch == '.' || ch == '-' || ch == '@'));
        if (!ok)
            return false;
    }
    return true;
}

/* Runs fn's statements and audit in one transaction. */
#define TX_BEGIN()                                                                           \
    if (core_db_begin(c, err, errlen) < 0)                                                   \
        return -1;
#define TX_END(rc)                                                                           \
    do {                                                                                     \
        if ((rc) == 0) {                                                                     \
            if (core_db_commit(c, err, errlen) < 0)                                          \
                return -1;                                                                   \
        } else {                                                                             \
            core_db_rollback(c);                                                             \
        }                                                                                    \
        return (rc);                                                                         \
    } while (0)

int web_user_add(PGconn *c, const char *actor, const char *name, web_role role,
                 const char *password, char *err, size_t errlen)
{
    if (!valid_name(name)) {
        snprintf(err, errlen, "a user name is 1 to 64 of A-Z a-z 0-9 and _ . - @ (not first)");
        return 1;
    }
    const char *why = web_password_problem(password);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return 1;
    }
    char hash[128];
    if (web_password_hash(password, hash) < 0) {
        snprintf(err, errlen, "cannot hash the password (out of memory)");
        return -1;
    }
    int rc = -1;
    TX_BEGIN();
    const char *p[] = {name, web_role_name(role), hash, actor};
    long long n = core_db_exec_params(c,
                                      "INSERT INTO web_users (username, role, password_hash, "
                                      "created_by) VALUES ($1, $2, $3, $4) "
                                      "ON CONFLICT (username) DO NOTHING",
                                      4, p, "user insert", err, errlen);
    if (n == 0) {
        snprintf(err, errlen, "user %s already exists", name);
        rc = 1;
    } else if (n > 0) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "user", name);
        cJSON *after = cJSON_AddObjectToObject(d, "after");
        cJSON_AddStringToObject(after, "role", web_role_name(role));
        cJSON_AddBoolToObject(after, "disabled", false);
        rc = audit(c, actor, "user_added", d, err, errlen);
    }
    sodium_memzero(hash, sizeof hash);
    TX_END(rc);
}

/* The user's current role and disabled flag, locked; 1 when unknown. */
static int user_state(PGconn *c, const char *name, char *role, size_t rolelen, bool *disabled,
                      char *err, size_t errlen)
{
    const char *p[] = {name};
    PGresult *r = core_db_query(c,
                                "SELECT role, disabled FROM web_users WHERE username = $1 "
                                "FOR UPDATE",
                                1, p, "user state", err, errlen);
    if (!r)
        return -1;
    int rc = 1;
    if (PQntuples(r) == 1) {
        snprintf(role, rolelen, "%s", PQgetvalue(r, 0, 0));
        *disabled = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
        rc = 0;
    } else {
        snprintf(err, errlen, "no user %s", name);
    }
    PQclear(r);
    return rc;
}

int web_user_set_disabled(PGconn *c, const char *actor, const char *name, bool disabled,
                          char *err, size_t errlen)
{
    char role[16];
    bool was;
    TX_BEGIN();
    int rc = user_state(c, name, role, sizeof role, &was, err, errlen);
    if (rc == 0) {
        const char *p[] = {name, disabled ? "t" : "f"};
        long long n = core_db_exec_params(c,
                                          "UPDATE web_users SET disabled = $2::boolean, "
                                          "updated_at = now() WHERE username = $1",
                                          2, p, "user update", err, errlen);
        long long ended = 0;
        if (n >= 0 && disabled)
            ended = end_user_sessions(c, name, "user_disabled", err, errlen);
        if (n < 0 || ended < 0) {
            rc = -1;
        } else {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "user", name);
            cJSON_AddBoolToObject(cJSON_AddObjectToObject(d, "before"), "disabled", was);
            cJSON_AddBoolToObject(cJSON_AddObjectToObject(d, "after"), "disabled", disabled);
            cJSON_AddNumberToObject(d, "sessions_ended", (double)ended);
            rc = audit(c, actor, disabled ? "user_disabled" : "user_enabled", d, err, errlen);
        }
    }
    TX_END(rc);
}

int web_user_set_role(PGconn *c, const char *actor, const char *name, web_role role, char *err,
                      size_t errlen)
{
    char before[16];
    bool dis;
    TX_BEGIN();
    int rc = user_state(c, name, before, sizeof before, &dis, err, errlen);
    if (rc == 0) {
        const char *p[] = {name, web_role_name(role)};
        /* A new role starts from a new sign-in: privileges never carry over. */
        if (core_db_exec_params(c,
                                "UPDATE web_users SET role = $2, updated_at = now() "
                                "WHERE username = $1",
                                2, p, "user update", err, errlen) < 0 ||
            end_user_sessions(c, name, "role_changed", err, errlen) < 0) {
            rc = -1;
        } else {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "user", name);
            cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "before"), "role", before);
            cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "after"), "role",
                                    web_role_name(role));
            rc = audit(c, actor, "user_role_changed", d, err, errlen);
        }
    }
    TX_END(rc);
}

int web_user_set_password(PGconn *c, const char *actor, const char *name, const char *password,
                          char *err, size_t errlen)
{
    const char *why = web_password_problem(password);
    if (why) {
        snprintf(err, errlen, "%s", why);
        return 1;
    }
    char hash[128];
    if (web_password_hash(password, hash) < 0) {
        snprintf(err, errlen, "cannot hash the password (out of memory)");
        return -1;
    }
    char role[16];
    bool dis;
    int rc;
    if (core_db_begin(c, err, errlen) < 0) {
        sodium_memzero(hash, sizeof hash);
        return -1;
    }
    rc = user_state(c, name, role, sizeof role, &dis, err, errlen);
    if (rc == 0) {
        const char *p[] = {name, hash};
        long long ended = -1;
        if (core_db_exec_params(c,
                                "UPDATE web_users SET password_hash = $2, updated_at = now(), "
                                "password_changed_at = now() WHERE username = $1",
                                2, p, "user update", err, errlen) < 0 ||
            (ended = end_user_sessions(c, name, "password_changed", err, errlen)) < 0) {
            rc = -1;
        } else {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "user", name);
            cJSON_AddNumberToObject(d, "sessions_ended", (double)ended);
            rc = audit(c, actor, "user_password_changed", d, err, errlen);
        }
    }
    sodium_memzero(hash, sizeof hash);
    TX_END(rc);
}

int web_token_create(PGconn *c, const char *actor, const char *name, web_role role,
                     char secret[WEB_TOKEN_CHARS + 8], int64_t *token_id, char *err,
                     size_t errlen)
{
    if (!valid_name(name) || strchr(name, '@')) {
        snprintf(err, errlen, "a token name is 1 to 64 of A-Z a-z 0-9 and _ . - (not first)");
        return 1;
    }
    char rnd[WEB_TOKEN_CHARS + 1], h[67];
    web_random_token(rnd);
    snprintf(secret, WEB_TOKEN_CHARS + 8, "cst_%s", rnd);
    sodium_memzero(rnd, sizeof rnd);
    hash_param(secret, h);
    TX_BEGIN();
    int rc = -1;
    const char *p[] = {name, web_role_name(role), h, actor};
    PGresult *r = core_db_query(c,
                                "INSERT INTO web_api_tokens (name, role, token_sha256, created_by) "
                                "VALUES ($1, $2, $3::bytea, $4) "
                                "ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING "
                                "RETURNING token_id",
                                4, p, "token insert", err, errlen);
    if (r && PQntuples(r) == 0) {
        snprintf(err, errlen, "a live token called %s exists (revoke it first)", name);
        rc = 1;
    } else if (r) {
        *token_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "token", name);
        cJSON_AddNumberToObject(d, "token_id", (double)*token_id);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "after"), "role", web_role_name(role));
        rc = audit(c, actor, "token_created", d, err, errlen);
    }
    PQclear(r);
    if (rc != 0)
        sodium_memzero(secret, WEB_TOKEN_CHARS + 8);
    TX_END(rc);
}

int web_token_revoke(PGconn *c, const char *actor, const char *name_or_id, char *err,
                     size_t errlen)
{
    bool by_id = name_or_id[0] == '#';
    const char *key = by_id ? name_or_id + 1 : name_or_id;
    if (by_id) {
        if (!*key || strlen(key) > 18 || strspn(key, "0123456789") != strlen(key)) {
            snprintf(err, errlen, "no token %s", name_or_id);
            return 1;
        }
    }
    TX_BEGIN();
    int rc = -1;
    const char *p[] = {key, actor};
    PGresult *r = core_db_query(c,
                                by_id ? "UPDATE web_api_tokens SET revoked_at = now(), revoked_by = $2 "
                                        "WHERE token_id = $1::bigint AND revoked_at IS NULL "
                                        "RETURNING token_id, name, role"
                                      : "UPDATE web_api_tokens SET revoked_at = now(), revoked_by = $2 "
                                        "WHERE name = $1 AND revoked_at IS NULL "
                                        "RETURNING token_id, name, role",
                                2, p, "token revoke", err, errlen);
    if (r && PQntuples(r) == 0) {
        snprintf(err, errlen, "no live token %s", name_or_id);
        rc = 1;
    } else if (r) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "token", PQgetvalue(r, 0, 1));
        cJSON_AddNumberToObject(d, "token_id", strtod(PQgetvalue(r, 0, 0), NULL));
        cJSON_AddStringToObject(d, "role", PQgetvalue(r, 0, 2));
        cJSON_AddBoolToObject(cJSON_AddObjectToObject(d, "after"), "revoked", true);
        rc = audit(c, actor, "token_revoked", d, err, errlen);
    }
    PQclear(r);
    TX_END(rc);
}

/* ---- lists ---- */

static cJSON *rows_json(PGresult *r, const char *const *names, const char *types)
{
    cJSON *arr = cJSON_CreateArray();
    int nf = PQnfields(r);
    for (int i = 0; arr && i < PQntuples(r); i++) {
        cJSON *o = cJSON_CreateObject();
        for (int f = 0; f < nf; f++) {
            if (PQgetisnull(r, i, f))
                cJSON_AddNullToObject(o, names[f]);
            else if (types[f] == 'n')
                cJSON_AddNumberToObject(o, names[f], strtod(PQgetvalue(r, i, f), NULL));
            else if (types[f] == 'b')
                cJSON_AddBoolToObject(o, names[f], strcmp(PQgetvalue(r, i, f), "t") == 0);
            else
                cJSON_AddStringToObject(o, names[f], PQgetvalue(r, i, f));
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

cJSON *web_user_list(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = core_db_query(
        c,
        "SELECT u.username, u.role, u.disabled, " ISO("u.created_at") ", u.created_by, "
        "(SELECT count(*) FROM web_sessions s WHERE s.user_id = u.user_id AND s.ended_at IS NULL "
        " AND s.expires_at > now()) FROM web_users u ORDER BY u.username",
        0, NULL, "user list", err, errlen);
    if (!r)
        return NULL;
    static const char *const names[] = {"name",       "role",      "disabled",
                                        "created_at", "created_by", "open_sessions"};
    cJSON *a = rows_json(r, names, "ssbssn");
    PQclear(r);
    return a;
}

cJSON *web_token_list(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = core_db_query(c,
                                "SELECT token_id, name, role, " ISO("created_at") ", created_by, "
                                ISO("last_used_at") ", " ISO("revoked_at") " "
                                "FROM web_api_tokens ORDER BY token_id",
                                0, NULL, "token list", err, errlen);
    if (!r)
        return NULL;
    static const char *const names[] = {"id",         "name",         "role",      "created_at",
                                        "created_by", "last_used_at", "revoked_at"};
    cJSON *a = rows_json(r, names, "nssssss");
    PQclear(r);
    return a;
}

cJSON *web_session_list(PGconn *c, int64_t user_id, int64_t idle_ms, int64_t current_id,
                        char *err, size_t errlen)
{
    char uid[24], idle[24], cur[24];
    snprintf(uid, sizeof uid, "%lld", (long long)user_id);
    snprintf(idle, sizeof idle, "%lld", (long long)idle_ms);
    snprintf(cur, sizeof cur, "%lld", (long long)current_id);
    const char *p[] = {uid, idle, cur};
    PGresult *r = core_db_query(
        c,
        "SELECT session_id, " ISO("created_at") ", " ISO("last_seen_at") ", " ISO("expires_at")
        ", address, user_agent, session_id = $3::bigint FROM web_sessions "
        "WHERE user_id = $1 AND ended_at IS NULL AND expires_at > now() "
        "AND last_seen_at > now() - make_interval(secs => $2::bigint / 1000.0) "
        "ORDER BY session_id DESC LIMIT 100",
        3, p, "session list", err, errlen);
    if (!r)
        return NULL;
    static const char *const names[] = {"id",      "created_at", "last_seen_at", "expires_at",
                                        "address", "user_agent", "current"};
    cJSON *a = rows_json(r, names, "nsssssb");
    PQclear(r);
    return a;
}
