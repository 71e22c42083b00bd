/* The prompt memo (an_pcache.h): a direct-mapped table of prompts, each
 * entry one allocation holding its values and a copy of the bytes, which a
 * lookup compares in full (a hash collision is a miss, never a wrong value). */
#include "analytics/an_pcache.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint64_t hash;
    size_t n;
    an_pcache_val v;
    char text[]; /* n bytes, then the top features' JSON and its NUL when v.top */
} entry;

struct an_pcache {
    entry **slot;
    size_t mask;
    uint64_t hits, lookups;
};

an_pcache *an_pcache_new(size_t entries)
{
    if (entries == 0)
        return NULL;
    size_t n = 1;
    while (n * 2 <= entries)
        n *= 2;
    an_pcache *c = calloc(1, sizeof *c);
    if (!c || !(c->slot = calloc(n, sizeof *c->slot))) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

void an_pcache_free(an_pcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++)
        free(c->slot[i]);
    free(c->slot);
    free(c);
}

uint64_t an_pcache_hash(const char *text, size_t n)
{
    /* eight bytes a step, multiply and fold: a few cycles per word, and the
     * full comparison in an_pcache_get makes its quality a matter of speed */
    const unsigned char *p = (const unsigned char *)text;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, n - i);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    return h ^ (h >> 32);
}

const an_pcache_val *an_pcache_get(an_pcache *c, uint64_t h, const char *text, size_t n)
{
    c->lookups++;
    const entry *e = c->slot[h & c->mask];
    if (!e || e->hash != h || e->n != n || memcmp(e->text, text, n) != 0)
        return NULL;
    c->hits++;
    return &e->v;
}

void an_pcache_put(an_pcache *c, uint64_t h, const char *text, size_t n, const an_pcache_val *v)
{
    if (n > AN_PCACHE_MAX_BYTES)
        return;
    size_t top = v->top ? strlen(v->top) + 1 : 0;
    entry *e = malloc(sizeof *e + n + top);
    if (!e)
        return;
    e->hash = h;
    e->n = n;
    e->v = *v;
    memcpy(e->text, text, n);
    if (top) {
        memcpy(e->text + n, v->top, top);
        e->v.top = e->text + n;
    }
    entry **s = &c->slot[h & c->mask];
    free(*s);
    *s = e;
}

void an_pcache_counts(const an_pcache *c, uint64_t *hits, uint64_t *lookups)
{
    *hits = c ? c->hits : 0;
    *lookups = c ? c->lookups : 0;
}
