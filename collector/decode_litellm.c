/* LiteLLM's StandardLoggingPayload (BerriAI/litellm litellm/types/utils.py,
 * docs/my-website/docs/proxy/logging_spec.md): one payload per call, sent as
 * a single JSON object, a JSON array or NDJSON (the generic_api webhook's
 * log_format single | json_array | ndjson). Each payload is one event
 * (index: its place in the message); the mapping is docs/formats.md's. The
 * caller's bearer token and raw headers, which guardrail logs can carry, are
 * removed before anything is kept. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector/decode_map.h"
#include "core/event.h"
#include "core/json_scan.h"
#include "core/util.h"

#define FMT "litellm"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A time as LiteLLM writes it: epoch seconds (float) or an ISO string, with
 * or without a zone (Python's isoformat() of a naive UTC datetime has none;
 * str() puts a space before the time). Microseconds since the epoch. */
static bool time_of(const cJSON *v, int64_t *us)
{
    if (cJSON_IsNumber(v)) {
        if (!(v->valuedouble >= 0 && v->valuedouble < 4102444800.0))
            return false;
        *us = llround(v->valuedouble * 1e6);
        return true;
    }
    if (!cJSON_IsString(v))
        return false;
    char t[64];
    size_t n = strlen(v->valuestring);
    if (n < 10 || n > 48)
        return false;
    memcpy(t, v->valuestring, n + 1);
    if (n > 10 && t[10] == ' ')
        t[10] = 'T';
    bool zone = t[n - 1] == 'Z' || t[n - 1] == 'z' ||
                (n > 6 && (t[n - 6] == '+' || t[n - 6] == '-') && t[n - 3] == ':');
    if (!zone)
        memcpy(t + n++, "Z", 2);
    return core_ts_parse(t, n, us) == 0;
}

/* "success" -> 200; "failure" -> error_information.error_code when it is an
 * HTTP status, else 500. */
static bool status_of(const cJSON *p, int *status)
{
    const char *s = coll_map_str(p, "status");
    if (!s)
        return false;
    if (strcmp(s, "success") == 0) {
        *status = 200;
        return true;
    }
    if (strcmp(s, "failure") != 0)
        return false;
    *status = 500;
    const cJSON *code = get(get(p, "error_information"), "error_code");
    double d = cJSON_IsNumber(code) ? code->valuedouble
               : cJSON_IsString(code) ? strtod(code->valuestring, NULL) : 0;
    if (d >= 100 && d <= 599 && d == floor(d))
        *status = (int)d;
    return true;
}

static const char *first_str(const cJSON *a, const char *k1, const cJSON *b, const char *k2,
                             const cJSON *c, const char *k3)
{
    const char *s = a ? coll_map_str(a, k1) : NULL;
    if (!s && b)
        s = coll_map_str(b, k2);
    if (!s && c)
        s = coll_map_str(c, k3);
    return s;
}

/* Guardrail results into scores: a guardrail's risk_score as its name,
 * its confidence_score as NAME.confidence; violation_categories and
 * masked_entity_count go to attrs with the rest of guardrail_information. */
static void guardrail_scores(const cJSON *gi, cJSON *scores, bool *blocked)
{
    const cJSON *g;
    cJSON_ArrayForEach(g, gi)
    {
        const char *name = coll_map_str(g, "guardrail_name");
        const char *action = coll_map_str(g, "guardrail_action");
        if (action && (strcasecmp(action, "block") == 0 || strcasecmp(action, "blocked") == 0 ||
                       strcasecmp(action, "deny") == 0))
            *blocked = true;
        if (!name || strlen(name) > 48 || cJSON_GetArraySize(scores) >= 32)
            continue;
        const cJSON *risk = get(g, "risk_score"), *conf = get(g, "confidence_score");
        if (cJSON_IsNumber(risk) && !get(scores, name))
            cJSON_AddNumberToObject(scores, name, risk->valuedouble);
        char k[64];
        snprintf(k, sizeof k, "%s.confidence", name);
        if (cJSON_IsNumber(conf) && !get(scores, k))
            cJSON_AddNumberToObject(scores, k, conf->valuedouble);
    }
}

