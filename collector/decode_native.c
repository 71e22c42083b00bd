/* The native event format: one JSON object per Kafka message, one event.
 *
 * The scanner (json_scan.h) reads an accepted message in one pass, checking
 * the JSON as it goes and keeping, for each known top-level field, where its
 * value lies in the message; the fields are then decoded straight from there
 * into the event. A refused message is explained by the scanner's slower
 * path, in the words the checks have always used. */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "core/json_scan.h"
#include "core/util.h"

/* Event times are accepted from 1970-01-01 up to (not including)
 * 2100-01-01T00:00:00Z: a time far ahead would move the analytics' clock
 * (README, "Event schema"). */
#define TS_MAX_S INT64_C(4102444800)

/* ---- the known top-level fields ---- */

enum {
    F_EVENT_ID, F_TS, F_KEY, F_MODEL, F_VERSION, F_TENANT, F_USER, F_SESSION, F_IP, F_PROMPT,
    F_RESPONSE, F_PTOK, F_CTOK, F_LAT, F_STATUS, F_FINISH, F_REFUSAL, F_SCORES, F_ATTRS, F_N
};
static const char *const g_fields[F_N] = {
    "event_id", "ts", "api_key_id", "model", "model_version", "tenant", "user_id",
    "session_id", "client_ip", "prompt", "response", "prompt_tokens", "completion_tokens",
    "latency_ms", "status", "finish_reason", "refusal", "scores", "attrs"};

/* The field a top-level key (n decoded bytes) names, or F_N: one compare,
 * picked by the key's length and first byte. */
static int field_of(const char *s, size_t n)
{
    int k = F_N;
    switch (n) {
    case 2: k = F_TS; break;
    case 5: k = s[0] == 'm' ? F_MODEL : s[0] == 'a' ? F_ATTRS : F_N; break;
    case 6: k = s[0] == 't' ? F_TENANT : s[0] == 's' ? (s[1] == 't' ? F_STATUS : F_SCORES)
                                                     : s[0] == 'p' ? F_PROMPT : F_N;
        break;
    case 7: k = s[0] == 'u' ? F_USER : s[0] == 'r' ? F_REFUSAL : F_N; break;
    case 8: k = s[0] == 'e' ? F_EVENT_ID : s[0] == 'r' ? F_RESPONSE : F_N; break;
    case 9: k = F_IP; break;
    case 10: k = s[0] == 'a' ? F_KEY : s[0] == 's' ? F_SESSION : s[0] == 'l' ? F_LAT : F_N; break;
    case 13: k = s[0] == 'm' ? F_VERSION : s[0] == 'p' ? F_PTOK : s[0] == 'f' ? F_FINISH : F_N;
        break;
    case 17: k = F_CTOK; break;
    }
    return k < F_N && memcmp(s, g_fields[k], n) == 0 ? k : F_N;
}

/* ---- the decoded event ---- */

/* What decoding needs besides the event: the parsed fields and a buffer for
 * strings with escapes. */
typedef struct {
    const core_json_val *f;
    const unsigned char *end;
    core_json_buf scratch;
    char *err;
    size_t errlen;
} decoder;

/* The compact JSON of object v into *out, refused when larger than max.
 * Mostly the message holds it in that form already (v->esc is false): its
 * text is copied. */
static int get_json(decoder *D, core_event *ev, const core_json_val *v, const char *field,
                    size_t max, const char **out)
{
    if (!v->esc) {
        if (v->len > max)
            return core_errf(D->err, D->errlen, "field %s is %zu bytes of JSON, larger than %zu",
                             field, v->len, max);
        if (!(*out = core_event_strdup(ev, (const char *)v->p, v->len)))
            return core_errf(D->err, D->errlen, "out of memory");
        return 0;
    }
    core_json_buf b;
    core_json_buf_init(&b);
    core_json_emit(&b, &D->scratch, v->p, D->end);
    int rc = 0;
    if (b.oom)
        rc = core_errf(D->err, D->errlen, "out of memory");
    else if (b.n > max)
        rc = core_errf(D->err, D->errlen, "field %s is %zu bytes of JSON, larger than %zu", field,
                       b.n, max);
    else if (!(*out = core_event_strdup(ev, b.p, b.n)))
        rc = core_errf(D->err, D->errlen, "out of memory");
    core_json_buf_free(&b);
    return rc;
}

