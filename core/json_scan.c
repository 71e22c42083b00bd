/* The collector's JSON scanner (json_scan.h): strings, numbers and the
 * one-pass parser that checks a message and keeps where the top-level
 * fields a decoder wants lie in it. Messages that fail are explained by
 * core_json_explain_refusal (json_explain.c); compact output of accepted
 * values is json_emit.c. */
#include "core/json_scan.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/event.h"
#include "core/util.h"

/* Length of the JSON number at s[0..n) (RFC 8259 grammar), or 0 when the
 * bytes there are not one. cJSON takes anything strtod() takes, so "01",
 * "1." and "1.e5" would pass it. */
size_t core_json_number_len(const unsigned char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && core_json_is_digit(s[i]))
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !core_json_is_digit(s[i]))
            return 0;
        while (i < n && core_json_is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !core_json_is_digit(s[i]))
            return 0;
        while (i < n && core_json_is_digit(s[i]))
            i++;
    }
    if (i < n && (core_json_is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
        return 0; /* "01", "1.5.5", "1e5e5" */
    return i;
}

/* ---- values ---- */

const char *core_json_type_name(int t)
{
    switch (t) {
    case COLL_J_STR: return "a string";
    case COLL_J_NUM: return "a number";
    case COLL_J_TRUE:
    case COLL_J_FALSE: return "a boolean";
    case COLL_J_NULL: return "null";
    case COLL_J_ARR: return "an array";
    case COLL_J_OBJ: return "an object";
    }
    return "invalid";
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
const unsigned char *core_json_scan_string(const unsigned char *q, const unsigned char *end,
                                           core_json_val *v)
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
            if (end - p < 6 || !core_json_hex4_ok(p + 2))
                return NULL;
            unsigned cp = core_json_hex4(p + 2);
            if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                return NULL;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* must pair with a low surrogate */
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !core_json_hex4_ok(p + 8))
                    return NULL;
                unsigned lo = core_json_hex4(p + 8);
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
    v->type = COLL_J_STR;
    v->esc = esc;
    v->p = q + 1;
    v->n = (size_t)(p - (q + 1));
    return p + 1;
}

/* Decodes the n raw bytes of a string core_json_scan_string accepted into out (room
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
        uint32_t cp = core_json_hex4(s + 2);
        s += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            cp = 0x10000 + (((cp & 0x3FF) << 10) | (core_json_hex4(s + 2) & 0x3FF));
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

const char *core_json_str_copy(core_json_buf *scratch, const core_json_val *v, size_t *n)
{
    scratch->n = 0;
    char *w = core_json_buf_room(scratch, v->n);
    if (!w)
        return NULL;
    *n = v->esc ? unescape(v->p, v->n, w) : (memcpy(w, v->p, v->n), v->n);
    w[*n] = '\0';
    return w;
}

/* Reads the number at q (RFC 8259 grammar) into *d, as cJSON does: with
 * strtod() in the locale's decimal point. Returns the byte after it, or NULL
 * when there is no number there. *d is NaN, which no JSON number reads as,
 * when out of memory. Also sets *loose when the text is not its compact
 * form (as core_json_number_compact judges it) unless it returns NULL or
 * NaN. */
