/* The shared part of the foreign decoders (decode_map.h). */
#include "collector/decode_map.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/event.h"
#include "core/json_scan.h"
#include "core/util.h"

int coll_map_refuse(coll_decoded *out, const char *format, const char *item, const char *fmt, ...)
{
    char why[480], reason[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(reason, sizeof reason, "%s %s %u: %s", format, item, (unsigned)out->next_index, why);
    return coll_decoded_refuse(out, reason);
}

/* A string as cJSON prints it: ", \\ and the controls escaped, the
 * rest as it is (runs copied whole). */
static void print_string(core_json_buf *b, const char *s)
{
    static const char short_esc[32] = {['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',
                                       ['\t'] = 't'};
    core_json_buf_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 32 && c != '"' && c != '\\')
            continue;
        core_json_buf_put(b, run, (size_t)(s - run));
        run = s + 1;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            core_json_buf_put(b, e, 2);
        } else if (short_esc[c]) {
            e[0] = '\\';
            e[1] = short_esc[c];
            core_json_buf_put(b, e, 2);
        } else {
            snprintf(e, sizeof e, "\\u%04x", c);
            core_json_buf_put(b, e, 6);
        }
    }
    core_json_buf_put(b, run, (size_t)(s - run));
    core_json_buf_put(b, "\"", 1);
}

/* d when it is the double nearest a decimal of at most 6 places between
 * 10^-4 and 10^9 (latencies, scores, costs): what %1.15g writes of it is
 * that decimal, trailing zeros cut (its 15 digits hold it, and d is closer
 * to it than half a step of the 15th digit), which then reads back; written
 * here without printf. false for any other number. */
static bool short_decimal(core_json_buf *b, double d)
{
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e9))
        return false;
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    for (int k = 1; k <= 6; k++) {
        double m = nearbyint(a * p10[k]);
        if (m / p10[k] != a)
            continue;
        unsigned long long u = (unsigned long long)m;
        char t[40], *w = t + sizeof t;
        int frac = k;
        while (frac > 0 && u % 10 == 0) { /* trailing zeros cut */
            u /= 10;
            frac--;
        }
        for (int i = 0; i < frac; i++) {
            *--w = (char)('0' + u % 10);
            u /= 10;
        }
        if (frac > 0)
            *--w = '.';
        do
            *--w = (char)('0' + u % 10);
        while (u /= 10);
        if (d < 0)
            *--w = '-';
        core_json_buf_put(b, w, (size_t)(t + sizeof t - w));
        return true;
    }
    return false;
}

/* A number as cJSON 1.7.15 prints it: null when not finite, else %1.15g
 * when that reads back (within DBL_EPSILON), else %1.17g. An integer below
 * 10^15 is what %1.15g writes of it, its digits (written here without
 * printf); the read back is strtod rather than sscanf. */
static void print_number(core_json_buf *b, const cJSON *v)
{
    double d = v->valuedouble;
    char t[32];
    int n;
    if (isnan(d) || isinf(d)) {
        n = snprintf(t, sizeof t, "null");
    } else if (d == floor(d) && fabs(d) < 1e15 && !(d == 0 && signbit(d))) {
        long long x = (long long)d;
        unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
        char *w = t + sizeof t;
        do
            *--w = (char)('0' + u % 10);
        while (u /= 10);
        if (x < 0)
            *--w = '-';
        core_json_buf_put(b, w, (size_t)(t + sizeof t - w));
        return;
    } else if (short_decimal(b, d)) {
        return;
    } else {
        n = snprintf(t, sizeof t, "%1.15g", d);
        double back = strtod(t, NULL);
        double m = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
        if (!(fabs(back - d) <= m * DBL_EPSILON))
            n = snprintf(t, sizeof t, "%1.17g", d);
    }
    core_json_buf_put(b, t, (size_t)n);
}

int coll_map_print(core_json_buf *b, const cJSON *v)
{
    switch (v->type & 0xff) {
    case cJSON_False: core_json_buf_put(b, "false", 5); break;
    case cJSON_True: core_json_buf_put(b, "true", 4); break;
    case cJSON_NULL: core_json_buf_put(b, "null", 4); break;
    case cJSON_Number: print_number(b, v); break;
    case cJSON_String: print_string(b, v->valuestring ? v->valuestring : ""); break;
    case cJSON_Raw:
        if (!v->valuestring)
            return -1;
        core_json_buf_put(b, v->valuestring, strlen(v->valuestring));
        break;
    case cJSON_Array:
    case cJSON_Object: {
        bool obj = (v->type & 0xff) == cJSON_Object;
        core_json_buf_put(b, obj ? "{" : "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (obj) {
                print_string(b, c->string ? c->string : "");
                core_json_buf_put(b, ":", 1);
            }
            if (coll_map_print(b, c) < 0)
                return -1;
            if (c->next)
                core_json_buf_put(b, ",", 1);
        }
        core_json_buf_put(b, obj ? "}" : "]", 1);
        break;
    }
    default: return -1;
    }
    return b->oom ? -1 : 0;
}

int coll_map_event(const coll_limits *lim, const char *format, const char *item, cJSON *obj,
                   coll_decoded *out, char *err, size_t errlen)
{
    /* the object's compact JSON, byte for byte cJSON_PrintUnformatted's,
     * written straight into one buffer (no second tree walk, no sscanf) */
    core_json_buf txt;
    core_json_buf_init(&txt);
    if (coll_map_print(&txt, obj) < 0) {
        core_json_buf_free(&txt);
        return core_errf(err, errlen, "out of memory");
    }
    core_event *ev = coll_decoded_add(out, err, errlen);
    if (!ev) {
        core_json_buf_free(&txt);
        /* more items than a message may hold: the message is refused */
        return -1;
    }
    char why[512];
    int rc = 0;
    if (coll_decode_native(lim, txt.p, txt.n, ev, why, sizeof why) < 0) {
        out->n--; /* the slot was cleared; the item is refused instead */
        out->next_index--;
        if (coll_map_refuse(out, format, item, "%s", why) < 0)
            rc = core_errf(err, errlen, "out of memory");
    }
    core_json_buf_free(&txt);
    return rc;
}

