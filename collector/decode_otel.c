/* OpenTelemetry GenAI spans: an OTLP ExportTraceServiceRequest
 * (opentelemetry-proto trace/v1, its JSON encoding by
 * docs/specification.md: hex trace and span ids, 64-bit integers as decimal
 * strings or numbers, lowerCamelCase keys, unknown fields ignored), each
 * GenAI inference span one event by the GenAI semantic conventions, current
 * and deprecated attribute names (docs/formats.md has the mapping). The
 * protobuf encoding is read into the same shape by decode_otlp_proto.c. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/decode_map.h"
#include "core/event.h"
#include "core/util.h"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Attribute look-ups, a span's thirty or so on each of its attributes
 * arrays, go through an index of the arrays last looked in: each key's
 * bytes, length and value, the first of each key (what a scan finds). It
 * holds pointers into the request, so coll_otel_map_request empties it
 * before and after (the request is not changed while it is mapped). */
#define ATTR_INDEXES 4
typedef struct {
    const char *k;
    size_t n;
    const cJSON *v;
} attr_ent;
typedef struct {
    const cJSON *arr; /* NULL: a free slot */
    int n;
    attr_ent e[COLL_MAP_MAX_ATTRS];
} attr_index;
static _Thread_local attr_index g_idx[ATTR_INDEXES];
static _Thread_local int g_idx_next;

static void attr_index_reset(void)
{
    for (int i = 0; i < ATTR_INDEXES; i++)
        g_idx[i].arr = NULL;
    g_idx_next = 0;
}

/* The index of attrs, built on first use; NULL when attrs holds more
 * attributes than an index (those are refused anyway: too_big). */
static const attr_index *attr_index_of(const cJSON *attrs)
{
    for (int i = 0; i < ATTR_INDEXES; i++)
        if (g_idx[i].arr == attrs)
            return &g_idx[i];
    attr_index *x = &g_idx[g_idx_next];
    int n = 0;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, attrs)
    {
        const cJSON *k = get(kv, "key");
        if (!cJSON_IsString(k))
            continue;
        if (n == COLL_MAP_MAX_ATTRS)
            return NULL;
        x->e[n++] = (attr_ent){k->valuestring, strlen(k->valuestring), get(kv, "value")};
    }
    x->arr = attrs;
    x->n = n;
    g_idx_next = (g_idx_next + 1) % ATTR_INDEXES;
    return x;
}

/* The AnyValue of attribute key in an attributes array, or NULL. */
static const cJSON *attr(const cJSON *attrs, const char *key)
{
    if (!attrs)
        return NULL;
    const attr_index *x = attr_index_of(attrs);
    if (x) {
        size_t n = strlen(key);
        for (int i = 0; i < x->n; i++)
            if (x->e[i].n == n && memcmp(x->e[i].k, key, n) == 0)
                return x->e[i].v;
        return NULL;
    }
    const cJSON *kv;
    cJSON_ArrayForEach(kv, attrs)
    {
        const cJSON *k = get(kv, "key");
        if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
            return get(kv, "value");
    }
    return NULL;
}

/* A string attribute (an int one in its decimal form, into tmp). */
static const char *attr_str(const cJSON *attrs, const char *key, char *tmp, size_t n)
{
    const cJSON *v = attr(attrs, key);
    const cJSON *s = get(v, "stringValue");
    if (cJSON_IsString(s) && s->valuestring[0])
        return s->valuestring;
    const cJSON *i = get(v, "intValue");
    if (tmp && cJSON_IsString(i) && i->valuestring[0]) {
        snprintf(tmp, n, "%s", i->valuestring);
        return tmp;
    }
    if (tmp && cJSON_IsNumber(i)) {
        snprintf(tmp, n, "%.0f", i->valuedouble);
        return tmp;
    }
    return NULL;
}

/* A 64-bit integer as OTLP/JSON writes it: a decimal string or a number. */
static bool int_of(const cJSON *v, int64_t *out)
{
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9.2e18)
            return false;
        *out = (int64_t)v->valuedouble;
        return true;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > 20)
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(v->valuestring, &end, 10);
    if (*end || errno)
        return false;
    *out = x;
    return true;
}

