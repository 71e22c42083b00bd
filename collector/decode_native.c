/* The native event format: one JSON object per Kafka message. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "collector/decode.h"

#define MAX_DEPTH 32

static const coll_decoder g_decoders[] = {
    {"native", coll_decode_native},
};

const coll_decoder *coll_decoder_find(const char *name)
{
    for (size_t i = 0; i < sizeof g_decoders / sizeof g_decoders[0]; i++)
        if (strcmp(g_decoders[i].name, name) == 0)
            return &g_decoders[i];
    return NULL;
}

coll_limits coll_limits_default(void)
{
    coll_limits l = {1 << 20, 32 << 10, 64 << 10, 64 << 10};
    return l;
}


static const char *json_type_name(const cJSON *j)
{
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "invalid";
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Length of the JSON number at s[0..n) (RFC 8259 grammar), or 0 when the
 * bytes there are not one. cJSON hands anything strtod() takes, so "01",
 * "1." and "1.e5" would pass it. */
static size_t number_len(const unsigned char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && is_digit(s[i]))
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
        return 0; /* "01", "1.5.5", "1e5e5" */
    return i;
}

/* Lexical pre-scan, before cJSON sees the bytes: NUL bytes, nesting depth,
 * and what cJSON is lenient about but JSON forbids. cJSON takes any byte
 * below 0x20 for whitespace, keeps raw control characters in strings, reads
 * an escape with a bad hex digit ("\u00G1") as U+0000 and so silently cuts
 * the string there, and takes "01" or "1." for numbers. */
static int prescan(const unsigned char *s, size_t n, char *err, size_t errlen)
{
    /* bytes inside a string that need no look: not a quote, backslash,
     * control character or NUL */
    static const bool plain[256] = {[0x20 ... 0x21] = true, [0x23 ... 0x5b] = true,
                                    [0x5d ... 0xff] = true};
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            while (i < n && plain[s[i]])
                i++;
            if (i == n)
                break;
        }
        unsigned char c = s[i];
        if (c == 0)
            return core_errf(err, errlen, "NUL byte at offset %zu", i);
        if (in_str) {
            if (c < 0x20)
                return core_errf(err, errlen,
                            "control character 0x%02x in a string at offset %zu (JSON needs "
                            "it escaped)",
                            c, i);
            if (c == '\\') {
                unsigned char e = i + 1 < n ? s[i + 1] : 0;
                if (e == 'u') {
                    if (i + 5 >= n || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) ||
                        !is_hex(s[i + 4]) || !is_hex(s[i + 5]))
                        return core_errf(err, errlen,
                                    "bad \\u escape at offset %zu (needs 4 hex digits)", i);
                    if (s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0')
                        return core_errf(err, errlen,
                                    "string holds the NUL character \\u0000 at offset %zu", i);
                    i += 5;
                } else if (e && strchr("\"\\/bfnrt", e)) {
                    i++; /* skip the escaped character */
                } else {
                    return core_errf(err, errlen, "bad escape in a string at offset %zu", i);
                }
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > MAX_DEPTH)
                return core_errf(err, errlen, "JSON nested deeper than %d levels at offset %zu",
                            MAX_DEPTH, i);
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '-' || is_digit(c)) {
            size_t k = number_len(s + i, n - i);
            if (k == 0)
                return core_errf(err, errlen, "malformed number at offset %zu", i);
            i += k - 1;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return core_errf(err, errlen, "control character 0x%02x outside a string at offset %zu",
                        c, i);
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* FNV-1a of a key: equal keys hash equal, so only equal hashes need strcmp. */
static uint64_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

#define DUP_SMALL 64 /* objects up to this many keys are checked without sorting */

/* Walks the tree: duplicate keys and numbers out of range are refused. The
 * duplicate reported is the one the plain checks would name: for up to 16
 * keys the first key (in order) that comes again, for more the least one in
 * strcmp order. */
static int check_tree(const cJSON *j, const char *where, char *err, size_t errlen)
{
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
        return core_errf(err, errlen, "number out of range in %s", where);
    if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
        return 0;
    size_t n = 0;
    for (const cJSON *c = j->child; c; c = c->next) {
        if (check_tree(c, cJSON_IsObject(j) ? c->string : where, err, errlen) < 0)
            return -1;
        n++;
    }
    if (!cJSON_IsObject(j) || n < 2)
        return 0;
    if (n <= DUP_SMALL) {
        const cJSON *node[DUP_SMALL];
        uint64_t h[DUP_SMALL];
        size_t k = 0;
        for (const cJSON *c = j->child; c; c = c->next, k++) {
            node[k] = c;
            h[k] = key_hash(c->string);
        }
        const char *dup = NULL;
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++) {
                if (h[a] != h[b] || strcmp(node[a]->string, node[b]->string) != 0)
                    continue;
                if (n <= 16)
                    return core_errf(err, errlen, "duplicate key \"%.64s\"", node[a]->string);
                if (!dup || strcmp(node[a]->string, dup) < 0)
                    dup = node[a]->string;
            }
        if (dup)
            return core_errf(err, errlen, "duplicate key \"%.64s\"", dup);
        return 0;
    }
    const char **names = malloc(n * sizeof *names);
    if (!names)
        return core_errf(err, errlen, "out of memory");
    size_t k = 0;
    for (const cJSON *c = j->child; c; c = c->next)
        names[k++] = c->string;
    qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            rc = core_errf(err, errlen, "duplicate key \"%.64s\"", names[i]);
            break;
        }
    free(names);
    return rc;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* An identifier-like string: non-empty, bounded, no control characters. */
