/* The decoder registry: every format custos reads, one row each, listed in
 * one place, and the message -> N events contract around them (decode.h).
 * A new format is one file, decode_<name>.c, exporting its coll_decoder
 * row, and one line in g_builtin below. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/decode.h"
#include "core/util.h"

static const coll_decoder *const g_builtin[] = {
    &coll_decoder_native,
};

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
    if (core_grow(&out->evs, &out->cap, out->n, sizeof *out->evs, 1) < 0) {
        core_errf(err, errlen, "out of memory");
        return NULL;
    }
    core_event *ev = &out->evs[out->n++];
    memset(ev, 0, sizeof *ev);
    return ev;
}

void coll_decoded_reset(coll_decoded *out)
{
    for (size_t i = 0; i < out->n; i++)
        core_event_clear(&out->evs[i]);
    out->n = 0;
    out->failed_at = -1;
}

void coll_decoded_free(coll_decoded *out)
{
    coll_decoded_reset(out);
    free(out->evs);
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
    if (d->decode(lim, buf, len, out, err, errlen) == 0)
        return 0;
    long at = out->failed_at;
    if (at >= 0)
        name_event(at, err, errlen);
    coll_decoded_reset(out);
    out->failed_at = at;
    return -1;
}
