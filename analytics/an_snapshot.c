/* The snapshot stream's reader and writer (an_snapshot.h). */
#include <stdlib.h>
#include <string.h>

#include "analytics/an_snapshot.h"

void an_snap_put(an_snap_w *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->n + n > w->cap) {
        size_t nc = w->cap ? w->cap : 4096;
        while (nc < w->n + n)
            nc *= 2;
        uint8_t *np = realloc(w->p, nc);
        if (!np) {
            w->oom = true;
            return;
        }
        w->p = np;
        w->cap = nc;
    }
    memcpy(w->p + w->n, p, n);
    w->n += n;
}

void an_snap_put_u32(an_snap_w *w, uint32_t v) { an_snap_put(w, &v, sizeof v); }

void an_snap_put_str(an_snap_w *w, const char *s)
{
    if (!s) {
        an_snap_put_u32(w, UINT32_MAX);
        return;
    }
    size_t n = strlen(s);
    an_snap_put_u32(w, (uint32_t)n);
    an_snap_put(w, s, n);
}

void an_snap_w_free(an_snap_w *w)
{
    free(w->p);
    *w = (an_snap_w){0};
}

bool an_snap_get(an_snap_r *r, void *p, size_t n)
{
    if (r->bad || r->n - r->off < n) {
        r->bad = true;
        memset(p, 0, n);
        return false;
    }
    memcpy(p, r->p + r->off, n);
    r->off += n;
    return true;
}

uint32_t an_snap_get_u32(an_snap_r *r)
{
    uint32_t v = 0;
    an_snap_get(r, &v, sizeof v);
    return v;
}

char *an_snap_get_str(an_snap_r *r, size_t max)
{
    uint32_t n = an_snap_get_u32(r);
    if (r->bad || n == UINT32_MAX)
        return NULL;
    if (n > max || r->n - r->off < n) {
        r->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = true;
        return NULL;
    }
    memcpy(s, r->p + r->off, n);
    s[n] = '\0';
    r->off += n;
    return s;
}