static int get_ident(core_event *ev, const cJSON *j, const char *field, size_t max,
                     const char **out, char *err, size_t errlen)
{
    if (!cJSON_IsString(j))
        return core_errf(err, errlen, "field %s must be a string, got %s", field, json_type_name(j));
    size_t n = strlen(j->valuestring);
    if (n == 0)
        return core_errf(err, errlen, "field %s is empty", field);
    if (n > max)
        return core_errf(err, errlen, "field %s is %zu bytes, longer than %zu", field, n, max);
    if (has_control(j->valuestring))
        return core_errf(err, errlen, "field %s holds a control character", field);
    if (!(*out = core_event_strdup(ev, j->valuestring, n)))
        return core_errf(err, errlen, "out of memory");
    return 0;
}

static int get_text(core_event *ev, const cJSON *j, const char *field, size_t max,
                    const char **out, size_t *kept, size_t *size, bool *trunc, char *err,
                    size_t errlen)
{
    if (!cJSON_IsString(j))
        return core_errf(err, errlen, "field %s must be a string, got %s", field, json_type_name(j));
    size_t n = strlen(j->valuestring);
    size_t k = core_utf8_cut(j->valuestring, n, max);
    *size = n;
    *kept = k;
    *trunc = k < n;
    if (!(*out = core_event_strdup(ev, j->valuestring, k)))
        return core_errf(err, errlen, "out of memory");
    return 0;
}

static int get_count(const cJSON *j, const char *field, int64_t *out, char *err, size_t errlen)
{
    if (!cJSON_IsNumber(j))
        return core_errf(err, errlen, "field %s must be a number, got %s", field, json_type_name(j));
    double d = j->valuedouble;
    if (d != floor(d) || d < 0 || d > 9007199254740991.0)
        return core_errf(err, errlen, "field %s must be a non-negative integer below 2^53", field);
    *out = (int64_t)d;
    return 0;
}

/* Compact JSON text, byte for byte what cJSON_PrintUnformatted writes (the
 * stored attrs and scores keep that form), without its sprintf and sscanf
 * round trip for each number. */
typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
    char local[1024];
} jbuf;

