/* The native event format: one JSON object per Kafka message.
 *
 * An accepted message is read in one pass by the small parser below, which
 * checks the JSON as it goes and keeps, for each known top-level field, where
 * its value lies in the message; the fields are then decoded straight from
 * there into the event. A refused message takes a second, slower path
 * (explain_refusal) that names what is wrong the way the checks always have:
 * the lexical pre-scan first, then the offset where cJSON stops. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/util.h"
#include "collector/decode.h"

#define MAX_DEPTH 32
/* Event times are accepted from 1970-01-01 up to (not including)
 * 2100-01-01T00:00:00Z: a time far ahead would move the analytics' clock
 * (README, "Event schema"). */
#define TS_MAX_S INT64_C(4102444800)

static const coll_decoder g_decoders[] = {
    {"native", coll_decode_native},
};

const coll_decoder *coll_decoder_find(const char *name)
{
    for (size_t i = 0; i < sizeof g_decoders / sizeof g_decoders[0]; i++)
        if (strcmp(g_decoders[i].name, name) == 0)
            return &g_decoders[i];
    return NULL;
}

coll_limits coll_limits_default(void)
{
    coll_limits l = {1 << 20, 32 << 10, 64 << 10, 64 << 10};
    return l;
}

/* ---- growable byte buffer: compact JSON output and decoded strings ---- */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
    char local[1024];
} jbuf;

static void jb_init(jbuf *b)
{
    b->p = b->local;
    b->n = 0;
    b->cap = sizeof b->local;
    b->oom = false;
}

static void jb_free(jbuf *b)
{
    if (b->p != b->local)
        free(b->p);
}

/* Room for n more bytes (and a NUL) at b->p + b->n, or NULL (b->oom set). */
static char *jb_room(jbuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap * 2 > b->n + n + 1 ? b->cap * 2 : b->n + n + 1;
        char *np = b->p == b->local ? malloc(nc) : realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return NULL;
        }
        if (b->p == b->local)
            memcpy(np, b->local, b->n);
        b->p = np;
        b->cap = nc;
    }
    return b->p + b->n;
}

static void jb_put(jbuf *b, const char *s, size_t n)
{
    char *w = jb_room(b, n);
    if (!w)
        return;
    memcpy(w, s, n);
    b->n += n;
}

/* ---- lexical rules ---- */

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Length of the JSON number at s[0..n) (RFC 8259 grammar), or 0 when the
 * bytes there are not one. cJSON takes anything strtod() takes, so "01",
 * "1." and "1.e5" would pass it. */
static size_t number_len(const unsigned char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && is_digit(s[i]))
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return 0;
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
        return 0; /* "01", "1.5.5", "1e5e5" */
    return i;
}

/* Lexical pre-scan of a refused message: NUL bytes, nesting depth, and what
 * cJSON is lenient about but JSON forbids. cJSON takes any byte below 0x20
 * for whitespace, keeps raw control characters in strings, reads an escape
 * with a bad hex digit ("\u00G1") as U+0000 and so silently cuts the string
 * there, and takes "01" or "1." for numbers. The parser below refuses all of
 * these too; this names the first one. */
static unsigned hex4(const unsigned char *s);
static bool hex4_ok(const unsigned char *s);

static int prescan(const unsigned char *s, size_t n, char *err, size_t errlen)
{
    /* bytes inside a string that need no look: not a quote, backslash,
     * control character or NUL */
    static const bool plain[256] = {[0x20 ... 0x21] = true, [0x23 ... 0x5b] = true,
                                    [0x5d ... 0xff] = true};
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            while (i < n && plain[s[i]])
                i++;
            if (i == n)
                break;
        }
        unsigned char c = s[i];
        if (c == 0)
            return core_errf(err, errlen, "NUL byte at offset %zu", i);
        if (in_str) {
            if (c < 0x20)
                return core_errf(err, errlen,
                            "control character 0x%02x in a string at offset %zu (JSON needs "
                            "it escaped)",
                            c, i);
            if (c == '\\') {
                unsigned char e = i + 1 < n ? s[i + 1] : 0;
                if (e == 'u') {
                    if (i + 5 >= n || !is_hex(s[i + 2]) || !is_hex(s[i + 3]) ||
                        !is_hex(s[i + 4]) || !is_hex(s[i + 5]))
                        return core_errf(err, errlen,
                                    "bad \\u escape at offset %zu (needs 4 hex digits)", i);
                    if (s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0')
                        return core_errf(err, errlen,
                                    "string holds the NUL character \\u0000 at offset %zu", i);
                    unsigned cp = hex4(s + i + 2);
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        return core_errf(err, errlen,
                                    "lone UTF-16 low surrogate \\u%04X at offset %zu (a low "
                                    "surrogate must follow a high one)", cp, i);
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        unsigned lo = i + 11 < n && s[i + 6] == '\\' && s[i + 7] == 'u' &&
                                              hex4_ok(s + i + 8)
                                          ? hex4(s + i + 8) : 0;
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            return core_errf(err, errlen,
                                        "lone UTF-16 high surrogate \\u%04X at offset %zu (it "
                                        "must be followed by a \\uDC00-\\uDFFF escape)", cp, i);
                        i += 6; /* the low half, checked here */
                    }
                    i += 5;
                } else if (e && strchr("\"\\/bfnrt", e)) {
                    i++; /* skip the escaped character */
                } else {
                    return core_errf(err, errlen, "bad escape in a string at offset %zu", i);
                }
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > MAX_DEPTH)
                return core_errf(err, errlen, "JSON nested deeper than %d levels at offset %zu",
                            MAX_DEPTH, i);
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == '-' || is_digit(c)) {
            size_t k = number_len(s + i, n - i);
            if (k == 0)
                return core_errf(err, errlen, "malformed number at offset %zu", i);
            i += k - 1;
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return core_errf(err, errlen, "control character 0x%02x outside a string at offset %zu",
                        c, i);
        }
    }
    return 0;
}

