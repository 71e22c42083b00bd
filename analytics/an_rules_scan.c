/* Signature rules, the scan: one pass of each field's vectorscan database
 * over an event's prompt and response, the validators that confirm a
 * match (Luhn, IBAN, entropy, base64), counting rules, and the encoded
 * payloads found by a byte loop (see an_rules_load.c for why). */
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_features.h"
#include "analytics/an_rules.h"
#include "analytics/an_rules_impl.h"

typedef struct {
    an_rules *r;
    const char *text;
    bool response;
} scan_ctx;

static bool is_digitish(char c) { return (c >= '0' && c <= '9') || c == ' ' || c == '-'; }
static bool is_ibanish(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' '; }
static bool is_tokenish(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}
static bool is_b64_body(unsigned char c)
{
    return (unsigned char)((c | 0x20) - 'a') < 26 || (unsigned char)(c - '0') < 10 || c == '+' ||
           c == '/';
}
static bool is_b64(char c) { return is_b64_body((unsigned char)c) || c == '='; }

/* The validators get the text and the end of a match and find its start
 * themselves: the longest run of the validator's characters ending there
 * (bounded). *start is where the validated value begins. */
static bool validate(an_validator v, const char *t, size_t to, size_t *start)
{
    size_t from = to;
    switch (v) {
    case AN_VAL_NONE:
        *start = to;
        return true;
    case AN_VAL_LUHN: {
        while (from > 0 && to - from < 40 && is_digitish(t[from - 1]))
            from--;
        /* the card starts where the run does or after one of its separators
         * (digit groups), never mid-group: arbitrary suffixes would pass Luhn
         * one time in ten */
        for (size_t b = from; b < to; b++) {
            if (b > from && !(t[b - 1] == ' ' || t[b - 1] == '-'))
                continue;
            if (t[b] < '0' || t[b] > '9')
                continue;
            char d[48];
            size_t k = 0;
            for (size_t i = b; i < to; i++)
                if (t[i] >= '0' && t[i] <= '9')
                    d[k++] = t[i];
            if (k >= 13 && k <= 19 && an_luhn(d, k)) {
                *start = b;
                return true;
            }
        }
        return false;
    }
    case AN_VAL_IBAN:
        while (from > 0 && to - from < 48 && is_ibanish(t[from - 1]))
            from--;
        for (size_t i = from; i + 4 <= to; i++)
            if (t[i] >= 'A' && t[i] <= 'Z' && t[i + 1] >= 'A' && t[i + 1] <= 'Z' &&
                t[i + 2] >= '0' && t[i + 2] <= '9' && t[i + 3] >= '0' && t[i + 3] <= '9' &&
                (i == 0 || !is_ibanish(t[i - 1]) || t[i - 1] == ' ') &&
                an_iban_valid(t + i, to - i)) {
                *start = i;
                return true;
            }
        return false;
    case AN_VAL_ENTROPY: {
        while (from > 0 && to - from < 256 && is_tokenish(t[from - 1]))
            from--;
        /* a real credential looks random: placeholders (sk-xxxx, sk-1234...)
         * and words do not */
        bool digit = false, alpha = false;
        for (size_t i = from; i < to; i++) {
            digit |= t[i] >= '0' && t[i] <= '9';
            alpha |= (t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z';
        }
        *start = from;
        return digit && alpha && an_entropy(t + from, to - from) >= 3.5;
    }
    case AN_VAL_BASE64:
        while (from > 0 && to - from < 4096 && is_b64(t[from - 1]))
            from--;
        *start = from;
        return an_base64_text(t + from, to - from);
    }
    return false;
}

/* Kind encoded: a run of base64 characters (and up to two '=') at least
 * min_len long that decodes to text. A run that long must cover the byte at
 * i + min_len - 1, so the search looks there first and, when it is not a
 * base64 character, jumps past it: in prose most bytes are never read. */
static bool b64_payload(const char *t, size_t n, int min_len)
{
    const size_t L = (size_t)min_len;
    size_t i = 0;
    while (n >= L && i <= n - L) {
        size_t p = i + L - 1;
        if (!is_b64_body((unsigned char)t[p])) {
            i = p + 1;
            continue;
        }
        size_t q = p; /* walk back: is all of i..p base64? */
        while (q > i && is_b64_body((unsigned char)t[q - 1]))
            q--;
        if (q > i) { /* t[q - 1] is not: no run of L starts before q */
            i = q;
            continue;
        }
        size_t from = i; /* a run of L or more: find its ends */
        while (from > 0 && is_b64_body((unsigned char)t[from - 1]))
            from--;
        size_t end = p + 1;
        while (end < n && is_b64_body((unsigned char)t[end]))
            end++;
        size_t pad = end;
        while (pad < n && t[pad] == '=' && pad - end < 2)
            pad++;
        if (an_base64_text(t + from, pad - from))
            return true;
        i = end + 1;
    }
    return false;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ud)
{
    scan_ctx *c = ud;
    an_rules *r = c->r;
    unsigned ri = r->pat_rule[id];
    const an_rule *ru = &r->rules[ri];
    if (ru->on_response != c->response)
        return 0;
    (void)from; /* no start-of-match tracking: see parse_rule */
    if (ru->validate != AN_VAL_NONE) {
        /* a validated rule reports every end of one match: count each value
         * once (by where it starts) */
        size_t start;
        if (!validate(ru->validate, c->text, (size_t)to, &start))
            return 0;
        if (r->last_from[ri] == (long long)start)
            return 0;
        r->last_from[ri] = (long long)start;
    }
    if (r->count[ri] == 0)
        r->touched[r->ntouched++] = ri;
    if (r->count[ri] < UINT16_MAX)
        r->count[ri]++;
    return 0;
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void reset(an_rules *r)
{
    for (size_t i = 0; i < r->ntouched; i++) {
        r->count[r->touched[i]] = 0;
        r->last_from[r->touched[i]] = -1;
    }
    r->ntouched = 0;
}

int an_rules_scan(an_rules *r, const core_event *ev, an_obs *o, int bulk_min)
{
    return an_rules_scan_memo(r, ev, o, bulk_min, NULL, NULL);
}

int an_rules_scan_memo(an_rules *r, const core_event *ev, an_obs *o, int bulk_min,
                       const an_rules_prompt *in, an_rules_prompt *out)
{
    scan_ctx c = {r, NULL, false};
    int detected_refusal = 0;
    if (out)
        memset(out, 0, sizeof *out);
    for (int pass = 0; pass < 2; pass++) {
        const char *t = pass ? ev->response : ev->prompt;
        size_t n = pass ? ev->response_len : ev->prompt_len;
        if (pass == 1 && out) { /* the prompt's pass is over: what it gave */
            out->probe_score = o->probe_score;
            out->encoded = o->encoded;
            out->refusal = detected_refusal;
            out->n_rules = o->n_rules;
            memcpy(out->rules, o->rules, sizeof out->rules);
            out->leak = o->leak;
            out->n_emails = o->n_emails;
            out->n_phones = o->n_phones;
        }
        if (pass == 0 && in) { /* the observation starts zeroed: the pass's result is *in */
            o->probe_score = in->probe_score;
            o->encoded = in->encoded;
            detected_refusal = in->refusal;
            o->n_rules = in->n_rules;
            memcpy(o->rules, in->rules, sizeof o->rules);
            o->leak = in->leak;
            o->n_emails = in->n_emails;
            o->n_phones = in->n_phones;
            continue;
        }
        if (!t || n == 0)
            continue;
        c.text = t;
        c.response = pass == 1;
        if (r->db[pass] && hs_scan(r->db[pass], t, (unsigned)(n > 0xffffffffu ? 0xffffffffu : n),
                                   0, r->scratch, on_match, &c) != HS_SUCCESS) {
            reset(r);
            return -1;
        }
        for (size_t j = 0; j < r->nenc; j++) {
            size_t ri = r->enc[j];
            if (r->rules[ri].on_response == (pass == 1) && r->count[ri] == 0 &&
                b64_payload(t, n, r->rules[ri].min_len)) {
                r->touched[r->ntouched++] = ri;
                r->count[ri] = 1;
            }
        }
        for (size_t i = 0; i < r->ntouched; i++) {
            size_t ri = r->touched[i];
            const an_rule *ru = &r->rules[ri];
            int cnt = r->count[ri];
            if (ru->leak_kind == AN_LEAK_EMAILS && cnt > o->n_emails)
                o->n_emails = (uint16_t)cnt;
            if (ru->leak_kind == AN_LEAK_PHONES && cnt > o->n_phones)
                o->n_phones = (uint16_t)cnt;
            if (cnt < ru->min_count)
                continue;
            switch (ru->kind) {
            case AN_RULE_PROBE:
            case AN_RULE_ENCODED:
                o->probe_score += (float)ru->weight;
                if (ru->kind == AN_RULE_ENCODED)
                    o->encoded = true;
                if (o->n_rules < AN_OBS_RULES_MAX)
                    o->rules[o->n_rules++] = (uint16_t)ri;
                break;
            case AN_RULE_REFUSAL:
                detected_refusal = 1;
                break;
            case AN_RULE_LEAK:
                o->leak |= ru->leak_kind;
                break;
            }
        }
        reset(r);
    }
    if (o->n_emails >= bulk_min)
        o->leak |= AN_LEAK_EMAILS;
    else
        o->leak &= ~(uint32_t)AN_LEAK_EMAILS;
    if (o->n_phones >= bulk_min)
        o->leak |= AN_LEAK_PHONES;
    else
        o->leak &= ~(uint32_t)AN_LEAK_PHONES;
    qsort(o->rules, o->n_rules, sizeof o->rules[0], cmp_u16);
    if (ev->refusal >= 0)
        o->refusal = ev->refusal;
    else
        o->refusal = detected_refusal;
    return 0;
}