static void jb_put(jbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap * 2 > b->n + n + 1 ? b->cap * 2 : b->n + n + 1;
        char *np = b->p == b->local ? malloc(nc) : realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        if (b->p == b->local)
            memcpy(np, b->local, b->n);
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void jb_string(jbuf *b, const char *s)
{
    jb_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jb_put(b, run, (size_t)(s - run));
        char e[8];
        switch (c) {
        case '"': jb_put(b, "\\\"", 2); break;
        case '\\': jb_put(b, "\\\\", 2); break;
        case '\b': jb_put(b, "\\b", 2); break;
        case '\f': jb_put(b, "\\f", 2); break;
        case '\n': jb_put(b, "\\n", 2); break;
        case '\r': jb_put(b, "\\r", 2); break;
        case '\t': jb_put(b, "\\t", 2); break;
        default:
            snprintf(e, sizeof e, "\\u%04x", c);
            jb_put(b, e, 6);
        }
        run = s + 1;
    }
    jb_put(b, run, (size_t)(s - run));
    jb_put(b, "\"", 1);
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

static void jb_number(jbuf *b, const cJSON *j)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    double d = j->valuedouble;
    char buf[32], *end = buf + sizeof buf, *s;
    if (isnan(d) || isinf(d)) {
        jb_put(b, "null", 4);
        return;
    }
    if (d == 0) {
        jb_put(b, signbit(d) ? "-0" : "0", signbit(d) ? 2 : 1);
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
            jb_put(b, s, (size_t)(end - s));
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
    jb_put(b, buf, (size_t)len);
}

static void jb_value(jbuf *b, const cJSON *j)
{
    if (cJSON_IsNull(j)) {
        jb_put(b, "null", 4);
    } else if (cJSON_IsFalse(j)) {
        jb_put(b, "false", 5);
    } else if (cJSON_IsTrue(j)) {
        jb_put(b, "true", 4);
    } else if (cJSON_IsNumber(j)) {
        jb_number(b, j);
    } else if (cJSON_IsString(j)) {
        jb_string(b, j->valuestring);
    } else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        bool obj = cJSON_IsObject(j);
        jb_put(b, obj ? "{" : "[", 1);
        for (const cJSON *c = j->child; c; c = c->next) {
            if (c != j->child)
                jb_put(b, ",", 1);
            if (obj) {
                jb_string(b, c->string);
                jb_put(b, ":", 1);
            }
            jb_value(b, c);
        }
        jb_put(b, obj ? "}" : "]", 1);
    } else {
        b->oom = true; /* raw or invalid: not made by the parser */
    }
}

static int get_json(core_event *ev, const cJSON *j, const char *field, size_t max,
                    const char **out, char *err, size_t errlen)
{
    jbuf b;
    b.p = b.local;
    b.n = 0;
    b.cap = sizeof b.local;
    b.oom = false;
    jb_value(&b, j);
    int rc = 0;
    if (b.oom)
        rc = core_errf(err, errlen, "out of memory");
    else if (b.n > max)
        rc = core_errf(err, errlen, "field %s is %zu bytes of JSON, larger than %zu", field, b.n, max);
    else if (!(*out = core_event_strdup(ev, b.p, b.n)))
        rc = core_errf(err, errlen, "out of memory");
    if (b.p != b.local)
        free(b.p);
    return rc;
}

