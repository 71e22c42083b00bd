/* The cJSON tree of a message that core_json_check_object accepted, for the
 * foreign decoders (coll_map_parse): the tree cJSON_ParseWithLength makes of
 * it, built with fewer allocations. The member names an OTLP request or a
 * LiteLLM payload repeats for every attribute and span ("key", "value",
 * "stringValue", ...) are taken by reference from a table of literals
 * instead of copied, and each string is copied once (cJSON parses it twice
 * and copies it into a buffer of its own); strings and numbers are read by
 * the scanner's functions (core/json_scan.h). The JSON is checked before (no
 * NUL, no lone surrogate, RFC 8259 numbers, bounded depth, nothing after the
 * value), so the reader only walks it; wherever it meets what it does not
 * expect it gives up (NULL) and the caller parses with cJSON instead, so
 * that the tree is always cJSON's. */
#include <stdlib.h>
#include <string.h>

#include "collector/decode_map.h"
#include "core/json_scan.h"

/* Member names taken by reference: OTLP/JSON's (trace, common, resource
 * protos, lowerCamelCase), the GenAI message parts', LiteLLM's most common. */
#define NAME(s) {s, sizeof s - 1}
static const struct {
    const char *s;
    size_t n;
} g_names[] = {
    NAME("resourceSpans"), NAME("resource"), NAME("attributes"), NAME("scopeSpans"),
    NAME("scope"), NAME("name"), NAME("version"), NAME("spans"), NAME("traceId"),
    NAME("spanId"), NAME("parentSpanId"), NAME("kind"), NAME("startTimeUnixNano"),
    NAME("endTimeUnixNano"), NAME("events"), NAME("timeUnixNano"), NAME("status"), NAME("code"),
    NAME("message"), NAME("key"), NAME("value"), NAME("stringValue"), NAME("intValue"),
    NAME("doubleValue"), NAME("boolValue"), NAME("arrayValue"), NAME("kvlistValue"),
    NAME("values"), NAME("bytesValue"), NAME("droppedAttributesCount"),
    NAME("droppedEventsCount"), NAME("droppedLinksCount"), NAME("flags"), NAME("traceState"),
    NAME("links"), NAME("schemaUrl"), NAME("role"), NAME("content"), NAME("parts"),
    NAME("type"), NAME("text"), NAME("finish_reason"), NAME("id"), NAME("model"),
    NAME("metadata"), NAME("messages"), NAME("response"), NAME("choices"), NAME("index"),
    NAME("usage")};
#undef NAME

static const char *intern(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++)
        if (g_names[i].n == n && memcmp(g_names[i].s, s, n) == 0)
            return g_names[i].s;
    return NULL;
}

typedef struct {
    const unsigned char *p, *end;
    core_json_buf scratch; /* unescaped strings, copied out at once */
} reader;

/* The string at r->p (its opening quote, scanned by the scanner's rules):
 * *v says where it lies; false when it is not one. */
static bool scan_string(reader *r, core_json_val *v)
{
    if (r->p >= r->end || *r->p != '"')
        return false;
    const unsigned char *after = core_json_scan_string(r->p, r->end, v);
    if (!after)
        return false;
    r->p = after;
    return true;
}

/* String v's decoded text in a new buffer (cJSON_malloc: cJSON_Delete frees
 * it), NULL when out of memory. */
static char *copy_string(reader *r, const core_json_val *v)
{
    size_t n;
    const char *t = core_json_str_bytes(&r->scratch, v, false, &n);
    char *c = t ? cJSON_malloc(n + 1) : NULL;
    if (c) {
        memcpy(c, t, n);
        c[n] = '\0';
    }
    return c;
}

static cJSON *value(reader *r, int depth);

static cJSON *container(reader *r, int depth, bool obj)
{
    cJSON *c = obj ? cJSON_CreateObject() : cJSON_CreateArray(), *last = NULL;
    if (!c)
        return NULL;
    r->p = core_json_skip_ws(r->p + 1, r->end); /* after { or [ */
    if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
        r->p++;
        return c;
    }
    for (;;) {
        const char *lit = NULL;
        char *name = NULL;
        if (obj) {
            core_json_val k;
            r->p = core_json_skip_ws(r->p, r->end);
            if (!scan_string(r, &k))
                goto bad;
            if (!(lit = k.esc ? NULL : intern(k.p, k.n)) && !(name = copy_string(r, &k)))
                goto bad;
            r->p = core_json_skip_ws(r->p, r->end);
            if (r->p >= r->end || *r->p != ':') {
                cJSON_free(name);
                goto bad;
            }
            r->p = core_json_skip_ws(r->p + 1, r->end);
        }
        r->p = core_json_skip_ws(r->p, r->end);
        cJSON *v = value(r, depth + 1);
        if (!v) {
            cJSON_free(name);
            goto bad;
        }
        if (lit) {
            v->string = (char *)lit;
            v->type |= cJSON_StringIsConst;
        } else if (name) {
            v->string = name;
        }
        /* appended at the tail, as cJSON links its children (child->prev
         * is the last one) */
        if (!last) {
            c->child = v;
        } else {
            last->next = v;
            v->prev = last;
        }
        last = v;
        c->child->prev = last;
        r->p = core_json_skip_ws(r->p, r->end);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
            r->p++;
            return c;
        }
        goto bad;
    }
bad:
    cJSON_Delete(c);
    return NULL;
}

static cJSON *value(reader *r, int depth)
{
    if (r->p >= r->end || depth > CORE_JSON_MAX_DEPTH + 1)
        return NULL;
    unsigned char c = *r->p;
    size_t left = (size_t)(r->end - r->p);
    if (c == '{' || c == '[')
        return container(r, depth, c == '{');
    if (c == '"') {
        core_json_val v;
        if (!scan_string(r, &v))
            return NULL;
        char *t = copy_string(r, &v);
        cJSON *j = t ? cJSON_CreateNull() : NULL;
        if (!j) {
            cJSON_free(t);
            return NULL;
        }
        j->type = cJSON_String;
        j->valuestring = t;
        return j;
    }
    if (left >= 4 && memcmp(r->p, "true", 4) == 0) {
        r->p += 4;
        return cJSON_CreateTrue();
    }
    if (left >= 5 && memcmp(r->p, "false", 5) == 0) {
        r->p += 5;
        return cJSON_CreateFalse();
    }
    if (left >= 4 && memcmp(r->p, "null", 4) == 0) {
        r->p += 4;
        return cJSON_CreateNull();
    }
    /* cJSON reads at most 63 bytes of a number: past that its parse differs */
    size_t n = core_json_number_len(r->p, left);
    double d;
    if (n == 0 || n >= 64 || !core_json_scan_number(r->p, r->end, &d) || d != d)
        return NULL;
    r->p += n;
    return cJSON_CreateNumber(d);
}

cJSON *coll_map_tree(const void *buf, size_t len)
{
    reader r = {.p = buf, .end = (const unsigned char *)buf + len};
    core_json_buf_init(&r.scratch);
    r.p = core_json_skip_ws(r.p, r.end);
    cJSON *j = value(&r, 0);
    if (j && core_json_skip_ws(r.p, r.end) != r.end) {
        cJSON_Delete(j);
        j = NULL;
    }
    core_json_buf_free(&r.scratch);
    return j;
}
