/* OTLP protobuf (otlp_proto, the OpenTelemetry Collector Kafka exporter's
 * default encoding): a wire-format reader of its own for just the messages
 * an ExportTraceServiceRequest of GenAI spans needs (field numbers from
 * opentelemetry-proto collector/trace/v1/trace_service.proto,
 * trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto).
 * It reads the request into its OTLP/JSON shape (hex ids, 64-bit integers
 * as decimal strings), which decode_otel.c maps, so both encodings give
 * the same events. Every length is checked against the bytes that remain,
 * AnyValue nesting is bounded, values are counted, unknown fields are
 * skipped by their wire type. Why not protobuf-c: bench/ingest measures
 * this reader; protobuf-c would add a generated .pb-c.c, a runtime
 * dependency and a second tree (its structs) to turn into the same shape. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/decode_map.h"
#include "core/event.h"
#include "core/util.h"

#define FMT "otlp_proto"
#define MAX_ANY_DEPTH 16       /* AnyValue inside arrays and kvlists */
#define MAX_VALUES (1 << 18)   /* values (attributes, spans, events) a message may hold */

typedef struct {
    const uint8_t *p, *end;
} rd;

typedef struct {
    char *err;
    size_t errlen;
    size_t values;
} ctx;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static int fail(ctx *c, const char *what, const char *where)
{
    return core_errf(c->err, c->errlen, FMT ": %s in %s", what, where);
}

static int varint(rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int s = 0; s < 70; s += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        if (s == 63 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next field's number and wire type; 1 at the end, -1 when bad. */
static int tag(rd *r, uint32_t *num, int *wt)
{
    if (r->p == r->end)
        return 1;
    uint64_t t;
    if (varint(r, &t) < 0 || (t >> 3) == 0 || (t >> 3) > 0x1fffffff)
        return -1;
    if ((t & 7) == 3 || (t & 7) == 4 || (t & 7) > 5)
        return -1; /* groups are not in OTLP; 6 and 7 do not exist */
    *num = (uint32_t)(t >> 3);
    *wt = (int)(t & 7);
    return 0;
}

static int len_field(rd *r, rd *sub)
{
    uint64_t n;
    if (varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
        return -1;
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return 0;
}

static int fixed64(rd *r, uint64_t *v)
{
    if (r->end - r->p < 8)
        return -1;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | r->p[i];
    r->p += 8;
    *v = x;
    return 0;
}

static int skip(rd *r, int wt)
{
    uint64_t v;
    rd sub;
    switch (wt) {
    case WT_VARINT: return varint(r, &v);
    case WT_I64: return fixed64(r, &v);
    case WT_LEN: return len_field(r, &sub);
    case WT_I32:
        if (r->end - r->p < 4)
            return -1;
        r->p += 4;
        return 0;
    default: return -1; /* groups (3, 4) are not in OTLP; 6, 7 do not exist */
    }
}

/* A cJSON string item holding the n bytes p wrote into it: one allocation
 * for the text (cJSON_malloc, which cJSON_Delete frees) instead of a copy
 * made first and copied again by cJSON_CreateString. fill writes n bytes
 * of text from src; NULL when out of memory. */
static cJSON *new_str(size_t n, void (*fill)(char *dst, const uint8_t *src, size_t n),
                      const uint8_t *src)
{
    char *t = cJSON_malloc(n + 1);
    cJSON *j = t ? cJSON_CreateNull() : NULL;
    if (!j) {
        cJSON_free(t);
        return NULL;
    }
    fill(t, src, n);
    t[n] = '\0';
    j->type = cJSON_String;
    j->valuestring = t;
    return j;
}

static void fill_copy(char *dst, const uint8_t *src, size_t n)
{
    memcpy(dst, src, n);
}

static void fill_hex(char *dst, const uint8_t *src, size_t n)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n / 2; i++) {
        dst[2 * i] = d[src[i] >> 4];
        dst[2 * i + 1] = d[src[i] & 15];
    }
}

/* A string field: valid UTF-8 without NUL, as a cJSON string. */
static cJSON *str(ctx *c, const rd *s, const char *where)
{
    size_t n = (size_t)(s->end - s->p);
    if (core_utf8_invalid_at(s->p, n) >= 0) {
        fail(c, "a string that is not UTF-8", where);
        return NULL;
    }
    if (memchr(s->p, 0, n)) {
        fail(c, "a string holding NUL", where);
        return NULL;
    }
    cJSON *j = new_str(n, fill_copy, s->p);
    if (!j)
        core_errf(c->err, c->errlen, "out of memory");
    return j;
}

static cJSON *hex(const rd *s)
{
    return new_str(2 * (size_t)(s->end - s->p), fill_hex, s->p);
}

static cJSON *u64_str(uint64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    return cJSON_CreateString(t);
}

static int counted(ctx *c)
{
    if (++c->values > MAX_VALUES)
        return core_errf(c->err, c->errlen, FMT ": more than %d values in one message",
                         MAX_VALUES);
    return 0;
}

/* Puts item into the array member name (a literal) of o, created on first use. */
static void push(cJSON *o, const char *name, cJSON *item)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!a)
        a = coll_map_add_cs(o, name, cJSON_CreateArray());
    cJSON_AddItemToArray(a, item);
}