/* attrs: what the payload says beside the columns (docs/formats.md). */
static void add_attrs(const cJSON *p, const cJSON *meta, cJSON *attrs)
{
    static const char *const top[] = {"call_type", "custom_llm_provider", "api_base",
                                      "response_cost", "cache_hit", "request_tags", "user_agent",
                                      "trace_id", "litellm_call_id", "call_id", "model_id",
                                      "model_group", "stream", "response_time",
                                      "completionStartTime", "model_parameters"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
        const cJSON *v = get(p, top[i]);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(attrs, top[i], cJSON_Duplicate(v, true));
    }
    static const char *const md[] = {"user_api_key_alias", "user_api_key_team_alias",
                                     "user_api_key_org_alias", "user_api_key_team_id",
                                     "user_api_key_org_id", "user_api_key_user_email",
                                     "user_api_key_request_route", "applied_guardrails",
                                     "spend_logs_metadata", "requester_metadata"};
    for (size_t i = 0; i < sizeof md / sizeof md[0]; i++) {
        const cJSON *v = get(meta, md[i]);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(attrs, md[i], cJSON_Duplicate(v, true));
    }
    const cJSON *hp = get(p, "hidden_params");
    const cJSON *ah = get(hp, "additional_headers");
    if (cJSON_IsObject(ah))
        cJSON_AddItemToObjectCS(attrs, "additional_headers", cJSON_Duplicate(ah, true));
    const cJSON *sf = get(p, "status_fields");
    if (cJSON_IsObject(sf))
        cJSON_AddItemToObjectCS(attrs, "status_fields", cJSON_Duplicate(sf, true));
    const cJSON *ei = get(p, "error_information");
    if (cJSON_IsObject(ei)) {
        cJSON *e = cJSON_Duplicate(ei, true);
        cJSON_DeleteItemFromObjectCaseSensitive(e, "traceback"); /* long, and paths */
        cJSON_AddItemToObjectCS(attrs, "error_information", e);
    }
    coll_map_add_cs(attrs, "source_format", cJSON_CreateString(FMT));
    coll_map_redact_tree(attrs);
}

