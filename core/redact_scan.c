/* Secrets and personal data in text (redact_scan.h). One pass: a table says
 * which matchers a byte may start (most bytes of prose start none, and a
 * class that is off adds no entries), each matcher reads forward from there
 * (the e-mail matcher also back over the local part) and reports the value's
 * span. Hand-written rather than vectorscan: the matchers need the start of
 * a match and a check (Luhn, mod 97) on the value, which the analytics' rules
 * get by walking back from each reported end; here both come from one walk.
 * bench/ingest/redact.sh measures it against the decode of the same events. */
#include "core/redact_scan.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const g_class_names[CORE_RD_N] = {
    "api_key", "jwt", "bearer", "private_key", "password", "email", "phone", "card", "iban"};

const char *core_rd_class_name(core_rd_class c)
{
    return c < CORE_RD_N ? g_class_names[c] : "unknown";
}

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_alpha(unsigned char c) { return (unsigned char)((c | 0x20) - 'a') < 26; }
static inline bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
/* API key bodies: base64url-ish */
static inline bool is_key(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }
/* a bearer token: RFC 6750 b64token */
static inline bool is_b64tok(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

typedef struct {
    const unsigned char *t;
    size_t n;
} text;

/* Bytes of class cl from i on (at most max), or the whole run. */
static size_t run(const text *x, size_t i, bool (*cl)(unsigned char), size_t max)
{
    size_t j = i;
    while (j < x->n && j - i < max && cl(x->t[j]))
        j++;
    return j - i;
}

static bool at(const text *x, size_t i, const char *w)
{
    size_t k = strlen(w);
    return x->n - i >= k && memcmp(x->t + i, w, k) == 0;
}

/* The value does not run on into more word characters. */
static bool ends_word(const text *x, size_t j) { return j >= x->n || !is_alnum(x->t[j]); }

/* ---- secrets ---------------------------------------------------------- */

/* prefix, then at least min body characters of class key (exact: min ==
 * max), ending at a word end. */
static size_t key_body(const text *x, size_t i, const char *prefix, size_t min, size_t max,
                       bool (*cl)(unsigned char))
{
    if (!at(x, i, prefix))
        return 0;
    size_t p = i + strlen(prefix);
    size_t r = run(x, p, cl, max + 1);
    if (r < min || r > max)
        return 0;
    return p + r;
}

static bool is_alnum_b(unsigned char c) { return is_alnum(c); }
static bool is_digit_b(unsigned char c) { return is_digit(c); }
static bool is_key_b(unsigned char c) { return is_key(c); }
static bool is_upper_digit(unsigned char c) { return is_upper(c) || is_digit(c); }
static bool is_key_dash(unsigned char c) { return is_alnum(c) || c == '-'; }
static bool is_key_us(unsigned char c) { return is_alnum(c) || c == '_'; }

#define UNBOUNDED ((size_t)4096)

/* An API key or token format starting at i: the end, or 0. */
static size_t api_key(const text *x, size_t i)
{
    size_t e = 0;
    switch (x->t[i]) {
    case 's':
        if ((e = key_body(x, i, "sk-", 20, UNBOUNDED, is_key_b)) ||
            (e = key_body(x, i, "sk_live_", 24, UNBOUNDED, is_alnum_b)))
            return e;
        break;
    case 'r':
        return key_body(x, i, "rk_live_", 24, UNBOUNDED, is_alnum_b);
    case 'A':
        if ((e = key_body(x, i, "AKIA", 16, 16, is_upper_digit)) ||
            (e = key_body(x, i, "ASIA", 16, 16, is_upper_digit)) ||
            (e = key_body(x, i, "AIza", 35, 35, is_key_b)))
            return e;
        break;
    case 'g':
        if (x->n - i > 4 && x->t[i + 1] == 'h' && strchr("pousr", x->t[i + 2]) && x->t[i + 2] &&
            x->t[i + 3] == '_') {
            size_t r = run(x, i + 4, is_alnum_b, 37);
            if (r == 36)
                return i + 4 + r;
        }
        if ((e = key_body(x, i, "github_pat_", 40, UNBOUNDED, is_key_us)) ||
            (e = key_body(x, i, "glpat-", 20, 20, is_key_b)))
            return e;
        break;
    case 'x':
        if (x->n - i > 5 && at(x, i, "xox") && x->t[i + 3] && strchr("abposr", x->t[i + 3]) &&
            x->t[i + 4] == '-') {
            size_t r = run(x, i + 5, is_key_dash, UNBOUNDED);
            if (r >= 10)
                return i + 5 + r;
        }
        break;
    case 'h':
        return key_body(x, i, "hf_", 34, 34, is_alnum_b);
    case 'n':
        return key_body(x, i, "npm_", 36, 36, is_alnum_b);
    }
    return 0;
}

/* eyJ<b64url>{10,}.<b64url>{10,}.<b64url>{10,} */
static size_t jwt(const text *x, size_t i)
{
    if (!at(x, i, "eyJ"))
        return 0;
    size_t j = i;
    for (int seg = 0; seg < 3; seg++) {
        if (seg) {
            if (j >= x->n || x->t[j] != '.')
                return 0;
            j++;
        }
        size_t r = run(x, j, is_key_b, UNBOUNDED);
        if (r < 10)
            return 0;
        j += r;
    }
    return j;
}

/* "Bearer <token>": the token's span into *from. */
static size_t bearer(const text *x, size_t i, size_t *from)
{
    if (x->n - i < 8 || strncasecmp((const char *)x->t + i, "bearer", 6) != 0)
        return 0;
    size_t j = i + 6;
    size_t sp = 0;
    while (j < x->n && (x->t[j] == ' ' || x->t[j] == '\t') && sp < 8) {
        j++;
        sp++;
    }
    if (!sp)
        return 0;
    size_t r = 0;
    while (j + r < x->n && r < UNBOUNDED && is_b64tok(x->t[j + r]))
        r++;
    if (r < 8)
        return 0;
    *from = j;
    return j + r;
}

/* "-----BEGIN [WORDS ]PRIVATE KEY[ BLOCK]-----" to the matching END line's
 * "-----", or (a key cut by the prompt cap) to the first '"' or the end:
 * a quote never ends inside the key's base64, so a JSON string stays whole. */
static size_t private_key(const text *x, size_t i)
{
    if (!at(x, i, "-----BEGIN "))
        return 0;
    size_t j = i + 11, lim = j + 48 < x->n ? j + 48 : x->n;
    size_t hdr = 0;
    for (; j + 16 <= x->n && j < lim; j++) {
        if (x->t[j] == '\n' || x->t[j] == '"')
            return 0;
        if (at(x, j, "PRIVATE KEY")) {
            hdr = j + 11;
            break;
        }
    }
    if (!hdr)
        return 0;
    if (at(x, hdr, " BLOCK"))
        hdr += 6;
    if (!at(x, hdr, "-----"))
        return 0;
    for (j = hdr + 5; j < x->n; j++) {
        if (x->t[j] == '"')
            return j;
        if (x->t[j] == '-' && at(x, j, "-----END ")) {
            size_t k = j + 9;
            while (k < x->n && k - j < 64 && x->t[k] != '\n' && x->t[k] != '"') {
                if (at(x, k, "-----"))
                    return k + 5;
                k++;
            }
            return k;
        }
    }
    return x->n;
}

static bool is_userinfo(unsigned char c)
{
    return is_alnum(c) || strchr("-._~%!$&'()*+,;=", c) != NULL;
}

/* At "://" (scheme letters before it): user:password@; the password's span
 * into *from. */
static size_t url_password(const text *x, size_t i, size_t *from)
{
    if (!at(x, i, "://") || i == 0 || !is_alpha(x->t[i - 1]))
        return 0;
    size_t j = i + 3, u = 0;
    while (j < x->n && u < 256 && x->t[j] && is_userinfo(x->t[j])) {
        j++;
        u++;
    }
    if (!u || j >= x->n || x->t[j] != ':')
        return 0;
    size_t p = ++j, k = 0;
    while (j < x->n && k < 256) {
        unsigned char c = x->t[j];
        if (c == '@')
            break;
        if (c <= ' ' || c == '/' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '?' ||
            c == '#' || c == 0x7f)
            return 0;
        j++;
        k++;
    }
    if (!k || j >= x->n || x->t[j] != '@' || j + 1 >= x->n || !is_alnum(x->t[j + 1]))
        return 0;
    *from = p;
    return j;
}

/* ---- personal data ---------------------------------------------------- */

static bool is_local(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* At '@': local part back to floor (at most 64), domain labels with a dot and
 * a top-level label of 2+ letters. The address's span into *from. */
static size_t email(const text *x, size_t i, size_t floor, size_t *from)
{
    size_t s = i;
    while (s > floor && i - s < 64 && is_local(x->t[s - 1]))
        s--;
    while (s < i && (x->t[s] == '.' || x->t[s] == '-'))
        s++; /* a sentence's dot or a dash before the address is not part of it */
    if (s == i)
        return 0;
    size_t j = i + 1, end = 0;
    int labels = 0;
    for (;;) {
        size_t l = j;
        while (j < x->n && j - l < 63 && (is_alnum(x->t[j]) || x->t[j] == '-'))
            j++;
        if (j == l || x->t[l] == '-' || x->t[j - 1] == '-')
            break;
        labels++;
        bool tld = j - l >= 2;
        for (size_t k = l; k < j && tld; k++)
            tld = is_alpha(x->t[k]);
        if (labels >= 2 && tld)
            end = j;
        if (j + 1 < x->n && x->t[j] == '.' && is_alnum(x->t[j + 1]))
            j++;
        else
            break;
    }
    if (!end || (end < x->n && (is_alnum(x->t[end]) || x->t[end] == '-')))
        return 0;
    *from = s;
    return end;
}

/* Digits with single spaces or dashes between, 13 to 19 of them, passing
 * Luhn, not running on into more digits or letters. */
static size_t card(const text *x, size_t i)
{
    char d[20];
    size_t nd = 0, j = i, last = i;
    while (j < x->n) {
        if (is_digit(x->t[j])) {
            if (nd == sizeof d - 1)
                return 0; /* 20 digits or more: not a card */
            d[nd++] = (char)x->t[j++];
            last = j;
        } else if ((x->t[j] == ' ' || x->t[j] == '-') && j + 1 < x->n && is_digit(x->t[j + 1]) &&
                   j > i) {
            j++;
        } else {
            break;
        }
    }
    if (nd < 13 || !ends_word(x, last))
        return 0;
    return core_luhn(d, nd) ? last : 0;
}

static size_t digits(const text *x, size_t j, size_t k)
{
    return j + k <= x->n && run(x, j, is_digit_b, k) == k ? j + k : 0;
}

static bool is_sep(unsigned char c) { return c == ' ' || c == '.' || c == '-'; }

/* (\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4} not followed by a
 * digit, as the analytics' rule reads phone numbers, or + and 8 to 15 digits
 * (E.164 written together). */
static size_t phone(const text *x, size_t i)
{
    size_t j = i;
    if (x->t[j] == '+') {
        size_t r = run(x, j + 1, is_digit_b, 16);
        if (r >= 8 && r <= 15 && ends_word(x, j + 1 + r))
            return j + 1 + r;
        if (r < 1 || r > 3)
            return 0;
        j += 1 + r;
        if (j < x->n && is_sep(x->t[j]))
            j++;
    }
    bool paren = j < x->n && x->t[j] == '(';
    if (paren)
        j++;
    if (!(j = digits(x, j, 3)))
        return 0;
    if (paren) {
        if (j >= x->n || x->t[j] != ')')
            return 0;
        j++;
    }
    if (j < x->n && is_sep(x->t[j]))
        j++;
    if (!(j = digits(x, j, 3)))
        return 0;
    if (j >= x->n || !is_sep(x->t[j]))
        return 0;
    if (!(j = digits(x, j + 1, 4)))
        return 0;
    return j < x->n && is_digit(x->t[j]) ? 0 : j;
}

static bool is_ibanch_b(unsigned char c) { return is_upper(c) || is_digit(c); }

/* [A-Z]{2}\d{2}( ?[A-Z0-9]{4}){2,7}( ?[A-Z0-9]{1,3})? at a word end, mod 97. */
static size_t iban(const text *x, size_t i)
{
    if (x->n - i < 15 || !is_upper(x->t[i + 1]) || !is_digit(x->t[i + 2]) ||
        !is_digit(x->t[i + 3]))
        return 0;
    size_t j = i + 4, groups = 0;
    for (;;) {
        size_t g = j;
        if (g < x->n && x->t[g] == ' ')
            g++;
        size_t r = run(x, g, is_ibanch_b, 4);
        if (r == 4 && groups < 7) {
            groups++;
            j = g + 4;
            continue;
        }
        if (groups >= 2 && r >= 1 && r <= 3)
            j = g + r;
        break;
    }
    if (groups < 2 || !ends_word(x, j))
        return 0;
    return core_iban_valid((const char *)x->t + i, j - i) ? j : 0;
}

/* ---- the pass ---------------------------------------------------------- */

enum { M_KEY = 1, M_JWT = 2, M_BEARER = 4, M_PEM = 8, M_URL = 16, M_EMAIL = 32, M_DIGITS = 64,
       M_IBAN = 128 };

/* The matchers byte c may start, for the classes in mask (tab), and those a
 * byte after prev may still start (after[prev]: the word-start ones not
 * after a word character), so the loop's test is one AND of two lookups
 * and most bytes of prose, inside words, go by without a branch taken. The
 * tables are the thread's, rebuilt when the mask changes. */
static void dispatch(unsigned mask, unsigned char tab[256], unsigned char after[256])
{
    memset(tab, 0, 256);
    if (mask & (1u << CORE_RD_API_KEY))
        for (const char *p = "srAghxn"; *p; p++)
            tab[(unsigned char)*p] |= M_KEY;
    if (mask & (1u << CORE_RD_JWT))
        tab['e'] |= M_JWT;
    if (mask & (1u << CORE_RD_BEARER))
        tab['B'] |= M_BEARER, tab['b'] |= M_BEARER;
    if (mask & (1u << CORE_RD_PRIVATE_KEY))
        tab['-'] |= M_PEM;
    if (mask & (1u << CORE_RD_PASSWORD))
        tab[':'] |= M_URL;
    if (mask & (1u << CORE_RD_EMAIL))
        tab['@'] |= M_EMAIL;
    if (mask & ((1u << CORE_RD_CARD) | (1u << CORE_RD_PHONE))) {
        for (int c = '0'; c <= '9'; c++)
            tab[c] |= M_DIGITS;
        if (mask & (1u << CORE_RD_PHONE))
            tab['+'] |= M_DIGITS, tab['('] |= M_DIGITS;
    }
    if (mask & (1u << CORE_RD_IBAN))
        for (int c = 'A'; c <= 'Z'; c++)
            tab[c] |= M_IBAN;
    for (int c = 0; c < 256; c++) {
        unsigned a = 0xff;
        if (is_key((unsigned char)c))
            a &= ~(unsigned)(M_KEY | M_JWT | M_BEARER);
        if (is_alnum((unsigned char)c) || c == '+')
            a &= ~(unsigned)M_DIGITS;
        if (is_alnum((unsigned char)c))
            a &= ~(unsigned)M_IBAN;
        after[c] = (unsigned char)a;
    }
}

size_t core_rd_scan(const char *s, size_t n, unsigned mask, core_rd_hit *hits, size_t max)
{
    static _Thread_local unsigned t_mask = ~0u;
    static _Thread_local unsigned char tab[256], after[256];
    if (mask != t_mask) {
        dispatch(mask, tab, after);
        t_mask = mask;
    }
    text x = {(const unsigned char *)s, n};
    size_t nh = 0, floor = 0; /* floor: the end of the last finding */
    unsigned char prev = ' '; /* the text's start and a finding's end start a word */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = x.t[i];
        unsigned m = tab[c] & after[prev];
        prev = c;
        if (__builtin_expect(!m, 1))
            continue;
        size_t from = i, to = 0;
        core_rd_class cls = CORE_RD_N;
        if ((m & M_BEARER) && (to = bearer(&x, i, &from)))
            cls = CORE_RD_BEARER;
        else if ((m & M_KEY) && (to = api_key(&x, i)))
            cls = CORE_RD_API_KEY;
        else if ((m & M_JWT) && (to = jwt(&x, i)))
            cls = CORE_RD_JWT;
        else if ((m & M_PEM) && (to = private_key(&x, i)))
            cls = CORE_RD_PRIVATE_KEY;
        else if ((m & M_URL) && (to = url_password(&x, i, &from)))
            cls = CORE_RD_PASSWORD;
        else if ((m & M_EMAIL) && (to = email(&x, i, floor, &from)))
            cls = CORE_RD_EMAIL;
        else if (m & M_DIGITS) {
            if ((mask & (1u << CORE_RD_CARD)) && is_digit(c) && (to = card(&x, i)))
                cls = CORE_RD_CARD;
            else if ((mask & (1u << CORE_RD_PHONE)) && (to = phone(&x, i)))
                cls = CORE_RD_PHONE;
        }
        if (cls == CORE_RD_N && (m & M_IBAN) && (to = iban(&x, i)))
            cls = CORE_RD_IBAN;
        if (cls == CORE_RD_N)
            continue;
        if (from < floor)
            from = floor;
        if (nh < max)
            hits[nh] = (core_rd_hit){cls, (uint32_t)from, (uint32_t)to};
        nh++;
        floor = to;
        i = to - 1;
        prev = ' ';
    }
    return nh;
}

/* ---- checks ------------------------------------------------------------ */

bool core_luhn(const char *d, size_t n)
{
    if (n < 13 || n > 19)
        return false;
    int sum = 0;
    bool dbl = false;
    bool all_same = true;
    for (size_t i = n; i-- > 0;) {
        int x = d[i] - '0';
        if (x < 0 || x > 9)
            return false;
        if (d[i] != d[0])
            all_same = false;
        if (dbl) {
            x *= 2;
            if (x > 9)
                x -= 9;
        }
        sum += x;
        dbl = !dbl;
    }
    /* 0000 0000 0000 0000 passes Luhn but is nobody's card */
    return sum % 10 == 0 && !all_same;
}

bool core_iban_valid(const char *s, size_t n)
{
    char c[40];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        if (k >= sizeof c || !isalnum((unsigned char)s[i]))
            return false;
        c[k++] = (char)toupper((unsigned char)s[i]);
    }
    if (k < 15 || k > 34 || !isalpha((unsigned char)c[0]) || !isalpha((unsigned char)c[1]) ||
        !isdigit((unsigned char)c[2]) || !isdigit((unsigned char)c[3]))
        return false;
    /* move the first four to the end, letters as 10..35, mod 97 == 1 */
    unsigned rem = 0;
    for (size_t j = 0; j < k; j++) {
        char ch = c[(j + 4) % k];
        if (isdigit((unsigned char)ch)) {
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        } else {
            unsigned v = (unsigned)(ch - 'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    return rem == 1;
}