static int get_scores(core_event *ev, const cJSON *j, char *err, size_t errlen)
{
    if (!cJSON_IsObject(j))
        return core_errf(err, errlen, "field scores must be an object, got %s", json_type_name(j));
    size_t n = (size_t)cJSON_GetArraySize(j);
    if (n > CORE_EVENT_SCORES_MAX)
        return core_errf(err, errlen, "field scores has %zu entries, more than %d", n,
                    CORE_EVENT_SCORES_MAX);
    ev->scores = n ? core_event_alloc(ev, n * sizeof *ev->scores) : NULL;
    if (n && !ev->scores)
        return core_errf(err, errlen, "out of memory");
    size_t k = 0;
    for (const cJSON *c = j->child; c; c = c->next, k++) {
        size_t nl = strlen(c->string);
        if (nl == 0 || nl > 64 || has_control(c->string))
            return core_errf(err, errlen, "score name \"%.64s\" must be 1-64 printable bytes",
                        c->string);
        if (!cJSON_IsNumber(c))
            return core_errf(err, errlen, "score \"%.64s\" must be a number, got %s", c->string,
                        json_type_name(c));
        ev->scores[k].name = core_event_strdup(ev, c->string, nl);
        ev->scores[k].value = c->valuedouble;
        if (!ev->scores[k].name)
            return core_errf(err, errlen, "out of memory");
    }
    ev->n_scores = n;
    return get_json(ev, j, "scores", 1 << 16, &ev->scores_json, err, errlen);
}

static int get_ip(core_event *ev, const cJSON *j, char *err, size_t errlen)
{
    if (!cJSON_IsString(j))
        return core_errf(err, errlen, "field client_ip must be a string, got %s", json_type_name(j));
    unsigned char addr[16];
    char norm[INET6_ADDRSTRLEN];
    const char *s = j->valuestring;
    if (inet_pton(AF_INET, s, addr) == 1)
        inet_ntop(AF_INET, addr, norm, sizeof norm);
    else if (inet_pton(AF_INET6, s, addr) == 1)
        inet_ntop(AF_INET6, addr, norm, sizeof norm);
    else
        return core_errf(err, errlen, "field client_ip \"%.64s\" is not an IPv4 or IPv6 address", s);
    if (!(ev->client_ip = core_event_strdup(ev, norm, strlen(norm))))
        return core_errf(err, errlen, "out of memory");
    return 0;
}

static int get_ts(core_event *ev, const cJSON *j, char *err, size_t errlen)
{
    if (cJSON_IsString(j)) {
        if (core_ts_parse(j->valuestring, strlen(j->valuestring), &ev->ts_us) < 0)
            return core_errf(err, errlen,
                         "field ts \"%.64s\" is not an RFC 3339 time with a zone "
                         "(e.g. 2026-11-21T13:04:00.123Z)",
                         j->valuestring);
        if (ev->ts_us < 0)
            return core_errf(err, errlen, "field ts is before 1970-01-01");
        return 0;
    }
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (!(d >= 0 && d <= 253402300799.0))
            return core_errf(err, errlen, "field ts %g is outside 0..253402300799 epoch seconds", d);
        ev->ts_us = llround(d * 1e6);
        return 0;
    }
    return core_errf(err, errlen, "field ts must be an RFC 3339 string or epoch seconds, got %s",
                json_type_name(j));
}

enum {
    F_EVENT_ID, F_TS, F_KEY, F_MODEL, F_VERSION, F_TENANT, F_USER, F_SESSION, F_IP, F_PROMPT,
    F_RESPONSE, F_PTOK, F_CTOK, F_LAT, F_STATUS, F_FINISH, F_REFUSAL, F_SCORES, F_ATTRS, F_N
};
static const char *const g_fields[F_N] = {
    "event_id", "ts", "api_key_id", "model", "model_version", "tenant", "user_id",
    "session_id", "client_ip", "prompt", "response", "prompt_tokens", "completion_tokens",
    "latency_ms", "status", "finish_reason", "refusal", "scores", "attrs"};

/* The field a top-level key names, or F_N: one string compare, picked by the
 * key's length and first byte. */