/* The native object of one payload p; NULL with the reason in why. */
static cJSON *map_payload(const cJSON *p, char *why, size_t whylen)
{
    if (!cJSON_IsObject(p)) {
        core_errf(why, whylen, "is not a JSON object");
        return NULL;
    }
    const cJSON *meta = get(p, "metadata");
    const char *id = first_str(p, "id", p, "litellm_call_id", p, "call_id");
    if (!id) {
        core_errf(why, whylen, "is not a StandardLoggingPayload: no id, litellm_call_id or call_id");
        return NULL;
    }
    int64_t start_us, end_us;
    if (!time_of(get(p, "startTime"), &start_us)) {
        core_errf(why, whylen, get(p, "startTime") ? "startTime is neither epoch seconds nor an ISO time"
                                                   : "required field startTime is missing");
        return NULL;
    }
    const char *key = coll_map_str(meta, "user_api_key_hash");
    if (!key) {
        core_errf(why, whylen, "no metadata.user_api_key_hash (the virtual key's hash): the api key "
                               "is required");
        return NULL;
    }
    const char *model = first_str(p, "model_group", p, "model", NULL, NULL);
    if (!model) {
        core_errf(why, whylen, "no model_group or model");
        return NULL;
    }
    const cJSON *resp = get(p, "response");
    const cJSON *choice0 = cJSON_GetArrayItem(get(resp, "choices"), 0);
    const cJSON *hp = get(p, "hidden_params");
    const char *exact = first_str(resp, "model", hp, "litellm_model_name", p, "model");
    if (!exact)
        exact = model; /* only model_group named it */
    const char *provider = coll_map_str(p, "custom_llm_provider");
    if (provider && strncmp(exact, provider, strlen(provider)) == 0 &&
        exact[strlen(provider)] == '/')
        exact += strlen(provider) + 1; /* litellm_model_name is provider/model */
    char ver[CORE_EVENT_VERSION_MAX + 64];
    cJSON *o = cJSON_CreateObject(), *attrs = cJSON_CreateObject();
    if (!o || !attrs) {
        cJSON_Delete(o);
        cJSON_Delete(attrs);
        core_errf(why, whylen, "out of memory");
        return NULL;
    }
    char ts[40];
    coll_map_add_cs(o, "event_id", cJSON_CreateString(id));
    coll_map_add_cs(o, "ts", cJSON_CreateString(core_ts_format(start_us, ts, sizeof ts)));
    coll_map_add_cs(o, "api_key_id", cJSON_CreateString(key));
    coll_map_add_cs(o, "model", cJSON_CreateString(model));
    coll_map_add_cs(o, "model_version",
                    cJSON_CreateString(coll_map_version(model, exact, ver, sizeof ver)));
    coll_map_set_str(o, "tenant", first_str(meta, "user_api_key_org_id", meta,
                                            "user_api_key_team_id", NULL, NULL));
    coll_map_set_str(o, "user_id", first_str(p, "end_user", meta, "user_api_key_end_user_id", meta,
                                             "user_api_key_user_id"));
    coll_map_set_str(o, "session_id", first_str(p, "session_id", p, "trace_id", NULL, NULL));
    coll_map_set_str(o, "client_ip",
                     first_str(p, "requester_ip_address", meta, "requester_ip_address", NULL, NULL));
    cJSON *t = NULL;
    if (coll_map_messages_text(get(p, "messages"), &t))
        cJSON_AddItemToObjectCS(o, "prompt", t);
    t = NULL;
    const cJSON *content = get(get(choice0, "message"), "content");
    if (cJSON_IsString(resp))
        coll_map_add_cs(o, "response", cJSON_CreateString(resp->valuestring));
    else if (content && coll_map_messages_text(content, &t))
        cJSON_AddItemToObjectCS(o, "response", t);
    const cJSON *pt = get(p, "prompt_tokens"), *ct = get(p, "completion_tokens");
    if (cJSON_IsNumber(pt))
        cJSON_AddItemToObjectCS(o, "prompt_tokens", cJSON_Duplicate(pt, false));
    if (cJSON_IsNumber(ct))
        cJSON_AddItemToObjectCS(o, "completion_tokens", cJSON_Duplicate(ct, false));
    if (time_of(get(p, "endTime"), &end_us))
        coll_map_add_cs(o, "latency_ms", cJSON_CreateNumber((double)(end_us - start_us) / 1e3));
    int status;
    if (status_of(p, &status))
        coll_map_add_cs(o, "status", cJSON_CreateNumber(status));
    const char *finish = coll_map_str(choice0, "finish_reason");
    coll_map_set_str(o, "finish_reason", finish);
    const char *gs = coll_map_str(get(p, "status_fields"), "guardrail_status");
    bool blocked = gs && strcmp(gs, "guardrail_intervened") == 0;
    cJSON *scores = cJSON_CreateObject();
    guardrail_scores(get(p, "guardrail_information"), scores, &blocked);
    if (finish && strcmp(finish, "content_filter") == 0)
        blocked = true;
    if (blocked || gs)
        coll_map_add_cs(o, "refusal", cJSON_CreateBool(blocked));
    if (cJSON_GetArraySize(scores) > 0)
        cJSON_AddItemToObjectCS(o, "scores", scores);
    else
        cJSON_Delete(scores);
    add_attrs(p, meta, attrs);
    cJSON_AddItemToObjectCS(o, "attrs", attrs);
    return o;
}