/* C0, DEL, C1 and U+2028/2029: an identifier holding one would reach logs
 * and terminals as a line break or an escape. Identifiers are nearly always
 * printable ASCII (0x20-0x7e), which holds none of them: that is checked
 * eight bytes a step, and core_text_control_at() reads on from the first
 * eight that hold anything else (the bytes before are ASCII, so a character
 * starts there). */
static bool has_control(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t del = w ^ (ones * 0x7f);
        /* a byte >= 0x80; else one below 0x20; else one that is 0x7f */
        if ((w | ((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & high)
            break;
    }
    return i < n && core_text_control_at(s + i, n - i) >= 0;
}

/* An identifier-like string: non-empty, bounded, no control characters. */
static int get_ident(decoder *D, core_event *ev, int k, size_t max, const char **out)
{
    const core_json_val *v = &D->f[k];
    const char *field = g_fields[k];
    size_t n;
    const char *s;
    if (v->type != COLL_J_STR)
        return core_errf(D->err, D->errlen, "field %s must be a string, got %s", field,
                         core_json_type_name(v->type));
    if (!(s = core_json_str_bytes(&D->scratch, v, false, &n)))
        return core_errf(D->err, D->errlen, "out of memory");
    if (n == 0)
        return core_errf(D->err, D->errlen, "field %s is empty", field);
    if (n > max)
        return core_errf(D->err, D->errlen, "field %s is %zu bytes, longer than %zu", field, n,
                         max);
    if (has_control(s, n))
        return core_errf(D->err, D->errlen, "field %s holds a control character", field);
    if (!(*out = core_event_strdup(ev, s, n)))
        return core_errf(D->err, D->errlen, "out of memory");
    return 0;
}

static int get_text(decoder *D, core_event *ev, int k, size_t max, const char **out,
                    size_t *kept, size_t *size, bool *trunc)
{
    const core_json_val *v = &D->f[k];
    size_t n;
    const char *s;
    if (v->type != COLL_J_STR)
        return core_errf(D->err, D->errlen, "field %s must be a string, got %s", g_fields[k],
                         core_json_type_name(v->type));
    if (!(s = core_json_str_bytes(&D->scratch, v, false, &n)))
        return core_errf(D->err, D->errlen, "out of memory");
    size_t c = core_utf8_cut(s, n, max);
    *size = n;
    *kept = c;
    *trunc = c < n;
    if (!(*out = core_event_strdup(ev, s, c)))
        return core_errf(D->err, D->errlen, "out of memory");
    return 0;
}

static int get_count(decoder *D, int k, int64_t *out)
{
    const core_json_val *v = &D->f[k];
    if (v->type != COLL_J_NUM)
        return core_errf(D->err, D->errlen, "field %s must be a number, got %s", g_fields[k],
                         core_json_type_name(v->type));
    double d = v->d;
    if (d != floor(d) || d < 0 || d > 9007199254740991.0)
        return core_errf(D->err, D->errlen, "field %s must be a non-negative integer below 2^53",
                         g_fields[k]);
    *out = (int64_t)d;
    return 0;
}

/* Steps from the byte after a member's value (or the object's opening
 * bracket) to the next member's key, or NULL after the last. */
static const unsigned char *next_member(const decoder *D, const unsigned char *p)
{
    p = core_json_skip_ws(p, D->end);
    if (*p == ',' || *p == '{')
        p = core_json_skip_ws(p + 1, D->end);
    return *p == '"' ? p : NULL;
}

static int get_scores(decoder *D, core_event *ev)
{
    const core_json_val *v = &D->f[F_SCORES];
    if (v->type != COLL_J_OBJ)
        return core_errf(D->err, D->errlen, "field scores must be an object, got %s",
                         core_json_type_name(v->type));
    size_t n = v->n;
    if (n > CORE_EVENT_SCORES_MAX)
        return core_errf(D->err, D->errlen, "field scores has %zu entries, more than %d", n,
                         CORE_EVENT_SCORES_MAX);
    ev->scores = n ? core_event_alloc(ev, n * sizeof *ev->scores) : NULL;
    if (n && !ev->scores)
        return core_errf(D->err, D->errlen, "out of memory");
    /* a compact form unlike the text (v->esc) is written here, as
     * core_json_emit would, unless a name holds an escape (then by it) */
    core_json_buf out;
    bool build = v->esc;
    core_json_buf_init(&out);
    core_json_buf_put(&out, "{", 1);
    int rc = 0;
    size_t k = 0;
    for (const unsigned char *p = next_member(D, v->p); p && !rc; p = next_member(D, p), k++) {
        core_json_val key, val;
        size_t nl;
        p = core_json_scan_string(p, D->end, &key);
        p = core_json_skip_ws(core_json_skip_ws(p, D->end) + 1, D->end);
        const char *name = core_json_str_bytes(&D->scratch, &key, false, &nl);
        if (!name) {
            rc = core_errf(D->err, D->errlen, "out of memory");
            break;
        }
        if (nl == 0 || nl > 64 || has_control(name, nl)) {
            rc = core_errf(D->err, D->errlen, "score name \"%.*s\" must be 1-64 printable bytes",
                           nl < 64 ? (int)nl : 64, name);
            break;
        }
        switch (*p) {
        case '"': val.type = COLL_J_STR; break;
        case '{': val.type = COLL_J_OBJ; break;
        case '[': val.type = COLL_J_ARR; break;
        case 't': val.type = COLL_J_TRUE; break;
        case 'f': val.type = COLL_J_FALSE; break;
        case 'n': val.type = COLL_J_NULL; break;
        default: val.type = COLL_J_NUM;
        }
        if (val.type != COLL_J_NUM) {
            rc = core_errf(D->err, D->errlen, "score \"%.*s\" must be a number, got %s",
                           nl < 64 ? (int)nl : 64, name, core_json_type_name(val.type));
            break;
        }
        ev->scores[k].name = core_event_strdup(ev, name, nl);
        const unsigned char *q = p;
        p = core_json_scan_number(p, D->end, &ev->scores[k].value);
        if (!ev->scores[k].name || isnan(ev->scores[k].value)) {
            rc = core_errf(D->err, D->errlen, "out of memory");
            break;
        }
        build = build && !key.esc;
        if (build) {
            if (k)
                core_json_buf_put(&out, ",", 1);
            core_json_buf_put(&out, "\"", 1);
            core_json_buf_put(&out, name, nl);
            core_json_buf_put(&out, "\":", 2);
            core_json_emit_number(&out, q, p, ev->scores[k].value);
        }
    }
    if (!rc) {
        ev->n_scores = n;
        core_json_buf_put(&out, "}", 1);
        if (!build)
            rc = get_json(D, ev, v, "scores", 1 << 16, &ev->scores_json);
        else if (out.oom)
            rc = core_errf(D->err, D->errlen, "out of memory");
        else if (out.n > 1 << 16)
            rc = core_errf(D->err, D->errlen,
                           "field scores is %zu bytes of JSON, larger than %d", out.n, 1 << 16);
        else if (!(ev->scores_json = core_event_strdup(ev, out.p, out.n)))
            rc = core_errf(D->err, D->errlen, "out of memory");
    }
    core_json_buf_free(&out);
    return rc;
}

/* True when s (n bytes) is a dotted quad that inet_pton() takes: four
 * decimal octets up to 255 without leading zeros. inet_ntop() writes such
 * an address back as it is, so the text is its own normal form. */
static bool plain_ipv4(const char *s, size_t n)
{
    size_t i = 0;
    for (int octets = 1;; octets++) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && i - start < 4 && core_json_is_digit((unsigned char)s[i]))
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || i - start > 3 || v > 255 || (i - start > 1 && s[start] == '0'))
            return false;
        if (octets == 4)
            return i == n;
        if (i == n || s[i] != '.')
            return false;
        i++;
    }
}

