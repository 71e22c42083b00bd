/* The engine's snapshots (an_snapshot.h): per source (Kafka partition) the
 * state of the keys whose newest event came from it, with their open
 * incidents; once more the state no partition owns (the clock, the tenant
 * baselines and populations, the detectors' own state such as drift's per
 * model version, the model-scoped incidents). */
#include <stdlib.h>
#include <string.h>

#include "analytics/an_engine_impl.h"
#include "analytics/an_features.h"
#include "analytics/an_rephrase.h"
#include "analytics/an_snapshot.h"
#include "core/log.h"
#include "core/util.h"

#define SNAP_MAGIC 0x31504e5354535543ull /* "CUSTSNP1" */
#define SNAP_FORMAT 3 /* 2: key ids inline; extraction's ring and history, probing's signal
                        * state out of line; 3: refused prompts sketched bottom-k, not
                        * MinHash (same size, other meaning) */
#define SNAP_ID_MAX 4096

/* This build's layout and the rule set (keys hold rule indices). */
static uint64_t fingerprint(const an_engine *e)
{
    size_t sizes[] = {SNAP_FORMAT,         sizeof(an_key),     sizeof(an_ex_state),
                      sizeof(an_pr_state), sizeof(an_fl_state), sizeof(pop_sketch),
                      sizeof(tenant_slot), POP_BINS,            AN_PR_WEAK,
                      sizeof(an_rp_state), sizeof(an_ex_bucket), AN_EX_BUCKETS,
                      sizeof(an_ex_hist),  sizeof(an_pr_rare)};
    uint64_t h = an_hash(sizes, sizeof sizes, 0);
    size_t n = an_rules_count(e->rules);
    for (size_t i = 0; i < n; i++) {
        const char *id = an_rules_get(e->rules, i)->id;
        h = an_hash(id, strlen(id) + 1, h);
    }
    return h;
}

static void put_tag(an_snap_w *w, uint8_t tag) { an_snap_put(w, &tag, 1); }

static void put_header(const an_engine *e, an_snap_w *w)
{
    uint64_t h[2] = {SNAP_MAGIC, fingerprint(e)};
    an_snap_put(w, h, sizeof h);
}

typedef struct {
    an_engine *e;
    an_snap_w *part; /* one per source slot */
    uint32_t *nkeys;
    an_snap_w shared;
    int only; /* the one source slot saved, or -1: all */
} saver;

/* Where an open incident goes: its key's partition, else the shared row
 * (model-scoped, or a key evicted while its incident stayed open). */
static an_snap_w *route(void *ud, const char *api_key_id)
{
    saver *s = ud;
    if (api_key_id) {
        an_key *k = an_engine_key_find(s->e, api_key_id, an_hash(api_key_id, strlen(api_key_id), 0));
        int slot = k ? an_engine_source_slot(s->e, k->src, false) : -1;
        if (slot >= 0) /* saving one partition (or none): the others' stay out */
            return s->only == -1 || slot == s->only ? &s->part[slot] : NULL;
    }
    return &s->shared;
}

static void save_shared(an_engine *e, an_snap_w *w)
{
    put_tag(w, AN_SNAP_CLOCK);
    int64_t clk[3] = {e->now_us, e->jump_us, e->last_tick_min};
    an_snap_put(w, clk, sizeof clk);
    an_snap_put(w, &e->seq, sizeof e->seq);
    put_tag(w, AN_SNAP_FLEET);
    an_snap_put(w, &e->fleet, sizeof e->fleet);
    for (uint32_t i = 0; i < TENANT_SLOTS; i++)
        if (e->tenants[i].hash) {
            put_tag(w, AN_SNAP_TENANT);
            an_snap_put_u32(w, i);
            an_snap_put(w, &e->tenants[i], sizeof e->tenants[i]);
        }
    for (uint32_t i = 0; i < POP_TENANTS; i++)
        if (e->pop_tenants[i].hash) {
            put_tag(w, AN_SNAP_POP);
            an_snap_put_u32(w, i);
            an_snap_put(w, &e->pop_tenants[i], sizeof e->pop_tenants[i]);
            an_snap_put(w, &e->pop_tenants_n[i], sizeof e->pop_tenants_n[i]);
        }
    for (size_t i = 0; i < an_detectors_count; i++)
        if (an_detectors[i]->save && e->det_state[i]) {
            put_tag(w, AN_SNAP_DETECTOR);
            an_snap_put_str(w, an_detectors[i]->name);
            an_detectors[i]->save(e->det_state[i], w);
        }
}

