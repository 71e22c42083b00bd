/* custos gen --format (gen_format.h). */
#include "tools/gen_format.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "core/event.h"
#include "core/json_scan.h"

int tools_gen_format_find(const char *s)
{
    static const char *const names[] = {"native", "litellm", "otlp_json", "otlp_proto"};
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *provider_of(const char *model)
{
    if (!model)
        return "openai";
    if (strncmp(model, "claude", 6) == 0)
        return "anthropic";
    if (strncmp(model, "gemini", 6) == 0)
        return "gcp.gemini";
    if (strncmp(model, "llama", 5) == 0)
        return "aws.bedrock";
    if (strncmp(model, "mistral", 7) == 0)
        return "mistral_ai";
    return "openai";
}

/* ---- LiteLLM ---- */

static void add_iso(cJSON *o, const char *k, int64_t us)
{
    char t[40];
    cJSON_AddStringToObject(o, k, core_ts_format(us, t, sizeof t));
}

cJSON *tools_gen_litellm_payload(const cJSON *ev)
{
    const char *model = str(ev, "model"), *ver = str(ev, "model_version");
    char exact[512], routed[600];
    snprintf(exact, sizeof exact, "%s-%s", model, ver);
    const char *prov = strcmp(provider_of(model), "openai") == 0 ? "openai" : "bedrock";
    snprintf(routed, sizeof routed, "%s/%s", prov, exact);
    int64_t ts = 0;
    const char *tss = str(ev, "ts");
    core_ts_parse(tss, strlen(tss), &ts);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "id", str(ev, "event_id"));
    cJSON_AddStringToObject(p, "litellm_call_id", str(ev, "event_id"));
    cJSON_AddStringToObject(p, "call_type", "acompletion");
    cJSON_AddStringToObject(p, "custom_llm_provider", prov);
    cJSON_AddStringToObject(p, "model", exact);
    cJSON_AddStringToObject(p, "model_group", model);
    add_iso(p, "startTime", ts);
    const cJSON *lat = get(ev, "latency_ms");
    if (cJSON_IsNumber(lat))
        add_iso(p, "endTime", ts + llround(lat->valuedouble * 1000));
    cJSON *md = cJSON_AddObjectToObject(p, "metadata");
    cJSON_AddStringToObject(md, "user_api_key_hash", str(ev, "api_key_id"));
    if (str(ev, "tenant"))
        cJSON_AddStringToObject(md, "user_api_key_org_id", str(ev, "tenant"));
    if (str(ev, "user_id"))
        cJSON_AddStringToObject(p, "end_user", str(ev, "user_id"));
    if (str(ev, "session_id"))
        cJSON_AddStringToObject(p, "session_id", str(ev, "session_id"));
    if (str(ev, "client_ip"))
        cJSON_AddStringToObject(p, "requester_ip_address", str(ev, "client_ip"));
    cJSON *hp = cJSON_AddObjectToObject(p, "hidden_params");
    cJSON_AddStringToObject(hp, "litellm_model_name", routed);
    if (str(ev, "prompt")) {
        cJSON *msgs = cJSON_AddArrayToObject(p, "messages"), *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", "user");
        cJSON_AddStringToObject(m, "content", str(ev, "prompt"));
        cJSON_AddItemToArray(msgs, m);
    }
    const char *resp = str(ev, "response"), *finish = str(ev, "finish_reason");
    if (resp) {
        cJSON *r = cJSON_AddObjectToObject(p, "response");
        cJSON_AddStringToObject(r, "model", exact);
        cJSON *ch = cJSON_AddArrayToObject(r, "choices"), *c = cJSON_CreateObject();
        if (finish)
            cJSON_AddStringToObject(c, "finish_reason", finish);
        cJSON *m = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", resp);
        cJSON_AddItemToArray(ch, c);
    }
    const cJSON *pt = get(ev, "prompt_tokens"), *ct = get(ev, "completion_tokens");
    if (cJSON_IsNumber(pt))
        cJSON_AddNumberToObject(p, "prompt_tokens", pt->valuedouble);
    if (cJSON_IsNumber(ct))
        cJSON_AddNumberToObject(p, "completion_tokens", ct->valuedouble);
    if (cJSON_IsNumber(pt) && cJSON_IsNumber(ct))
        cJSON_AddNumberToObject(p, "total_tokens", pt->valuedouble + ct->valuedouble);
    const cJSON *st = get(ev, "status");
    if (cJSON_IsNumber(st)) {
        bool ok = st->valuedouble == 200;
        cJSON_AddStringToObject(p, "status", ok ? "success" : "failure");
        if (!ok) {
            char code[16];
            snprintf(code, sizeof code, "%d", (int)st->valuedouble);
            cJSON *ei = cJSON_AddObjectToObject(p, "error_information");
            cJSON_AddStringToObject(ei, "error_code", code);
            cJSON_AddStringToObject(ei, "error_class", "APIError");
        }
    }
    const cJSON *ref = get(ev, "refusal");
    if (cJSON_IsBool(ref)) {
        cJSON *sf = cJSON_AddObjectToObject(p, "status_fields");
        cJSON_AddStringToObject(sf, "llm_api_status", "success");
        cJSON_AddStringToObject(sf, "guardrail_status",
                                cJSON_IsTrue(ref) ? "guardrail_intervened" : "not_run");
    }
    const cJSON *sc = get(ev, "scores"), *s;
    if (cJSON_IsObject(sc)) {
        cJSON *gi = cJSON_AddArrayToObject(p, "guardrail_information");
        cJSON_ArrayForEach(s, sc)
        {
            cJSON *g = cJSON_CreateObject();
            cJSON_AddStringToObject(g, "guardrail_name", s->string);
            cJSON_AddStringToObject(g, "guardrail_mode", "pre_call");
            cJSON_AddNumberToObject(g, "risk_score", s->valuedouble);
            cJSON_AddItemToArray(gi, g);
        }
    }
    const cJSON *attrs = get(ev, "attrs");
    cJSON *mp = cJSON_AddObjectToObject(p, "model_parameters");
    if (get(attrs, "temperature"))
        cJSON_AddItemToObject(mp, "temperature", cJSON_Duplicate(get(attrs, "temperature"), 0));
    if (get(attrs, "max_tokens"))
        cJSON_AddItemToObject(mp, "max_tokens", cJSON_Duplicate(get(attrs, "max_tokens"), 0));
    if (get(attrs, "stream"))
        cJSON_AddItemToObject(p, "stream", cJSON_Duplicate(get(attrs, "stream"), 0));
    if (str(attrs, "sdk"))
        cJSON_AddStringToObject(p, "user_agent", str(attrs, "sdk"));
    return p;
}