static int get_ip(decoder *D, core_event *ev)
{
    const core_json_val *v = &D->f[F_IP];
    if (v->type != COLL_J_STR)
        return core_errf(D->err, D->errlen, "field client_ip must be a string, got %s",
                         core_json_type_name(v->type));
    unsigned char addr[16];
    char norm[INET6_ADDRSTRLEN];
    size_t n;
    const char *s = core_json_str_bytes(&D->scratch, v, false, &n);
    if (s && plain_ipv4(s, n)) {
        if (!(ev->client_ip = core_event_strdup(ev, s, n)))
            return core_errf(D->err, D->errlen, "out of memory");
        return 0;
    }
    if (!(s = core_json_str_bytes(&D->scratch, v, true, &n)))
        return core_errf(D->err, D->errlen, "out of memory");
    if (inet_pton(AF_INET, s, addr) == 1)
        inet_ntop(AF_INET, addr, norm, sizeof norm);
    else if (inet_pton(AF_INET6, s, addr) == 1)
        inet_ntop(AF_INET6, addr, norm, sizeof norm);
    else
        return core_errf(D->err, D->errlen,
                         "field client_ip \"%.64s\" is not an IPv4 or IPv6 address", s);
    if (!(ev->client_ip = core_event_strdup(ev, norm, strlen(norm))))
        return core_errf(D->err, D->errlen, "out of memory");
    return 0;
}

