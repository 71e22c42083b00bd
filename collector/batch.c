/* Batches: COPY rows (text or binary), dead letters and kept events of one
 * partition. */
#include "collector/batch.h"

#include "collector/coll_stages.h"
#include "collector/redact_event.h"
#include "core/log.h"
#include "core/util.h"

#include <arpa/inet.h>
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

/* COPY binary (PostgreSQL's "Binary Format" of COPY): each tuple is an
 * int16 field count, then per field an int32 length (-1: NULL) and the
 * value in the type's send format, all integers in network byte order. */

#define PG_EPOCH_US 946684800000000LL /* 2000-01-01 in Unix microseconds */
#define PGSQL_AF_INET 2               /* PostgreSQL's inet families (utils/inet.h) */
#define PGSQL_AF_INET6 3

static const char k_bin_header[COLL_COPY_BIN_HEADER_LEN] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
static const char k_bin_trailer[COLL_COPY_BIN_TRAILER_LEN] = "\377\377";

const char *coll_copy_bin_header(void) { return k_bin_header; }
const char *coll_copy_bin_trailer(void) { return k_bin_trailer; }

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static int bin_len(coll_buf *b, int32_t len)
{
    unsigned char p[4];
    put_be(p, (uint32_t)len, 4);
    return coll_buf_add(b, p, 4);
}

static int bin_null(coll_buf *b) { return bin_len(b, -1); }

static int bin_int(coll_buf *b, uint64_t v, int n)
{
    unsigned char p[12];
    put_be(p, (uint32_t)n, 4);
    put_be(p + 4, v, n);
    return coll_buf_add(b, p, 4 + (size_t)n);
}

static int bin_bytes(coll_buf *b, const char *s, size_t n, bool jsonb)
{
    if (!s)
        return bin_null(b);
    if (n + (jsonb ? 1 : 0) > INT32_MAX)
        return -1;
    if (bin_len(b, (int32_t)(n + (jsonb ? 1 : 0))) < 0 || (jsonb && coll_buf_add(b, "\1", 1) < 0))
        return -1; /* jsonb's send format: version 1, then the JSON text */
    return coll_buf_add(b, s, n);
}

static int bin_str(coll_buf *b, const char *s) { return bin_bytes(b, s, s ? strlen(s) : 0, false); }
static int bin_json(coll_buf *b, const char *s) { return bin_bytes(b, s, s ? strlen(s) : 0, true); }
static int bin_ts(coll_buf *b, int64_t us) { return bin_int(b, (uint64_t)(us - PG_EPOCH_US), 8); }
static int bin_bool(coll_buf *b, bool v) { return bin_int(b, v ? 1 : 0, 1); }

/* inet's send format: family, mask bits, is_cidr, address length, address.
 * The decoders only hand over what inet_pton reads; anything else is sent
 * as family 0 followed by its text, which PostgreSQL refuses, so the row
 * becomes a dead letter exactly as its text would (coll_copy_bin_to_text
 * gives the text back). */
static int bin_inet(coll_buf *b, const char *s)
{
    if (!s)
        return bin_null(b);
    unsigned char p[4 + 16] = {0};
    size_t nb = 0, extra = 0;
    if (inet_pton(AF_INET, s, p + 4) == 1) {
        p[0] = PGSQL_AF_INET, p[1] = 32, nb = 4;
    } else if (inet_pton(AF_INET6, s, p + 4) == 1) {
        p[0] = PGSQL_AF_INET6, p[1] = 128, nb = 16;
    } else if ((extra = strlen(s)) > INT32_MAX - 4) {
        return -1;
    }
    p[3] = (unsigned char)nb;
    if (bin_len(b, (int32_t)(4 + nb + extra)) < 0 || coll_buf_add(b, p, 4 + nb) < 0)
        return -1;
    return coll_buf_add(b, s, extra);
}

int coll_copy_row_bin(coll_buf *b, const core_event *ev)
{
    size_t mark = b->len;
    unsigned char nf[2];
    put_be(nf, COLL_COPY_NCOLUMNS, 2);
    uint64_t lat;
    memcpy(&lat, &ev->latency_ms, sizeof lat);
    int rc = coll_buf_add(b, nf, 2);
    rc |= bin_ts(b, ev->ts_us);
    rc |= bin_str(b, ev->event_id);
    rc |= bin_str(b, ev->api_key_id);
    rc |= bin_str(b, ev->model);
    rc |= bin_str(b, ev->model_version);
    rc |= bin_str(b, ev->tenant);
    rc |= bin_str(b, ev->user_id);
    rc |= bin_str(b, ev->session_id);
    rc |= bin_inet(b, ev->client_ip);
    rc |= bin_bytes(b, ev->prompt, ev->prompt_len, false);
    rc |= bin_bytes(b, ev->response, ev->response_len, false);
    rc |= bin_bool(b, ev->prompt_truncated);
    rc |= bin_bool(b, ev->response_truncated);
    rc |= ev->prompt_tokens >= 0 ? bin_int(b, (uint64_t)ev->prompt_tokens, 8) : bin_null(b);
    rc |= ev->completion_tokens >= 0 ? bin_int(b, (uint64_t)ev->completion_tokens, 8)
                                     : bin_null(b);
    rc |= ev->has_latency ? bin_int(b, lat, 8) : bin_null(b);
    rc |= ev->has_status ? bin_int(b, (uint32_t)ev->status, 4) : bin_null(b);
    rc |= bin_str(b, ev->finish_reason);
    rc |= ev->refusal < 0 ? bin_null(b) : bin_bool(b, ev->refusal != 0);
    rc |= bin_json(b, ev->scores_json);
    rc |= bin_json(b, ev->attrs_json);
    rc |= bin_str(b, ev->topic);
    rc |= ev->partition >= 0 ? bin_int(b, (uint32_t)ev->partition, 4) : bin_null(b);
    rc |= ev->offset >= 0 ? bin_int(b, (uint64_t)ev->offset, 8) : bin_null(b);
    rc |= ev->kafka_ts_ms >= 0 ? bin_ts(b, ev->kafka_ts_ms * 1000) : bin_null(b);
    if (rc) {
        b->len = mark;
        return -1;
    }
    return 0;
}