static bool attr_int(const cJSON *attrs, const char *key, int64_t *out)
{
    const cJSON *v = attr(attrs, key);
    if (!v)
        return false;
    const cJSON *i = get(v, "intValue");
    if (i)
        return int_of(i, out);
    const cJSON *d = get(v, "doubleValue");
    if (cJSON_IsNumber(d) && d->valuedouble == floor(d->valuedouble)) {
        *out = (int64_t)d->valuedouble;
        return true;
    }
    const cJSON *s = get(v, "stringValue");
    return s && int_of(s, out);
}

/* The plain JSON of an AnyValue (kvlists as objects, arrays as arrays),
 * NULL when it holds none; at most COLL_MAP_MAX_ARRAY values an array. */
static cJSON *plain(const cJSON *v, int depth)
{
    const cJSON *x;
    if (!v || depth > 16)
        return NULL;
    if ((x = get(v, "stringValue")) && cJSON_IsString(x))
        return cJSON_CreateString(x->valuestring);
    if ((x = get(v, "boolValue")) && cJSON_IsBool(x))
        return cJSON_CreateBool(cJSON_IsTrue(x));
    if ((x = get(v, "intValue"))) {
        int64_t i;
        return int_of(x, &i) ? cJSON_CreateNumber((double)i) : NULL;
    }
    if ((x = get(v, "doubleValue")) && cJSON_IsNumber(x))
        return cJSON_CreateNumber(x->valuedouble);
    if ((x = get(v, "arrayValue"))) {
        cJSON *a = cJSON_CreateArray();
        const cJSON *it;
        cJSON_ArrayForEach(it, get(x, "values"))
        {
            cJSON *p = plain(it, depth + 1);
            if (p)
                cJSON_AddItemToArray(a, p);
        }
        return a;
    }
    if ((x = get(v, "kvlistValue"))) {
        cJSON *o = cJSON_CreateObject();
        const cJSON *kv;
        cJSON_ArrayForEach(kv, get(x, "values"))
        {
            const cJSON *k = get(kv, "key");
            cJSON *p = plain(get(kv, "value"), depth + 1);
            if (cJSON_IsString(k) && p && !get(o, k->valuestring))
                cJSON_AddItemToObject(o, k->valuestring, p);
            else
                cJSON_Delete(p);
        }
        return o;
    }
    return NULL;
}

/* Structured content: the attribute as plain JSON, a JSON string parsed
 * ("may be a JSON string where structured attributes are not supported"),
 * else the string itself. */
static cJSON *content(const cJSON *attrs, const char *key)
{
    const cJSON *v = attr(attrs, key);
    if (!v)
        return NULL;
    cJSON *p = plain(v, 0);
    if (cJSON_IsString(p)) {
        const char *s = p->valuestring;
        size_t n = strlen(s);
        if (n && (s[0] == '[' || s[0] == '{')) {
            char why[64];
            cJSON *j = coll_map_parse(s, n, why, sizeof why);
            if (j) {
                cJSON_Delete(p);
                return j;
            }
        }
    }
    return p;
}

/* Arrays of attributes and values are bounded (huge ones are refused). */
static bool too_big(const cJSON *attrs, char *why, size_t whylen)
{
    int n = cJSON_GetArraySize(attrs);
    if (n > COLL_MAP_MAX_ATTRS) {
        core_errf(why, whylen, "%d attributes, more than %d", n, COLL_MAP_MAX_ATTRS);
        return true;
    }
    const cJSON *kv;
    cJSON_ArrayForEach(kv, attrs)
    {
        const cJSON *av = get(get(kv, "value"), "arrayValue");
        int m = cJSON_GetArraySize(get(av, "values"));
        if (m > COLL_MAP_MAX_ARRAY) {
            const cJSON *k = get(kv, "key");
            core_errf(why, whylen, "attribute %.64s holds %d values, more than %d",
                      cJSON_IsString(k) ? k->valuestring : "?", m, COLL_MAP_MAX_ARRAY);
            return true;
        }
    }
    return false;
}

/* A lowercase hex id of n digits, not all zero (the spec's invalid id). */
static bool hex_id(const char *s, size_t n, char *dst)
{
    if (!s || strlen(s) != n)
        return false;
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        nonzero |= c != '0';
        dst[i] = c;
    }
    dst[n] = '\0';
    return nonzero;
}

static bool is_inference(const cJSON *attrs)
{
    const char *op = attr_str(attrs, "gen_ai.operation.name", NULL, 0);
    if (op)
        return strcmp(op, "chat") == 0 || strcmp(op, "generate_content") == 0 ||
               strcmp(op, "text_completion") == 0 || strcmp(op, "completion") == 0;
    /* producers before the operation name: gen_ai.system with a model */
    return attr(attrs, "gen_ai.system") && attr(attrs, "gen_ai.request.model");
}

