/* The hold on incident updates: an index by id (chained, doubling) and a
 * list by last write. See an_hold.h. */
#include <stdlib.h>
#include <string.h>

#include "analytics/an_features.h"
#include "analytics/an_hold.h"

static size_t slot(const an_hold *h, const char *id)
{
    return (size_t)an_hash(id, strlen(id), 0) & (h->nbuckets - 1);
}

an_hold_entry *an_hold_find(const an_hold *h, const char *id)
{
    if (!h->nbuckets)
        return NULL;
    for (an_hold_entry *e = h->buckets[slot(h, id)]; e; e = e->hnext)
        if (strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

static int grow(an_hold *h)
{
    size_t n = h->nbuckets ? 2 * h->nbuckets : 256;
    an_hold_entry **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    an_hold old = *h;
    h->buckets = b;
    h->nbuckets = n;
    for (size_t i = 0; i < old.nbuckets; i++)
        for (an_hold_entry *e = old.buckets[i], *nx; e; e = nx) {
            nx = e->hnext;
            size_t k = slot(h, e->id);
            e->hnext = b[k];
            b[k] = e;
        }
    free(old.buckets);
    return 0;
}

static void list_append(an_hold *h, an_hold_entry *e)
{
    e->next = NULL;
    e->prev = h->tail;
    if (h->tail)
        h->tail->next = e;
    else
        h->head = e;
    h->tail = e;
}

static void list_unlink(an_hold *h, an_hold_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        h->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        h->tail = e->prev;
    e->prev = e->next = NULL;
}

int an_hold_add(an_hold *h, an_hold_entry *e, int64_t now_ms)
{
    if (h->count >= h->nbuckets && grow(h) < 0)
        return -1;
    size_t k = slot(h, e->id);
    e->hnext = h->buckets[k];
    h->buckets[k] = e;
    e->written_ms = now_ms;
    list_append(h, e);
    h->count++;
    return 0;
}

void an_hold_touch(an_hold *h, an_hold_entry *e, int64_t now_ms)
{
    e->written_ms = now_ms;
    if (h->tail != e) {
        list_unlink(h, e);
        list_append(h, e);
    }
}

void an_hold_remove(an_hold *h, an_hold_entry *e)
{
    an_hold_entry **p = &h->buckets[slot(h, e->id)];
    while (*p && *p != e)
        p = &(*p)->hnext;
    if (*p)
        *p = e->hnext;
    list_unlink(h, e);
    h->count--;
}

void an_hold_free(an_hold *h)
{
    free(h->buckets);
    memset(h, 0, sizeof *h);
}