int an_engine_save(an_engine *e, int32_t source, an_snap_cb cb, void *ud)
{
    saver s = {.e = e, .only = -1};
    if (source != AN_SNAP_ALL && (s.only = an_engine_source_slot(e, source, false)) < 0)
        s.only = -2; /* unknown source: the shared row only */
    s.part = calloc(e->nsrc ? e->nsrc : 1, sizeof *s.part);
    s.nkeys = calloc(e->nsrc ? e->nsrc : 1, sizeof *s.nkeys);
    int rc = -1;
    if (!s.part || !s.nkeys)
        goto done;
    for (size_t i = 0; i < e->nsrc; i++) {
        if (s.only != -1 && (int)i != s.only)
            continue;
        put_header(e, &s.part[i]);
        put_tag(&s.part[i], AN_SNAP_SOURCE);
        an_snap_put(&s.part[i], &e->src[i].id, sizeof e->src[i].id);
        an_snap_put(&s.part[i], &e->src[i].max_ts, sizeof e->src[i].max_ts);
        an_snap_put(&s.part[i], &e->src[i].next_offset, sizeof e->src[i].next_offset);
    }
    /* keys in LRU order, so that a restore keeps who is evicted first */
    for (const an_key *k = e->lru_head; k; k = k->lru_next) {
        int slot = an_engine_source_slot(e, k->src, false);
        if (slot < 0 || (s.only != -1 && slot != s.only))
            continue;
        put_tag(&s.part[slot], AN_SNAP_KEY);
        an_snap_put_str(&s.part[slot], k->id);
        an_snap_put(&s.part[slot], k, sizeof *k);
        uint8_t has_rp = k->rp != NULL, has_b = k->ex.b != NULL, has_hist = k->ex.hist != NULL;
        an_snap_put(&s.part[slot], &has_rp, 1);
        if (has_rp)
            an_snap_put(&s.part[slot], k->rp, sizeof *k->rp);
        an_snap_put(&s.part[slot], &has_b, 1);
        if (has_b)
            an_snap_put(&s.part[slot], k->ex.b, AN_EX_BUCKETS * sizeof *k->ex.b);
        an_snap_put(&s.part[slot], &has_hist, 1);
        if (has_hist)
            an_snap_put(&s.part[slot], k->ex.hist, sizeof *k->ex.hist);
        uint8_t has_rare = k->pr.rare != NULL;
        an_snap_put(&s.part[slot], &has_rare, 1);
        if (has_rare)
            an_snap_put(&s.part[slot], k->pr.rare, sizeof *k->pr.rare);
        s.nkeys[slot]++;
    }
    put_header(e, &s.shared);
    save_shared(e, &s.shared);
    an_incidents_save(e->inc, route, &s);
    bool oom = false;
    for (size_t i = 0; i < e->nsrc; i++) {
        if (!s.part[i].n)
            continue;
        put_tag(&s.part[i], AN_SNAP_END);
        oom |= s.part[i].oom;
    }
    put_tag(&s.shared, AN_SNAP_END);
    if (oom || s.shared.oom)
        goto done;
    for (size_t i = 0; i < e->nsrc; i++)
        if (s.part[i].n)
            cb(ud, e->src[i].id, e->src[i].next_offset, s.nkeys[i], s.part[i].p, s.part[i].n);
    cb(ud, AN_SNAP_SHARED, -1, 0, s.shared.p, s.shared.n);
    rc = 0;
done:
    for (size_t i = 0; s.part && i < e->nsrc; i++)
        an_snap_w_free(&s.part[i]);
    free(s.part);
    free(s.nkeys);
    an_snap_w_free(&s.shared);
    return rc;
}