static int get_ts(decoder *D, core_event *ev)
{
    const core_json_val *v = &D->f[F_TS];
    if (v->type == COLL_J_STR) {
        size_t n;
        const char *s = core_json_str_bytes(&D->scratch, v, false, &n);
        if (!s)
            return core_errf(D->err, D->errlen, "out of memory");
        if (core_ts_parse(s, n, &ev->ts_us) < 0)
            return core_errf(D->err, D->errlen,
                             "field ts \"%.*s\" is not an RFC 3339 time with a zone "
                             "(e.g. 2026-11-21T13:04:00.123Z)",
                             n < 64 ? (int)n : 64, s);
        if (ev->ts_us < 0)
            return core_errf(D->err, D->errlen, "field ts is before 1970-01-01");
        if (ev->ts_us >= TS_MAX_S * 1000000)
            return core_errf(D->err, D->errlen,
                             "field ts \"%.*s\" is not before 2100-01-01T00:00:00Z (event times "
                             "are accepted from 1970 to 2099)",
                             n < 64 ? (int)n : 64, s);
        return 0;
    }
    if (v->type == COLL_J_NUM) {
        double d = v->d;
        if (!(d >= 0 && d < (double)TS_MAX_S))
            return core_errf(D->err, D->errlen,
                             "field ts %g is outside 0..4102444799 epoch seconds (1970 to 2099)",
                             d);
        ev->ts_us = llround(d * 1e6);
        if (ev->ts_us >= TS_MAX_S * 1000000)
            ev->ts_us = TS_MAX_S * 1000000 - 1;
        return 0;
    }
    return core_errf(D->err, D->errlen,
                     "field ts must be an RFC 3339 string or epoch seconds, got %s",
                     core_json_type_name(v->type));
}

/* The event from the fields of a message that parsed. */
static int decode_fields(const coll_limits *lim, decoder *D, core_event *ev)
{
    const core_json_val *f = D->f;
    for (int k = F_EVENT_ID; k <= F_VERSION; k++)
        if (f[k].type == COLL_J_NULL)
            return core_errf(D->err, D->errlen, "required field %s is missing", g_fields[k]);

    if (get_ident(D, ev, F_EVENT_ID, CORE_EVENT_ID_MAX, &ev->event_id) || get_ts(D, ev) ||
        get_ident(D, ev, F_KEY, CORE_EVENT_NAME_MAX, &ev->api_key_id) ||
        get_ident(D, ev, F_MODEL, CORE_EVENT_NAME_MAX, &ev->model) ||
        get_ident(D, ev, F_VERSION, CORE_EVENT_VERSION_MAX, &ev->model_version))
        return -1;
    if (f[F_TENANT].type != COLL_J_NULL &&
        get_ident(D, ev, F_TENANT, CORE_EVENT_NAME_MAX, &ev->tenant))
        return -1;
    if (f[F_USER].type != COLL_J_NULL && get_ident(D, ev, F_USER, CORE_EVENT_NAME_MAX, &ev->user_id))
        return -1;
    if (f[F_SESSION].type != COLL_J_NULL &&
        get_ident(D, ev, F_SESSION, CORE_EVENT_NAME_MAX, &ev->session_id))
        return -1;
    if (f[F_IP].type != COLL_J_NULL && get_ip(D, ev))
        return -1;
    if (f[F_PROMPT].type != COLL_J_NULL &&
        get_text(D, ev, F_PROMPT, lim->prompt_max_bytes, &ev->prompt, &ev->prompt_len,
                 &ev->prompt_size, &ev->prompt_truncated))
        return -1;
    if (f[F_RESPONSE].type != COLL_J_NULL &&
        get_text(D, ev, F_RESPONSE, lim->response_max_bytes, &ev->response, &ev->response_len,
                 &ev->response_size, &ev->response_truncated))
        return -1;
    if (f[F_PTOK].type != COLL_J_NULL && get_count(D, F_PTOK, &ev->prompt_tokens))
        return -1;
    if (f[F_CTOK].type != COLL_J_NULL && get_count(D, F_CTOK, &ev->completion_tokens))
        return -1;
    if (f[F_LAT].type != COLL_J_NULL) {
        if (f[F_LAT].type != COLL_J_NUM)
            return core_errf(D->err, D->errlen, "field latency_ms must be a number, got %s",
                             core_json_type_name(f[F_LAT].type));
        if (!(f[F_LAT].d >= 0 && f[F_LAT].d < 1e12))
            return core_errf(D->err, D->errlen, "field latency_ms must be between 0 and 1e12");
        ev->has_latency = true;
        ev->latency_ms = f[F_LAT].d;
    }
    if (f[F_STATUS].type != COLL_J_NULL) {
        double d = f[F_STATUS].type == COLL_J_NUM ? f[F_STATUS].d : NAN;
        if (!(d == floor(d) && d >= -2147483648.0 && d <= 2147483647.0))
            return core_errf(D->err, D->errlen, "field status must be a 32-bit integer");
        ev->has_status = true;
        ev->status = (int32_t)d;
    }
    if (f[F_FINISH].type != COLL_J_NULL &&
        get_ident(D, ev, F_FINISH, CORE_EVENT_FINISH_MAX, &ev->finish_reason))
        return -1;
    if (f[F_REFUSAL].type != COLL_J_NULL) {
        if (f[F_REFUSAL].type != COLL_J_TRUE && f[F_REFUSAL].type != COLL_J_FALSE)
            return core_errf(D->err, D->errlen, "field refusal must be true or false, got %s",
                             core_json_type_name(f[F_REFUSAL].type));
        ev->refusal = f[F_REFUSAL].type == COLL_J_TRUE ? 1 : 0;
    }
    if (f[F_SCORES].type != COLL_J_NULL && get_scores(D, ev))
        return -1;
    if (f[F_ATTRS].type != COLL_J_NULL) {
        if (f[F_ATTRS].type != COLL_J_OBJ)
            return core_errf(D->err, D->errlen, "field attrs must be an object, got %s",
                             core_json_type_name(f[F_ATTRS].type));
        if (get_json(D, ev, &f[F_ATTRS], "attrs", lim->attrs_max_bytes, &ev->attrs_json))
            return -1;
    }
    /* unknown top-level fields are ignored: gateways may add their own */
    return 0;
}