/* ---- OTLP ---- */

static cJSON *kv(cJSON *attrs, const char *k)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "key", k);
    cJSON_AddItemToArray(attrs, e);
    return cJSON_AddObjectToObject(e, "value");
}

static void kv_str(cJSON *attrs, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(kv(attrs, k), "stringValue", v);
}

static void kv_int(cJSON *attrs, const char *k, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, v);
    cJSON_AddStringToObject(kv(attrs, k), "intValue", t);
}

static void kv_double(cJSON *attrs, const char *k, double v)
{
    cJSON_AddNumberToObject(kv(attrs, k), "doubleValue", v);
}

static void put_hex(char *dst, uint64_t v, int digits)
{
    static const char h[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--)
        *dst++ = h[(v >> (4 * i)) & 15];
    *dst = '\0';
}

static uint64_t hash(const char *s, uint64_t seed)
{
    uint64_t h = 1469598103934665603ull ^ seed;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 29) ? h ^ (h >> 29) : 1;
}

/* A JSON string of [{"role":..,"parts":[{"type":"text","content":..}]}]. */
static char *messages_json(const char *role, const char *text, const char *finish)
{
    cJSON *a = cJSON_CreateArray(), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON *parts = cJSON_AddArrayToObject(m, "parts"), *pt = cJSON_CreateObject();
    cJSON_AddStringToObject(pt, "type", "text");
    cJSON_AddStringToObject(pt, "content", text);
    cJSON_AddItemToArray(parts, pt);
    if (finish)
        cJSON_AddStringToObject(m, "finish_reason", finish);
    cJSON_AddItemToArray(a, m);
    char *s = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return s;
}

