/* The decoder registry: every format custos reads, one row each, listed in
 * one place, and the message -> N events contract around them (decode.h).
 * A new format is one file, decode_<name>.c, exporting its coll_decoder
 * row, and one line in g_builtin below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "core/util.h"

static const coll_decoder *const g_builtin[] = {
    &coll_decoder_native,
    &coll_decoder_litellm,
    &coll_decoder_otlp_json,
    &coll_decoder_otlp_proto,
};

CORE_METRIC_DEFINE(coll_m_spans_skipped, CORE_COUNTER, "custos_spans_skipped_total",
                   "OTLP spans that are not GenAI inference spans, skipped (not dead letters)")

coll_otel_settings coll_otel = {"custos.api_key_id", "tenant.id"};

/* Decoders added at run time (coll_decoder_register): tests' own formats. */
#define EXTRA_MAX 8
static const coll_decoder *g_extra[EXTRA_MAX];
static size_t g_n_extra;

const coll_decoder *coll_decoder_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof g_builtin / sizeof g_builtin[0]; i++)
        if (strcmp(g_builtin[i]->name, name) == 0)
            return g_builtin[i];
    for (size_t i = 0; i < g_n_extra; i++)
        if (strcmp(g_extra[i]->name, name) == 0)
            return g_extra[i];
    return NULL;
}

const coll_decoder *coll_decoder_for(const core_config *cfg)
{
    return coll_decoder_find(cfg->coll_format);
}

void coll_decoders_configure(const core_config *cfg)
{
    if (cfg->otel_api_key_attribute)
        snprintf(coll_otel.api_key_attr, sizeof coll_otel.api_key_attr, "%s",
                 cfg->otel_api_key_attribute);
    if (cfg->otel_tenant_attribute)
        snprintf(coll_otel.tenant_attr, sizeof coll_otel.tenant_attr, "%s",
                 cfg->otel_tenant_attribute);
}

/* Walks kafka.topics ("a, b=otlp_proto"): calls fn with each entry's topic
 * and format (NULL: none named), n bytes each; stops when fn returns
 * non-zero and returns that. */
static int each_topic(const char *topics, int (*fn)(const char *t, size_t tn, const char *f,
                                                    size_t fn_, void *arg),
                      void *arg)
{
    const char *p = topics ? topics : "";
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if (e == p)
            break;
        const char *eq = memchr(p, '=', (size_t)(e - p));
        int rc = eq ? fn(p, (size_t)(eq - p), eq + 1, (size_t)(e - eq - 1), arg)
                    : fn(p, (size_t)(e - p), NULL, 0, arg);
        if (rc)
            return rc;
        p = e;
    }
    return 0;
}

typedef struct {
    const char *topic;
    const coll_decoder *found;
} topic_find;

static const coll_decoder *find_n(const char *name, size_t n)
{
    char tmp[64];
    if (n >= sizeof tmp)
        return NULL;
    memcpy(tmp, name, n);
    tmp[n] = '\0';
    return coll_decoder_find(tmp);
}

static int match_topic(const char *t, size_t tn, const char *f, size_t fn, void *arg)
{
    topic_find *tf = arg;
    if (!f || strlen(tf->topic) != tn || memcmp(tf->topic, t, tn) != 0)
        return 0;
    tf->found = find_n(f, fn);
    return 1;
}

const coll_decoder *coll_decoder_for_topic(const core_config *cfg, const char *topic)
{
    topic_find tf = {topic, NULL};
    if (topic && each_topic(cfg->kafka_topics, match_topic, &tf))
        return tf.found;
    return coll_decoder_for(cfg);
}

typedef struct {
    char *err;
    size_t errlen;
} topic_check;

static int check_topic(const char *t, size_t tn, const char *f, size_t fn, void *arg)
{
    topic_check *tc = arg;
    if (tn == 0)
        return core_errf(tc->err, tc->errlen, "kafka.topics: an entry '=%.*s' names no topic",
                         (int)fn, f);
    if (f && !find_n(f, fn))
        return core_errf(tc->err, tc->errlen,
                         "kafka.topics: topic %.*s: unknown format '%.*s' (one of native, "
                         "litellm, otlp_json, otlp_proto)",
                         (int)tn, t, (int)fn, f);
    return 0;
}