int coll_decode_native(const coll_limits *lim, const void *buf, size_t len, core_event *ev,
                       char *err, size_t errlen)
{
    const unsigned char *s = buf, *end = s + len;
    decoder D;
    int rc = -1;
    /* The decoded strings are pieces of the message, so its size (plus room
     * for the normalised address and the scores array) bounds the arena. */
    if (len <= lim->max_message_bytes && core_event_reserve(ev, len + 256) < 0)
        return core_errf(err, errlen, "out of memory");
    ev->prompt_tokens = ev->completion_tokens = -1;
    ev->refusal = -1;
    ev->partition = -1;
    ev->offset = -1;
    ev->kafka_ts_ms = -1;

    if (len == 0) {
        core_errf(err, errlen, "empty message");
        goto fail;
    }
    if (len > lim->max_message_bytes) {
        core_errf(err, errlen, "message is %zu bytes, larger than the %zu-byte limit", len,
                  lim->max_message_bytes);
        goto fail;
    }
    long bad = core_utf8_invalid_at(s, len);
    if (bad >= 0) {
        core_errf(err, errlen, "invalid UTF-8 at offset %ld", bad);
        goto fail;
    }

    core_json_val f[F_N];
    for (int k = 0; k < F_N; k++)
        f[k].type = COLL_J_NULL;
    if (core_json_parse_object(s, len, f, F_N, field_of, err, errlen) < 0)
        goto fail;

    D.f = f;
    D.end = end;
    core_json_buf_init(&D.scratch);
    D.err = err;
    D.errlen = errlen;
    rc = decode_fields(lim, &D, ev);
    core_json_buf_free(&D.scratch);
fail:
    if (rc < 0)
        core_event_clear(ev);
    return rc;
}

/* The registry's row: one message, one event. */
static int decode_native_message(const coll_limits *lim, const void *buf, size_t len,
                                 coll_decoded *out, char *err, size_t errlen)
{
    core_event *ev = coll_decoded_add(out, err, errlen);
    if (!ev)
        return -1;
    if (coll_decode_native(lim, buf, len, ev, err, errlen) < 0) {
        out->n--; /* the slot was cleared */
        return -1;
    }
    return 0;
}

const coll_decoder coll_decoder_native = {"native", decode_native_message, NULL, false};