/* The attributes mapped into columns or content: not repeated in attrs. */
static bool mapped(const char *k)
{
    static const char *const names[] = {
        "gen_ai.request.model", "gen_ai.response.model", "user.id", "user.hash",
        "gen_ai.conversation.id", "session.id", "client.address", "gen_ai.input.messages",
        "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.prompt",
        "gen_ai.completion", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
        "gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens",
        "http.response.status_code", "gen_ai.response.finish_reasons", "gen_ai.tool.definitions"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(k, names[i]) == 0)
            return true;
    return strcmp(k, coll_otel.api_key_attr) == 0 || strcmp(k, coll_otel.tenant_attr) == 0;
}

/* Scalar attributes into dst: at most COLL_MAP_ATTRS_KEPT, strings cut. */
static void scalars(const cJSON *attrs, cJSON *dst, bool skip_mapped)
{
    const cJSON *kv;
    int kept = 0;
    cJSON_ArrayForEach(kv, attrs)
    {
        const cJSON *k = get(kv, "key");
        if (!cJSON_IsString(k) || !k->valuestring[0] || strlen(k->valuestring) > 128 ||
            (skip_mapped && mapped(k->valuestring)) || get(dst, k->valuestring))
            continue;
        cJSON *p = plain(get(kv, "value"), 0);
        if (!p || cJSON_IsArray(p) || cJSON_IsObject(p)) {
            const cJSON *fr = get(get(kv, "value"), "arrayValue");
            if (p && fr && cJSON_GetArraySize(p) <= 16 && strlen(k->valuestring) < 64)
                ; /* short arrays (finish reasons, stop sequences) are kept */
            else {
                cJSON_Delete(p);
                continue;
            }
        }
        if (cJSON_IsString(p) && strlen(p->valuestring) > COLL_MAP_ATTR_STR_MAX) {
            size_t c = core_utf8_cut(p->valuestring, strlen(p->valuestring),
                                     COLL_MAP_ATTR_STR_MAX);
            p->valuestring[c] = '\0';
        }
        cJSON_AddItemToObject(dst, k->valuestring, p);
        if (++kept >= COLL_MAP_ATTRS_KEPT)
            break;
    }
}

/* The span's events: content (gen_ai.client.inference.operation.details)
 * and evaluations (gen_ai.evaluation.result) into scores. */
static const cJSON *details_event(const cJSON *span)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, get(span, "events"))
    {
        const char *n = coll_map_str(e, "name");
        if (n && strcmp(n, "gen_ai.client.inference.operation.details") == 0)
            return get(e, "attributes");
    }
    return NULL;
}

static void evaluations(const cJSON *span, cJSON *scores)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, get(span, "events"))
    {
        const char *n = coll_map_str(e, "name");
        if (!n || strcmp(n, "gen_ai.evaluation.result") != 0)
            continue;
        const cJSON *a = get(e, "attributes");
        const char *name = attr_str(a, "gen_ai.evaluation.name", NULL, 0);
        const cJSON *v = attr(a, "gen_ai.evaluation.score.value");
        const cJSON *d = get(v, "doubleValue");
        int64_t i;
        double x;
        if (cJSON_IsNumber(d))
            x = d->valuedouble;
        else if (get(v, "intValue") && int_of(get(v, "intValue"), &i))
            x = (double)i;
        else
            continue;
        if (name && strlen(name) <= 64 && !get(scores, name) &&
            cJSON_GetArraySize(scores) < CORE_EVENT_SCORES_MAX)
            cJSON_AddNumberToObject(scores, name, x);
    }
}