/* The key cap holds after a restore too (the longest idle go first). */
static void evict_over_cap(an_engine *e)
{
    while (e->lru_head && e->nkeys > (size_t)e->cfg->an_max_keys)
        an_engine_key_remove(e, e->lru_head);
}

/* Reads an optional piece of a key (a flag byte, then n bytes) into a new
 * allocation at *out; false when malformed or out of memory. */
static bool load_piece(an_snap_r *r, void **out, size_t n)
{
    uint8_t has = 0;
    *out = NULL;
    if (!an_snap_get(r, &has, 1) || has > 1)
        return false;
    if (!has)
        return true;
    if (!(*out = malloc(n)) || !an_snap_get(r, *out, n)) {
        free(*out);
        *out = NULL;
        r->bad = true;
        return false;
    }
    return true;
}

static int load_key(an_engine *e, an_snap_r *r, int32_t source)
{
    char *id = an_snap_get_str(r, SNAP_ID_MAX);
    size_t idlen = id ? strlen(id) : 0;
    an_key *k = id ? calloc(1, sizeof *k + idlen + 1) : NULL;
    if (!id || !k || !an_snap_get(r, k, sizeof *k)) {
        free(id);
        free(k);
        return -1;
    }
    memcpy(k->id, id, idlen + 1);
    free(id);
    k->hnext = k->lru_prev = k->lru_next = NULL;
    k->src = source;
    k->rp = NULL;
    k->ex.b = NULL;
    k->ex.hist = NULL;
    k->pr.rare = NULL;
    void *rp = NULL, *b = NULL, *hist = NULL, *rare = NULL;
    bool ok = load_piece(r, &rp, sizeof *k->rp);
    k->rp = rp;
    ok = ok && load_piece(r, &b, AN_EX_BUCKETS * sizeof *k->ex.b);
    k->ex.b = b;
    ok = ok && load_piece(r, &hist, sizeof *k->ex.hist);
    k->ex.hist = hist;
    ok = ok && load_piece(r, &rare, sizeof *k->pr.rare);
    k->pr.rare = rare;
    const an_ex_state *x = &k->ex;
    if (!ok || r->bad || k->hash != an_hash(k->id, idlen, 0) ||
        (k->rp && (k->rp->n > AN_RP_RING || k->rp->i >= AN_RP_RING)) || x->ring_n > AN_EX_RING ||
        x->ring_i >= AN_EX_RING || x->dist_n > AN_EX_DIST || x->dist_i >= AN_EX_DIST ||
        (!x->hist && (x->ring_n > 1 || x->dist_n)) ||
        (k->pr.rare && (k->pr.rare->wk_n > AN_PR_WEAK || k->pr.rare->wk_i >= AN_PR_WEAK))) {
        r->bad = true;
        an_engine_key_free(k);
        return -1;
    }
    if (an_engine_key_find(e, k->id, k->hash)) { /* events of it came here already: ours is newer */
        an_engine_key_free(k);
        return 0;
    }
    an_engine_key_link(e, k); /* counts what it brought */
    return 0;
}

static int load_shared_record(an_engine *e, an_snap_r *r, uint8_t tag)
{
    switch (tag) {
    case AN_SNAP_CLOCK: {
        int64_t clk[3];
        uint64_t seq;
        an_snap_get(r, clk, sizeof clk);
        an_snap_get(r, &seq, sizeof seq);
        if (e->now_us == INT64_MIN) {
            e->now_us = clk[0];
            e->jump_us = clk[1];
            e->last_tick_min = clk[2];
        }
        if (seq > e->seq)
            e->seq = seq;
        return 0;
    }
    case AN_SNAP_FLEET:
        an_snap_get(r, &e->fleet, sizeof e->fleet);
        return 0;
    case AN_SNAP_TENANT: {
        uint32_t i = an_snap_get_u32(r);
        tenant_slot t;
        an_snap_get(r, &t, sizeof t);
        if (i >= TENANT_SLOTS)
            return -1;
        if (!e->tenants[i].hash)
            e->tenants[i] = t;
        return 0;
    }
    case AN_SNAP_POP: {
        uint32_t i = an_snap_get_u32(r);
        pop_sketch p, pn;
        an_snap_get(r, &p, sizeof p);
        an_snap_get(r, &pn, sizeof pn);
        if (i >= POP_TENANTS)
            return -1;
        if (!e->pop_tenants[i].hash) {
            e->pop_tenants[i] = p;
            e->pop_tenants_n[i] = pn;
        }
        return 0;
    }
    case AN_SNAP_DETECTOR: {
        char *name = an_snap_get_str(r, 64);
        int rc = -1;
        for (size_t i = 0; name && i < an_detectors_count; i++)
            if (!strcmp(an_detectors[i]->name, name) && an_detectors[i]->load && e->det_state[i])
                rc = an_detectors[i]->load(e->det_state[i], r);
        free(name);
        return rc;
    }
    default:
        return -1;
    }
}

