/* Redaction at ingest (redact_event.h): the stored copy of an event's text
 * with each finding replaced by "[redacted:CLASS]" (mask) or
 * "[CLASS:HMAC48]" (pseudonymise: the first 12 hex digits of the value's
 * HMAC-SHA256 under the instance's key, so one value is one token in every
 * row, across restarts). attrs are JSON: its string values are redacted one
 * by one (parsed only when the raw text has a finding), so a token never
 * lands inside an escape and the object stays valid. */
#include "collector/redact_event.h"

#include "collector/coll_stages.h"
#include "core/log.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HITS 64

typedef struct {
    char *p;
    size_t len, cap;
} rd_buf;

struct coll_redactor {
    unsigned mask;     /* classes not off */
    unsigned pseudo;   /* classes pseudonymised */
    unsigned char key[CORE_PSEUDONYM_KEY_BYTES];
    rd_buf out[3];     /* prompt, response, a string of attrs */
    char *attrs;       /* the redacted attrs (cJSON_PrintUnformatted's) */
    core_event view;
};

static unsigned class_bits(coll_rd_mode m, unsigned classes) { return m == COLL_RD_OFF ? 0 : classes; }

coll_redactor *coll_redactor_new(coll_rd_mode secrets, coll_rd_mode personal,
                                 const unsigned char *key)
{
    if ((secrets == COLL_RD_PSEUDONYMISE || personal == COLL_RD_PSEUDONYMISE) && !key)
        return NULL;
    coll_redactor *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->mask = class_bits(secrets, CORE_RD_SECRETS) | class_bits(personal, CORE_RD_PERSONAL);
    r->pseudo = (secrets == COLL_RD_PSEUDONYMISE ? CORE_RD_SECRETS : 0) |
                (personal == COLL_RD_PSEUDONYMISE ? CORE_RD_PERSONAL : 0);
    if (key)
        memcpy(r->key, key, sizeof r->key);
    return r;
}

static coll_rd_mode mode_of(const char *s)
{
    if (strcmp(s, "mask") == 0)
        return COLL_RD_MASK;
    if (strcmp(s, "pseudonymise") == 0)
        return COLL_RD_PSEUDONYMISE;
    return COLL_RD_OFF;
}