/* ---- values ---- */

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

/* Where a value lies in the message. A string is the raw bytes between its
 * quotes (p, n), esc when they hold an escape; a number is its value d; an
 * object or array is p at its opening bracket and n members or items. */
typedef struct {
    int type;
    bool esc;
    const unsigned char *p;
    size_t n;
    double d;
} jval;

static const char *type_name(int t)
{
    switch (t) {
    case J_STR: return "a string";
    case J_NUM: return "a number";
    case J_TRUE:
    case J_FALSE: return "a boolean";
    case J_NULL: return "null";
    case J_ARR: return "an array";
    case J_OBJ: return "an object";
    }
    return "invalid";
}

static unsigned hex4(const unsigned char *s)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        h = h << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return h;
}

static bool hex4_ok(const unsigned char *s)
{
    return is_hex(s[0]) && is_hex(s[1]) && is_hex(s[2]) && is_hex(s[3]);
}

#ifdef __SSE2__
/* Offset of the first quote, backslash or byte below 0x20 among the 16 at
 * s, or 16 when there is none. */
static unsigned special16(const unsigned char *s)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i ctl = _mm_set1_epi8(0x1f);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                             _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
    unsigned mask = (unsigned)_mm_movemask_epi8(m);
    return mask ? (unsigned)__builtin_ctz(mask) : 16;
}
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Of the 8 bytes at s, those that are a quote, a backslash or below 0x20
 * have their high bit set in the result (and maybe some after the first of
 * them, never one before: its lowest set bit is exact). */
static uint64_t word_special(const unsigned char *s)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t w;
    memcpy(&w, s, 8);
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w)) & high;
}
#endif

/* The first quote, backslash or byte below 0x20 in [p, end), or end:
 * sixteen or eight bytes a step where the machine allows. */
static const unsigned char *find_special(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    for (; end - p >= 16; p += 16) {
        unsigned k = special16(p);
        if (k < 16)
            return p + k;
    }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; end - p >= 8; p += 8) {
        uint64_t t = word_special(p);
        if (t) /* the first byte is the lowest */
            return p + __builtin_ctzll(t) / 8;
    }
#endif
    while (p < end && *p >= 0x20 && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* Scans the string whose opening quote is at q. Refuses what cJSON or the
 * pre-scan would: raw control characters, an unknown escape, a \u escape
 * without 4 hex digits, \u0000, and a lone or unpaired UTF-16 surrogate.
 * (The bytes themselves are valid UTF-8: checked before.) Returns the byte
 * after the closing quote, or NULL. */
static const unsigned char *scan_string(const unsigned char *q, const unsigned char *end,
                                        jval *v)
{
    const unsigned char *p = q + 1;
    bool esc = false;
    for (;;) {
        p = find_special(p, end);
        if (p >= end || *p < 0x20)
            return NULL;
        if (*p == '"')
            break;
        /* an escape */
        if (end - p < 2)
            return NULL;
        unsigned char e = p[1];
        if (e == 'u') {
            if (end - p < 6 || !hex4_ok(p + 2))
                return NULL;
            unsigned cp = hex4(p + 2);
            if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                return NULL;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* must pair with a low surrogate */
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4_ok(p + 8))
                    return NULL;
                unsigned lo = hex4(p + 8);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                p += 12;
            } else {
                p += 6;
            }
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                   e == 'r' || e == 't') {
            p += 2;
        } else {
            return NULL;
        }
        esc = true;
    }
    v->type = J_STR;
    v->esc = esc;
    v->p = q + 1;
    v->n = (size_t)(p - (q + 1));
    return p + 1;
}

/* Decodes the n raw bytes of a string scan_string accepted into out (room
 * for n bytes: decoding never grows a string). Returns the decoded length. */
static size_t unescape(const unsigned char *s, size_t n, char *out)
{
    const unsigned char *end = s + n;
    char *o = out;
    while (s < end) {
        /* the next escape: a quote or control byte is never on its own here */
        const unsigned char *bs = find_special(s, end);
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        s = bs;
        if (s == end)
            break;
        unsigned char e = s[1];
        if (e != 'u') {
            *o++ = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r'
                 : e == 't' ? '\t' : (char)e;
            s += 2;
            continue;
        }
        uint32_t cp = hex4(s + 2);
        s += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = 0x10000 + (((cp & 0x3FF) << 10) | (hex4(s + 2) & 0x3FF));
            s += 6;
        }
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xC0 | cp >> 6);
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | cp >> 12);
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (char)(0xF0 | cp >> 18);
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    return (size_t)(o - out);
}

/* The decoded bytes of string v (n of them, NUL-terminated when copied):
 * the message's own bytes when it has no escape, else a copy in scratch,
 * valid until scratch is next used. NULL when out of memory. With nul set
 * the result is always a NUL-terminated copy. */
static const char *str_bytes(jbuf *scratch, const jval *v, bool nul, size_t *n)
{
    if (!v->esc && !nul) {
        *n = v->n;
        return (const char *)v->p;
    }
    scratch->n = 0;
    char *w = jb_room(scratch, v->n);
    if (!w)
        return NULL;
    *n = v->esc ? unescape(v->p, v->n, w) : (memcpy(w, v->p, v->n), v->n);
    w[*n] = '\0';
    return w;
}

