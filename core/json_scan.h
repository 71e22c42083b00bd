/* The JSON scanner the decoders and the other readers of outside JSON share
 * (core/, since the collector's decoders and the playbooks' incident check
 * both use it): one pass over a message that checks it by
 * the decoders' rules (valid UTF-8 is checked before, by the caller; no NUL,
 * raw or \u0000; no raw control character in a string; no lone surrogate; no
 * duplicate key at any depth; RFC 8259 numbers; at most
 * CORE_JSON_MAX_DEPTH levels) and keeps, for the top-level keys a decoder
 * asks for, where their values lie in the message. Decoders then read the
 * values straight from the message (core_json_str_bytes, core_json_emit).
 * The decoders (collector/decode_*.c) use the scanner; anything else reads
 * outside JSON through core_json_check_object. Prefix core_json_. */
#ifndef CORE_JSON_SCAN_H
#define CORE_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CORE_JSON_MAX_DEPTH 32

/* ---- a growable byte buffer: compact JSON output and decoded strings ---- */

typedef struct {
    char *p;
    size_t n, cap;
    bool oom;
    char local[1024];
} core_json_buf;

static inline void core_json_buf_init(core_json_buf *b)
{
    b->p = b->local;
    b->n = 0;
    b->cap = sizeof b->local;
    b->oom = false;
}

static inline void core_json_buf_free(core_json_buf *b)
{
    if (b->p != b->local)
        free(b->p);
}

/* Room for n more bytes (and a NUL) at b->p + b->n, or NULL (b->oom set). */
static inline char *core_json_buf_room(core_json_buf *b, size_t n)
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

/* b's bytes as a malloc'd NUL-terminated string (b's own memory when it
 * has grown, a copy of the local buffer else), or NULL when b ran out of
 * memory or the copy does; b can be freed after either. */
static inline char *core_json_buf_take(core_json_buf *b)
{
    if (b->oom)
        return NULL;
    b->p[b->n] = '\0'; /* room: buf_room keeps one byte */
    if (b->p == b->local)
        return strdup(b->p);
    char *s = b->p;
    b->p = b->local;
    return s;
}

static inline void core_json_buf_put(core_json_buf *b, const char *s, size_t n)
{
    char *w = core_json_buf_room(b, n);
    if (!w)
        return;
    memcpy(w, s, n);
    b->n += n;
}

/* ---- lexical rules ---- */

static inline bool core_json_is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool core_json_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline bool core_json_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const unsigned char *core_json_skip_ws(const unsigned char *p,
                                                     const unsigned char *end)
{
    while (p < end && core_json_is_ws(*p))
        p++;
    return p;
}

/* The value of the 4 hex digits at s (checked before). */
static inline unsigned core_json_hex4(const unsigned char *s)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        h = h << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return h;
}

static inline bool core_json_hex4_ok(const unsigned char *s)
{
    return core_json_is_hex(s[0]) && core_json_is_hex(s[1]) && core_json_is_hex(s[2]) &&
           core_json_is_hex(s[3]);
}

/* Length of the JSON number at s[0..n) (RFC 8259 grammar), or 0 when the
 * bytes there are not one. */
size_t core_json_number_len(const unsigned char *s, size_t n);

/* ---- values ---- */

enum { COLL_J_NULL, COLL_J_FALSE, COLL_J_TRUE, COLL_J_NUM, COLL_J_STR, COLL_J_ARR, COLL_J_OBJ };

/* Where a value lies in the message. A string is the raw bytes between its
 * quotes (p, n), esc when they hold an escape; a number is its value d; an
 * object or array is p at its opening bracket, n members or items, and len
 * bytes of text up to its closing bracket. For an object or array the
 * parser sets esc when its text is not already its compact form (what
 * core_json_emit writes): some whitespace, a string with an escape, or a
 * number written otherwise than compactly (core_json_number_compact). So
 * when esc is false the text itself is the compact form. */
typedef struct {
    int type;
    bool esc;
    const unsigned char *p;
    size_t n, len;
    double d;
} core_json_val;

/* "a string", "a number", ...: for reasons. */
const char *core_json_type_name(int t);

/* Scans the string whose opening quote is at q (into v). Returns the byte
 * after its closing quote, or NULL when it breaks the rules. */
const unsigned char *core_json_scan_string(const unsigned char *q, const unsigned char *end,
                                           core_json_val *v);

