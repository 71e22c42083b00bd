/* The native event format: one JSON object per Kafka message. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
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
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == 0)
            return fail(err, errlen, "NUL byte at offset %zu", i);
        if (in_str) {
            if (c < 0x20)
                return fail(err, errlen,
                            "control character 0x%02x in a string at offset %zu (JSON needs "
                            "it escaped)",
                            c, i);
            if (c == '\\') {
                unsigned char e = i + 1 < n ? s[i + 1] : 0;
                if (e == 'u') {
                    if (i + 5 >= n || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) ||
                        !is_hex(s[i + 4]) || !is_hex(s[i + 5]))
                        return fail(err, errlen,
                                    "bad \\u escape at offset %zu (needs 4 hex digits)", i);
                    if (s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0')
                        return fail(err, errlen,
                                    "string holds the NUL character \\u0000 at offset %zu", i);
                    i += 5;
                } else if (e && strchr("\"\\/bfnrt", e)) {
                    i++; /* skip the escaped character */
                } else {
                    return fail(err, errlen, "bad escape in a string at offset %zu", i);
                }
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > MAX_DEPTH)
                return fail(err, errlen, "JSON nested deeper than %d levels at offset %zu",
                            MAX_DEPTH, i);
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '-' || is_digit(c)) {
            size_t k = number_len(s + i, n - i);
            if (k == 0)
                return fail(err, errlen, "malformed number at offset %zu", i);
            i += k - 1;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return fail(err, errlen, "control character 0x%02x outside a string at offset %zu",
                        c, i);
        }
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Walks the tree: duplicate keys and numbers out of range are refused. */
static int check_tree(const cJSON *j, const char *where, char *err, size_t errlen)
{
    if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
        return fail(err, errlen, "number out of range in %s", where);
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
    if (n <= 16) {
        for (const cJSON *a = j->child; a; a = a->next)
            for (const cJSON *b = a->next; b; b = b->next)
                if (strcmp(a->string, b->string) == 0)
                    return fail(err, errlen, "duplicate key \"%.64s\"", a->string);
        return 0;
    }
    const char **names = malloc(n * sizeof *names);
    if (!names)
        return fail(err, errlen, "out of memory");
    size_t k = 0;
    for (const cJSON *c = j->child; c; c = c->next)
        names[k++] = c->string;
    qsort(names, n, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            rc = fail(err, errlen, "duplicate key \"%.64s\"", names[i]);
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
        return fail(err, errlen, "field %s must be a string, got %s", field, json_type_name(j));
    size_t n = strlen(j->valuestring);
    if (n == 0)
        return fail(err, errlen, "field %s is empty", field);
    if (n > max)
        return fail(err, errlen, "field %s is %zu bytes, longer than %zu", field, n, max);
    if (has_control(j->valuestring))
        return fail(err, errlen, "field %s holds a control character", field);
    if (!(*out = core_event_strdup(ev, j->valuestring, n)))
        return fail(err, errlen, "out of memory");
    return 0;
}

static int get_text(core_event *ev, const cJSON *j, const char *field, size_t max,
                    const char **out, size_t *kept, size_t *size, bool *trunc, char *err,
                    size_t errlen)
{
    if (!cJSON_IsString(j))
        return fail(err, errlen, "field %s must be a string, got %s", field, json_type_name(j));
    size_t n = strlen(j->valuestring);
    size_t k = core_utf8_cut(j->valuestring, n, max);
    *size = n;
    *kept = k;
    *trunc = k < n;
    if (!(*out = core_event_strdup(ev, j->valuestring, k)))
        return fail(err, errlen, "out of memory");
    return 0;
}

static int get_count(const cJSON *j, const char *field, int64_t *out, char *err, size_t errlen)
{
    if (!cJSON_IsNumber(j))
        return fail(err, errlen, "field %s must be a number, got %s", field, json_type_name(j));
    double d = j->valuedouble;
    if (d != floor(d) || d < 0 || d > 9007199254740991.0)
        return fail(err, errlen, "field %s must be a non-negative integer below 2^53", field);
    *out = (int64_t)d;
    return 0;
}

static int get_json(core_event *ev, const cJSON *j, const char *field, size_t max,
                    const char **out, char *err, size_t errlen)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s)
        return fail(err, errlen, "out of memory");
    size_t n = strlen(s);
    int rc = 0;
    if (n > max)
        rc = fail(err, errlen, "field %s is %zu bytes of JSON, larger than %zu", field, n, max);
    else if (!(*out = core_event_strdup(ev, s, n)))
        rc = fail(err, errlen, "out of memory");
    free(s);
    return rc;
}

static int get_scores(core_event *ev, const cJSON *j, char *err, size_t errlen)
{
    if (!cJSON_IsObject(j))
        return fail(err, errlen, "field scores must be an object, got %s", json_type_name(j));
    size_t n = (size_t)cJSON_GetArraySize(j);
    if (n > CORE_EVENT_SCORES_MAX)
        return fail(err, errlen, "field scores has %zu entries, more than %d", n,
                    CORE_EVENT_SCORES_MAX);
    ev->scores = n ? core_event_alloc(ev, n * sizeof *ev->scores) : NULL;
    if (n && !ev->scores)
        return fail(err, errlen, "out of memory");
    size_t k = 0;
    for (const cJSON *c = j->child; c; c = c->next, k++) {
        size_t nl = strlen(c->string);
        if (nl == 0 || nl > 64 || has_control(c->string))
            return fail(err, errlen, "score name \"%.64s\" must be 1-64 printable bytes",
                        c->string);
        if (!cJSON_IsNumber(c))
            return fail(err, errlen, "score \"%.64s\" must be a number, got %s", c->string,
                        json_type_name(c));
        ev->scores[k].name = core_event_strdup(ev, c->string, nl);
        ev->scores[k].value = c->valuedouble;
        if (!ev->scores[k].name)
            return fail(err, errlen, "out of memory");
    }
    ev->n_scores = n;
    return get_json(ev, j, "scores", 1 << 16, &ev->scores_json, err, errlen);
}