static int key_value(ctx *c, rd r, cJSON *dst, int depth);

/* AnyValue (common.proto): one of string 1, bool 2, int 3, double 4,
 * array 5, kvlist 6, bytes 7. */
static int any_value(ctx *c, rd r, cJSON *dst, int depth)
{
    if (depth > MAX_ANY_DEPTH)
        return fail(c, "AnyValue nested deeper than 16 levels", "an attribute");
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        rd sub;
        uint64_t v;
        if (counted(c) < 0)
            return -1;
        if (num == 1 && wt == WT_LEN) {
            cJSON *s;
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated string", "AnyValue");
            if (!(s = str(c, &sub, "AnyValue.string_value")))
                return -1;
            cJSON_DeleteItemFromObjectCaseSensitive(dst, "stringValue");
            cJSON_AddItemToObjectCS(dst, "stringValue", s);
        } else if (num == 2 && wt == WT_VARINT) {
            if (varint(&r, &v) < 0)
                return fail(c, "a truncated varint", "AnyValue.bool_value");
            coll_map_add_cs(dst, "boolValue", cJSON_CreateBool(v != 0));
        } else if (num == 3 && wt == WT_VARINT) {
            if (varint(&r, &v) < 0)
                return fail(c, "a truncated varint", "AnyValue.int_value");
            char tmp[24];
            snprintf(tmp, sizeof tmp, "%lld", (long long)(int64_t)v);
            coll_map_add_cs(dst, "intValue", cJSON_CreateString(tmp));
        } else if (num == 4 && wt == WT_I64) {
            double d;
            if (fixed64(&r, &v) < 0)
                return fail(c, "a truncated double", "AnyValue.double_value");
            memcpy(&d, &v, sizeof d);
            if (d != d || d - d != 0)
                return fail(c, "a double that is not finite", "AnyValue.double_value");
            coll_map_add_cs(dst, "doubleValue", cJSON_CreateNumber(d));
        } else if ((num == 5 || num == 6) && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated array or kvlist", "AnyValue");
            cJSON *holder =
                coll_map_add_cs(dst, num == 5 ? "arrayValue" : "kvlistValue", cJSON_CreateObject());
            cJSON *vals = coll_map_add_cs(holder, "values", cJSON_CreateArray());
            uint32_t n2;
            int wt2, t2;
            while ((t2 = tag(&sub, &n2, &wt2)) == 0) {
                rd item;
                if (n2 != 1 || wt2 != WT_LEN) {
                    if (skip(&sub, wt2) < 0)
                        return fail(c, "a truncated field", "ArrayValue/KeyValueList");
                    continue;
                }
                if (len_field(&sub, &item) < 0)
                    return fail(c, "a truncated value", "ArrayValue/KeyValueList");
                cJSON *it = cJSON_CreateObject();
                cJSON_AddItemToArray(vals, it);
                if ((num == 5 ? any_value(c, item, it, depth + 1)
                              : key_value(c, item, it, depth + 1)) < 0)
                    return -1;
            }
            if (t2 < 0)
                return fail(c, "a bad tag", "ArrayValue/KeyValueList");
        } else if (num == 7 && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "truncated bytes", "AnyValue.bytes_value");
            cJSON_AddItemToObjectCS(dst, "bytesValue", hex(&sub));
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", "AnyValue");
        }
    }
    return t < 0 ? fail(c, "a bad tag", "AnyValue") : 0;
}

