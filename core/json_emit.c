/* Compact JSON, byte for byte what cJSON_PrintUnformatted writes (the
 * stored attrs and scores keep that form), from values the parser
 * (json_scan.c) accepted. */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "core/json_scan.h"

/* The n decoded bytes s as a JSON string. */
void core_json_put_string(core_json_buf *b, const char *s, size_t n)
{
    core_json_buf_put(b, "\"", 1);
    const char *run = s, *end = s + n;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        core_json_buf_put(b, run, (size_t)(s - run));
        char e[8];
        switch (c) {
        case '"': core_json_buf_put(b, "\\\"", 2); break;
        case '\\': core_json_buf_put(b, "\\\\", 2); break;
        case '\b': core_json_buf_put(b, "\\b", 2); break;
        case '\f': core_json_buf_put(b, "\\f", 2); break;
        case '\n': core_json_buf_put(b, "\\n", 2); break;
        case '\r': core_json_buf_put(b, "\\r", 2); break;
        case '\t': core_json_buf_put(b, "\\t", 2); break;
        default:
            snprintf(e, sizeof e, "\\u%04x", c);
            core_json_buf_put(b, e, 6);
        }
        run = s + 1;
    }
    core_json_buf_put(b, run, (size_t)(s - run));
    core_json_buf_put(b, "\"", 1);
}

/* Digits of u (no sign) into the end of buf; returns where they start. */
static char *utoa_end(uint64_t u, char *end)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

static bool same_double(double a, double b) /* cJSON's compare_double */
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= m * DBL_EPSILON;
}

void core_json_put_number(core_json_buf *b, double d)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    char buf[32], *end = buf + sizeof buf, *s;
    if (isnan(d) || isinf(d)) {
        core_json_buf_put(b, "null", 4);
        return;
    }
    if (d == 0) {
        core_json_buf_put(b, signbit(d) ? "-0" : "0", signbit(d) ? 2 : 1);
        return;
    }
    /* cJSON prints every number with "%1.15g" (and "%1.17g" when that does
     * not read back). A value that is the double nearest to m / 10^p, with m
     * of at most 15 digits, is what "%1.15g" prints in fixed notation for
     * 1e-4 <= |d| < 1e15: those digits, trailing zeros dropped; and it reads
     * back exactly. */
    double a = fabs(d);
    if (a >= 1e-4 && a < 1e15)
        for (int p = 0; p < 10; p++) {
            double m = nearbyint(a * p10[p]);
            if (m >= 1e15)
                break;
            if (m / p10[p] != a)
                continue;
            uint64_t um = (uint64_t)m, scale = (uint64_t)p10[p];
            uint64_t frac = um % scale;
            s = end;
            if (frac) {
                int digits = p;
                while (frac % 10 == 0) {
                    frac /= 10;
                    digits--;
                }
                char *f = utoa_end(frac, end);
                while (end - f < digits)
                    *--f = '0';
                *--f = '.';
                s = f;
            }
            s = utoa_end(um / scale, s);
            if (d < 0)
                *--s = '-';
            core_json_buf_put(b, s, (size_t)(end - s));
            return;
        }
    /* anything else: cJSON's own way */
    double test = 0;
    int len = snprintf(buf, sizeof buf, "%1.15g", d);
    if (sscanf(buf, "%lg", &test) != 1 || !same_double(test, d))
        len = snprintf(buf, sizeof buf, "%1.17g", d);
    if (len < 0 || len > 25) {
        b->oom = true; /* cJSON gives up the same way */
        return;
    }
    char dp = *localeconv()->decimal_point;
    for (int i = 0; i < len; i++)
        if (buf[i] == dp)
            buf[i] = '.';
    core_json_buf_put(b, buf, (size_t)len);
}


/* Where the number text q..e, whose value is d, ends as core_json_put_number() would
 * write it, when that is its own text less the fraction's trailing zeros
 * (and a point left bare): no exponent, at most 15 digits (so it reads back
 * exactly), fewer than 10 after the point once those are dropped, and
 * 1e-4 <= |d|. Then the digits core_json_put_number() finds are the text's (no shorter
 * decimal of at most 15 digits reads as the same double). NULL otherwise. */
static const unsigned char *number_text_end(const unsigned char *q, const unsigned char *e,
                                            double d)
{
    const unsigned char *dot = NULL;
    int digits = 0;
    if (d == 0 || fabs(d) < 1e-4)
        return NULL;
    for (const unsigned char *p = q; p < e; p++) {
        if (*p == '.')
            dot = p;
        else if (core_json_is_digit(*p))
            digits++;
        else if (*p != '-')
            return NULL; /* an exponent */
    }
    if (digits > 15)
        return NULL;
    if (dot) {
        while (e[-1] == '0')
            e--;
        if (e[-1] == '.')
            e--;
        else if (e - dot - 1 >= 10)
            return NULL;
    }
    return e;
}

/* The significant digits of the mantissa of the number text q..e (leading
 * zeros and the exponent not counted). Past 15 a double cannot hold every
 * such number (1234567890123456789 would be stored as ...800), so the
 * text is kept as written: JSON readers that keep numbers exactly
 * (PostgreSQL's jsonb, for one) then see the sender's value. */
