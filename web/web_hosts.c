/* The Host header allowlist (web.allowed_hosts): a page on an attacker's
 * name that resolves to 127.0.0.1 (DNS rebinding) reaches the server with
 * that name in Host, and is answered 421 before anything else is looked at.
 * Pure functions, unit-tested in tests/unit/test_web_hosts.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hostport.h"
#include "web/web_internal.h"

struct web_hosts {
    int n;
    struct {
        char host[CORE_HOST_MAX + 1]; /* lower case, [v6] in brackets */
        int port;                     /* -1: any */
    } e[CORE_HOSTLIST_MAX];
};

/* core_hostport_split, the host lower-cased: names compare case-blind. */
static int split_host(const char *s, size_t len, char *host, size_t hostlen, int *port)
{
    if (core_hostport_split(s, len, host, hostlen, port) < 0)
        return -1;
    for (char *c = host; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return 0;
}

static int add(web_hosts *hs, const char *s, size_t len, char *err, size_t errlen)
{
    char host[CORE_HOST_MAX + 1];
    int port;
    if (split_host(s, len, host, sizeof host, &port) < 0) {
        snprintf(err, errlen, "web.allowed_hosts: '%.*s' is not HOST or HOST:PORT", (int)len, s);
        return -1;
    }
    for (int i = 0; i < hs->n; i++)
        if (hs->e[i].port == port && strcmp(hs->e[i].host, host) == 0)
            return 0; /* named twice */
    if (hs->n >= CORE_HOSTLIST_MAX) {
        snprintf(err, errlen, "web.allowed_hosts: more than %d names", CORE_HOSTLIST_MAX);
        return -1;
    }
    snprintf(hs->e[hs->n].host, sizeof hs->e[hs->n].host, "%s", host);
    hs->e[hs->n].port = port;
    hs->n++;
    return 0;
}

web_hosts *web_hosts_new(const char *allowed, const char *listen_host, int port,
                         const char *origin, char *err, size_t errlen)
{
    web_hosts *hs = calloc(1, sizeof *hs);
    if (!hs) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (allowed && *allowed) {
        const char *p = allowed, *item;
        size_t len;
        while (core_hostlist_next(&p, &item, &len))
            if (add(hs, item, len, err, errlen) < 0)
                goto error;
        if (hs->n == 0) {
            snprintf(err, errlen, "web.allowed_hosts names no host");
            goto error;
        }
        return hs;
    }
    /* The default: what a client on this machine types, with the port. */
    char buf[CORE_HOST_MAX + 16];
    bool v6 = strchr(listen_host, ':') != NULL;
    snprintf(buf, sizeof buf, v6 ? "[%s]:%d" : "%s:%d", listen_host, port);
    if (add(hs, buf, strlen(buf), err, errlen) < 0)
        goto error;
    snprintf(buf, sizeof buf, "localhost:%d", port);
    add(hs, buf, strlen(buf), err, errlen);
    snprintf(buf, sizeof buf, "127.0.0.1:%d", port);
    add(hs, buf, strlen(buf), err, errlen);
    /* Behind a proxy (web.origin https://soc.example.com) the browser's
     * Host is the origin's. */
    if (origin && *origin) {
        const char *p = strstr(origin, "://");
        p = p ? p + 3 : origin;
        size_t n = strcspn(p, "/");
        if (n > 0 && add(hs, p, n, err, errlen) < 0)
            goto error;
    }
    return hs;
error:
    free(hs);
    return NULL;
}

void web_hosts_free(web_hosts *hs) { free(hs); }

bool web_hosts_allow(const web_hosts *hs, const char *hdr)
{
    if (!hs || !hdr)
        return false;
    char host[CORE_HOST_MAX + 1];
    int port;
    if (split_host(hdr, strlen(hdr), host, sizeof host, &port) < 0)
        return false;
    /* An entry without a port takes the name with any port; one with a
     * port takes exactly that (a Host without a port is not it). */
    for (int i = 0; i < hs->n; i++)
        if (strcmp(hs->e[i].host, host) == 0 && (hs->e[i].port < 0 || hs->e[i].port == port))
            return true;
    return false;
}

size_t web_hosts_describe(const web_hosts *hs, char *out, size_t outlen)
{
    size_t used = 0;
    if (outlen)
        out[0] = '\0';
    for (int i = 0; hs && i < hs->n && used < outlen; i++) {
        int w = hs->e[i].port < 0
                    ? snprintf(out + used, outlen - used, "%s%s", i ? "," : "", hs->e[i].host)
                    : snprintf(out + used, outlen - used, "%s%s:%d", i ? "," : "",
                               hs->e[i].host, hs->e[i].port);
        if (w < 0 || (size_t)w >= outlen - used) { /* truncated: the log line is bounded */
            used = outlen - 1;
            break;
        }
        used += (size_t)w;
    }
    return used;
}