static const unsigned char *scan_number(const unsigned char *q, const unsigned char *end,
                                        double *d, unsigned *loose)
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
        for (; p < end && core_json_is_digit(*p); p++, nd++)
            m = m * 10 + (uint64_t)(*p - '0');
    }
    if (nd && p < end && *p == '.')
        for (p++; p < end && core_json_is_digit(*p); p++, nd++, fd++)
            m = m * 10 + (uint64_t)(*p - '0');
    if (nd && nd <= 15 && (fd || p[-1] != '.') &&
        !(p < end && (core_json_is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E'))) {
        double v = fd ? (double)m / p10[fd] : (double)m;
        *d = neg ? -v : v;
        /* compact: what put_number_text() writes as it is (fewer than 10
         * digits after the point, the last not 0, |d| >= 1e-4), or 0 or -0 */
        *loose = m ? (fd && p[-1] == '0') | (fd >= 10) | (v < 1e-4) : nd != 1 || fd != 0;
        return p;
    }
    /* anything else: checked by the grammar, read by strtod() */
    size_t k = core_json_number_len(q, (size_t)(end - q));
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
    *loose = !core_json_number_compact(q, q + k, *d);
    return q + k;
}

const unsigned char *core_json_scan_number(const unsigned char *q, const unsigned char *end,
                                           double *d)
{
    unsigned loose;
    return scan_number(q, end, d, &loose);
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
    core_json_buf kbuf; /* decoded keys that had escapes */
    bool oom;
    /* the first problem found in well-formed JSON (a duplicate key, a number
     * out of range): reported only when the whole message parses */
    bool tree_err;
    char *err;
    size_t errlen;
    /* the decoder's top-level fields (type COLL_J_NULL when absent) */
    core_json_val *f;
    int n_f;
    core_json_field_fn field_of;
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

/* Pushes the key core_json_scan_string read into v. Returns its index or -1 (oom). */
static long push_key(parser *P, const core_json_val *v)
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
        char *w = core_json_buf_room(&P->kbuf, v->n);
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

static const unsigned char *parse_value(parser *P, const unsigned char *p, int depth, long where,
                                        core_json_val *v);

/* The object or array whose bracket is at q, at nesting depth (open
 * containers around it). where is the key that names it (its numbers are
 * reported under that key). The top-level object (depth 0) keeps the
 * decoder's fields in P->f. Returns the byte after it, or NULL when the message is
 * not JSON as cJSON and the pre-scan read it. */
static const unsigned char *parse_container(parser *P, const unsigned char *q, int depth,
                                            long where, core_json_val *v)
{
    const unsigned char *end = P->end, *p, *w;
    bool obj = *q == '{';
    unsigned char close = obj ? '}' : ']';
    size_t first_key = P->n_keys, kbuf_n = P->kbuf.n, n = 0;
    /* the text is not its compact form: some whitespace, a value written
     * otherwise (core_json_val); or-ed, not branched on */
    unsigned loose;
    if (depth + 1 > CORE_JSON_MAX_DEPTH)
        return NULL;
    p = core_json_skip_ws(q + 1, end);
    loose = p != q + 1;
    if (p < end && *p == close) {
        p++;
        goto done;
    }
    for (;;) {
        core_json_val item, *dst = &item;
        long key = where;
        if (obj) {
            core_json_val kv;
            if (p >= end || *p != '"' || !(p = core_json_scan_string(p, end, &kv)))
                return NULL;
            if ((key = push_key(P, &kv)) < 0)
                return NULL;
            w = core_json_skip_ws(p, end);
            if (w >= end || *w != ':')
                return NULL;
            loose |= kv.esc | (w != p);
            p = core_json_skip_ws(w + 1, end);
            loose |= p != w + 1;
            if (depth == 0 && P->field_of) { /* a field's value goes to P->f (null: absent) */
                const pkey *k = &P->keys[key];
                int f = P->field_of((const char *)key_bytes(P, k), k->n);
                if (f >= 0 && f < P->n_f)
                    dst = &P->f[f];
            }
        }
        if (!(p = parse_value(P, p, depth + 1, key, dst)))
            return NULL;
        n++;
        w = core_json_skip_ws(p, end);
        loose |= dst->esc | (w != p);
        p = w;
        if (p < end && *p == ',') {
            w = core_json_skip_ws(p + 1, end);
            loose |= w != p + 1;
            p = w;
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
    v->type = obj ? COLL_J_OBJ : COLL_J_ARR;
    v->esc = loose;
    v->p = q;
    v->n = n;
    v->len = (size_t)(p - q);
    return P->oom ? NULL : p;
}

static const unsigned char *parse_value(parser *P, const unsigned char *p, int depth, long where,
                                        core_json_val *v)
{
    const unsigned char *end = P->end;
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{':
    case '[':
        return parse_container(P, p, depth, where, v);
    case '"':
        return core_json_scan_string(p, end, v);
    case 't':
        v->type = COLL_J_TRUE;
        v->esc = false;
        return end - p >= 4 && memcmp(p, "true", 4) == 0 ? p + 4 : NULL;
    case 'f':
        v->type = COLL_J_FALSE;
        v->esc = false;
        return end - p >= 5 && memcmp(p, "false", 5) == 0 ? p + 5 : NULL;
    case 'n':
        v->type = COLL_J_NULL;
        v->esc = false;
        return end - p >= 4 && memcmp(p, "null", 4) == 0 ? p + 4 : NULL;
    default: {
        if (*p != '-' && !core_json_is_digit(*p))
            return NULL;
        unsigned loose;
        v->type = COLL_J_NUM;
        if (!(p = scan_number(p, end, &v->d, &loose)))
            return NULL;
        if (isnan(v->d)) {
            P->oom = true;
            return NULL;
        }
        v->esc = loose;
        if (!isfinite(v->d) && !P->tree_err) {
            const pkey *k = &P->keys[where];
            P->tree_err = true;
            core_errf(P->err, P->errlen, "number out of range in %.*s", (int)k->n,
                      (const char *)key_bytes(P, k));
        }
        return p;
    }
    }
}

int core_json_parse_object(const unsigned char *s, size_t len, core_json_val *fields,
                           int n_fields, core_json_field_fn field_of, char *err, size_t errlen)
{
    const unsigned char *end = s + len, *p = s;
    parser P;
    P.end = end;
    P.keys = P.keys_local;
    P.n_keys = 0;
    P.cap_keys = KEYS_LOCAL;
    core_json_buf_init(&P.kbuf);
    P.oom = P.tree_err = false;
    P.err = err;
    P.errlen = errlen;
    P.f = fields;
    P.n_f = n_fields;
    P.field_of = field_of;
    if (len >= 5 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) /* cJSON skips a byte order mark */
        p += 3;
    p = core_json_skip_ws(p, end);
    core_json_val root;
    const unsigned char *after = p < end && *p == '{' ? parse_container(&P, p, 0, -1, &root) : NULL;
    if (after)
        after = core_json_skip_ws(after, end);
    if (P.keys != P.keys_local)
        free(P.keys);
    core_json_buf_free(&P.kbuf);
    if (P.oom)
        return core_errf(err, errlen, "out of memory");
    if (after != end) { /* not one JSON object, or more after it */
        core_json_explain_refusal(s, len, err, errlen);
        return -1;
    }
    return P.tree_err ? -1 : 0;
}

int core_json_check_object(const void *buf, size_t len, char *err, size_t errlen)
{
    if (len == 0)
        return core_errf(err, errlen, "empty");
    long bad = core_utf8_invalid_at(buf, len);
    if (bad >= 0)
        return core_errf(err, errlen, "invalid UTF-8 at offset %ld", bad);
    return core_json_parse_object(buf, len, NULL, 0, NULL, err, errlen);
}
