/* The cJSON tree of a message that core_json_check_object accepted, for the
 * foreign decoders (coll_map_parse): the tree cJSON_ParseWithLength makes of
 * it, built with fewer allocations. The member names an OTLP request or a
 * LiteLLM payload repeats for every attribute and span ("key", "value",
 * "stringValue", ...) are taken by reference from a table of literals
 * instead of copied, and each string is copied once (cJSON parses it twice
 * and copies it into a buffer of its own). The JSON is checked before (no
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
} reader;

/* Appends the UTF-8 of code point c to w; returns the byte after it. */
static char *utf8_put(char *w, unsigned c)
{
    if (c < 0x80) {
        *w++ = (char)c;
    } else if (c < 0x800) {
        *w++ = (char)(0xC0 | c >> 6);
        *w++ = (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        *w++ = (char)(0xE0 | c >> 12);
        *w++ = (char)(0x80 | (c >> 6 & 0x3F));
        *w++ = (char)(0x80 | (c & 0x3F));
    } else {
        *w++ = (char)(0xF0 | c >> 18);
        *w++ = (char)(0x80 | (c >> 12 & 0x3F));
        *w++ = (char)(0x80 | (c >> 6 & 0x3F));
        *w++ = (char)(0x80 | (c & 0x3F));
    }
    return w;
}

/* Scans the string at r->p (its opening quote): its text is [*s, *q),
 * *esc when it holds an escape. false when it is not one. */
static bool scan_string(reader *r, const unsigned char **s, const unsigned char **q, bool *esc)
{
    if (r->p >= r->end || *r->p != '"')
        return false;
    const unsigned char *i = r->p + 1;
    *esc = false;
    while (i < r->end && *i != '"') {
        if (*i == '\\') {
            *esc = true;
            if (++i >= r->end)
                return false;
        }
        i++;
    }
    if (i >= r->end)
        return false;
    *s = r->p + 1;
    *q = i;
    r->p = i + 1;
    return true;
}

/* The text [s, q) unescaped into a new buffer (cJSON_malloc: cJSON_Delete
 * frees it); NULL when out of memory or an escape is not one. */
static char *unescape(const unsigned char *s, const unsigned char *q)
{
    /* unescaped, never longer than the text */
    char *t = cJSON_malloc((size_t)(q - s) + 1), *w = t;
    if (!t)
        return NULL;
    for (const unsigned char *i = s; i < q;) {
        if (*i != '\\') {
            const unsigned char *e = memchr(i, '\\', (size_t)(q - i));
            if (!e)
                e = q;
            memcpy(w, i, (size_t)(e - i));
            w += e - i;
            i = e;
            continue;
        }
        if (q - i < 2)
            goto bad;
        unsigned char c = i[1];
        i += 2;
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            if (q - i < 4 || !core_json_hex4_ok(i))
                goto bad;
            unsigned cp = core_json_hex4(i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (q - i < 6 || i[0] != '\\' || i[1] != 'u' || !core_json_hex4_ok(i + 2))
                    goto bad;
                unsigned lo = core_json_hex4(i + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
                goto bad; /* refused by the check before: not expected here */
            }
            w = utf8_put(w, cp);
            break;
        }
        default: goto bad;
        }
    }
    *w = '\0';
    return t;
bad:
    cJSON_free(t);
    return NULL;
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
            const unsigned char *s, *q;
            bool esc;
            r->p = core_json_skip_ws(r->p, r->end);
            if (!scan_string(r, &s, &q, &esc))
                goto bad;
            if (!(lit = esc ? NULL : intern(s, (size_t)(q - s))) && !(name = unescape(s, q)))
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
        const unsigned char *s, *q;
        bool esc;
        if (!scan_string(r, &s, &q, &esc))
            return NULL;
        char *t = unescape(s, q);
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
    size_t n = core_json_number_len(r->p, left);
    /* cJSON reads at most 63 bytes of a number: past that its parse differs */
    char num[64];
    if (n == 0 || n >= sizeof num)
        return NULL;
    memcpy(num, r->p, n);
    num[n] = '\0';
    r->p += n;
    return cJSON_CreateNumber(strtod(num, NULL));
}

cJSON *coll_map_tree(const void *buf, size_t len)
{
    reader r = {buf, (const unsigned char *)buf + len};
    r.p = core_json_skip_ws(r.p, r.end);
    cJSON *j = value(&r, 0);
    if (j && core_json_skip_ws(r.p, r.end) != r.end) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}