int coll_decoders_check(const core_config *cfg, char *err, size_t errlen)
{
    if (!coll_decoder_for(cfg))
        return core_errf(err, errlen, "collector.format: unknown format '%s'", cfg->coll_format);
    if (!cfg->otel_api_key_attribute || !cfg->otel_api_key_attribute[0] ||
        strlen(cfg->otel_api_key_attribute) >= sizeof coll_otel.api_key_attr)
        return core_errf(err, errlen, "otel.api_key_attribute must name an attribute (1-127 "
                                      "bytes)");
    if (!cfg->otel_tenant_attribute || !cfg->otel_tenant_attribute[0] ||
        strlen(cfg->otel_tenant_attribute) >= sizeof coll_otel.tenant_attr)
        return core_errf(err, errlen, "otel.tenant_attribute must name an attribute (1-127 "
                                      "bytes)");
    topic_check tc = {err, errlen};
    return each_topic(cfg->kafka_topics, check_topic, &tc) ? -1 : 0;
}

int coll_decoder_register(const coll_decoder *d)
{
    if (!d || !d->name || !d->decode || coll_decoder_find(d->name) || g_n_extra == EXTRA_MAX)
        return -1;
    g_extra[g_n_extra++] = d;
    return 0;
}

coll_limits coll_limits_default(void)
{
    coll_limits l = {1 << 20, 32 << 10, 64 << 10, 64 << 10};
    return l;
}

coll_limits coll_limits_from_config(const core_config *cfg)
{
    coll_limits l = {
        .max_message_bytes = (size_t)cfg->coll_max_message_bytes,
        .prompt_max_bytes = (size_t)cfg->coll_prompt_max_bytes,
        .response_max_bytes = (size_t)cfg->coll_response_max_bytes,
        .attrs_max_bytes = (size_t)cfg->coll_attrs_max_bytes,
    };
    return l;
}

/* ---- the events of one message ---- */

core_event *coll_decoded_add(coll_decoded *out, char *err, size_t errlen)
{
    if (out->n >= COLL_DECODED_MAX) {
        core_errf(err, errlen, "the message holds more than %d events", COLL_DECODED_MAX);
        return NULL;
    }
    if (core_grow(&out->evs, &out->cap, out->n, sizeof *out->evs, 1) < 0 ||
        core_grow(&out->index, &out->cap_index, out->n, sizeof *out->index, 1) < 0) {
        core_errf(err, errlen, "out of memory");
        return NULL;
    }
    out->index[out->n] = out->next_index++;
    core_event *ev = &out->evs[out->n++];
    memset(ev, 0, sizeof *ev);
    return ev;
}

int coll_decoded_refuse(coll_decoded *out, const char *reason)
{
    if (core_grow(&out->refused, &out->cap_refused, out->n_refused, sizeof *out->refused, 8) < 0)
        return -1;
    char *r = strdup(reason);
    if (!r)
        return -1;
    out->refused[out->n_refused++] = (coll_refused){out->next_index++, r};
    return 0;
}

void coll_decoded_skip(coll_decoded *out)
{
    out->next_index++;
    out->n_skipped++;
}

void coll_decoded_reset(coll_decoded *out)
{
    for (size_t i = 0; i < out->n; i++)
        core_event_clear(&out->evs[i]);
    for (size_t i = 0; i < out->n_refused; i++)
        free(out->refused[i].reason);
    out->n = 0;
    out->n_refused = 0;
    out->n_skipped = 0;
    out->next_index = 0;
    out->failed_at = -1;
}

void coll_decoded_free(coll_decoded *out)
{
    coll_decoded_reset(out);
    free(out->evs);
    free(out->index);
    free(out->refused);
    memset(out, 0, sizeof *out);
}

/* Puts "event I: " before the reason in err (cut to errlen). */
static void name_event(long index, char *err, size_t errlen)
{
    char pre[32];
    int k = snprintf(pre, sizeof pre, "event %ld: ", index);
    if (k <= 0 || errlen == 0 || (size_t)k >= errlen)
        return;
    size_t keep = strnlen(err, errlen - 1);
    if (keep > errlen - 1 - (size_t)k)
        keep = errlen - 1 - (size_t)k;
    memmove(err + k, err, keep);
    memcpy(err, pre, (size_t)k);
    err[k + keep] = '\0';
}

int coll_decode(const coll_decoder *d, const coll_limits *lim, const void *buf, size_t len,
                coll_decoded *out, char *err, size_t errlen)
{
    coll_decoded_reset(out);
    if (d->decode(lim, buf, len, out, err, errlen) == 0) {
        if (d->redact)
            for (size_t i = 0; i < out->n_refused; i++)
                d->redact(out->refused[i].reason, strlen(out->refused[i].reason));
        return 0;
    }
    long at = out->failed_at;
    if (at >= 0)
        name_event(at, err, errlen);
    if (d->redact)
        d->redact(err, strnlen(err, errlen));
    coll_decoded_reset(out);
    out->failed_at = at;
    return -1;
}