int an_engine_load(an_engine *e, int32_t source, const void *blob, size_t n, char *err,
                   size_t errlen)
{
    an_snap_r r = {.p = blob, .n = n};
    uint64_t h[2];
    an_snap_get(&r, h, sizeof h);
    if (r.bad || h[0] != SNAP_MAGIC) {
        snprintf(err, errlen, "not a snapshot");
        return -1;
    }
    if (h[1] != fingerprint(e)) {
        snprintf(err, errlen, "written by another build or with other signature rules");
        return -1;
    }
    for (;;) {
        uint8_t tag = 0;
        if (!an_snap_get(&r, &tag, 1))
            break;
        int rc = 0;
        if (tag == AN_SNAP_END) {
            if (r.off != r.n)
                break;
            evict_over_cap(e);
            return 0;
        } else if (tag == AN_SNAP_KEY && source != AN_SNAP_SHARED) {
            rc = load_key(e, &r, source);
        } else if (tag == AN_SNAP_INCIDENT) {
            rc = an_incidents_load(e->inc, &r);
        } else if (tag == AN_SNAP_SOURCE && source != AN_SNAP_SHARED) {
            int32_t id;
            int64_t max_ts, next;
            an_snap_get(&r, &id, sizeof id);
            an_snap_get(&r, &max_ts, sizeof max_ts);
            an_snap_get(&r, &next, sizeof next);
            int slot = an_engine_source_slot(e, source, true);
            if (slot >= 0) {
                /* live: a partition restored is a partition appearing; it
                 * holds the watermark at its saved time until it delivers
                 * or goes idle, so its older events are not taken as late */
                if (e->source_idle_ms) {
                    e->last_new_source_ms = core_mono_ms();
                    e->src[slot].last_push_ms = e->last_new_source_ms;
                }
                if (max_ts > e->src[slot].max_ts)
                    e->src[slot].max_ts = max_ts;
                if (next > e->src[slot].next_offset)
                    e->src[slot].next_offset = next;
            }
        } else if (source == AN_SNAP_SHARED) {
            rc = load_shared_record(e, &r, tag);
        } else {
            rc = -1;
        }
        if (rc < 0 || r.bad)
            break;
    }
    snprintf(err, errlen, "malformed at byte %zu of %zu (what came before it is loaded)", r.off, n);
    evict_over_cap(e);
    return -1;
}

void an_engine_drain(an_engine *e)
{
    while (e->nheap)
        an_engine_process(e, an_engine_heap_pop(e));
}

void an_engine_release(an_engine *e, int32_t source)
{
    int slot = an_engine_source_slot(e, source, false);
    for (an_key *k = e->lru_head, *n; k; k = n) {
        n = k->lru_next;
        if (k->src != source)
            continue;
        an_incidents_close_key(e->inc, k->id);
        an_engine_key_remove(e, k);
        e->st.keys_evicted--; /* handed over, not evicted */
    }
    if (slot >= 0) {
        memmove(&e->src[slot], &e->src[slot + 1], (e->nsrc - (size_t)slot - 1) * sizeof *e->src);
        e->nsrc--;
    }
}

bool an_engine_fresh(const an_engine *e) { return e->now_us == INT64_MIN && !e->nkeys; }

void an_engine_source_committed(an_engine *e, int32_t source, int64_t next_offset)
{
    int slot = an_engine_source_slot(e, source, false);
    if (slot >= 0 && next_offset > e->src[slot].next_offset)
        e->src[slot].next_offset = next_offset;
}