/* The prompt: system instructions first, then the input messages. */
static cJSON *prompt_of(const cJSON *attrs)
{
    cJSON *sys = content(attrs, "gen_ai.system_instructions");
    cJSON *in = content(attrs, "gen_ai.input.messages");
    if (!in)
        in = content(attrs, "gen_ai.prompt"); /* obsoleted, still sent */
    cJSON *t = NULL;
    if (sys && in && cJSON_IsArray(in)) {
        cJSON *m = cJSON_CreateObject();
        coll_map_add_cs(m, "role", cJSON_CreateString("system"));
        cJSON_AddItemToObjectCS(m, "parts", sys);
        sys = NULL;
        cJSON_InsertItemInArray(in, 0, m);
        coll_map_messages_text(in, &t);
    } else if (in) {
        coll_map_messages_text(in, &t);
    } else if (sys) {
        cJSON *m = cJSON_CreateArray(), *o = cJSON_CreateObject();
        coll_map_add_cs(o, "role", cJSON_CreateString("system"));
        cJSON_AddItemToObjectCS(o, "parts", sys);
        sys = NULL;
        cJSON_AddItemToArray(m, o);
        coll_map_messages_text(m, &t);
        cJSON_Delete(m);
    }
    cJSON_Delete(sys);
    cJSON_Delete(in);
    return t;
}

/* The span's identity: ids, time, key, model and who sent it, into o.
 * Returns false with why when a required one is missing or bad. */
static bool span_identity(const cJSON *res, const cJSON *span, cJSON *o, char *tid, char *sid,
                          int64_t *start, char *why, size_t whylen)
{
    const cJSON *attrs = get(span, "attributes");
    if (!hex_id(coll_map_str(span, "traceId"), 32, tid))
        return !core_errf(why, whylen, "traceId is not 32 hex digits (not all zero)");
    if (!hex_id(coll_map_str(span, "spanId"), 16, sid))
        return !core_errf(why, whylen, "spanId is not 16 hex digits (not all zero)");
    if (too_big(attrs, why, whylen))
        return false;
    if (!int_of(get(span, "startTimeUnixNano"), start) || *start < 0)
        return !core_errf(why, whylen, "startTimeUnixNano is missing or not a non-negative integer");
    char tmp[2][32];
    const char *key = attr_str(attrs, coll_otel.api_key_attr, tmp[0], sizeof tmp[0]);
    if (!key)
        key = attr_str(res, coll_otel.api_key_attr, tmp[0], sizeof tmp[0]);
    if (!key)
        return !core_errf(why, whylen,
                          "no %s attribute on the span or its resource (otel.api_key_attribute)",
                          coll_otel.api_key_attr);
    const char *model = attr_str(attrs, "gen_ai.request.model", NULL, 0);
    const char *rmodel = attr_str(attrs, "gen_ai.response.model", NULL, 0);
    if (!model)
        model = rmodel;
    if (!model)
        return !core_errf(why, whylen, "no gen_ai.request.model or gen_ai.response.model");
    char ver[CORE_EVENT_VERSION_MAX + 64], ts[40], id[64];
    snprintf(id, sizeof id, "%s%s", tid, sid);
    coll_map_add_cs(o, "event_id", cJSON_CreateString(id));
    coll_map_add_cs(o, "ts", cJSON_CreateString(core_ts_format(*start / 1000, ts, sizeof ts)));
    coll_map_add_cs(o, "api_key_id", cJSON_CreateString(key));
    coll_map_add_cs(o, "model", cJSON_CreateString(model));
    coll_map_add_cs(o, "model_version", cJSON_CreateString(coll_map_version(
                                            model, rmodel ? rmodel : model, ver, sizeof ver)));
    const char *tenant = attr_str(attrs, coll_otel.tenant_attr, tmp[1], sizeof tmp[1]);
    if (!tenant)
        tenant = attr_str(res, coll_otel.tenant_attr, tmp[1], sizeof tmp[1]);
    coll_map_set_str(o, "tenant", tenant);
    const char *user = attr_str(attrs, "user.id", NULL, 0);
    coll_map_set_str(o, "user_id", user ? user : attr_str(attrs, "user.hash", NULL, 0));
    const char *sess = attr_str(attrs, "gen_ai.conversation.id", NULL, 0);
    coll_map_set_str(o, "session_id", sess ? sess : attr_str(attrs, "session.id", NULL, 0));
    coll_map_set_str(o, "client_ip", attr_str(attrs, "client.address", NULL, 0));
    return true;
}

/* What was said and how it ended: prompt, response, tokens, latency,
 * status, finish reason, refusal, evaluations, into o. */