/* KeyValue: key 1, value 2. */
static int key_value(ctx *c, rd r, cJSON *dst, int depth)
{
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        rd sub;
        if (num == 1 && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated key", "KeyValue");
            cJSON *s = str(c, &sub, "KeyValue.key");
            if (!s)
                return -1;
            cJSON_DeleteItemFromObjectCaseSensitive(dst, "key");
            cJSON_AddItemToObjectCS(dst, "key", s);
        } else if (num == 2 && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated value", "KeyValue");
            cJSON *v = coll_map_add_cs(dst, "value", cJSON_CreateObject());
            if (any_value(c, sub, v, depth) < 0)
                return -1;
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", "KeyValue");
        }
    }
    return t < 0 ? fail(c, "a bad tag", "KeyValue") : 0;
}

/* An attributes entry (field attr_num of a message) into dst.attributes. */
static int attribute(ctx *c, rd *r, cJSON *dst, const char *where)
{
    rd sub;
    if (len_field(r, &sub) < 0)
        return fail(c, "a truncated attribute", where);
    if (counted(c) < 0)
        return -1;
    cJSON *kv = cJSON_CreateObject();
    push(dst, "attributes", kv);
    return key_value(c, sub, kv, 0);
}

/* Span.Event: time 1, name 2, attributes 3. Status: message 2, code 3. */
static int event(ctx *c, rd r, cJSON *dst)
{
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        uint64_t v;
        rd sub;
        if (num == 1 && wt == WT_I64) {
            if (fixed64(&r, &v) < 0)
                return fail(c, "a truncated time", "Span.Event");
            cJSON_AddItemToObjectCS(dst, "timeUnixNano", u64_str(v));
        } else if (num == 2 && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated name", "Span.Event");
            cJSON *s = str(c, &sub, "Span.Event.name");
            if (!s)
                return -1;
            cJSON_DeleteItemFromObjectCaseSensitive(dst, "name");
            cJSON_AddItemToObjectCS(dst, "name", s);
        } else if (num == 3 && wt == WT_LEN) {
            if (attribute(c, &r, dst, "Span.Event") < 0)
                return -1;
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", "Span.Event");
        }
    }
    return t < 0 ? fail(c, "a bad tag", "Span.Event") : 0;
}

static int status(ctx *c, rd r, cJSON *dst)
{
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        uint64_t v;
        rd sub;
        if (num == 3 && wt == WT_VARINT) {
            if (varint(&r, &v) < 0)
                return fail(c, "a truncated code", "Status");
            cJSON_DeleteItemFromObjectCaseSensitive(dst, "code");
            coll_map_add_cs(dst, "code", cJSON_CreateNumber((double)(uint32_t)v));
        } else if (num == 2 && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated message", "Status");
            cJSON *s = str(c, &sub, "Status.message");
            if (!s)
                return -1;
            cJSON_DeleteItemFromObjectCaseSensitive(dst, "message");
            cJSON_AddItemToObjectCS(dst, "message", s);
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", "Status");
        }
    }
    return t < 0 ? fail(c, "a bad tag", "Status") : 0;
}

