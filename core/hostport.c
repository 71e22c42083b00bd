/* Host and port splitting for addresses in settings and headers; see
 * hostport.h. Pure functions (tests/unit/test_web_hosts.c and
 * test_web_router.c exercise them through web/). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/hostport.h"

int core_hostport_split(const char *s, size_t len, char *host, size_t hostlen, int *port)
{
    *port = -1;
    if (len == 0 || len > CORE_HOST_MAX)
        return -1;
    size_t hl;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return -1;
        hl = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', len);
        hl = colon ? (size_t)(colon - s) : len;
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr(".-_[]:", c))
            return -1;
        host[i] = (char)c;
    }
    host[hl] = '\0';
    if (hl < len) {
        if (s[hl] != ':' || len - hl - 1 == 0 || len - hl - 1 > 5)
            return -1;
        int p = 0;
        for (size_t i = hl + 1; i < len; i++) {
            if (!isdigit((unsigned char)s[i]))
                return -1;
            p = p * 10 + (s[i] - '0');
        }
        if (p > 65535)
            return -1;
        *port = p;
    }
    return 0;
}

bool core_hostlist_next(const char **p, const char **item, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == ',')
        s++;
    if (!*s) {
        *p = s;
        return false;
    }
    const char *e = s;
    while (*e && *e != ',' && *e != ' ')
        e++;
    *item = s;
    *len = (size_t)(e - s);
    *p = e;
    return true;
}

int core_hostlist_check(const char *value, char *why, size_t whylen)
{
    if (!value || !*value)
        return 0;
    const char *p = value, *item;
    size_t len;
    int n = 0;
    while (core_hostlist_next(&p, &item, &len)) {
        char host[CORE_HOST_MAX + 1];
        int port;
        if (core_hostport_split(item, len, host, sizeof host, &port) < 0) {
            snprintf(why, whylen, "'%.*s' is not HOST, HOST:PORT, [IPV6] or [IPV6]:PORT",
                     (int)len, item);
            return -1;
        }
        if (++n > CORE_HOSTLIST_MAX) {
            snprintf(why, whylen, "more than %d names", CORE_HOSTLIST_MAX);
            return -1;
        }
    }
    if (n == 0) {
        snprintf(why, whylen, "names no host (leave it empty for the default)");
        return -1;
    }
    return 0;
}

int core_listen_split(const char *s, char *host, size_t hostlen, int *port)
{
    char h[CORE_HOST_MAX + 1];
    if (!s || core_hostport_split(s, strlen(s), h, sizeof h, port) < 0 || *port < 0)
        return -1;
    /* A bare IPv6 address needs its brackets: "::1:80" is not host::1 port 80. */
    bool bracketed = h[0] == '[';
    if (!bracketed && strchr(h, ':'))
        return -1;
    const char *in = bracketed ? h + 1 : h;
    size_t n = strlen(in) - (bracketed ? 1 : 0);
    if (bracketed && (n == 0 || h[n + 1] != ']'))
        return -1;
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, in, n);
    host[n] = '\0';
    return 0;
}