static cJSON *span_of(const cJSON *ev, unsigned long long i)
{
    int variant = (int)(i % 3); /* 0: current names; 1: deprecated names; 2: content in the details event */
    const char *model = str(ev, "model"), *ver = str(ev, "model_version");
    const char *id = str(ev, "event_id");
    char tid[33], sid[17], exact[512], name[300];
    put_hex(tid, hash(id, 1), 16);
    put_hex(tid + 16, hash(id, 2), 16);
    put_hex(sid, hash(id, 3), 16);
    snprintf(exact, sizeof exact, "%s-%s", model, ver);
    snprintf(name, sizeof name, "chat %s", model);
    int64_t ts = 0;
    const char *tss = str(ev, "ts");
    core_ts_parse(tss, strlen(tss), &ts);
    cJSON *sp = cJSON_CreateObject();
    cJSON_AddStringToObject(sp, "traceId", tid);
    cJSON_AddStringToObject(sp, "spanId", sid);
    cJSON_AddStringToObject(sp, "name", name);
    cJSON_AddNumberToObject(sp, "kind", 3);
    char t[32];
    snprintf(t, sizeof t, "%" PRId64, ts * 1000);
    cJSON_AddStringToObject(sp, "startTimeUnixNano", t);
    const cJSON *lat = get(ev, "latency_ms");
    if (cJSON_IsNumber(lat)) {
        snprintf(t, sizeof t, "%" PRId64, (int64_t)(ts * 1000 + llround(lat->valuedouble * 1e6)));
        cJSON_AddStringToObject(sp, "endTimeUnixNano", t);
    }
    cJSON *a = cJSON_AddArrayToObject(sp, "attributes");
    kv_str(a, "gen_ai.operation.name", "chat");
    kv_str(a, variant == 1 ? "gen_ai.system" : "gen_ai.provider.name", provider_of(model));
    kv_str(a, "gen_ai.request.model", model);
    kv_str(a, "gen_ai.response.model", exact);
    kv_str(a, "gen_ai.response.id", id);
    kv_str(a, "custos.api_key_id", str(ev, "api_key_id"));
    kv_str(a, "user.id", str(ev, "user_id"));
    kv_str(a, "gen_ai.conversation.id", str(ev, "session_id"));
    kv_str(a, "client.address", str(ev, "client_ip"));
    const cJSON *pt = get(ev, "prompt_tokens"), *ct = get(ev, "completion_tokens");
    if (cJSON_IsNumber(pt))
        kv_int(a, variant == 1 ? "gen_ai.usage.prompt_tokens" : "gen_ai.usage.input_tokens",
               (int64_t)pt->valuedouble);
    if (cJSON_IsNumber(ct))
        kv_int(a, variant == 1 ? "gen_ai.usage.completion_tokens" : "gen_ai.usage.output_tokens",
               (int64_t)ct->valuedouble);
    const cJSON *st = get(ev, "status");
    if (cJSON_IsNumber(st))
        kv_int(a, "http.response.status_code", (int64_t)st->valuedouble);
    const char *finish = str(ev, "finish_reason");
    if (finish) {
        cJSON *arr = cJSON_AddObjectToObject(kv(a, "gen_ai.response.finish_reasons"), "arrayValue");
        cJSON *vals = cJSON_AddArrayToObject(arr, "values"), *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "stringValue", finish);
        cJSON_AddItemToArray(vals, v);
    }
    /* the refusal as the security proposal's decision (deny / allow) */
    if (cJSON_IsBool(get(ev, "refusal")))
        kv_str(a, "gen_ai.security.decision.type", cJSON_IsTrue(get(ev, "refusal")) ? "deny"
                                                                                    : "allow");
    const cJSON *attrs = get(ev, "attrs");
    if (cJSON_IsNumber(get(attrs, "temperature")))
        kv_double(a, "gen_ai.request.temperature", get(attrs, "temperature")->valuedouble);
    if (cJSON_IsNumber(get(attrs, "max_tokens")))
        kv_int(a, "gen_ai.request.max_tokens", (int64_t)get(attrs, "max_tokens")->valuedouble);
    /* content: on the span, or on the details event */
    cJSON *events = cJSON_AddArrayToObject(sp, "events");
    cJSON *ca = a;
    if (variant == 2) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "timeUnixNano", t);
        cJSON_AddStringToObject(e, "name", "gen_ai.client.inference.operation.details");
        ca = cJSON_AddArrayToObject(e, "attributes");
        cJSON_AddItemToArray(events, e);
    }
    char *m;
    if (str(ev, "prompt") && (m = messages_json("user", str(ev, "prompt"), NULL))) {
        kv_str(ca, "gen_ai.input.messages", m);
        free(m);
    }
    if (str(ev, "response") && (m = messages_json("assistant", str(ev, "response"), finish))) {
        kv_str(ca, "gen_ai.output.messages", m);
        free(m);
    }
    const cJSON *sc = get(ev, "scores"), *s;
    cJSON_ArrayForEach(s, sc)
    {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "timeUnixNano", t);
        cJSON_AddStringToObject(e, "name", "gen_ai.evaluation.result");
        cJSON *ea = cJSON_AddArrayToObject(e, "attributes");
        kv_str(ea, "gen_ai.evaluation.name", s->string);
        kv_double(ea, "gen_ai.evaluation.score.value", s->valuedouble);
        cJSON_AddItemToArray(events, e);
    }
    cJSON *status = cJSON_AddObjectToObject(sp, "status");
    cJSON_AddNumberToObject(status, "code", cJSON_IsNumber(st) && st->valuedouble != 200 ? 2 : 1);
    return sp;
}