int coll_redactor_open(const core_config *cfg, coll_redactor **out, char *err, size_t errlen)
{
    *out = NULL;
    coll_rd_mode s = mode_of(cfg->coll_redact_secrets), p = mode_of(cfg->coll_redact_personal);
    if (s == COLL_RD_OFF && p == COLL_RD_OFF)
        return 0;
    unsigned char key[CORE_PSEUDONYM_KEY_BYTES];
    bool need = s == COLL_RD_PSEUDONYMISE || p == COLL_RD_PSEUDONYMISE;
    if (need && !*cfg->coll_redact_key) {
        snprintf(err, errlen, "collector.redact_%s is pseudonymise: set collector.redact_key (the "
                 "path of the pseudonym key file; it is made at first start)",
                 s == COLL_RD_PSEUDONYMISE ? "secrets" : "personal");
        return -1;
    }
    if (need && core_pseudonym_key_load(cfg->coll_redact_key, true, key, err, errlen) < 0)
        return -1;
    *out = coll_redactor_new(s, p, need ? key : NULL);
    sodium_memzero(key, sizeof key);
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void coll_redactor_free(coll_redactor *r)
{
    if (!r)
        return;
    for (int i = 0; i < 3; i++)
        free(r->out[i].p);
    free(r->attrs);
    sodium_memzero(r->key, sizeof r->key);
    free(r);
}

static int put(rd_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* The replacement of t[h->from..h->to) into b. */
static int token(const coll_redactor *r, rd_buf *b, const char *t, const core_rd_hit *h)
{
    char tok[64];
    const char *name = core_rd_class_name(h->cls);
    int k;
    if (r->pseudo & (1u << h->cls)) {
        char hex[65];
        core_pseudonym_hex(r->key, t + h->from, h->to - h->from, hex);
        k = snprintf(tok, sizeof tok, "[%s:%.*s]", name, CORE_PSEUDONYM_HEX, hex);
    } else {
        k = snprintf(tok, sizeof tok, "[redacted:%s]", name);
    }
    return put(b, tok, (size_t)k);
}

/* Redacts t into b (b emptied first); 0 when nothing was found (b unused),
 * 1 when b holds the text, -1 out of memory. */
static int redact_into(const coll_redactor *r, rd_buf *b, const char *t, size_t n)
{
    core_rd_hit hits[HITS];
    size_t base = 0, done = 0;
    bool any = false;
    b->len = 0;
    while (base < n) {
        size_t nh = core_rd_scan(t + base, n - base, r->mask, hits, HITS);
        if (nh == 0)
            break;
        any = true;
        size_t take = nh < HITS ? nh : HITS;
        for (size_t i = 0; i < take; i++) {
            core_rd_hit h = hits[i];
            h.from += (uint32_t)base;
            h.to += (uint32_t)base;
            if (put(b, t + done, h.from - done) < 0 || token(r, b, t, &h) < 0)
                return -1;
            done = h.to;
        }
        if (nh <= HITS)
            break;
        base = done; /* more than HITS: scan on from the last one's end */
    }
    if (!any)
        return 0;
    return put(b, t + done, n - done) < 0 ? -1 : 1;
}

const char *coll_redact_text(coll_redactor *r, const char *t, size_t n, size_t *out_len)
{
    *out_len = n;
    if (!r || !t || !r->mask)
        return t;
    int rc = redact_into(r, &r->out[0], t, n);
    if (rc <= 0)
        return rc < 0 ? NULL : t;
    *out_len = r->out[0].len;
    return r->out[0].p;
}

/* Every string value of v, deep. -1 out of memory. */
static int redact_tree(coll_redactor *r, cJSON *v)
{
    for (cJSON *c = v ? v->child : NULL; c; c = c->next) {
        if (cJSON_IsString(c) && c->valuestring) {
            int rc = redact_into(r, &r->out[2], c->valuestring, strlen(c->valuestring));
            if (rc < 0 || (rc > 0 && !cJSON_SetValuestring(c, r->out[2].p)))
                return -1;
        } else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && redact_tree(r, c) < 0) {
            return -1;
        }
    }
    return 0;
}

/* attrs: NULL out of memory, else the text to store. */
static const char *redact_attrs(coll_redactor *r, const char *a)
{
    core_rd_hit h;
    size_t n = strlen(a);
    if (core_rd_scan(a, n, r->mask, &h, 1) == 0)
        return a; /* the common case: nothing to parse */
    cJSON *j = cJSON_ParseWithLength(a, n);
    if (!j) {
        /* never from the decoders (they print attrs with cJSON); kept
         * valid anyway: each finding blanked with '*' */
        free(r->attrs);
        if (!(r->attrs = strdup(a)))
            return NULL;
        coll_redact_mask(r, r->attrs, n);
        return r->attrs;
    }
    const char *res = NULL;
    if (redact_tree(r, j) == 0) {
        free(r->attrs);
        r->attrs = cJSON_PrintUnformatted(j);
        res = r->attrs;
    }
    cJSON_Delete(j);
    return res;
}

const core_event *coll_redact_event(coll_redactor *r, const core_event *ev)
{
    if (!r || !r->mask)
        return ev;
    const char *p = ev->prompt, *s = ev->response, *a = ev->attrs_json;
    int rp = p ? redact_into(r, &r->out[0], p, ev->prompt_len) : 0;
    int rs = s ? redact_into(r, &r->out[1], s, ev->response_len) : 0;
    const char *ra = a ? redact_attrs(r, a) : NULL;
    if (rp < 0 || rs < 0 || (a && !ra))
        return NULL;
    if (rp == 0 && rs == 0 && ra == a)
        return ev;
    r->view = *ev;
    if (rp) {
        r->view.prompt = r->out[0].p;
        r->view.prompt_len = r->out[0].len;
    }
    if (rs) {
        r->view.response = r->out[1].p;
        r->view.response_len = r->out[1].len;
    }
    r->view.attrs_json = ra;
    return &r->view;
}

const core_event *coll_redact_timed(coll_redactor *r, const core_event *ev)
{
    if (!r)
        return ev;
    int64_t t0 = core_mono_us();
    const core_event *row = coll_redact_event(r, ev);
    coll_stage_add(COLL_ST_REDACT, core_mono_us() - t0);
    return row;
}

void coll_redact_mask(const coll_redactor *r, void *buf, size_t len)
{
    if (!r || !r->mask)
        return;
    char *t = buf;
    core_rd_hit hits[HITS];
    size_t base = 0;
    while (base < len) {
        size_t nh = core_rd_scan(t + base, len - base, r->mask, hits, HITS);
        size_t take = nh < HITS ? nh : HITS;
        for (size_t i = 0; i < take; i++) {
            size_t from = base + hits[i].from, to = base + hits[i].to;
            /* a value right after a backslash keeps it an escape */
            while (from < to && from > 0 && t[from - 1] == '\\')
                from++;
            memset(t + from, '*', to - from);
        }
        if (nh <= HITS)
            break;
        base += hits[HITS - 1].to;
    }
}