static int field_of(const char *s)
{
    int k = F_N;
    switch (strlen(s)) {
    case 2: k = F_TS; break;
    case 5: k = s[0] == 'm' ? F_MODEL : s[0] == 'a' ? F_ATTRS : F_N; break;
    case 6: k = s[0] == 't' ? F_TENANT : s[0] == 's' ? (s[1] == 't' ? F_STATUS : F_SCORES)
                                                     : s[0] == 'p' ? F_PROMPT : F_N;
        break;
    case 7: k = s[0] == 'u' ? F_USER : s[0] == 'r' ? F_REFUSAL : F_N; break;
    case 8: k = s[0] == 'e' ? F_EVENT_ID : s[0] == 'r' ? F_RESPONSE : F_N; break;
    case 9: k = F_IP; break;
    case 10: k = s[0] == 'a' ? F_KEY : s[0] == 's' ? F_SESSION : s[0] == 'l' ? F_LAT : F_N; break;
    case 13: k = s[0] == 'm' ? F_VERSION : s[0] == 'p' ? F_PTOK : s[0] == 'f' ? F_FINISH : F_N;
        break;
    case 17: k = F_CTOK; break;
    }
    return k < F_N && strcmp(s, g_fields[k]) == 0 ? k : F_N;
}

static int decode_obj(const coll_limits *lim, const cJSON *root, core_event *ev, char *err,
                      size_t errlen)
{
    const cJSON *f[F_N] = {0};
    int n_unknown = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        int k = field_of(c->string);
        if (k == F_N) {
            n_unknown++;
            continue;
        }
        if (!cJSON_IsNull(c))
            f[k] = c;
    }
    for (int k = F_EVENT_ID; k <= F_VERSION; k++)
        if (!f[k])
            return core_errf(err, errlen, "required field %s is missing", g_fields[k]);

    if (get_ident(ev, f[F_EVENT_ID], "event_id", CORE_EVENT_ID_MAX, &ev->event_id, err, errlen) ||
        get_ts(ev, f[F_TS], err, errlen) ||
        get_ident(ev, f[F_KEY], "api_key_id", CORE_EVENT_NAME_MAX, &ev->api_key_id, err, errlen) ||
        get_ident(ev, f[F_MODEL], "model", CORE_EVENT_NAME_MAX, &ev->model, err, errlen) ||
        get_ident(ev, f[F_VERSION], "model_version", CORE_EVENT_VERSION_MAX, &ev->model_version,
                  err, errlen))
        return -1;
    if (f[F_TENANT] &&
        get_ident(ev, f[F_TENANT], "tenant", CORE_EVENT_NAME_MAX, &ev->tenant, err, errlen))
        return -1;
    if (f[F_USER] &&
        get_ident(ev, f[F_USER], "user_id", CORE_EVENT_NAME_MAX, &ev->user_id, err, errlen))
        return -1;
    if (f[F_SESSION] && get_ident(ev, f[F_SESSION], "session_id", CORE_EVENT_NAME_MAX,
                                  &ev->session_id, err, errlen))
        return -1;
    if (f[F_IP] && get_ip(ev, f[F_IP], err, errlen))
        return -1;
    if (f[F_PROMPT] &&
        get_text(ev, f[F_PROMPT], "prompt", lim->prompt_max_bytes, &ev->prompt, &ev->prompt_len,
                 &ev->prompt_size, &ev->prompt_truncated, err, errlen))
        return -1;
    if (f[F_RESPONSE] &&
        get_text(ev, f[F_RESPONSE], "response", lim->response_max_bytes, &ev->response,
                 &ev->response_len, &ev->response_size, &ev->response_truncated, err, errlen))
        return -1;
    if (f[F_PTOK] && get_count(f[F_PTOK], "prompt_tokens", &ev->prompt_tokens, err, errlen))
        return -1;
    if (f[F_CTOK] &&
        get_count(f[F_CTOK], "completion_tokens", &ev->completion_tokens, err, errlen))
        return -1;
    if (f[F_LAT]) {
        if (!cJSON_IsNumber(f[F_LAT]))
            return core_errf(err, errlen, "field latency_ms must be a number, got %s",
                        json_type_name(f[F_LAT]));
        if (!(f[F_LAT]->valuedouble >= 0 && f[F_LAT]->valuedouble < 1e12))
            return core_errf(err, errlen, "field latency_ms must be between 0 and 1e12");
        ev->has_latency = true;
        ev->latency_ms = f[F_LAT]->valuedouble;
    }
    if (f[F_STATUS]) {
        double d = cJSON_IsNumber(f[F_STATUS]) ? f[F_STATUS]->valuedouble : NAN;
        if (!(d == floor(d) && d >= -2147483648.0 && d <= 2147483647.0))
            return core_errf(err, errlen, "field status must be a 32-bit integer");
        ev->has_status = true;
        ev->status = (int32_t)d;
    }
    if (f[F_FINISH] && get_ident(ev, f[F_FINISH], "finish_reason", CORE_EVENT_FINISH_MAX,
                                 &ev->finish_reason, err, errlen))
        return -1;
    if (f[F_REFUSAL]) {
        if (!cJSON_IsBool(f[F_REFUSAL]))
            return core_errf(err, errlen, "field refusal must be true or false, got %s",
                        json_type_name(f[F_REFUSAL]));
        ev->refusal = cJSON_IsTrue(f[F_REFUSAL]) ? 1 : 0;
    }
    if (f[F_SCORES] && get_scores(ev, f[F_SCORES], err, errlen))
        return -1;
    if (f[F_ATTRS]) {
        if (!cJSON_IsObject(f[F_ATTRS]))
            return core_errf(err, errlen, "field attrs must be an object, got %s",
                        json_type_name(f[F_ATTRS]));
        if (get_json(ev, f[F_ATTRS], "attrs", lim->attrs_max_bytes, &ev->attrs_json, err, errlen))
            return -1;
    }
    (void)n_unknown; /* unknown top-level fields are ignored: gateways may add their own */
    return 0;
}