/* Reads the number at q (RFC 8259 grammar) into *d, as cJSON does: with
 * strtod() in the locale's decimal point. Returns the byte after it, or NULL
 * when there is no number there. *d is NaN, which no JSON number reads as,
 * when out of memory. */
static const unsigned char *scan_number(const unsigned char *q, const unsigned char *end,
                                        double *d)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    /* Up to 15 digits and no exponent: the digits as an integer and the
     * power of ten are both exact doubles, so one division rounds once,
     * which is what strtod() does. */
    const unsigned char *p = q;
    bool neg = *p == '-';
    uint64_t m = 0;
    int nd = 0, fd = 0;
    p += neg;
    if (p < end && *p == '0') {
        p++;
        nd = 1;
    } else {
        for (; p < end && is_digit(*p); p++, nd++)
            m = m * 10 + (uint64_t)(*p - '0');
    }
    if (nd && p < end && *p == '.')
        for (p++; p < end && is_digit(*p); p++, nd++, fd++)
            m = m * 10 + (uint64_t)(*p - '0');
    if (nd && nd <= 15 && (fd || p[-1] != '.') &&
        !(p < end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E'))) {
        double v = fd ? (double)m / p10[fd] : (double)m;
        *d = neg ? -v : v;
        return p;
    }
    /* anything else: checked by the grammar, read by strtod() */
    size_t k = number_len(q, (size_t)(end - q));
    if (k == 0)
        return NULL;
    char local[64], *buf = k < sizeof local ? local : malloc(k + 1);
    if (!buf) {
        *d = NAN;
        return q + k;
    }
    char dp = *localeconv()->decimal_point;
    for (size_t i = 0; i < k; i++)
        buf[i] = q[i] == '.' ? dp : (char)q[i];
    buf[k] = '\0';
    *d = strtod(buf, NULL);
    if (buf != local)
        free(buf);
    return q + k;
}

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

/* ---- the parser ---- */

/* A key of an object still open: its decoded bytes are the message's own
 * (raw) or, when it has escapes, in the parser's key buffer at off. */
typedef struct {
    const unsigned char *raw;
    size_t off; /* SIZE_MAX: raw */
    size_t n;
    uint64_t hash;
} pkey;

#define KEYS_LOCAL 64

typedef struct {
    const unsigned char *end;
    /* keys of every open object, innermost last */
    pkey *keys;
    size_t n_keys, cap_keys;
    pkey keys_local[KEYS_LOCAL];
    jbuf kbuf; /* decoded keys that had escapes */
    bool oom;
    /* the first problem found in well-formed JSON (a duplicate key, a number
     * out of range): reported only when the whole message parses */
    bool tree_err;
    char *err;
    size_t errlen;
    jval f[F_N]; /* top-level fields; type J_NULL when absent */
} parser;

static const unsigned char *key_bytes(const parser *P, const pkey *k)
{
    return k->off == SIZE_MAX ? k->raw : (const unsigned char *)P->kbuf.p + k->off;
}