cJSON *tools_gen_otlp_request(cJSON *const *evs, size_t n, unsigned long long i0)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *rss = cJSON_AddArrayToObject(req, "resourceSpans");
    for (size_t k = 0; k < n; k++) {
        cJSON *rs = cJSON_CreateObject();
        cJSON *ra = cJSON_AddArrayToObject(cJSON_AddObjectToObject(rs, "resource"), "attributes");
        kv_str(ra, "service.name", "custos-gen");
        kv_str(ra, "tenant.id", str(evs[k], "tenant"));
        const char *region = str(get(evs[k], "attrs"), "region");
        kv_str(ra, "cloud.region", region);
        cJSON *ss = cJSON_CreateObject();
        cJSON *scope = cJSON_AddObjectToObject(ss, "scope");
        cJSON_AddStringToObject(scope, "name", "opentelemetry.instrumentation.openai_v2");
        cJSON_AddStringToObject(scope, "version", "2.1b0");
        cJSON *spans = cJSON_AddArrayToObject(ss, "spans");
        cJSON *sp = span_of(evs[k], i0 + k);
        cJSON_AddItemToArray(spans, sp);
        if (k == 0) {
            /* the HTTP span around the call: not GenAI, skipped */
            cJSON *h = cJSON_CreateObject();
            cJSON_AddStringToObject(h, "traceId", str(sp, "traceId"));
            char hid[17];
            put_hex(hid, hash(str(evs[k], "event_id"), 4), 16);
            cJSON_AddStringToObject(h, "spanId", hid);
            cJSON_AddStringToObject(h, "name", "POST");
            cJSON_AddNumberToObject(h, "kind", 3);
            cJSON_AddStringToObject(h, "startTimeUnixNano", str(sp, "startTimeUnixNano"));
            cJSON *ha = cJSON_AddArrayToObject(h, "attributes");
            kv_str(ha, "http.request.method", "POST");
            kv_int(ha, "http.response.status_code", 200);
            cJSON_AddItemToArray(spans, h);
        }
        cJSON_AddItemToArray(cJSON_AddArrayToObject(rs, "scopeSpans"), ss);
        cJSON_AddItemToArray(rss, rs);
    }
    return req;
}

/* ---- OTLP protobuf writer (the reader is collector/decode_otlp_proto.c) ---- */

static void w_varint(core_json_buf *b, uint64_t v)
{
    char t[10];
    size_t k = 0;
    do {
        t[k] = (char)(v & 0x7f);
        v >>= 7;
        if (v)
            t[k] |= (char)0x80;
        k++;
    } while (v);
    core_json_buf_put(b, t, k);
}

static void w_tag(core_json_buf *b, unsigned num, unsigned wt) { w_varint(b, num << 3 | wt); }

static void w_bytes(core_json_buf *b, unsigned num, const void *p, size_t n)
{
    w_tag(b, num, 2);
    w_varint(b, n);
    core_json_buf_put(b, p, n);
}

