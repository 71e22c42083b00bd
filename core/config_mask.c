/* Masking the secrets of a PostgreSQL DSN (conninfo or URI) for printing
 * and logging: passwords and other secret keywords become "***". */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "core/config.h"

/* Appends n bytes of s to buf (size bytes, o used), truncating; returns
 * the new length. buf stays NUL-terminated. */
static size_t put_n(char *buf, size_t size, size_t o, const char *s, size_t n)
{
    while (n-- && o + 1 < size)
        buf[o++] = *s++;
    buf[o] = '\0';
    return o;
}

/* True for the keywords libpq itself hides (PQconndefaults() marks them
 * with dispchar "*": password and sslpassword in libpq 15, and whatever a
 * later libpq adds). */
static bool pq_secret_keyword(const char *k, size_t n)
{
    PQconninfoOption *opts = PQconndefaults();
    bool secret = false;
    for (PQconninfoOption *o = opts; o && o->keyword && !secret; o++)
        secret = o->dispchar && o->dispchar[0] == '*' && strlen(o->keyword) == n &&
                 memcmp(o->keyword, k, n) == 0;
    PQconninfoFree(opts);
    /* without libpq's table (out of memory), hide what libpq 15 hides */
    if (!opts)
        secret = (n == 8 && memcmp(k, "password", 8) == 0) ||
                 (n == 11 && memcmp(k, "sslpassword", 11) == 0);
    return secret;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The URI form, read as libpq reads it: user info up to the first '@'
 * before a '/', its password after the first ':'; query parameters whose
 * percent-decoded name is a secret keyword. */
static size_t mask_uri(const char *dsn, const char *rest, char *buf, size_t size)
{
    size_t o = put_n(buf, size, 0, dsn, (size_t)(rest - dsn));
    const char *p = rest;
    while (*p && *p != '@' && *p != '/')
        p++;
    if (*p == '@') {
        const char *colon = memchr(rest, ':', (size_t)(p - rest));
        if (colon) {
            o = put_n(buf, size, o, rest, (size_t)(colon - rest + 1));
            o = put_n(buf, size, o, "****", 4);
            rest = p;
        }
    }
    const char *q = strchr(rest, '?');
    if (!q)
        return put_n(buf, size, o, rest, strlen(rest));
    o = put_n(buf, size, o, rest, (size_t)(q - rest + 1));
    p = q + 1;
    while (*p) {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        char key[64];
        size_t kl = 0;
        for (const char *k = p; eq && k < eq && kl + 1 < sizeof key; k++) {
            if (*k == '%' && k + 2 < eq && hexval(k[1]) >= 0 && hexval(k[2]) >= 0) {
                key[kl++] = (char)(hexval(k[1]) * 16 + hexval(k[2]));
                k += 2;
            } else {
                key[kl++] = *k;
            }
        }
        if (eq && pq_secret_keyword(key, kl)) {
            o = put_n(buf, size, o, p, (size_t)(eq - p + 1));
            o = put_n(buf, size, o, "****", 4);
        } else {
            o = put_n(buf, size, o, p, plen);
        }
        p += plen;
        if (*p == '&')
            o = put_n(buf, size, o, p++, 1);
    }
    return o;
}

/* The keyword=value form, read as libpq's conninfo_parse reads it: a
 * value is quoted ('...', backslash escapes) or runs to the next space,
 * a backslash escaping the next character in both. */
static size_t mask_conninfo(const char *p, char *buf, size_t size)
{
    size_t o = 0;
    while (*p) {
        const char *ws = p;
        while (isspace((unsigned char)*p))
            p++;
        o = put_n(buf, size, o, ws, (size_t)(p - ws));
        if (!*p)
            break;
        const char *kw = p;
        while (*p && !isspace((unsigned char)*p) && *p != '=')
            p++;
        size_t kl = (size_t)(p - kw);
        const char *after_kw = p;
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=') /* not conninfo after all: libpq refuses it */
            return put_n(buf, size, o, kw, strlen(kw));
        p++;
        while (isspace((unsigned char)*p))
            p++;
        const char *val = p;
        if (*p == '\'') {
            p++;
            while (*p && *p != '\'') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (*p)
                p++;
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
        }
        if (pq_secret_keyword(kw, kl)) {
            o = put_n(buf, size, o, kw, kl);
            o = put_n(buf, size, o, "=****", 5);
        } else {
            o = put_n(buf, size, o, kw, (size_t)(after_kw - kw));
            o = put_n(buf, size, o, after_kw, (size_t)(val - after_kw));
            o = put_n(buf, size, o, val, (size_t)(p - val));
        }
    }
    return o;
}

const char *core_config_mask_dsn(const char *dsn, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
    /* libpq's own reading decides what is secret; a string it cannot read
     * is not shown at all (it could be anything, a password included) */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    PQfreemem(perr);
    if (!opts) {
        put_n(buf, size, 0, "(not a valid libpq connection string: not shown)", 48);
        return buf;
    }
    const char *scheme = strstr(dsn, "://");
    bool uri = strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0;
    if (uri)
        mask_uri(dsn, scheme + 3, buf, size);
    else
        mask_conninfo(dsn, buf, size);
    /* Belt and braces: libpq reads the masked text back, and should it
     * not parse or hold a secret other than "****" (a form this reading
     * missed), libpq's own options are printed instead, secrets masked. */
    bool leak = false;
    PQconninfoOption *back = PQconninfoParse(buf, &perr);
    PQfreemem(perr);
    if (!back)
        leak = true;
    for (PQconninfoOption *o = back; o && o->keyword && !leak; o++)
        leak = o->val && *o->val && o->dispchar && o->dispchar[0] == '*' &&
               strcmp(o->val, "****") != 0;
    PQconninfoFree(back);
    if (leak) {
        /* as a URI whose query holds every option, percent-encoded: a
         * value libpq decoded from %XX may be any byte, which the
         * keyword='value' form (and a YAML file) could not carry */
        static const char hex[] = "0123456789ABCDEF";
        size_t n = put_n(buf, size, 0, "postgresql://", 13);
        char sep = '?';
        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (!o->val)
                continue;
            n = put_n(buf, size, n, &sep, 1);
            sep = '&';
            n = put_n(buf, size, n, o->keyword, strlen(o->keyword));
            n = put_n(buf, size, n, "=", 1);
            if (o->dispchar && o->dispchar[0] == '*') {
                n = put_n(buf, size, n, "****", 4);
                continue;
            }
            for (const unsigned char *v = (const unsigned char *)o->val; *v; v++) {
                if (isalnum(*v) || *v == '-' || *v == '.' || *v == '_' || *v == '~') {
                    n = put_n(buf, size, n, (const char *)v, 1);
                } else {
                    char e[3] = {'%', hex[*v >> 4], hex[*v & 15]};
                    n = put_n(buf, size, n, e, 3);
                }
            }
        }
    }
    PQconninfoFree(opts);
    return buf;
}