cJSON *coll_map_parse(const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *s = buf;
    long bad = core_utf8_invalid_at(s, len);
    if (bad >= 0) {
        core_errf(err, errlen, "invalid UTF-8 at offset %ld", bad);
        return NULL;
    }
    size_t i = 0;
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        i = 3;
    while (i < len && core_json_is_ws(s[i]))
        i++;
    if (i == len) {
        core_errf(err, errlen, "empty message");
        return NULL;
    }
    if (s[i] == '{') {
        if (core_json_check_object(s, len, err, errlen) < 0)
            return NULL;
    } else {
        /* checked as the value of a member: {"v": ...} */
        char *w = malloc(len + 7);
        if (!w) {
            core_errf(err, errlen, "out of memory");
            return NULL;
        }
        memcpy(w, "{\"v\":", 5);
        memcpy(w + 5, s + i, len - i);
        memcpy(w + 5 + len - i, "}", 1);
        int rc = core_json_check_object(w, len - i + 6, err, errlen);
        free(w);
        if (rc < 0)
            return NULL;
    }
    /* the tree with fewer allocations (decode_tree.c), else cJSON's own */
    cJSON *j = coll_map_tree(s + i, len - i);
    if (!j)
        j = cJSON_ParseWithLength((const char *)s + i, len - i);
    if (!j)
        core_errf(err, errlen, "not JSON");
    return j;
}

const char *coll_map_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

void coll_map_set_str(cJSON *obj, const char *name, const char *s)
{
    if (s)
        coll_map_add_cs(obj, name, cJSON_CreateString(s));
}

/* Appends the text of one content value (a string, or parts with text). */
static void content_text(const cJSON *c, core_json_buf *b)
{
    if (cJSON_IsString(c)) {
        core_json_buf_put(b, c->valuestring, strlen(c->valuestring));
        return;
    }
    if (!cJSON_IsArray(c))
        return;
    bool first = true;
    const cJSON *part;
    cJSON_ArrayForEach(part, c)
    {
        const char *t = NULL;
        if (cJSON_IsString(part))
            t = part->valuestring;
        else {
            const char *type = coll_map_str(part, "type");
            if (!type || strcmp(type, "text") == 0 || strcmp(type, "input_text") == 0 ||
                strcmp(type, "output_text") == 0 || strcmp(type, "reasoning") == 0) {
                t = coll_map_str(part, "text");
                if (!t)
                    t = coll_map_str(part, "content");
            }
        }
        if (!t)
            continue;
        if (!first)
            core_json_buf_put(b, "\n", 1);
        core_json_buf_put(b, t, strlen(t));
        first = false;
    }
}

bool coll_map_messages_text(const cJSON *msgs, cJSON **out)
{
    core_json_buf b;
    core_json_buf_init(&b);
    if (cJSON_IsString(msgs)) {
        core_json_buf_put(&b, msgs->valuestring, strlen(msgs->valuestring));
    } else if (cJSON_IsArray(msgs) || cJSON_IsObject(msgs)) {
        int n = cJSON_IsArray(msgs) ? cJSON_GetArraySize(msgs) : 1;
        const cJSON *m = cJSON_IsArray(msgs) ? msgs->child : msgs;
        for (int k = 0; m; m = cJSON_IsArray(msgs) ? m->next : NULL, k++) {
            const char *role = coll_map_str(m, "role");
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
            if (!c)
                c = cJSON_GetObjectItemCaseSensitive(m, "parts");
            if (!c && cJSON_IsString(m))
                c = m;
            bool alone = n == 1 && (!role || strcmp(role, "user") == 0 ||
                                    strcmp(role, "assistant") == 0);
            if (k > 0)
                core_json_buf_put(&b, "\n", 1);
            if (!alone && role) {
                core_json_buf_put(&b, role, strlen(role));
                core_json_buf_put(&b, ": ", 2);
            }
            content_text(c, &b);
        }
    }
    bool any = b.n > 0 && !b.oom;
    if (any) {
        char *w = core_json_buf_room(&b, 0);
        if (w)
            *w = '\0';
        *out = cJSON_CreateString(b.p);
    }
    core_json_buf_free(&b);
    return any && *out;
}

const char *coll_map_version(const char *model, const char *exact, char *dst, size_t size)
{
    size_t n = model ? strlen(model) : 0;
    if (n && strncmp(exact, model, n) == 0 && exact[n] == '-' && exact[n + 1])
        exact += n + 1;
    snprintf(dst, size, "%s", exact);
    return dst;
}

static bool secret_member(const char *k)
{
    static const char *const names[] = {"secret_fields", "raw_headers", "headers",
                                        "authorization", "api_key", "x-api-key", "cookie"};
    size_t n = strlen(k);
    if (n < 6 || n > 13)
        return false; /* shorter or longer than every name */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(k, names[i]) == 0)
            return true;
    return false;
}

void coll_map_redact_tree(cJSON *v)
{
    for (cJSON *c = v ? v->child : NULL, *next; c; c = next) {
        next = c->next;
        if (c->string && secret_member(c->string)) {
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
            continue;
        }
        if (cJSON_IsString(c))
            coll_redact_secrets(c->valuestring, strlen(c->valuestring));
        else
            coll_map_redact_tree(c);
    }
}