static void span_outcome(const cJSON *span, int64_t start, cJSON *o)
{
    const cJSON *attrs = get(span, "attributes");
    const cJSON *det = details_event(span);
    /* content on the span's attributes, else on its details event */
    const cJSON *ca = attr(attrs, "gen_ai.input.messages") || attr(attrs, "gen_ai.prompt") ||
                              attr(attrs, "gen_ai.system_instructions") || !det
                          ? attrs
                          : det;
    cJSON *t = prompt_of(ca);
    if (t)
        cJSON_AddItemToObjectCS(o, "prompt", t);
    const cJSON *ra = attr(attrs, "gen_ai.output.messages") || attr(attrs, "gen_ai.completion") ||
                              !det
                          ? attrs
                          : det;
    cJSON *outm = content(ra, "gen_ai.output.messages");
    if (!outm)
        outm = content(ra, "gen_ai.completion");
    t = NULL;
    if (outm && coll_map_messages_text(outm, &t))
        cJSON_AddItemToObjectCS(o, "response", t);
    int64_t n, end;
    if (attr_int(attrs, "gen_ai.usage.input_tokens", &n) ||
        attr_int(attrs, "gen_ai.usage.prompt_tokens", &n))
        coll_map_add_cs(o, "prompt_tokens", cJSON_CreateNumber((double)n));
    if (attr_int(attrs, "gen_ai.usage.output_tokens", &n) ||
        attr_int(attrs, "gen_ai.usage.completion_tokens", &n))
        coll_map_add_cs(o, "completion_tokens", cJSON_CreateNumber((double)n));
    if (get(span, "endTimeUnixNano") && int_of(get(span, "endTimeUnixNano"), &end) && end > 0)
        coll_map_add_cs(o, "latency_ms", cJSON_CreateNumber((double)(end - start) / 1e6));
    if (attr_int(attrs, "http.response.status_code", &n))
        coll_map_add_cs(o, "status", cJSON_CreateNumber((double)n));
    /* finish reason: the span's list, else the first output message's */
    const cJSON *fr = get(get(attr(attrs, "gen_ai.response.finish_reasons"), "arrayValue"),
                          "values");
    const cJSON *f0 = get(cJSON_GetArrayItem(fr, 0), "stringValue");
    const char *finish = cJSON_IsString(f0) && f0->valuestring[0] ? f0->valuestring : NULL;
    if (!finish && cJSON_IsArray(outm))
        finish = coll_map_str(cJSON_GetArrayItem(outm, 0), "finish_reason");
    coll_map_set_str(o, "finish_reason", finish);
    /* refusal: only what the span says (OTel has no refusal flag): a
     * content_filter finish or a guardrail's deny is one, an allow is none,
     * else unknown (absent) */
    const char *dec = attr_str(attrs, "gen_ai.security.decision.type", NULL, 0);
    bool refused = (finish && strcmp(finish, "content_filter") == 0) ||
                   (dec && strcmp(dec, "deny") == 0);
    if (refused || (dec && strcmp(dec, "allow") == 0))
        coll_map_add_cs(o, "refusal", cJSON_CreateBool(refused));
    cJSON_Delete(outm);
    cJSON *scores = cJSON_CreateObject();
    evaluations(span, scores);
    if (cJSON_GetArraySize(scores) > 0)
        cJSON_AddItemToObjectCS(o, "scores", scores);
    else
        cJSON_Delete(scores);
}

/* attrs: the span's other attributes, where it came from, its resource. */
static void span_attrs(const cJSON *res, const cJSON *scope, const cJSON *span, const char *tid,
                       const char *sid, cJSON *o)
{
    char psid[17];
    cJSON *a = cJSON_CreateObject();
    scalars(get(span, "attributes"), a, true);
    coll_map_add_cs(a, "otel.trace_id", cJSON_CreateString(tid));
    coll_map_add_cs(a, "otel.span_id", cJSON_CreateString(sid));
    if (hex_id(coll_map_str(span, "parentSpanId"), 16, psid))
        coll_map_add_cs(a, "otel.parent_span_id", cJSON_CreateString(psid));
    coll_map_set_str(a, "otel.span_name", coll_map_str(span, "name"));
    const cJSON *code = get(get(span, "status"), "code");
    if (cJSON_IsNumber(code))
        coll_map_add_cs(a, "otel.status_code", cJSON_CreateNumber(code->valuedouble));
    coll_map_set_str(a, "otel.scope", coll_map_str(scope, "name"));
    cJSON *r = cJSON_CreateObject();
    scalars(res, r, false);
    cJSON_DeleteItemFromObjectCaseSensitive(r, coll_otel.api_key_attr);
    if (cJSON_GetArraySize(r) > 0)
        cJSON_AddItemToObjectCS(a, "resource", r);
    else
        cJSON_Delete(r);
    coll_map_add_cs(a, "source_format", cJSON_CreateString("otlp"));
    coll_map_redact_tree(a);
    cJSON_AddItemToObjectCS(o, "attrs", a);
}

