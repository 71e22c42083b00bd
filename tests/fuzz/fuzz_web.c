/* libFuzzer target for what the web server parses from a request before
 * any handler runs: the request line against the real route table, the
 * Cookie, Authorization, Origin and Host headers (the Host allowlist),
 * web.listen, and the JSON body.
 * Input: four lines (METHOD PATH, Cookie, Authorization, Origin TAB Host),
 * then the body. Promises checked: a matched route is the table's row for
 * that method (or HEAD for GET) and its parameters are short and of the
 * allowed characters; a 405 lists an Allow that holds no unknown method;
 * parsed values fit their buffers and are NUL-terminated; a parsed body is
 * an object that prints. A broken promise aborts. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hostport.h"
#include "web/web_internal.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond))                                                                 \
            abort();                                                                 \
    } while (0)

/* Splits the next line off *p (len *n) into a NUL-terminated copy. */
static char *next_line(const uint8_t **p, size_t *n)
{
    const uint8_t *nl = memchr(*p, '\n', *n);
    size_t l = nl ? (size_t)(nl - *p) : *n;
    char *s = malloc(l + 1);
    CHECK(s);
    memcpy(s, *p, l);
    s[l] = '\0';
    *p += nl ? l + 1 : l;
    *n -= nl ? l + 1 : l;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t n = size;
    char *line = next_line(&p, &n), *cookie = next_line(&p, &n), *authz = next_line(&p, &n),
         *origin = next_line(&p, &n);
    char *sp = strchr(line, ' ');
    const char *method = line, *path = "";
    if (sp) {
        *sp = '\0';
        path = sp + 1;
    }
    web_params params;
    char allow[64];
    int r = web_route_match(web_routes, web_routes_count, method, path, &params, allow,
                            sizeof allow);
    if (r >= 0) {
        CHECK((size_t)r < web_routes_count);
        CHECK(strcmp(web_routes[r].method, method) == 0 ||
              (strcmp(method, "HEAD") == 0 && strcmp(web_routes[r].method, "GET") == 0));
        CHECK(params.n >= 0 && params.n <= WEB_MAX_PARAMS);
        for (int i = 0; i < params.n; i++) {
            size_t l = strlen(params.v[i]);
            CHECK(l >= 1 && l <= WEB_PARAM_MAX);
            for (size_t k = 0; k < l; k++)
                CHECK(isalnum((unsigned char)params.v[i][k]) || strchr("._:@-", params.v[i][k]));
            CHECK(strstr(path, params.v[i]));
        }
    } else {
        CHECK(r == -404 || r == -405 || r == -400);
        if (r == -405) {
            CHECK(allow[0]);
            char copy[64];
            strcpy(copy, allow);
            for (char *t = strtok(copy, ", "); t; t = strtok(NULL, ", "))
                CHECK(!strcmp(t, "GET") || !strcmp(t, "HEAD") || !strcmp(t, "POST") ||
                      !strcmp(t, "DELETE") || !strcmp(t, "PUT") || !strcmp(t, "PATCH"));
        }
    }
    char v[WEB_TOKEN_CHARS + 8];
    int c = web_cookie_get(cookie, "custos_session", v, sizeof v);
    CHECK(c >= -1 && c <= 1);
    if (c == 1)
        CHECK(strlen(v) < sizeof v && strstr(cookie, v));
    int b = web_bearer_get(authz, v, sizeof v);
    CHECK(b >= -1 && b <= 1);
    if (b == 1)
        CHECK(strlen(v) >= 1 && strlen(v) < sizeof v && strstr(authz, v));
    char *tab = strchr(origin, '\t');
    const char *host = tab ? tab + 1 : "";
    if (tab)
        *tab = '\0';
    bool ok = web_origin_ok(origin, "", false, host);
    if (ok)
        CHECK(strncasecmp(origin, "http://", 7) == 0 && strcasecmp(origin + 7, host) == 0);
    /* The Host allowlist: the defaults, and the header parsed as a list;
     * an allowed Host is one of the default names (any case) on port 8440
     * (the port compared as a number: "08440" is RFC 3986's port 8440). */
    static web_hosts *defaults;
    char herr[256];
    if (!defaults)
        defaults = web_hosts_new("", "127.0.0.1", 8440, "", herr, sizeof herr);
    CHECK(defaults);
    if (web_hosts_allow(defaults, host)) {
        char hn[CORE_HOST_MAX + 1];
        int hp;
        CHECK(core_hostport_split(host, strlen(host), hn, sizeof hn, &hp) == 0);
        CHECK(hp == 8440 && (strcasecmp(hn, "127.0.0.1") == 0 || strcasecmp(hn, "localhost") == 0));
    }
    web_hosts *listed = web_hosts_new(host, "127.0.0.1", 8440, "", herr, sizeof herr);
    if (listed) {
        char d[16384]; /* 32 names of at most 268 bytes */
        size_t dl = web_hosts_describe(listed, d, sizeof d);
        CHECK(dl < sizeof d - 1 && strlen(d) == dl);
        web_hosts_free(listed);
    } else {
        CHECK(strstr(herr, "web.allowed_hosts"));
    }
    char h[64];
    int port;
    if (core_listen_split(path, h, sizeof h, &port) == 0)
        CHECK(port >= 0 && port <= 65535 && h[0] && strlen(h) < sizeof h);

    /* The body, NUL-terminated as the server keeps it. */
    char *body = malloc(n + 1);
    CHECK(body);
    memcpy(body, p, n);
    body[n] = '\0';
    const char *why = NULL;
    size_t at = 0;
    cJSON *j = web_body_parse(body, n, &why, &at);
    if (j) {
        CHECK(cJSON_IsObject(j));
        char *out = cJSON_PrintUnformatted(j);
        CHECK(out);
        free(out);
        cJSON_Delete(j);
    } else {
        CHECK(why && at <= n);
    }
    free(body);
    free(line);
    free(cookie);
    free(authz);
    free(origin);
    return 0;
}