/* Reads the number at q into *d as cJSON does (strtod() in the locale's
 * decimal point). Returns the byte after it, or NULL when there is no
 * number there. *d is NaN, which no JSON number reads as, when out of
 * memory. */
const unsigned char *core_json_scan_number(const unsigned char *q, const unsigned char *end,
                                           double *d);

/* The decoded bytes of string v in a NUL-terminated copy in scratch (valid
 * until scratch is next used), n of them; NULL when out of memory. */
const char *core_json_str_copy(core_json_buf *scratch, const core_json_val *v, size_t *n);

/* The decoded bytes of string v (n of them): the message's own bytes when
 * it has no escape and nul is false, else core_json_str_copy(). */
static inline const char *core_json_str_bytes(core_json_buf *scratch, const core_json_val *v,
                                              bool nul, size_t *n)
{
    if (!v->esc && !nul) {
        *n = v->n;
        return (const char *)v->p;
    }
    return core_json_str_copy(scratch, v, n);
}

/* ---- the one-pass parser ---- */

/* Maps a top-level key (n decoded bytes) to the index of the field a decoder
 * wants, or to a value >= the number of its fields when it wants none. */
typedef int (*core_json_field_fn)(const char *key, size_t n);

/* Parses s[0..len) (valid UTF-8: the caller checks) as one JSON object by the
 * rules above, after an optional UTF-8 byte order mark (cJSON skips one).
 * The values of the top-level keys field_of maps into 0..n_fields-1 go to
 * fields[] (type COLL_J_NULL when absent or null: the caller sets every one
 * to COLL_J_NULL before); field_of may be NULL (no field kept). Returns 0,
 * or -1 with the reason in err: for what is not one JSON object, in the
 * words the checks have always used (the lexical pre-scan's, else the offset
 * where cJSON stops); else the first duplicate key or out-of-range number. */
int core_json_parse_object(const unsigned char *s, size_t len, core_json_val *fields,
                           int n_fields, core_json_field_fn field_of, char *err, size_t errlen);

/* Why s[0..len), which core_json_parse_object refused as not one JSON
 * object, is not one (core_json_explain.c). */
void core_json_explain_refusal(const unsigned char *s, size_t len, char *err, size_t errlen);

/* ---- compact JSON ---- */

/* Writes the compact form of the value at p (in JSON the parser accepted,
 * nothing is checked again) to out, byte for byte what
 * cJSON_PrintUnformatted writes; scratch holds decoded strings meanwhile.
 * Returns the byte after the value. out->oom tells of a failure. */
const unsigned char *core_json_emit(core_json_buf *out, core_json_buf *scratch,
                                    const unsigned char *p, const unsigned char *end);

/* cJSON_PrintUnformatted, byte for byte, written here: cJSON prints each
 * number with sprintf and reads it back with sscanf, which was most of the
 * cost of writing an incident. core_json_print_cjson appends item's JSON to
 * out (-1: an item cJSON would not print either; out->oom: out of memory);
 * core_json_print_unformatted returns it malloc'd (NULL on either). */
struct cJSON;
int core_json_print_cjson(core_json_buf *out, const struct cJSON *item);
char *core_json_print_unformatted(const struct cJSON *item);

/* Writes the number d as cJSON_PrintUnformatted writes a cJSON number. */
void core_json_put_number(core_json_buf *out, double d);

/* Writes the n bytes s as a JSON string, quotes included, escaped as
 * cJSON_PrintUnformatted escapes them (quote, backslash, control bytes). */
void core_json_put_string(core_json_buf *out, const char *s, size_t n);

/* Writes the compact form of the number text q..e, whose value is d (not
 * NaN), as core_json_emit does. */
void core_json_emit_number(core_json_buf *out, const unsigned char *q, const unsigned char *e,
                           double d);

/* True when core_json_emit writes the number text q..e (whose value is d)
 * as it is. False may be said of some that it does write as they are (the
 * parser then emits them): never true of one it writes otherwise. */
bool core_json_number_compact(const unsigned char *q, const unsigned char *e, double d);

/* Checks that buf[0..len) is one JSON object by the decoders' rules: valid
 * UTF-8, no NUL (raw or \\u0000), no raw control character in a string, no
 * lone surrogate, no duplicate key at any depth, nothing after the object.
 * Returns 0, or -1 with the reason (and its offset) in err. For other
 * JSON that custos reads from outside, such as incident files. */
int core_json_check_object(const void *buf, size_t len, char *err, size_t errlen);

#endif