static int significant_digits(const unsigned char *q, const unsigned char *e)
{
    int n = 0;
    bool lead = true;
    for (const unsigned char *p = q; p < e && *p != 'e' && *p != 'E'; p++) {
        if (!core_json_is_digit(*p))
            continue;
        if (lead && *p == '0')
            continue;
        lead = false;
        n++;
    }
    return n;
}

void core_json_emit_number(core_json_buf *b, const unsigned char *q, const unsigned char *e,
                           double d)
{
    const unsigned char *w;
    if (significant_digits(q, e) > 15)
        core_json_buf_put(b, (const char *)q, (size_t)(e - q)); /* a double would round it */
    else if ((w = number_text_end(q, e, d)))
        core_json_buf_put(b, (const char *)q, (size_t)(w - q));
    else
        core_json_put_number(b, d);
}

bool core_json_number_compact(const unsigned char *q, const unsigned char *e, double d)
{
    if (significant_digits(q, e) > 15)
        return true; /* kept as written */
    if (d == 0) /* jb_number: "0" or "-0" */
        return (e - q == 1 && q[0] == '0') || (e - q == 2 && q[0] == '-' && q[1] == '0');
    return number_text_end(q, e, d) == e; /* written as it is, nothing dropped */
}

/* Recurses once per nesting level: at most CORE_JSON_MAX_DEPTH. */
const unsigned char *core_json_emit(core_json_buf *b, core_json_buf *scratch,
                                    const unsigned char *p, const unsigned char *end)
{
    core_json_val v;
    switch (*p) {
    case '{':
    case '[': {
        bool obj = *p == '{';
        unsigned char close = obj ? '}' : ']';
        core_json_buf_put(b, obj ? "{" : "[", 1);
        p = core_json_skip_ws(p + 1, end);
        for (bool first = true; *p != close; first = false) {
            if (!first)
                p = core_json_skip_ws(p + 1, end); /* past the comma */
            if (!first)
                core_json_buf_put(b, ",", 1);
            if (obj) {
                p = core_json_emit(b, scratch, p, end); /* the key */
                core_json_buf_put(b, ":", 1);
                p = core_json_skip_ws(core_json_skip_ws(p, end) + 1, end);
            }
            p = core_json_skip_ws(core_json_emit(b, scratch, p, end), end);
        }
        core_json_buf_put(b, obj ? "}" : "]", 1);
        return p + 1;
    }
    case '"': {
        p = core_json_scan_string(p, end, &v);
        if (!v.esc) { /* the raw bytes need no escape either */
            char *w = core_json_buf_room(b, v.n + 2);
            if (w) {
                w[0] = '"';
                memcpy(w + 1, v.p, v.n);
                w[v.n + 1] = '"';
                b->n += v.n + 2;
            }
            return p;
        }
        size_t n;
        const char *s = core_json_str_bytes(scratch, &v, false, &n);
        if (!s)
            b->oom = true;
        else
            core_json_put_string(b, s, n);
        return p;
    }
    case 't':
        core_json_buf_put(b, "true", 4);
        return p + 4;
    case 'f':
        core_json_buf_put(b, "false", 5);
        return p + 5;
    case 'n':
        core_json_buf_put(b, "null", 4);
        return p + 4;
    default: {
        const unsigned char *q = p;
        p = core_json_scan_number(q, end, &v.d);
        if (isnan(v.d))
            b->oom = true;
        else
            core_json_emit_number(b, q, p, v.d);
        return p;
    }
    }
}


/* ---- cJSON trees ---- */

int core_json_print_cjson(core_json_buf *b, const cJSON *item)
{
    switch (item->type & 0xFF) {
    case cJSON_NULL: core_json_buf_put(b, "null", 4); return 0;
    case cJSON_False: core_json_buf_put(b, "false", 5); return 0;
    case cJSON_True: core_json_buf_put(b, "true", 4); return 0;
    case cJSON_Number: core_json_put_number(b, item->valuedouble); return 0;
    case cJSON_Raw:
        if (!item->valuestring)
            return -1;
        core_json_buf_put(b, item->valuestring, strlen(item->valuestring));
        return 0;
    case cJSON_String: {
        const char *v = item->valuestring ? item->valuestring : "";
        core_json_put_string(b, v, strlen(v));
        return 0;
    }
    case cJSON_Array:
    case cJSON_Object: {
        bool obj = (item->type & 0xFF) == cJSON_Object;
        core_json_buf_put(b, obj ? "{" : "[", 1);
        for (const cJSON *c = item->child; c; c = c->next) {
            if (c != item->child)
                core_json_buf_put(b, ",", 1);
            if (obj) {
                const char *k = c->string ? c->string : "";
                core_json_put_string(b, k, strlen(k));
                core_json_buf_put(b, ":", 1);
            }
            if (core_json_print_cjson(b, c) < 0)
                return -1;
        }
        core_json_buf_put(b, obj ? "}" : "]", 1);
        return 0;
    }
    }
    return -1;
}

char *core_json_print_unformatted(const cJSON *item)
{
    if (!item)
        return NULL;
    core_json_buf b;
    core_json_buf_init(&b);
    char *out = core_json_print_cjson(&b, item) == 0 ? core_json_buf_take(&b) : NULL;
    core_json_buf_free(&b);
    return out;
}
