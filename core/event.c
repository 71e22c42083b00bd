/* Event storage, event-time formatting and parsing, UTF-8 checks. */
#include "core/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arena blocks are chained: each block starts with a pointer to the previous
 * one, so strings handed out never move when the arena grows. */
typedef struct block {
    struct block *prev;
    size_t cap, len;
    max_align_t data[];
} block;

void core_event_clear(core_event *ev)
{
    block *b = (block *)ev->arena;
    while (b) {
        block *p = b->prev;
        free(b);
        b = p;
    }
    memset(ev, 0, sizeof *ev);
}

int core_event_reserve(core_event *ev, size_t n)
{
    if (ev->arena)
        return 0;
    size_t cap = (n + 15) & ~(size_t)15;
    block *b = malloc(sizeof(block) + cap);
    if (!b)
        return -1;
    b->prev = NULL;
    b->cap = cap;
    b->len = 0;
    ev->arena = (char *)b;
    ev->arena_cap = cap;
    return 0;
}

void *core_event_alloc(core_event *ev, size_t n)
{
    block *b = (block *)ev->arena;
    size_t need = (n + 15) & ~(size_t)15;
    if (!b || b->len + need > b->cap) {
        size_t cap = need > 4096 ? need : 4096;
        if (b && b->cap * 2 > cap && b->cap < (1u << 20))
            cap = b->cap * 2 > need ? b->cap * 2 : need;
        block *nb = malloc(sizeof(block) + cap);
        if (!nb)
            return NULL;
        nb->prev = b;
        nb->cap = cap;
        nb->len = 0;
        ev->arena = (char *)nb;
        ev->arena_cap += cap;
        b = nb;
    }
    void *p = (char *)b->data + b->len;
    b->len += need;
    ev->arena_len += need;
    return p;
}

const char *core_event_strdup(core_event *ev, const char *s, size_t n)
{
    char *p = core_event_alloc(ev, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

const char *core_ts_format(int64_t ts_us, char *buf, size_t size)
{
    int64_t secs = ts_us >= 0 ? ts_us / 1000000 : -((-ts_us + 999999) / 1000000);
    int64_t us = ts_us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999 || size < 28) {
        snprintf(buf, size, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ", y, m, d, (int)(sod / 3600),
                 (int)(sod / 60 % 60), (int)(sod % 60), (int)us);
        return buf;
    }
    /* the same, by hand: incidents and alerts write several a row */
    unsigned v[] = {(unsigned)y, m, d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60),
                    (unsigned)(sod % 60), (unsigned)us};
    static const unsigned width[] = {4, 2, 2, 2, 2, 2, 6};
    static const char after[] = "--T::.Z";
    char *w = buf;
    for (int f = 0; f < 7; f++) {
        for (unsigned k = width[f], x = v[f]; k > 0; k--, x /= 10)
            w[k - 1] = (char)('0' + x % 10);
        w += width[f];
        *w++ = after[f];
    }
    *w = '\0';
    return buf;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int core_ts_parse(const char *s, size_t len, int64_t *ts_us)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, mi, se;
    if (len < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &se))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || se > 60)
        return -1;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap)
        return -1;
    if (se == 60) /* a leap second is folded onto the next second */
        se = 59;
    size_t i = 19;
    int64_t us = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t nd = 0;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 6) {
                us += (s[i] - '0') * scale;
                scale /= 10;
            }
            nd++;
            i++;
        }
        if (nd == 0 || nd > 9)
            return -1;
    }
    int off_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)off_min * 60;
    *ts_us = secs * 1000000 + us;
    return 0;
}

long core_utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII eight bytes at a time: most text is */
        uint64_t w;
        while (i + 8 <= n && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ULL) == 0))
            i += 8;
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return (long)i;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n || (s[i + k] & 0xC0) != 0x80)
                return (long)i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)i;
        i += need + 1;
    }
    return -1;
}

long core_text_control_at(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        if (c < 0x20 || c == 0x7f)
            return (long)i;
        if (c == 0xC2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F)
            return (long)i;
        if (c == 0xE2 && i + 2 < n && u[i + 1] == 0x80 && (u[i + 2] == 0xA8 || u[i + 2] == 0xA9))
            return (long)i;
    }
    return -1;
}

size_t core_utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    /* step back over continuation bytes to the start of the last character */
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}