static int get_ip(core_event *ev, const cJSON *j, char *err, size_t errlen)
{
    if (!cJSON_IsString(j))
        return fail(err, errlen, "field client_ip must be a string, got %s", json_type_name(j));
    unsigned char addr[16];
    char norm[INET6_ADDRSTRLEN];
    const char *s = j->valuestring;
    if (inet_pton(AF_INET, s, addr) == 1)
        inet_ntop(AF_INET, addr, norm, sizeof norm);
    else if (inet_pton(AF_INET6, s, addr) == 1)
        inet_ntop(AF_INET6, addr, norm, sizeof norm);
    else
        return fail(err, errlen, "field client_ip \"%.64s\" is not an IPv4 or IPv6 address", s);
    if (!(ev->client_ip = core_event_strdup(ev, norm, strlen(norm))))
        return fail(err, errlen, "out of memory");
    return 0;
}

static int get_ts(core_event *ev, const cJSON *j, char *err, size_t errlen)
{
    if (cJSON_IsString(j)) {
        if (core_ts_parse(j->valuestring, strlen(j->valuestring), &ev->ts_us) < 0)
            return fail(err, errlen,
                         "field ts \"%.64s\" is not an RFC 3339 time with a zone "
                         "(e.g. 2026-11-21T13:04:00.123Z)",
                         j->valuestring);
        if (ev->ts_us < 0)
            return fail(err, errlen, "field ts is before 1970-01-01");
        return 0;
    }
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (!(d >= 0 && d <= 253402300799.0))
            return fail(err, errlen, "field ts %g is outside 0..253402300799 epoch seconds", d);
        ev->ts_us = llround(d * 1e6);
        return 0;
    }
    return fail(err, errlen, "field ts must be an RFC 3339 string or epoch seconds, got %s",
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

static int decode_obj(const coll_limits *lim, const cJSON *root, core_event *ev, char *err,
                      size_t errlen)
{
    const cJSON *f[F_N] = {0};
    int n_unknown = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        int k;
        for (k = 0; k < F_N; k++)
            if (strcmp(c->string, g_fields[k]) == 0)
                break;
        if (k == F_N) {
            n_unknown++;
            continue;
        }
        if (!cJSON_IsNull(c))
            f[k] = c;
    }
    for (int k = F_EVENT_ID; k <= F_VERSION; k++)
        if (!f[k])
            return fail(err, errlen, "required field %s is missing", g_fields[k]);

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
            return fail(err, errlen, "field latency_ms must be a number, got %s",
                        json_type_name(f[F_LAT]));
        if (!(f[F_LAT]->valuedouble >= 0 && f[F_LAT]->valuedouble < 1e12))
            return fail(err, errlen, "field latency_ms must be between 0 and 1e12");
        ev->has_latency = true;
        ev->latency_ms = f[F_LAT]->valuedouble;
    }
    if (f[F_STATUS]) {
        double d = cJSON_IsNumber(f[F_STATUS]) ? f[F_STATUS]->valuedouble : NAN;
        if (!(d == floor(d) && d >= -2147483648.0 && d <= 2147483647.0))
            return fail(err, errlen, "field status must be a 32-bit integer");
        ev->has_status = true;
        ev->status = (int32_t)d;
    }
    if (f[F_FINISH] && get_ident(ev, f[F_FINISH], "finish_reason", CORE_EVENT_FINISH_MAX,
                                 &ev->finish_reason, err, errlen))
        return -1;
    if (f[F_REFUSAL]) {
        if (!cJSON_IsBool(f[F_REFUSAL]))
            return fail(err, errlen, "field refusal must be true or false, got %s",
                        json_type_name(f[F_REFUSAL]));
        ev->refusal = cJSON_IsTrue(f[F_REFUSAL]) ? 1 : 0;
    }
    if (f[F_SCORES] && get_scores(ev, f[F_SCORES], err, errlen))
        return -1;
    if (f[F_ATTRS]) {
        if (!cJSON_IsObject(f[F_ATTRS]))
            return fail(err, errlen, "field attrs must be an object, got %s",
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
    ev->prompt_tokens = ev->completion_tokens = -1;
    ev->refusal = -1;
    ev->partition = -1;
    ev->offset = -1;
    ev->kafka_ts_ms = -1;

    if (len == 0) {
        fail(err, errlen, "empty message");
        goto done;
    }
    if (len > lim->max_message_bytes) {
        fail(err, errlen, "message is %zu bytes, larger than the %zu-byte limit", len,
             lim->max_message_bytes);
        goto done;
    }
    long bad = core_utf8_invalid_at(s, len);
    if (bad >= 0) {
        fail(err, errlen, "invalid UTF-8 at offset %ld", bad);
        goto done;
    }
    if (prescan(s, len, err, errlen) < 0)
        goto done;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts((const char *)s, len, &end, 0);
    if (!root) {
        size_t at = end && end >= (const char *)s ? (size_t)(end - (const char *)s) : 0;
        fail(err, errlen, "malformed JSON at offset %zu", at);
        goto done;
    }
    for (const char *p = end; p < (const char *)s + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            fail(err, errlen, "trailing data after the JSON value at offset %zu",
                 (size_t)(p - (const char *)s));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        fail(err, errlen, "the message is %s, not a JSON object", json_type_name(root));
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
