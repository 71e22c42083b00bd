/* Batches: COPY text rows, dead letters and kept events of one partition. */
#include "collector/batch.h"

#include "collector/coll_stages.h"
#include "collector/redact_event.h"
#include "core/log.h"
#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coll_buf_add(coll_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64 * 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void coll_buf_free(coll_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* COPY text format: backslash, newline, carriage return and tab escaped;
 * NUL never reaches here (the decoder refuses it). */
static int add_text(coll_buf *b, const char *s, size_t n)
{
    if (!s)
        return coll_buf_add(b, "\\N", 2);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: continue;
        }
        if (coll_buf_add(b, s + start, i - start) < 0 || coll_buf_add(b, esc, 2) < 0)
            return -1;
        start = i + 1;
    }
    return coll_buf_add(b, s + start, n - start);
}

static int add_str(coll_buf *b, const char *s) { return add_text(b, s, s ? strlen(s) : 0); }

static int add_fmt(coll_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_fmt(coll_buf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    return coll_buf_add(b, tmp, (size_t)n);
}

static int add_ts(coll_buf *b, int64_t us)
{
    char t[40];
    core_ts_format(us, t, sizeof t);
    return coll_buf_add(b, t, strlen(t));
}

#define SEP(b) coll_buf_add((b), "\t", 1)
#define NUL(b) coll_buf_add((b), "\\N", 2)

int coll_copy_row(coll_buf *b, const core_event *ev)
{
    size_t mark = b->len;
    int rc = 0;
    rc |= add_ts(b, ev->ts_us) | SEP(b);
    rc |= add_str(b, ev->event_id) | SEP(b);
    rc |= add_str(b, ev->api_key_id) | SEP(b);
    rc |= add_str(b, ev->model) | SEP(b);
    rc |= add_str(b, ev->model_version) | SEP(b);
    rc |= add_str(b, ev->tenant) | SEP(b);
    rc |= add_str(b, ev->user_id) | SEP(b);
    rc |= add_str(b, ev->session_id) | SEP(b);
    rc |= add_str(b, ev->client_ip) | SEP(b);
    rc |= add_text(b, ev->prompt, ev->prompt_len) | SEP(b);
    rc |= add_text(b, ev->response, ev->response_len) | SEP(b);
    rc |= coll_buf_add(b, ev->prompt_truncated ? "t" : "f", 1) | SEP(b);
    rc |= coll_buf_add(b, ev->response_truncated ? "t" : "f", 1) | SEP(b);
    rc |= (ev->prompt_tokens >= 0 ? add_fmt(b, "%lld", (long long)ev->prompt_tokens) : NUL(b)) |
          SEP(b);
    rc |= (ev->completion_tokens >= 0 ? add_fmt(b, "%lld", (long long)ev->completion_tokens)
                                      : NUL(b)) |
          SEP(b);
    rc |= (ev->has_latency ? add_fmt(b, "%.17g", ev->latency_ms) : NUL(b)) | SEP(b);
    rc |= (ev->has_status ? add_fmt(b, "%d", (int)ev->status) : NUL(b)) | SEP(b);
    rc |= add_str(b, ev->finish_reason) | SEP(b);
    rc |= (ev->refusal < 0 ? NUL(b) : coll_buf_add(b, ev->refusal ? "t" : "f", 1)) | SEP(b);
    rc |= add_str(b, ev->scores_json) | SEP(b);
    rc |= add_str(b, ev->attrs_json) | SEP(b);
    rc |= add_str(b, ev->topic) | SEP(b);
    rc |= (ev->partition >= 0 ? add_fmt(b, "%d", (int)ev->partition) : NUL(b)) | SEP(b);
    rc |= (ev->offset >= 0 ? add_fmt(b, "%lld", (long long)ev->offset) : NUL(b)) | SEP(b);
    rc |= (ev->kafka_ts_ms >= 0 ? add_ts(b, ev->kafka_ts_ms * 1000) : NUL(b));
    rc |= coll_buf_add(b, "\n", 1);
    if (rc) {
        b->len = mark;
        return -1;
    }
    return 0;
}

int coll_batch_reject(coll_batch *b, int64_t offset, int64_t kafka_ts_ms, int32_t index,
                      const char *reason, const void *raw, size_t raw_len, size_t raw_max,
                      coll_redact_fn redact, const void *key, size_t key_len)
{
    if (core_grow(&b->rej, &b->cap_rej, b->n_rej, sizeof *b->rej, 8) < 0)
        return -1;
    coll_rejected *r = &b->rej[b->n_rej];
    memset(r, 0, sizeof *r);
    r->offset = offset;
    r->kafka_ts_ms = kafka_ts_ms;
    r->index = index;
    r->raw_size = raw_len;
    r->raw_len = raw_len < raw_max ? raw_len : raw_max;
    r->reason = strdup(reason);
    r->raw = malloc(r->raw_len ? r->raw_len : 1);
    if (key && key_len) {
        r->key = malloc(key_len);
        if (r->key) {
            memcpy(r->key, key, key_len);
            r->key_len = key_len;
        }
    }
    if (!r->reason || !r->raw || (key_len && !r->key)) {
        free(r->reason);
        free(r->raw);
        free(r->key);
        return -1;
    }
    if (r->raw_len)
        memcpy(r->raw, raw, r->raw_len);
    if (redact)
        redact(r->raw, r->raw_len);
    b->n_rej++;
    return 0;
}

/* Stores the events of one decoded message as rows (and kept events). */
static int add_events(coll_batch *b, coll_intake *in, const coll_msg *m, size_t *kept_bytes)
{
    coll_decoded *d = &in->out;
    size_t topic_len = strlen(m->topic);
    for (size_t i = 0; i < d->n; i++) {
        core_event *ev = &d->evs[i];
        /* The event outlives the partition state when handed to the sink. */
        if (!(ev->topic = core_event_strdup(ev, m->topic, topic_len)))
            return -1;
        ev->partition = m->partition;
        ev->offset = m->offset;
        ev->kafka_ts_ms = m->kafka_ts_ms;
        /* the row holds the redacted text; the kept event, for the detectors, the original */
        const core_event *row = coll_redact_timed(in->redact, ev);
        if (!row || core_grow(&b->at, &b->cap_at, b->n_at, sizeof *b->at, 256) < 0 ||
            coll_copy_row(&b->copy, row) < 0)
            return -1;
        b->at[b->n_at++] = (coll_event_at){m->offset, d->index ? d->index[i] : (uint32_t)i,
                                           d->next_index};
        b->n_rows++;
        if (in->keep_events) {
            size_t cap = ev->arena_cap; /* the event's memory counts against the cap too */
            if (coll_batch_keep_event(b, ev) < 0)
                return -1;
            *kept_bytes += cap;
        }
    }
    return 0;
}

int coll_batch_add_message(coll_batch *b, coll_intake *in, const coll_msg *m,
                           size_t *kept_bytes, char *err, size_t errlen)
{
    int rc = 0;
    *kept_bytes = 0;
    const coll_decoder *dec = in->dec;
    if (in->cfg) {
        if (m->topic != in->last_topic) {
            in->last_topic = m->topic;
            in->last_dec = coll_decoder_for_topic(in->cfg, m->topic);
        }
        if (in->last_dec)
            dec = in->last_dec;
    }
    coll_decoded *d = &in->out;
    int64_t t0 = core_mono_us();
    int drc = coll_decode(dec, &in->lim, m->payload, m->len, d, err, errlen);
    int64_t t1 = core_mono_us();
    coll_stage_add(COLL_ST_DECODE, t1 - t0);
    if (drc == 0) {
        if (add_events(b, in, m, kept_bytes) < 0)
            rc = -1;
        coll_stage_add(COLL_ST_BUILD, core_mono_us() - t1);
        /* items refused one by one: a dead letter each, the message's raw
         * bytes kept with the first only */
        for (size_t k = 0; k < d->n_refused && rc == 0; k++) {
            coll_redact_mask(in->redact, d->refused[k].reason, strlen(d->refused[k].reason));
            if (coll_batch_reject(b, m->offset, m->kafka_ts_ms, (int32_t)d->refused[k].index,
                                  d->refused[k].reason, m->payload, m->len,
                                  k == 0 ? in->raw_max : 0, dec->redact, m->key, m->key_len) < 0)
                rc = -1;
            else
                coll_redact_mask(in->redact, b->rej[b->n_rej - 1].raw, b->rej[b->n_rej - 1].raw_len);
            if (rc == 0 && k == 0)
                snprintf(err, errlen, "%s", d->refused[k].reason);
        }
        if (rc == 0 && d->n_refused)
            rc = 1;
        if (d->n_skipped)
            core_metric_add(&coll_m_spans_skipped, d->n_skipped);
    } else {
        rc = 1;
        coll_redact_mask(in->redact, err, strnlen(err, errlen));
        if (coll_batch_reject(b, m->offset, m->kafka_ts_ms, -1, err, m->payload, m->len,
                              in->raw_max, dec->redact, m->key, m->key_len) < 0)
            rc = -1;
        else
            coll_redact_mask(in->redact, b->rej[b->n_rej - 1].raw, b->rej[b->n_rej - 1].raw_len);
    }
    coll_decoded_reset(&in->out);
    if (rc < 0)
        return -1;
    coll_batch_note_ts(b, m->kafka_ts_ms);
    b->n_msgs++;
    b->next_offset = m->offset + 1;
    return rc;
}

int coll_batch_keep_event(coll_batch *b, core_event *ev)
{
    if (core_grow(&b->evs, &b->cap_evs, b->n_evs, sizeof *b->evs, 256) < 0)
        return -1;
    b->evs[b->n_evs++] = *ev;
    memset(ev, 0, sizeof *ev);
    return 0;
}

int coll_batch_note_ts(coll_batch *b, int64_t kafka_ts_ms)
{
    if (core_grow(&b->kts, &b->cap_kts, b->n_kts, sizeof *b->kts, 256) < 0)
        return -1;
    b->kts[b->n_kts++] = kafka_ts_ms;
    return 0;
}

void coll_batch_free(coll_batch *b)
{
    if (!b)
        return;
    coll_buf_free(&b->copy);
    for (size_t i = 0; i < b->n_rej; i++) {
        free(b->rej[i].reason);
        free(b->rej[i].raw);
        free(b->rej[i].key);
    }
    free(b->rej);
    free(b->kts);
    free(b->at);
    for (size_t i = 0; i < b->n_evs; i++)
        core_event_clear(&b->evs[i]);
    free(b->evs);
    free(b);
}