/* The 8 bytes of w in little-endian order (the first byte lowest). */
static uint64_t le64(uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/* Pushes the key scan_string read into v. Returns its index or -1 (oom). */
static long push_key(parser *P, const jval *v)
{
    if (P->n_keys == P->cap_keys) {
        size_t nc = P->cap_keys * 2;
        pkey *nk = P->keys == P->keys_local ? malloc(nc * sizeof *nk)
                                            : realloc(P->keys, nc * sizeof *nk);
        if (!nk) {
            P->oom = true;
            return -1;
        }
        if (P->keys == P->keys_local)
            memcpy(nk, P->keys_local, sizeof P->keys_local);
        P->keys = nk;
        P->cap_keys = nc;
    }
    pkey *k = &P->keys[P->n_keys];
    k->raw = v->p;
    k->off = SIZE_MAX;
    k->n = v->n;
    if (v->esc) {
        char *w = jb_room(&P->kbuf, v->n);
        if (!w) {
            P->oom = true;
            return -1;
        }
        k->off = P->kbuf.n;
        k->n = unescape(v->p, v->n, w);
        P->kbuf.n += k->n;
    }
    /* equal keys hash equal, so only equal hashes need a compare; eight
     * bytes a step, since keys are short and there are many */
    const unsigned char *s = key_bytes(P, k);
    uint64_t h = k->n * 0x9E3779B97F4A7C15ULL, w;
    size_t i = 0;
    for (; i + 8 <= k->n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    if (i < k->n) { /* the last 1-7 bytes */
        if (k->n >= 8) {
            memcpy(&w, s + k->n - 8, 8); /* overlapping the step before */
        } else if (k->off == SIZE_MAX && P->end - s >= 8) {
            memcpy(&w, s, 8); /* the message goes on: mask what follows */
            w = le64(w) & ((1ULL << (8 * k->n)) - 1);
        } else {
            w = 0;
            for (size_t j = k->n; j > i; j--)
                w = w << 8 | s[j - 1];
        }
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    k->hash = h;
    return (long)P->n_keys++;
}

/* strcmp() order of two keys (neither holds a NUL) */
static int key_cmp(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn;
}

typedef struct {
    uint64_t hash;
    const unsigned char *s;
    size_t n;
} skey;

static int skey_cmp(const void *pa, const void *pb)
{
    const skey *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return key_cmp(a->s, a->n, b->s, b->n);
}

#define DUP_SMALL 64 /* objects up to this many keys are checked without sorting */

/* Duplicate keys among the keys from first on (one object's). The one
 * reported: for up to 16 keys the first key (in order) that comes again, for
 * more the least one in strcmp order. */
static void check_dups(parser *P, size_t first)
{
    const pkey *k = P->keys + first;
    size_t n = P->n_keys - first;
    const unsigned char *dup = NULL;
    size_t dup_n = 0;
    if (n < 2)
        return;
    if (n <= DUP_SMALL) {
        /* mostly there is none: look for one through a small hash table
         * first, then for the one to report */
        unsigned char slot[2 * DUP_SMALL] = {0}; /* key index + 1 */
        bool any = false;
        for (size_t a = 0; a < n && !any; a++) {
            size_t i = k[a].hash % (2 * DUP_SMALL);
            for (; slot[i]; i = (i + 1) % (2 * DUP_SMALL)) {
                const pkey *o = &k[slot[i] - 1];
                if (o->hash == k[a].hash && o->n == k[a].n &&
                    memcmp(key_bytes(P, o), key_bytes(P, &k[a]), o->n) == 0) {
                    any = true;
                    break;
                }
            }
            slot[i] = (unsigned char)(a + 1);
        }
        if (!any)
            return;
        for (size_t a = 0; a < n; a++)
            for (size_t b = a + 1; b < n; b++) {
                if (k[a].hash != k[b].hash || k[a].n != k[b].n ||
                    memcmp(key_bytes(P, &k[a]), key_bytes(P, &k[b]), k[a].n) != 0)
                    continue;
                const unsigned char *s = key_bytes(P, &k[a]);
                if (n <= 16) {
                    dup = s;
                    dup_n = k[a].n;
                    goto found;
                }
                if (!dup || key_cmp(s, k[a].n, dup, dup_n) < 0) {
                    dup = s;
                    dup_n = k[a].n;
                }
            }
    } else {
        skey *sk = malloc(n * sizeof *sk);
        if (!sk) {
            P->oom = true;
            return;
        }
        for (size_t i = 0; i < n; i++)
            sk[i] = (skey){k[i].hash, key_bytes(P, &k[i]), k[i].n};
        qsort(sk, n, sizeof *sk, skey_cmp);
        for (size_t i = 1; i < n; i++)
            if (sk[i].hash == sk[i - 1].hash &&
                key_cmp(sk[i].s, sk[i].n, sk[i - 1].s, sk[i - 1].n) == 0 &&
                (!dup || key_cmp(sk[i].s, sk[i].n, dup, dup_n) < 0)) {
                dup = sk[i].s;
                dup_n = sk[i].n;
            }
        free(sk);
    }
    if (!dup)
        return;
found:
    P->tree_err = true;
    core_errf(P->err, P->errlen, "duplicate key \"%.*s\"", dup_n < 64 ? (int)dup_n : 64,
              (const char *)dup);
}

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

static const unsigned char *parse_value(parser *P, const unsigned char *p, int depth, long where,
                                        jval *v);

/* The object or array whose bracket is at q, at nesting depth (open
 * containers around it). where is the key that names it (its numbers are
 * reported under that key). The top-level object (depth 0) keeps its known
 * fields in P->f. Returns the byte after it, or NULL when the message is
 * not JSON as cJSON and the pre-scan read it. */
static const unsigned char *parse_container(parser *P, const unsigned char *q, int depth,
                                            long where, jval *v)
{
    const unsigned char *end = P->end, *p;
    bool obj = *q == '{';
    unsigned char close = obj ? '}' : ']';
    size_t first_key = P->n_keys, kbuf_n = P->kbuf.n, n = 0;
    if (depth + 1 > MAX_DEPTH)
        return NULL;
    p = skip_ws(q + 1, end);
    if (p < end && *p == close) {
        p++;
        goto done;
    }
    for (;;) {
        jval item, *dst = &item;
        long key = where;
        if (obj) {
            jval kv;
            if (p >= end || *p != '"' || !(p = scan_string(p, end, &kv)))
                return NULL;
            if ((key = push_key(P, &kv)) < 0)
                return NULL;
            p = skip_ws(p, end);
            if (p >= end || *p != ':')
                return NULL;
            p = skip_ws(p + 1, end);
            if (depth == 0) { /* a known field's value goes to P->f (null: absent) */
                const pkey *k = &P->keys[key];
                int f = field_of((const char *)key_bytes(P, k), k->n);
                if (f < F_N)
                    dst = &P->f[f];
            }
        }
        if (!(p = parse_value(P, p, depth + 1, key, dst)))
            return NULL;
        n++;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == close) {
            p++;
            break;
        }
        return NULL;
    }
done:
    if (obj && !P->tree_err)
        check_dups(P, first_key);
    P->n_keys = first_key;
    P->kbuf.n = kbuf_n;
    v->type = obj ? J_OBJ : J_ARR;
    v->p = q;
    v->n = n;
    return P->oom ? NULL : p;
}

static const unsigned char *parse_value(parser *P, const unsigned char *p, int depth, long where,
                                        jval *v)
{
    const unsigned char *end = P->end;
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{':
    case '[':
        return parse_container(P, p, depth, where, v);
    case '"':
        return scan_string(p, end, v);
    case 't':
        v->type = J_TRUE;
        return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        v->type = J_FALSE;
        return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        v->type = J_NULL;
        return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default:
        if (*p != '-' && !is_digit(*p))
            return NULL;
        v->type = J_NUM;
        if (!(p = scan_number(p, end, &v->d)))
            return NULL;
        if (isnan(v->d)) {
            P->oom = true;
            return NULL;
        }
        if (!isfinite(v->d) && !P->tree_err) {
            const pkey *k = &P->keys[where];
            P->tree_err = true;
            core_errf(P->err, P->errlen, "number out of range in %.*s", (int)k->n,
                      (const char *)key_bytes(P, k));
        }
        return p;
    }
}

/* ---- compact JSON, byte for byte what cJSON_PrintUnformatted writes (the
 * stored attrs and scores keep that form) ---- */

/* The n decoded bytes s as a JSON string. */
static void jb_string(jbuf *b, const char *s, size_t n)
{
    jb_put(b, "\"", 1);
    const char *run = s, *end = s + n;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jb_put(b, run, (size_t)(s - run));
        char e[8];
        switch (c) {
        case '"': jb_put(b, "\\\"", 2); break;
        case '\\': jb_put(b, "\\\\", 2); break;
        case '\b': jb_put(b, "\\b", 2); break;
        case '\f': jb_put(b, "\\f", 2); break;
        case '\n': jb_put(b, "\\n", 2); break;
        case '\r': jb_put(b, "\\r", 2); break;
        case '\t': jb_put(b, "\\t", 2); break;
        default:
            snprintf(e, sizeof e, "\\u%04x", c);
            jb_put(b, e, 6);
        }
        run = s + 1;
    }
    jb_put(b, run, (size_t)(s - run));
    jb_put(b, "\"", 1);
}

/* Digits of u (no sign) into the end of buf; returns where they start. */
static char *utoa_end(uint64_t u, char *end)
{
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

static bool same_double(double a, double b) /* cJSON's compare_double */
{
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= m * DBL_EPSILON;
}

static void jb_number(jbuf *b, double d)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    char buf[32], *end = buf + sizeof buf, *s;
    if (isnan(d) || isinf(d)) {
        jb_put(b, "null", 4);
        return;
    }
    if (d == 0) {
        jb_put(b, signbit(d) ? "-0" : "0", signbit(d) ? 2 : 1);
        return;
    }
    /* cJSON prints every number with "%1.15g" (and "%1.17g" when that does
     * not read back). A value that is the double nearest to m / 10^p, with m
     * of at most 15 digits, is what "%1.15g" prints in fixed notation for
     * 1e-4 <= |d| < 1e15: those digits, trailing zeros dropped; and it reads
     * back exactly. */
    double a = fabs(d);
    if (a >= 1e-4 && a < 1e15)
        for (int p = 0; p < 10; p++) {
            double m = nearbyint(a * p10[p]);
            if (m >= 1e15)
                break;
            if (m / p10[p] != a)
                continue;
            uint64_t um = (uint64_t)m, scale = (uint64_t)p10[p];
            uint64_t frac = um % scale;
            s = end;
            if (frac) {
                int digits = p;
                while (frac % 10 == 0) {
                    frac /= 10;
                    digits--;
                }
                char *f = utoa_end(frac, end);
                while (end - f < digits)
                    *--f = '0';
                *--f = '.';
                s = f;
            }
            s = utoa_end(um / scale, s);
            if (d < 0)
                *--s = '-';
            jb_put(b, s, (size_t)(end - s));
            return;
        }
    /* anything else: cJSON's own way */
    double test = 0;
    int len = snprintf(buf, sizeof buf, "%1.15g", d);
    if (sscanf(buf, "%lg", &test) != 1 || !same_double(test, d))
        len = snprintf(buf, sizeof buf, "%1.17g", d);
    if (len < 0 || len > 25) {
        b->oom = true; /* cJSON gives up the same way */
        return;
    }
    char dp = *localeconv()->decimal_point;
    for (int i = 0; i < len; i++)
        if (buf[i] == dp)
            buf[i] = '.';
    jb_put(b, buf, (size_t)len);
}


/* Writes the number text q..e, whose value is d, as jb_number() would,
 * when that is its own text: no exponent, at most 15 digits (so it reads
 * back exactly), fewer than 10 after the point, and 1e-4 <= |d|. Then the
 * digits jb_number() finds are the text's (no shorter decimal of at most 15
 * digits reads as the same double), and it writes them with the fraction's
 * trailing zeros, and a point left bare, dropped. Returns false otherwise. */
static bool put_number_text(jbuf *b, const unsigned char *q, const unsigned char *e, double d)
{
    const unsigned char *dot = NULL;
    int digits = 0;
    if (d == 0 || fabs(d) < 1e-4)
        return false;
    for (const unsigned char *p = q; p < e; p++) {
        if (*p == '.')
            dot = p;
        else if (is_digit(*p))
            digits++;
        else if (*p != '-')
            return false; /* an exponent */
    }
    if (digits > 15)
        return false;
    if (dot) {
        while (e[-1] == '0')
            e--;
        if (e[-1] == '.')
            e--;
        else if (e - dot - 1 >= 10)
            return false;
    }
    jb_put(b, (const char *)q, (size_t)(e - q));
    return true;
}

/* The significant digits of the mantissa of the number text q..e (leading
 * zeros and the exponent not counted). Past 15 a double cannot hold every
 * such number (1234567890123456789 would be stored as ...800), so the
 * text is kept as written: JSON readers that keep numbers exactly
 * (PostgreSQL's jsonb, for one) then see the sender's value. */
static int significant_digits(const unsigned char *q, const unsigned char *e)
{
    int n = 0;
    bool lead = true;
    for (const unsigned char *p = q; p < e && *p != 'e' && *p != 'E'; p++) {
        if (!is_digit(*p))
            continue;
        if (lead && *p == '0')
            continue;
        lead = false;
        n++;
    }
    return n;
}

/* ---- the decoded event ---- */

/* What decoding needs besides the event: the parsed fields and a buffer for
 * strings with escapes. */
typedef struct {
    const jval *f;
    const unsigned char *end;
    jbuf scratch;
    char *err;
    size_t errlen;
} decoder;

/* Writes the compact form of the value at p (in JSON the parser accepted,
 * so nothing is checked again) to b. Recurses once per nesting level: at
 * most MAX_DEPTH. Returns the byte after the value. */
static const unsigned char *emit_value(decoder *D, jbuf *b, const unsigned char *p)
{
    const unsigned char *end = D->end;
    jval v;
    switch (*p) {
    case '{':
    case '[': {
        bool obj = *p == '{';
        unsigned char close = obj ? '}' : ']';
        jb_put(b, obj ? "{" : "[", 1);
        p = skip_ws(p + 1, end);
        for (bool first = true; *p != close; first = false) {
            if (!first)
                p = skip_ws(p + 1, end); /* past the comma */
            if (!first)
                jb_put(b, ",", 1);
            if (obj) {
                p = emit_value(D, b, p); /* the key */
                jb_put(b, ":", 1);
                p = skip_ws(skip_ws(p, end) + 1, end);
            }
            p = skip_ws(emit_value(D, b, p), end);
        }
        jb_put(b, obj ? "}" : "]", 1);
        return p + 1;
    }
    case '"': {
        p = scan_string(p, end, &v);
        if (!v.esc) { /* the raw bytes need no escape either */
            char *w = jb_room(b, v.n + 2);
            if (w) {
                w[0] = '"';
                memcpy(w + 1, v.p, v.n);
                w[v.n + 1] = '"';
                b->n += v.n + 2;
            }
            return p;
        }
        size_t n;
        const char *s = str_bytes(&D->scratch, &v, false, &n);
        if (!s)
            b->oom = true;
        else
            jb_string(b, s, n);
        return p;
    }
    case 't':
        jb_put(b, "true", 4);
        return p + 4;
    case 'f':
        jb_put(b, "false", 5);
        return p + 5;
    case 'n':
        jb_put(b, "null", 4);
        return p + 4;
    default: {
        const unsigned char *q = p;
        p = scan_number(q, end, &v.d);
        if (isnan(v.d))
            b->oom = true;
        else if (significant_digits(q, p) > 15)
            jb_put(b, (const char *)q, (size_t)(p - q)); /* a double would round it */
        else if (!put_number_text(b, q, p, v.d))
            jb_number(b, v.d);
        return p;
    }
    }
}

/* The compact JSON of object v into *out, refused when larger than max. */
static int get_json(decoder *D, core_event *ev, const jval *v, const char *field, size_t max,
                    const char **out)
{
    jbuf b;
    jb_init(&b);
    emit_value(D, &b, v->p);
    int rc = 0;
    if (b.oom)
        rc = core_errf(D->err, D->errlen, "out of memory");
    else if (b.n > max)
        rc = core_errf(D->err, D->errlen, "field %s is %zu bytes of JSON, larger than %zu", field,
                       b.n, max);
    else if (!(*out = core_event_strdup(ev, b.p, b.n)))
        rc = core_errf(D->err, D->errlen, "out of memory");
    jb_free(&b);
    return rc;
}

/* C0, DEL, C1 and U+2028/2029: an identifier holding one would reach logs
 * and terminals as a line break or an escape. */
static bool has_control(const char *s, size_t n) { return core_text_control_at(s, n) >= 0; }

/* An identifier-like string: non-empty, bounded, no control characters. */
static int get_ident(decoder *D, core_event *ev, int k, size_t max, const char **out)
{
    const jval *v = &D->f[k];
    const char *field = g_fields[k];
    size_t n;
    const char *s;
    if (v->type != J_STR)
        return core_errf(D->err, D->errlen, "field %s must be a string, got %s", field,
                         type_name(v->type));
    if (!(s = str_bytes(&D->scratch, v, false, &n)))
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
    const jval *v = &D->f[k];
    size_t n;
    const char *s;
    if (v->type != J_STR)
        return core_errf(D->err, D->errlen, "field %s must be a string, got %s", g_fields[k],
                         type_name(v->type));
    if (!(s = str_bytes(&D->scratch, v, false, &n)))
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
    const jval *v = &D->f[k];
    if (v->type != J_NUM)
        return core_errf(D->err, D->errlen, "field %s must be a number, got %s", g_fields[k],
                         type_name(v->type));
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
    p = skip_ws(p, D->end);
    if (*p == ',' || *p == '{')
        p = skip_ws(p + 1, D->end);
    return *p == '"' ? p : NULL;
}

static int get_scores(decoder *D, core_event *ev)
{
    const jval *v = &D->f[F_SCORES];
    if (v->type != J_OBJ)
        return core_errf(D->err, D->errlen, "field scores must be an object, got %s",
                         type_name(v->type));
    size_t n = v->n;
    if (n > CORE_EVENT_SCORES_MAX)
        return core_errf(D->err, D->errlen, "field scores has %zu entries, more than %d", n,
                         CORE_EVENT_SCORES_MAX);
    ev->scores = n ? core_event_alloc(ev, n * sizeof *ev->scores) : NULL;
    if (n && !ev->scores)
        return core_errf(D->err, D->errlen, "out of memory");
    size_t k = 0;
    for (const unsigned char *p = next_member(D, v->p); p; p = next_member(D, p), k++) {
        jval key, val;
        size_t nl;
        p = scan_string(p, D->end, &key);
        p = skip_ws(skip_ws(p, D->end) + 1, D->end);
        const char *name = str_bytes(&D->scratch, &key, false, &nl);
        if (!name)
            return core_errf(D->err, D->errlen, "out of memory");
        if (nl == 0 || nl > 64 || has_control(name, nl))
            return core_errf(D->err, D->errlen, "score name \"%.*s\" must be 1-64 printable bytes",
                             nl < 64 ? (int)nl : 64, name);
        switch (*p) {
        case '"': val.type = J_STR; break;
        case '{': val.type = J_OBJ; break;
        case '[': val.type = J_ARR; break;
        case 't': val.type = J_TRUE; break;
        case 'f': val.type = J_FALSE; break;
        case 'n': val.type = J_NULL; break;
        default: val.type = J_NUM;
        }
        if (val.type != J_NUM)
            return core_errf(D->err, D->errlen, "score \"%.*s\" must be a number, got %s",
                             nl < 64 ? (int)nl : 64, name, type_name(val.type));
        ev->scores[k].name = core_event_strdup(ev, name, nl);
        p = scan_number(p, D->end, &ev->scores[k].value);
        if (!ev->scores[k].name || isnan(ev->scores[k].value))
            return core_errf(D->err, D->errlen, "out of memory");
    }
    ev->n_scores = n;
    return get_json(D, ev, v, "scores", 1 << 16, &ev->scores_json);
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
        while (i < n && i - start < 4 && is_digit((unsigned char)s[i]))
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
    const jval *v = &D->f[F_IP];
    if (v->type != J_STR)
        return core_errf(D->err, D->errlen, "field client_ip must be a string, got %s",
                         type_name(v->type));
    unsigned char addr[16];
    char norm[INET6_ADDRSTRLEN];
    size_t n;
    const char *s = str_bytes(&D->scratch, v, false, &n);
    if (s && plain_ipv4(s, n)) {
        if (!(ev->client_ip = core_event_strdup(ev, s, n)))
            return core_errf(D->err, D->errlen, "out of memory");
        return 0;
    }
    if (!(s = str_bytes(&D->scratch, v, true, &n)))
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
    const jval *v = &D->f[F_TS];
    if (v->type == J_STR) {
        size_t n;
        const char *s = str_bytes(&D->scratch, v, false, &n);
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
    if (v->type == J_NUM) {
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
                     type_name(v->type));
}

/* The event from the fields of a message that parsed. */
static int decode_fields(const coll_limits *lim, decoder *D, core_event *ev)
{
    const jval *f = D->f;
    for (int k = F_EVENT_ID; k <= F_VERSION; k++)
        if (f[k].type == J_NULL)
            return core_errf(D->err, D->errlen, "required field %s is missing", g_fields[k]);

    if (get_ident(D, ev, F_EVENT_ID, CORE_EVENT_ID_MAX, &ev->event_id) || get_ts(D, ev) ||
        get_ident(D, ev, F_KEY, CORE_EVENT_NAME_MAX, &ev->api_key_id) ||
        get_ident(D, ev, F_MODEL, CORE_EVENT_NAME_MAX, &ev->model) ||
        get_ident(D, ev, F_VERSION, CORE_EVENT_VERSION_MAX, &ev->model_version))
        return -1;
    if (f[F_TENANT].type != J_NULL &&
        get_ident(D, ev, F_TENANT, CORE_EVENT_NAME_MAX, &ev->tenant))
        return -1;
    if (f[F_USER].type != J_NULL && get_ident(D, ev, F_USER, CORE_EVENT_NAME_MAX, &ev->user_id))
        return -1;
    if (f[F_SESSION].type != J_NULL &&
        get_ident(D, ev, F_SESSION, CORE_EVENT_NAME_MAX, &ev->session_id))
        return -1;
    if (f[F_IP].type != J_NULL && get_ip(D, ev))
        return -1;
    if (f[F_PROMPT].type != J_NULL &&
        get_text(D, ev, F_PROMPT, lim->prompt_max_bytes, &ev->prompt, &ev->prompt_len,
                 &ev->prompt_size, &ev->prompt_truncated))
        return -1;
    if (f[F_RESPONSE].type != J_NULL &&
        get_text(D, ev, F_RESPONSE, lim->response_max_bytes, &ev->response, &ev->response_len,
                 &ev->response_size, &ev->response_truncated))
        return -1;
    if (f[F_PTOK].type != J_NULL && get_count(D, F_PTOK, &ev->prompt_tokens))
        return -1;
    if (f[F_CTOK].type != J_NULL && get_count(D, F_CTOK, &ev->completion_tokens))
        return -1;
    if (f[F_LAT].type != J_NULL) {
        if (f[F_LAT].type != J_NUM)
            return core_errf(D->err, D->errlen, "field latency_ms must be a number, got %s",
                             type_name(f[F_LAT].type));
        if (!(f[F_LAT].d >= 0 && f[F_LAT].d < 1e12))
            return core_errf(D->err, D->errlen, "field latency_ms must be between 0 and 1e12");
        ev->has_latency = true;
        ev->latency_ms = f[F_LAT].d;
    }
    if (f[F_STATUS].type != J_NULL) {
        double d = f[F_STATUS].type == J_NUM ? f[F_STATUS].d : NAN;
        if (!(d == floor(d) && d >= -2147483648.0 && d <= 2147483647.0))
            return core_errf(D->err, D->errlen, "field status must be a 32-bit integer");
        ev->has_status = true;
        ev->status = (int32_t)d;
    }
    if (f[F_FINISH].type != J_NULL &&
        get_ident(D, ev, F_FINISH, CORE_EVENT_FINISH_MAX, &ev->finish_reason))
        return -1;
    if (f[F_REFUSAL].type != J_NULL) {
        if (f[F_REFUSAL].type != J_TRUE && f[F_REFUSAL].type != J_FALSE)
            return core_errf(D->err, D->errlen, "field refusal must be true or false, got %s",
                             type_name(f[F_REFUSAL].type));
        ev->refusal = f[F_REFUSAL].type == J_TRUE ? 1 : 0;
    }
    if (f[F_SCORES].type != J_NULL && get_scores(D, ev))
        return -1;
    if (f[F_ATTRS].type != J_NULL) {
        if (f[F_ATTRS].type != J_OBJ)
            return core_errf(D->err, D->errlen, "field attrs must be an object, got %s",
                             type_name(f[F_ATTRS].type));
        if (get_json(D, ev, &f[F_ATTRS], "attrs", lim->attrs_max_bytes, &ev->attrs_json))
            return -1;
    }
    /* unknown top-level fields are ignored: gateways may add their own */
    return 0;
}

/* ---- refused messages ---- */

/* Why a message the parser refused is not a JSON object, in the words the
 * checks have always used: the pre-scan's, else the offset where cJSON
 * stops, trailing data after the value, or the kind of value it is. cJSON
 * runs only here, on refused messages, so that those offsets stay the ones
 * operators have seen. */
static void explain_refusal(const unsigned char *s, size_t len, char *err, size_t errlen)
{
    if (prescan(s, len, err, errlen) < 0)
        return;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)s, len, &end, 0);
    if (!root) {
        size_t at = end && end >= (const char *)s ? (size_t)(end - (const char *)s) : 0;
        core_errf(err, errlen, "malformed JSON at offset %zu", at);
        return;
    }
    for (const char *p = end; p < (const char *)s + len; p++)
        if (!is_ws((unsigned char)*p)) {
            core_errf(err, errlen, "trailing data after the JSON value at offset %zu",
                      (size_t)(p - (const char *)s));
            goto done;
        }
    int t = cJSON_IsString(root) ? J_STR : cJSON_IsNumber(root) ? J_NUM
          : cJSON_IsBool(root)   ? J_TRUE : cJSON_IsNull(root) ? J_NULL
          : cJSON_IsArray(root)  ? J_ARR : J_OBJ;
    if (t != J_OBJ)
        core_errf(err, errlen, "the message is %s, not a JSON object", type_name(t));
    else /* not reached: what cJSON and the pre-scan take, the parser takes */
        core_errf(err, errlen, "malformed JSON");
done:
    cJSON_Delete(root);
}