/* The columns' types, in COLL_COPY_COLUMNS order, for reading a binary
 * tuple back as text. */
typedef enum { C_TS, C_TEXT, C_INET, C_BOOL, C_INT8, C_INT4, C_FLOAT8, C_JSONB } col_kind;
static const col_kind k_cols[COLL_COPY_NCOLUMNS] = {
    C_TS,   C_TEXT, C_TEXT, C_TEXT,   C_TEXT, C_TEXT,  C_TEXT,  C_TEXT,  C_INET,
    C_TEXT, C_TEXT, C_BOOL, C_BOOL,   C_INT8, C_INT8,  C_FLOAT8, C_INT4, C_TEXT,
    C_BOOL, C_JSONB, C_JSONB, C_TEXT, C_INT4, C_INT8,  C_TS};

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int coll_copy_bin_to_text(const void *tuple, size_t len, coll_buf *out)
{
    const unsigned char *p = tuple, *end = p + len;
    size_t mark = out->len;
    if (len < 2 || get_be(p, 2) != COLL_COPY_NCOLUMNS)
        return -1;
    p += 2;
    int rc = 0;
    for (int f = 0; f < COLL_COPY_NCOLUMNS && rc == 0; f++) {
        if (end - p < 4) {
            rc = -1;
            break;
        }
        int32_t n = (int32_t)(uint32_t)get_be(p, 4);
        p += 4;
        if (f)
            rc |= SEP(out);
        if (n < 0) {
            rc |= NUL(out);
            continue;
        }
        if (end - p < n) {
            rc = -1;
            break;
        }
        const unsigned char *v = p;
        p += n;
        switch (k_cols[f]) {
        case C_TEXT: rc |= add_text(out, (const char *)v, (size_t)n); break;
        case C_JSONB:
            rc |= n < 1 ? -1 : add_text(out, (const char *)v + 1, (size_t)n - 1);
            break;
        case C_BOOL: rc |= n != 1 ? -1 : coll_buf_add(out, v[0] ? "t" : "f", 1); break;
        case C_INT4:
            rc |= n != 4 ? -1 : add_fmt(out, "%d", (int)(int32_t)(uint32_t)get_be(v, 4));
            break;
        case C_INT8:
            rc |= n != 8 ? -1 : add_fmt(out, "%lld", (long long)(int64_t)get_be(v, 8));
            break;
        case C_FLOAT8: {
            double d;
            uint64_t u = get_be(v, 8);
            memcpy(&d, &u, sizeof d);
            rc |= n != 8 ? -1 : add_fmt(out, "%.17g", d);
            break;
        }
        case C_TS: rc |= n != 8 ? -1 : add_ts(out, (int64_t)get_be(v, 8) + PG_EPOCH_US); break;
        case C_INET: {
            char s[INET6_ADDRSTRLEN];
            int fam = n == 8 && v[0] == PGSQL_AF_INET && v[3] == 4       ? AF_INET
                      : n == 20 && v[0] == PGSQL_AF_INET6 && v[3] == 16 ? AF_INET6
                                                                        : 0;
            if (fam && inet_ntop(fam, v + 4, s, sizeof s))
                rc |= coll_buf_add(out, s, strlen(s));
            else if (n >= 4 && v[0] == 0) /* the text the encoder could not read */
                rc |= add_text(out, (const char *)v + 4, (size_t)n - 4);
            else
                rc = -1;
            break;
        }
        }
    }
    if (rc == 0 && p != end)
        rc = -1;
    rc |= rc ? 0 : coll_buf_add(out, "\n", 1);
    if (rc) {
        out->len = mark;
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
        b->binary = in->binary;
        if (!row || core_grow(&b->at, &b->cap_at, b->n_at, sizeof *b->at, 256) < 0 ||
            (in->binary ? coll_copy_row_bin(&b->copy, row) : coll_copy_row(&b->copy, row)) < 0)
            return -1;
        b->at[b->n_at++] = (coll_event_at){m->offset, d->index ? d->index[i] : (uint32_t)i,
                                           d->next_index, b->copy.len};
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