int coll_decode_native(const coll_limits *lim, const void *buf, size_t len, core_event *ev,
                       char *err, size_t errlen)
{
    const unsigned char *s = buf;
    cJSON *root = NULL;
    int rc = -1;
    /* The decoded strings are pieces of the message, so its size (plus room
     * for the normalised address and the scores array) bounds the arena. */
    if (len <= lim->max_message_bytes && core_event_reserve(ev, len + 256) < 0)
        return core_errf(err, errlen, "out of memory");
    ev->prompt_tokens = ev->completion_tokens = -1;
    ev->refusal = -1;
    ev->partition = -1;
    ev->offset = -1;
    ev->kafka_ts_ms = -1;

    if (len == 0) {
        core_errf(err, errlen, "empty message");
        goto done;
    }
    if (len > lim->max_message_bytes) {
        core_errf(err, errlen, "message is %zu bytes, larger than the %zu-byte limit", len,
             lim->max_message_bytes);
        goto done;
    }
    long bad = core_utf8_invalid_at(s, len);
    if (bad >= 0) {
        core_errf(err, errlen, "invalid UTF-8 at offset %ld", bad);
        goto done;
    }
    if (prescan(s, len, err, errlen) < 0)
        goto done;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts((const char *)s, len, &end, 0);
    if (!root) {
        size_t at = end && end >= (const char *)s ? (size_t)(end - (const char *)s) : 0;
        core_errf(err, errlen, "malformed JSON at offset %zu", at);
        goto done;
    }
    for (const char *p = end; p < (const char *)s + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            core_errf(err, errlen, "trailing data after the JSON value at offset %zu",
                 (size_t)(p - (const char *)s));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        core_errf(err, errlen, "the message is %s, not a JSON object", json_type_name(root));
        goto done;
    }
    if (check_tree(root, "the event", err, errlen) < 0)
        goto done;
    rc = decode_obj(lim, root, ev, err, errlen);
done:
    cJSON_Delete(root);
    if (rc < 0)
        core_event_clear(ev);
    return rc;
}
