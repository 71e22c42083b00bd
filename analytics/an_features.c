/* Per-event features: hashes, prompt sketches, validators for leak findings. */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "analytics/an_features.h"
#include "core/redact_scan.h"

uint64_t an_hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* A 64-bit mixer so that FNV's weak low bits do not bias the sketch. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

#define SIM_MAX_WORDS 255 /* byte-wide counters below: at most 255 words */

/* g_lut[b] spreads the 8 bits of b over the 8 bytes of a word, so that one
 * 64-bit add counts 8 bit positions at once. */
static uint64_t g_lut[256];

/* ASCII letters folded, digits kept, other ASCII 0 (a separator); bytes of
 * multi-byte UTF-8 characters are word characters as they are. */
static unsigned char g_word[256];

/* For the prefix hash: white space as ' ', digits as '0', letters folded
 * (the "C" locale's classes, which custos runs in). */
static unsigned char g_pfx[256];

static void lut_init(void)
{
    for (int c = 0; c < 256; c++) {
        g_word[c] = c >= 0x80 ? (unsigned char)c
                    : isalnum(c) ? (unsigned char)tolower(c)
                                 : 0;
        g_pfx[c] = isspace(c) ? ' ' : isdigit(c) ? '0' : (unsigned char)tolower(c);
    }
    for (int b = 0; b < 256; b++) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            if (b & (1 << i))
                v |= 1ULL << (8 * i);
        g_lut[b] = v;
    }
}

/* Charikar's SimHash over the prompt's lower-cased words: prompts that share
 * most words land a few bits apart, unrelated prompts about 32 apart. Only
 * the first SIM_MAX_WORDS words count, which bounds the cost per event. */
static pthread_once_t g_lut_once = PTHREAD_ONCE_INIT;

uint64_t an_simhash(const char *s, size_t n)
{
    pthread_once(&g_lut_once, lut_init);
    /* a[j] byte i counts bit 8*j+i (eight named counters: the compiler keeps
     * them in registers, an array it kept on the stack) */
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    int words = 0;
    size_t i = 0;
    while (i < n && words < SIM_MAX_WORDS) {
        while (i < n && !g_word[(unsigned char)s[i]])
            i++;
        /* rotate-and-xor, not FNV's multiply: a word's bytes need spreading,
         * not mixing, since mix64 mixes the result (a third less time) */
        uint64_t h = 0;
        size_t len = 0;
        unsigned char w;
        while (i < n && (w = g_word[(unsigned char)s[i]])) {
            h = (h << 9 | h >> 55) ^ w;
            i++;
            len++;
        }
        if (!len)
            continue;
        h = mix64(h ^ len);
        words++;
        a0 += g_lut[h & 0xff];
        a1 += g_lut[(h >> 8) & 0xff];
        a2 += g_lut[(h >> 16) & 0xff];
        a3 += g_lut[(h >> 24) & 0xff];
        a4 += g_lut[(h >> 32) & 0xff];
        a5 += g_lut[(h >> 40) & 0xff];
        a6 += g_lut[(h >> 48) & 0xff];
        a7 += g_lut[h >> 56];
    }
    const uint64_t acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
    uint64_t out = 0;
    for (int b = 0; b < 64; b++) {
        int ones = (int)((acc[b / 8] >> (8 * (b % 8))) & 0xff);
        if (2 * ones > words)
            out |= 1ULL << b;
    }
    return out;
}

/* The first 40 characters with case folded, digits as '0' and runs of space
 * as one: a batch job's template hashes the same whatever its record. */
uint32_t an_prefix_hash(const char *s, size_t n)
{
    pthread_once(&g_lut_once, lut_init);
    char buf[40];
    size_t k = 0;
    bool sp = true;
    for (size_t i = 0; i < n && k < sizeof buf; i++) {
        unsigned char c = g_pfx[(unsigned char)s[i]];
        if (c == ' ') {
            if (!sp)
                buf[k++] = ' ';
            sp = true;
            continue;
        }
        sp = false;
        buf[k++] = (char)c;
    }
    return (uint32_t)(an_hash(buf, k, 0) >> 32);
}

/* the checks redaction at ingest uses too (core/redact_scan.c) */
bool an_luhn(const char *d, size_t n) { return core_luhn(d, n); }

bool an_iban_valid(const char *s, size_t n) { return core_iban_valid(s, n); }

double an_entropy(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned cnt[256] = {0};
    for (size_t i = 0; i < n; i++)
        cnt[(unsigned char)s[i]]++;
    double h = 0;
    for (int i = 0; i < 256; i++)
        if (cnt[i]) {
            double p = (double)cnt[i] / (double)n;
            h -= p * log2(p);
        }
    return h;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* A run of base64 that decodes to mostly printable text: an instruction
 * smuggled past filters, not an image or a hash (those decode to binary). */
bool an_base64_text(const char *s, size_t n)
{
    while (n && s[n - 1] == '=')
        n--;
    if (n < 24)
        return false;
    bool lower = false, upper = false;
    size_t printable = 0, total = 0, spaces = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && total < 512; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return false;
        lower |= s[i] >= 'a' && s[i] <= 'z';
        upper |= s[i] >= 'A' && s[i] <= 'Z';
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            unsigned char b = (unsigned char)(acc >> bits);
            total++;
            if ((b >= 0x20 && b < 0x7f) || b == '\n' || b == '\t')
                printable++;
            if (b == ' ')
                spaces++;
        }
    }
    /* words need spaces: random tokens decode to binary-looking bytes */
    return lower && upper && total >= 16 && printable * 100 >= total * 95 && spaces * 20 >= total;
}