static void w_str(core_json_buf *b, unsigned num, const char *s)
{
    if (s)
        w_bytes(b, num, s, strlen(s));
}

static void w_fixed64(core_json_buf *b, unsigned num, uint64_t v)
{
    char t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (char)(v >> (8 * i));
    w_tag(b, num, 1);
    core_json_buf_put(b, t, 8);
}

/* A nested message: built in its own buffer, then written with its length. */
typedef void (*w_msg_fn)(core_json_buf *b, const cJSON *v);
static void w_msg(core_json_buf *b, unsigned num, w_msg_fn fn, const cJSON *v)
{
    core_json_buf sub;
    core_json_buf_init(&sub);
    fn(&sub, v);
    if (sub.oom)
        b->oom = true;
    w_bytes(b, num, sub.p, sub.n);
    core_json_buf_free(&sub);
}

static int unhex(const char *s, unsigned char *dst, size_t max)
{
    size_t n = strlen(s);
    if (n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        dst[i] = (unsigned char)v;
    }
    return (int)(n / 2);
}

static uint64_t u64_of(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return (uint64_t)v->valuedouble;
    return cJSON_IsString(v) ? strtoull(v->valuestring, NULL, 10) : 0;
}

static void w_any(core_json_buf *b, const cJSON *v);
static void w_kv(core_json_buf *b, const cJSON *kvp)
{
    w_str(b, 1, str(kvp, "key"));
    if (get(kvp, "value"))
        w_msg(b, 2, w_any, get(kvp, "value"));
}

static void w_values(core_json_buf *b, const cJSON *holder)
{
    const cJSON *it;
    bool kvl = get(holder, "kvlist") != NULL;
    (void)kvl;
    cJSON_ArrayForEach(it, get(holder, "values"))
    {
        if (get(it, "key"))
            w_msg(b, 1, w_kv, it);
        else
            w_msg(b, 1, w_any, it);
    }
}

static void w_any(core_json_buf *b, const cJSON *v)
{
    const cJSON *x;
    if ((x = get(v, "stringValue")))
        w_str(b, 1, x->valuestring);
    else if ((x = get(v, "boolValue"))) {
        w_tag(b, 2, 0);
        w_varint(b, cJSON_IsTrue(x));
    } else if ((x = get(v, "intValue"))) {
        w_tag(b, 3, 0);
        w_varint(b, (uint64_t)(cJSON_IsString(x) ? strtoll(x->valuestring, NULL, 10)
                                                 : (int64_t)x->valuedouble));
    } else if ((x = get(v, "doubleValue"))) {
        uint64_t u;
        memcpy(&u, &x->valuedouble, 8);
        w_fixed64(b, 4, u);
    } else if ((x = get(v, "arrayValue")))
        w_msg(b, 5, w_values, x);
    else if ((x = get(v, "kvlistValue")))
        w_msg(b, 6, w_values, x);
}

static void w_attrs(core_json_buf *b, unsigned num, const cJSON *attrs)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs)
    w_msg(b, num, w_kv, a);
}

static void w_resource(core_json_buf *b, const cJSON *r) { w_attrs(b, 1, get(r, "attributes")); }

static void w_scope(core_json_buf *b, const cJSON *s)
{
    w_str(b, 1, str(s, "name"));
    w_str(b, 2, str(s, "version"));
}

static void w_event(core_json_buf *b, const cJSON *e)
{
    w_fixed64(b, 1, u64_of(get(e, "timeUnixNano")));
    w_str(b, 2, str(e, "name"));
    w_attrs(b, 3, get(e, "attributes"));
}

static void w_status(core_json_buf *b, const cJSON *s)
{
    w_str(b, 2, str(s, "message"));
    if (cJSON_IsNumber(get(s, "code"))) {
        w_tag(b, 3, 0);
        w_varint(b, (uint64_t)get(s, "code")->valuedouble);
    }
}