/* The native object of one GenAI span; NULL with why. */
static cJSON *map_span(const cJSON *res, const cJSON *scope, const cJSON *span, char *why,
                       size_t whylen)
{
    char tid[33], sid[17];
    int64_t start;
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        core_errf(why, whylen, "out of memory");
        return NULL;
    }
    if (!span_identity(res, span, o, tid, sid, &start, why, whylen)) {
        cJSON_Delete(o);
        return NULL;
    }
    span_outcome(span, start, o);
    span_attrs(res, scope, span, tid, sid, o);
    return o;
}

static int map_request(const coll_limits *lim, const char *format, const cJSON *req,
                       coll_decoded *out, char *err, size_t errlen);

int coll_otel_map_request(const coll_limits *lim, const char *format, const cJSON *req,
                          coll_decoded *out, char *err, size_t errlen)
{
    attr_index_reset();
    int rc = map_request(lim, format, req, out, err, errlen);
    attr_index_reset();
    return rc;
}

static int map_request(const coll_limits *lim, const char *format, const cJSON *req,
                       coll_decoded *out, char *err, size_t errlen)
{
    if (!cJSON_IsObject(req))
        return core_errf(err, errlen, "%s: not an ExportTraceServiceRequest: not an object",
                         format);
    const cJSON *rss = get(req, "resourceSpans");
    if (!cJSON_IsArray(rss))
        return core_errf(err, errlen,
                         "%s: not an ExportTraceServiceRequest: no resourceSpans array", format);
    const cJSON *rs;
    cJSON_ArrayForEach(rs, rss)
    {
        const cJSON *res = get(get(rs, "resource"), "attributes");
        char why[400];
        if (too_big(res, why, sizeof why))
            return core_errf(err, errlen, "%s: a resource has %s", format, why);
        const cJSON *sss = get(rs, "scopeSpans");
        if (!sss)
            sss = get(rs, "instrumentationLibrarySpans"); /* before OTLP 0.15 */
        const cJSON *ss;
        cJSON_ArrayForEach(ss, sss)
        {
            const cJSON *scope = get(ss, "scope");
            if (!scope)
                scope = get(ss, "instrumentationLibrary");
            const cJSON *span;
            cJSON_ArrayForEach(span, get(ss, "spans"))
            {
                if (out->next_index >= COLL_DECODED_MAX)
                    return core_errf(err, errlen, "%s: the request holds more than %d spans",
                                     format, COLL_DECODED_MAX);
                if (!cJSON_IsObject(span)) {
                    if (coll_map_refuse(out, format, "span", "is not an object") < 0)
                        return core_errf(err, errlen, "out of memory");
                    continue;
                }
                if (!is_inference(get(span, "attributes"))) {
                    coll_decoded_skip(out);
                    continue;
                }
                cJSON *o = map_span(res, scope, span, why, sizeof why);
                int rc = o ? coll_map_event(lim, format, "span", o, out, err, errlen)
                           : coll_map_refuse(out, format, "span", "%s", why);
                cJSON_Delete(o);
                if (rc < 0)
                    return core_errf(err, errlen, "out of memory");
            }
        }
    }
    return 0;
}

static int decode_otlp_json(const coll_limits *lim, const void *buf, size_t len,
                            coll_decoded *out, char *err, size_t errlen)
{
    if (len == 0)
        return core_errf(err, errlen, "otlp_json: empty message");
    if (len > lim->max_message_bytes)
        return core_errf(err, errlen,
                         "otlp_json: message is %zu bytes, larger than the %zu-byte limit", len,
                         lim->max_message_bytes);
    char why[400];
    cJSON *j = coll_map_parse(buf, len, why, sizeof why);
    if (!j)
        return core_errf(err, errlen, "otlp_json: not an OTLP/JSON ExportTraceServiceRequest: %s",
                         why);
    int rc = coll_otel_map_request(lim, "otlp_json", j, out, err, errlen);
    cJSON_Delete(j);
    return rc;
}

const coll_decoder coll_decoder_otlp_json = {"otlp_json", decode_otlp_json, coll_redact_secrets,
                                             false};