static int one_payload(const coll_limits *lim, const cJSON *p, coll_decoded *out, char *err,
                       size_t errlen)
{
    char why[400];
    cJSON *o = map_payload(p, why, sizeof why);
    if (!o)
        return coll_map_refuse(out, FMT, "payload", "%s", why) < 0
                   ? core_errf(err, errlen, "out of memory")
                   : 0;
    int rc = coll_map_event(lim, FMT, "payload", o, out, err, errlen);
    cJSON_Delete(o);
    return rc;
}

/* NDJSON: one payload a line; a bad line is refused alone. */
static int ndjson(const coll_limits *lim, const unsigned char *s, size_t len, coll_decoded *out,
                  char *err, size_t errlen)
{
    for (size_t i = 0; i < len;) {
        const unsigned char *nl = memchr(s + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - s) : len;
        size_t a = i;
        while (a < e && core_json_is_ws(s[a]))
            a++;
        if (a < e) {
            char why[400];
            cJSON *p = coll_map_parse(s + a, e - a, why, sizeof why);
            int rc = p ? one_payload(lim, p, out, err, errlen)
                       : coll_map_refuse(out, FMT, "line", "not JSON: %s", why);
            cJSON_Delete(p);
            if (rc < 0)
                return rc;
        }
        i = e + 1;
    }
    return 0;
}

static int decode_litellm(const coll_limits *lim, const void *buf, size_t len, coll_decoded *out,
                          char *err, size_t errlen)
{
    const unsigned char *s = buf;
    char why[400];
    if (len == 0)
        return core_errf(err, errlen, FMT ": empty message");
    if (len > lim->max_message_bytes)
        return core_errf(err, errlen, FMT ": message is %zu bytes, larger than the %zu-byte limit",
                         len, lim->max_message_bytes);
    long bad = core_utf8_invalid_at(s, len);
    if (bad >= 0)
        return core_errf(err, errlen, FMT ": invalid UTF-8 at offset %ld", bad);
    cJSON *j = coll_map_parse(s, len, why, sizeof why);
    int rc = 0;
    if (j && cJSON_IsArray(j)) {
        if (cJSON_GetArraySize(j) > COLL_MAP_MAX_ARRAY)
            rc = core_errf(err, errlen, FMT ": a JSON array of more than %d payloads",
                           COLL_MAP_MAX_ARRAY);
        const cJSON *p;
        cJSON_ArrayForEach(p, j)
        {
            if (rc == 0)
                rc = one_payload(lim, p, out, err, errlen);
        }
    } else if (j && cJSON_IsObject(j)) {
        rc = one_payload(lim, j, out, err, errlen);
    } else if (!j && memchr(s, '\n', len) && len > 0) {
        /* several lines that are not one JSON value: NDJSON */
        size_t a = 0;
        while (a < len && core_json_is_ws(s[a]))
            a++;
        if (a < len && s[a] == '{')
            rc = ndjson(lim, s, len, out, err, errlen);
        else
            rc = core_errf(err, errlen,
                           FMT ": not a StandardLoggingPayload JSON object, array or NDJSON: %s",
                           why);
    } else if (j) {
        rc = core_errf(err, errlen,
                       FMT ": a JSON %s is not a StandardLoggingPayload (an object, an array of "
                       "them, or NDJSON)",
                       cJSON_IsString(j) ? "string" : cJSON_IsNumber(j) ? "number" : "literal");
    } else {
        rc = core_errf(err, errlen,
                       FMT ": not a StandardLoggingPayload JSON object, array or NDJSON: %s", why);
    }
    cJSON_Delete(j);
    /* one payload in the message, refused: the message is the dead letter */
    if (rc == 0 && out->n == 0 && out->n_refused == 1 && out->next_index == 1) {
        snprintf(err, errlen, "%s", out->refused[0].reason);
        out->failed_at = -1;
        return -1;
    }
    return rc;
}

const coll_decoder coll_decoder_litellm = {FMT, decode_litellm, coll_redact_secrets, false};