/* Span: trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6,
 * start 7, end 8, attributes 9, events 11, status 15. */
static int span(ctx *c, rd r, cJSON *dst)
{
    static const char *const ids[] = {NULL, "traceId", "spanId", NULL, "parentSpanId"};
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        uint64_t v;
        rd sub;
        if ((num == 1 || num == 2 || num == 4) && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated id", "Span");
            cJSON_DeleteItemFromObjectCaseSensitive(dst, ids[num]);
            cJSON_AddItemToObjectCS(dst, ids[num], hex(&sub));
        } else if (num == 5 && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated name", "Span");
            cJSON *s = str(c, &sub, "Span.name");
            if (!s)
                return -1;
            cJSON_DeleteItemFromObjectCaseSensitive(dst, "name");
            cJSON_AddItemToObjectCS(dst, "name", s);
        } else if (num == 6 && wt == WT_VARINT) {
            if (varint(&r, &v) < 0)
                return fail(c, "a truncated kind", "Span");
            cJSON_DeleteItemFromObjectCaseSensitive(dst, "kind");
            coll_map_add_cs(dst, "kind", cJSON_CreateNumber((double)(uint32_t)v));
        } else if ((num == 7 || num == 8) && wt == WT_I64) {
            if (fixed64(&r, &v) < 0)
                return fail(c, "a truncated time", "Span");
            const char *k = num == 7 ? "startTimeUnixNano" : "endTimeUnixNano";
            cJSON_DeleteItemFromObjectCaseSensitive(dst, k);
            cJSON_AddItemToObjectCS(dst, k, u64_str(v));
        } else if (num == 9 && wt == WT_LEN) {
            if (attribute(c, &r, dst, "Span") < 0)
                return -1;
        } else if ((num == 11 || num == 15) && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, num == 11 ? "a truncated event" : "a truncated status", "Span");
            if (counted(c) < 0)
                return -1;
            if (num == 11) {
                cJSON *e = cJSON_CreateObject();
                push(dst, "events", e);
                if (event(c, sub, e) < 0)
                    return -1;
            } else {
                cJSON *s = cJSON_GetObjectItemCaseSensitive(dst, "status");
                if (!s)
                    s = coll_map_add_cs(dst, "status", cJSON_CreateObject());
                if (status(c, sub, s) < 0)
                    return -1;
            }
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", "Span");
        }
    }
    return t < 0 ? fail(c, "a bad tag", "Span") : 0;
}

/* Resource: attributes 1. InstrumentationScope: name 1, version 2. */
static int resource_or_scope(ctx *c, rd r, cJSON *dst, bool scope)
{
    const char *where = scope ? "InstrumentationScope" : "Resource";
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        rd sub;
        if (!scope && num == 1 && wt == WT_LEN) {
            if (attribute(c, &r, dst, where) < 0)
                return -1;
        } else if (scope && (num == 1 || num == 2) && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated string", where);
            cJSON *s = str(c, &sub, where);
            if (!s)
                return -1;
            const char *k = num == 1 ? "name" : "version";
            cJSON_DeleteItemFromObjectCaseSensitive(dst, k);
            cJSON_AddItemToObjectCS(dst, k, s);
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", where);
        }
    }
    return t < 0 ? fail(c, "a bad tag", where) : 0;
}

