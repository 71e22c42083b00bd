/* The role table, the router and the parsing of the headers the server
 * trusts nothing in: Cookie, Authorization, Origin, and web.listen. Pure
 * functions, unit-tested in tests/unit/test_web_router.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/web_internal.h"

/* ---- roles ---- */

static const char *const g_role_names[WEB_ROLE_COUNT] = {"viewer", "analyst", "responder",
                                                         "auditor", "admin"};

/* Who may do what: one row per role, one column per need. The auditor
 * reads and runs forensic queries but changes nothing (not even triage),
 * so it is not "between" two other roles. Signing in and managing one's
 * own sessions is everyone's. */
static const bool g_allows[WEB_ROLE_COUNT][WEB_NEED_COUNT] = {
    /*             none  signed read  triage respond forensic reveal admin */
    [WEB_ROLE_VIEWER] = {1, 1, 1, 0, 0, 0, 0, 0},
    [WEB_ROLE_ANALYST] = {1, 1, 1, 1, 0, 0, 1, 0},
    [WEB_ROLE_RESPONDER] = {1, 1, 1, 1, 1, 0, 1, 0},
    [WEB_ROLE_AUDITOR] = {1, 1, 1, 0, 0, 1, 1, 0},
    [WEB_ROLE_ADMIN] = {1, 1, 1, 1, 1, 1, 1, 1},
};

static const char *const g_need_names[WEB_NEED_COUNT] = {
    "none", "signed_in", "read", "triage", "respond", "forensic", "reveal", "admin"};

const char *web_role_name(web_role r)
{
    return (unsigned)r < WEB_ROLE_COUNT ? g_role_names[r] : "?";
}

int web_role_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = 0; i < WEB_ROLE_COUNT; i++)
        if (strcmp(s, g_role_names[i]) == 0)
            return i;
    return -1;
}

bool web_role_allows(web_role r, web_need n)
{
    if ((unsigned)r >= WEB_ROLE_COUNT || (unsigned)n >= WEB_NEED_COUNT)
        return false;
    return g_allows[r][n];
}

const char *web_need_name(web_need n)
{
    return (unsigned)n < WEB_NEED_COUNT ? g_need_names[n] : "?";
}

/* ---- router ---- */

static bool param_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
}

/* 1 when path matches pattern (params filled), 0 when not, -1 when it
 * would match but a parameter is bad. */
static int match_pattern(const char *pattern, const char *path, web_params *params)
{
    const char *p = pattern, *s = path;
    int n = 0;
    bool bad = false;
    while (*p && *s) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close)
                return 0;
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0)
                return 0;
            if (len > WEB_PARAM_MAX || n >= WEB_MAX_PARAMS)
                bad = true;
            for (size_t i = 0; i < len && !bad; i++)
                if (!param_char(s[i]))
                    bad = true;
            if (!bad && params) {
                memcpy(params->v[n], s, len);
                params->v[n][len] = '\0';
            }
            n++;
            p = close + 1;
            s += len;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*p || *s)
        return 0;
    if (bad)
        return -1;
    if (params)
        params->n = n;
    return 1;
}

static void allow_add(char *allow, size_t allowlen, const char *m)
{
    if (!allow || allowlen == 0)
        return;
    /* Once per method, in table order. */
    size_t ml = strlen(m);
    for (const char *q = allow; (q = strstr(q, m)) != NULL; q += ml)
        if ((q == allow || q[-1] == ' ') && (q[ml] == ',' || q[ml] == '\0'))
            return;
    size_t used = strlen(allow);
    snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", m);
}

int web_route_match(const web_route *routes, size_t n, const char *method, const char *path,
                    web_params *params, char *allow, size_t allowlen)
{
    if (allow && allowlen)
        allow[0] = '\0';
    if (params)
        params->n = 0;
    bool path_seen = false, bad_param = false;
    bool head = strcmp(method, "HEAD") == 0;
    for (size_t i = 0; i < n; i++) {
        int m = match_pattern(routes[i].pattern, path, NULL);
        if (m == 0)
            continue;
        if (m < 0) {
            bad_param = true;
            continue;
        }
        path_seen = true;
        allow_add(allow, allowlen, routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0)
            allow_add(allow, allowlen, "HEAD");
        if (strcmp(routes[i].method, method) == 0 ||
            (head && strcmp(routes[i].method, "GET") == 0)) {
            match_pattern(routes[i].pattern, path, params);
            return (int)i;
        }
    }
    if (path_seen)
        return -405;
    if (bad_param)
        return -400;
    return -404;
}

/* ---- headers ---- */

int web_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
    if (!header || !name || outlen == 0)
        return 0;
    size_t nl = strlen(name);
    int found = 0;
    const char *s = header;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ';')
            s++;
        if (!*s)
            break;
        const char *eq = NULL, *end = s;
        while (*end && *end != ';') {
            if (*end == '=' && !eq)
                eq = end;
            end++;
        }
        if (eq && (size_t)(eq - s) == nl && memcmp(s, name, nl) == 0) {
            if (found)
                return -1;
            const char *v = eq + 1;
            size_t vl = (size_t)(end - v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
                v++;
                vl -= 2;
            }
            if (vl >= outlen)
                return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            found = 1;
        }
        s = end;
    }
    return found;
}

static bool token_char(char c)
{
    return isalnum((unsigned char)c) || strchr("-._~+/=", c) != NULL;
}

int web_bearer_get(const char *header, char *out, size_t outlen)
{
    if (!header)
        return 0;
    if (strncasecmp(header, "Bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\0'))
        return 0;
    const char *t = header + 6;
    while (*t == ' ')
        t++;
    size_t len = 0;
    while (t[len] && token_char(t[len]))
        len++;
    const char *rest = t + len;
    while (*rest == ' ')
        rest++;
    if (len == 0 || *rest || len >= outlen)
        return -1;
    memcpy(out, t, len);
    out[len] = '\0';
    return 1;
}

bool web_origin_ok(const char *origin, const char *want, bool tls, const char *host)
{
    if (!origin || !*origin)
        return false;
    char buf[320];
    if (want && *want) {
        snprintf(buf, sizeof buf, "%s", want);
    } else {
        if (!host || !*host || strlen(host) > 255)
            return false;
        for (const char *h = host; *h; h++)
            if (!isalnum((unsigned char)*h) && !strchr(".-:[]", *h))
                return false;
        snprintf(buf, sizeof buf, "%s://%s", tls ? "https" : "http", host);
    }
    /* Origins carry no path; a trailing slash in the setting is forgiven. */
    size_t bl = strlen(buf);
    if (bl && buf[bl - 1] == '/')
        buf[--bl] = '\0';
    return strlen(origin) == bl && strncasecmp(origin, buf, bl) == 0;
}

cJSON *web_body_parse(const char *buf, size_t len, const char **why, size_t *at)
{
    *at = 0;
    if (len == 0) {
        *why = "a JSON object body is required";
        return NULL;
    }
    if (memchr(buf, '\0', len)) {
        *why = "the body holds a NUL byte";
        *at = (size_t)((const char *)memchr(buf, '\0', len) - buf);
        return NULL;
    }
    /* The length given includes the terminating NUL: with
     * require_null_terminated the whole body must be one value. */
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len + 1, &end, true);
    if (!j || !cJSON_IsObject(j)) {
        *at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
        *why = "the body is not a JSON object";
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

int64_t web_parse_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || strspn(s, "0123456789") != n || s[0] == '0')
        return -1;
    return strtoll(s, NULL, 10);
}