/* A parser ready for one message ending at end: no keys seen, no field set,
 * errors into err. Both entry points below start from it. */
static void parser_init(parser *P, const unsigned char *end, char *err, size_t errlen)
{
    P->end = end;
    P->keys = P->keys_local;
    P->n_keys = 0;
    P->cap_keys = KEYS_LOCAL;
    jb_init(&P->kbuf);
    P->oom = P->tree_err = false;
    P->err = err;
    P->errlen = errlen;
    for (int k = 0; k < F_N; k++)
        P->f[k].type = J_NULL;
}

int coll_json_check_object(const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *s = buf, *end = s + len, *p;
    if (len == 0)
        return core_errf(err, errlen, "empty");
    long bad = core_utf8_invalid_at(s, len);
    if (bad >= 0)
        return core_errf(err, errlen, "invalid UTF-8 at offset %ld", bad);
    parser P;
    parser_init(&P, end, err, errlen);
    p = s;
    if (len >= 5 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    p = skip_ws(p, end);
    jval root;
    const unsigned char *after = p < end && *p == '{' ? parse_container(&P, p, 0, -1, &root) : NULL;
    if (after)
        after = skip_ws(after, end);
    if (P.keys != P.keys_local)
        free(P.keys);
    jb_free(&P.kbuf);
    if (P.oom)
        return core_errf(err, errlen, "out of memory");
    if (after != end) {
        explain_refusal(s, len, err, errlen);
        return -1;
    }
    return P.tree_err ? -1 : 0;
}

int coll_decode_native(const coll_limits *lim, const void *buf, size_t len, core_event *ev,
                       char *err, size_t errlen)
{
    const unsigned char *s = buf, *end = s + len, *p;
    parser P;
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

    parser_init(&P, end, err, errlen);
    p = s;
    if (len >= 5 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) /* cJSON skips a byte order mark */
        p += 3;
    p = skip_ws(p, end);
    jval root;
    const unsigned char *after = p < end && *p == '{' ? parse_container(&P, p, 0, -1, &root) : NULL;
    if (after)
        after = skip_ws(after, end);
    if (P.keys != P.keys_local)
        free(P.keys);
    jb_free(&P.kbuf);
    if (P.oom) {
        core_errf(err, errlen, "out of memory");
        goto fail;
    }
    if (after != end) { /* not one JSON object, or more after it */
        explain_refusal(s, len, err, errlen);
        goto fail;
    }
    if (P.tree_err)
        goto fail;

    D.f = P.f;
    D.end = end;
    jb_init(&D.scratch);
    D.err = err;
    D.errlen = errlen;
    rc = decode_fields(lim, &D, ev);
    jb_free(&D.scratch);
fail:
    if (rc < 0)
        core_event_clear(ev);
    return rc;
}