/* ScopeSpans: scope 1, spans 2. ResourceSpans: resource 1, scope_spans 2. */
static int scope_spans(ctx *c, rd r, cJSON *dst)
{
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        rd sub;
        if ((num == 1 || num == 2) && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, num == 1 ? "a truncated scope" : "a truncated span", "ScopeSpans");
            if (counted(c) < 0)
                return -1;
            if (num == 1) {
                cJSON *s = cJSON_GetObjectItemCaseSensitive(dst, "scope");
                if (!s)
                    s = coll_map_add_cs(dst, "scope", cJSON_CreateObject());
                if (resource_or_scope(c, sub, s, true) < 0)
                    return -1;
            } else {
                cJSON *s = cJSON_CreateObject();
                push(dst, "spans", s);
                if (span(c, sub, s) < 0)
                    return -1;
            }
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", "ScopeSpans");
        }
    }
    return t < 0 ? fail(c, "a bad tag", "ScopeSpans") : 0;
}

static int resource_spans(ctx *c, rd r, cJSON *dst)
{
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        rd sub;
        if ((num == 1 || num == 2 || num == 1000) && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0)
                return fail(c, "a truncated field", "ResourceSpans");
            if (num == 1) {
                cJSON *res = cJSON_GetObjectItemCaseSensitive(dst, "resource");
                if (!res)
                    res = coll_map_add_cs(dst, "resource", cJSON_CreateObject());
                if (resource_or_scope(c, sub, res, false) < 0)
                    return -1;
            } else {
                /* 1000: instrumentation_library_spans, before OTLP 0.15: the same shape */
                cJSON *ss = cJSON_CreateObject();
                push(dst, "scopeSpans", ss);
                if (scope_spans(c, sub, ss) < 0)
                    return -1;
            }
        } else if (skip(&r, wt) < 0) {
            return fail(c, "a truncated field", "ResourceSpans");
        }
    }
    return t < 0 ? fail(c, "a bad tag", "ResourceSpans") : 0;
}

cJSON *coll_otlp_proto_read(const void *buf, size_t len, char *err, size_t errlen)
{
    ctx c = {err, errlen, 0};
    rd r = {buf, (const uint8_t *)buf + len};
    cJSON *req = cJSON_CreateObject();
    if (!req) {
        core_errf(err, errlen, "out of memory");
        return NULL;
    }
    coll_map_add_cs(req, "resourceSpans", cJSON_CreateArray());
    uint32_t num;
    int wt, t;
    while ((t = tag(&r, &num, &wt)) == 0) {
        rd sub;
        if (num == 1 && wt == WT_LEN) {
            if (len_field(&r, &sub) < 0) {
                fail(&c, "a truncated field", "ExportTraceServiceRequest");
                goto bad;
            }
            cJSON *rs = cJSON_CreateObject();
            push(req, "resourceSpans", rs);
            if (resource_spans(&c, sub, rs) < 0)
                goto bad;
        } else if (skip(&r, wt) < 0) {
            fail(&c, "a truncated field", "ExportTraceServiceRequest");
            goto bad;
        }
    }
    if (t < 0) {
        fail(&c, "a bad tag (not protobuf?)", "ExportTraceServiceRequest");
        goto bad;
    }
    return req;
bad:
    cJSON_Delete(req);
    return NULL;
}

static int decode_otlp_proto(const coll_limits *lim, const void *buf, size_t len,
                             coll_decoded *out, char *err, size_t errlen)
{
    if (len == 0)
        return core_errf(err, errlen, FMT ": empty message");
    if (len > lim->max_message_bytes)
        return core_errf(err, errlen, FMT ": message is %zu bytes, larger than the %zu-byte limit",
                         len, lim->max_message_bytes);
    const uint8_t *s = buf;
    if (s[0] == '{' || s[0] == '[')
        return core_errf(err, errlen, FMT ": the message is JSON, not protobuf (is the topic "
                                          "otlp_json?)");
    cJSON *req = coll_otlp_proto_read(buf, len, err, errlen);
    if (!req)
        return -1;
    int rc = coll_otel_map_request(lim, FMT, req, out, err, errlen);
    cJSON_Delete(req);
    return rc;
}

const coll_decoder coll_decoder_otlp_proto = {FMT, decode_otlp_proto, coll_redact_secrets, true};