static void w_span(core_json_buf *b, const cJSON *sp)
{
    static const char *const ids[] = {"traceId", "spanId", NULL, "parentSpanId"};
    for (unsigned k = 0; k < 4; k++) {
        unsigned char id[16];
        int n;
        if (ids[k] && str(sp, ids[k]) && (n = unhex(str(sp, ids[k]), id, sizeof id)) > 0)
            w_bytes(b, k + 1, id, (size_t)n);
    }
    w_str(b, 5, str(sp, "name"));
    if (cJSON_IsNumber(get(sp, "kind"))) {
        w_tag(b, 6, 0);
        w_varint(b, (uint64_t)get(sp, "kind")->valuedouble);
    }
    w_fixed64(b, 7, u64_of(get(sp, "startTimeUnixNano")));
    if (get(sp, "endTimeUnixNano"))
        w_fixed64(b, 8, u64_of(get(sp, "endTimeUnixNano")));
    w_attrs(b, 9, get(sp, "attributes"));
    const cJSON *e;
    cJSON_ArrayForEach(e, get(sp, "events"))
    w_msg(b, 11, w_event, e);
    if (get(sp, "status"))
        w_msg(b, 15, w_status, get(sp, "status"));
}

static void w_scope_spans(core_json_buf *b, const cJSON *ss)
{
    if (get(ss, "scope"))
        w_msg(b, 1, w_scope, get(ss, "scope"));
    const cJSON *sp;
    cJSON_ArrayForEach(sp, get(ss, "spans"))
    w_msg(b, 2, w_span, sp);
}

static void w_resource_spans(core_json_buf *b, const cJSON *rs)
{
    if (get(rs, "resource"))
        w_msg(b, 1, w_resource, get(rs, "resource"));
    const cJSON *ss;
    cJSON_ArrayForEach(ss, get(rs, "scopeSpans"))
    w_msg(b, 2, w_scope_spans, ss);
}

int tools_otlp_proto_encode(const cJSON *req, unsigned char **out, size_t *n)
{
    const cJSON *rss = get(req, "resourceSpans"), *rs;
    if (!cJSON_IsArray(rss))
        return -1;
    core_json_buf b;
    core_json_buf_init(&b);
    cJSON_ArrayForEach(rs, rss)
    w_msg(&b, 1, w_resource_spans, rs);
    *out = b.oom ? NULL : malloc(b.n ? b.n : 1);
    if (*out) {
        memcpy(*out, b.p, b.n);
        *n = b.n;
    }
    core_json_buf_free(&b);
    return *out ? 0 : -1;
}

/* ---- the conversion of gen's lines ---- */

static int write_json(FILE *out, cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    int rc = s ? coll_write_message(out, false, s, strlen(s)) : -1;
    free(s);
    return rc;
}

static int flush_otlp(int f, cJSON **evs, size_t n, unsigned long long i0, FILE *out)
{
    if (n == 0)
        return 0;
    cJSON *req = tools_gen_otlp_request(evs, n, i0);
    int rc;
    if (f == GF_OTLP_JSON) {
        rc = write_json(out, req);
    } else {
        unsigned char *b = NULL;
        size_t bn = 0;
        rc = tools_otlp_proto_encode(req, &b, &bn);
        if (rc == 0)
            rc = coll_write_message(out, true, b, bn);
        free(b);
    }
    cJSON_Delete(req);
    return rc;
}

int tools_gen_convert(int f, const char *buf, size_t len, unsigned long long i0, FILE *out)
{
    cJSON *evs[TOOLS_GEN_SPANS_PER_REQUEST];
    size_t n = 0;
    unsigned long long first = i0, i = i0;
    int rc = 0;
    for (size_t at = 0; at < len && rc == 0; i++) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t e = nl ? (size_t)(nl - buf) : len;
        cJSON *ev = cJSON_ParseWithLength(buf + at, e - at);
        at = e + 1;
        if (!ev) {
            rc = -1;
            break;
        }
        if (f == GF_LITELLM) {
            cJSON *p = tools_gen_litellm_payload(ev);
            rc = write_json(out, p);
            cJSON_Delete(p);
            cJSON_Delete(ev);
            continue;
        }
        evs[n++] = ev;
        if (n == TOOLS_GEN_SPANS_PER_REQUEST) {
            rc = flush_otlp(f, evs, n, first, out);
            for (size_t k = 0; k < n; k++)
                cJSON_Delete(evs[k]);
            n = 0;
            first = i + 1;
        }
    }
    if (rc == 0)
        rc = flush_otlp(f, evs, n, first, out);
    for (size_t k = 0; k < n; k++)
        cJSON_Delete(evs[k]);
    return rc;
}
