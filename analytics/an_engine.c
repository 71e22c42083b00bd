/* The engine: events -> observations -> reorder heap -> detectors in
 * event-time order; per-key state with idle eviction. */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_detectors.h"
#include "analytics/an_engine.h"
#include "analytics/an_features.h"
#include "analytics/an_grouping.h"
#include "analytics/an_learned.h"
#include "analytics/an_pcache.h"
#include "analytics/an_rephrase.h"
#include "core/log.h"
#include "core/share.h"

#include "analytics/an_engine_impl.h"

static void obs_free(an_obs *o);

const core_config *an_engine_cfg(const an_engine *e) { return e->cfg; }
const an_rules *an_engine_rules(const an_engine *e) { return e->rules; }

an_engine *an_engine_new(const core_config *cfg, const an_callbacks *cb, char *err, size_t errlen)
{
    an_engine *e = calloc(1, sizeof *e);
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->now_us = INT64_MIN;
    /* the key of the collector's pseudonyms, so that a leak's evidence hash
     * starts with the token the stored row holds (made here when missing:
     * the analytics start before the collector) */
    if (cfg->coll_redact_key && *cfg->coll_redact_key) {
        if (core_pseudonym_key_load(cfg->coll_redact_key, true, e->rd_key, err, errlen) < 0)
            goto error;
        e->rd_keyed = true;
    }
    e->last_tick_min = INT64_MIN;
    const char *dir = cfg->an_rules_dir && *cfg->an_rules_dir ? cfg->an_rules_dir
                                                               : core_share_default("rules");
    if (!(e->rules = an_rules_load(dir, strcmp(cfg->an_rules_db, "per_field") == 0,
                                  cfg->an_rules_cache_dir, err, errlen)))
        goto error;
    if (strcmp(cfg->an_learned, "on") == 0) {
        char path[4096], lerr[512];
        snprintf(path, sizeof path, "%s%s",
                 *cfg->an_learned_model ? cfg->an_learned_model : core_share_default("models"),
                 *cfg->an_learned_model ? "" : "/learned.bin");
        if (!(e->learned = an_learned_load(path, lerr, sizeof lerr))) {
            snprintf(err, errlen, "analytics.learned_model: %s (analytics.learned: off runs without it)",
                     lerr);
            goto error;
        }
        if (!(e->lscratch = an_learned_scratch_new())) {
            snprintf(err, errlen, "out of memory");
            goto error;
        }
    }
    if (cfg->an_prompt_memo > 0 && !(e->pcache = an_pcache_new((size_t)cfg->an_prompt_memo))) {
        snprintf(err, errlen, "out of memory");
        goto error;
    }
    e->nbuckets = 1024;
    e->buckets = calloc(e->nbuckets, sizeof *e->buckets);
    e->tenants = calloc(TENANT_SLOTS, sizeof *e->tenants);
    e->src = calloc(MAX_SOURCES, sizeof *e->src);
    e->pop_tenants = calloc(POP_TENANTS, sizeof *e->pop_tenants);
    e->pop_tenants_n = calloc(POP_TENANTS, sizeof *e->pop_tenants_n);
    e->inc = an_incidents_new(cfg, cb);
    bool det_ok = an_detectors_count <= AN_DETECTORS_MAX;
    for (size_t i = 0; det_ok && i < an_detectors_count; i++)
        if (an_detectors[i]->init && !(e->det_state[i] = an_detectors[i]->init(cfg)))
            det_ok = false;
    if (!e->buckets || !e->tenants || !e->src || !e->pop_tenants || !e->pop_tenants_n ||
        !det_ok || !e->inc) {
        snprintf(err, errlen, "out of memory");
        goto error;
    }
    return e;
error:
    an_engine_free(e);
    return NULL;
}

void an_engine_key_free(an_key *k)
{
    free(k->rp);
    free(k->ex.b);
    free(k->ex.hist);
    free(k->pr.rare);
    free(k);
}

size_t an_key_size(const an_key *k)
{
    return sizeof *k + strlen(k->id) + 1 + (k->rp ? sizeof *k->rp : 0) +
           (k->ex.b ? AN_EX_BUCKETS * sizeof *k->ex.b : 0) +
           (k->ex.hist ? sizeof *k->ex.hist : 0) + (k->pr.rare ? sizeof *k->pr.rare : 0);
}

void an_engine_free(an_engine *e)
{
    if (!e)
        return;
    sodium_memzero(e->rd_key, sizeof e->rd_key);
    for (size_t i = 0; i < e->nheap; i++)
        obs_free(e->heap[i]);
    free(e->heap);
    for (an_key *k = e->lru_head, *n; k; k = n) {
        n = k->lru_next;
        an_engine_key_free(k);
    }
    free(e->buckets);
    free(e->tenants);
    free(e->pop_tenants);
    free(e->pop_tenants_n);
    free(e->src);
    for (size_t i = 0; i < an_detectors_count && i < AN_DETECTORS_MAX; i++)
        if (an_detectors[i]->free && e->det_state[i])
            an_detectors[i]->free(e->det_state[i]);
    an_incidents_free(e->inc);
    an_learned_free(e->learned);
    free(e->lscratch);
    an_pcache_free(e->pcache);
    an_rules_free(e->rules);
    free(e);
}

/* ---- observations ---- */

static size_t slen(const char *s) { return s ? strlen(s) + 1 : 0; }

static const char *put(char **p, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*p, s, n);
    const char *r = *p;
    *p += n;
    return r;
}

/* True when a 40-byte piece of the system prompt the gateway logged in
 * attrs.system_prompt appears in the response. */
static bool sysprompt_echoed(const core_event *ev)
{
    if (!ev->attrs_json || !ev->response || !strstr(ev->attrs_json, "\"system_prompt\""))
        return false;
    bool echoed = false;
    cJSON *a = cJSON_Parse(ev->attrs_json);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(a, "system_prompt");
    if (cJSON_IsString(sp)) {
        size_t n = strlen(sp->valuestring);
        for (size_t off = 0; n >= 40 && off + 40 <= n && !echoed; off += n / 4 > 40 ? n / 4 : 40)
            echoed = memmem(ev->response, ev->response_len, sp->valuestring + off, 40) != NULL;
    }
    cJSON_Delete(a);
    return echoed;
}

/* The learned detector's logit of the prompt, while it is at hand; for a
 * prompt at the model's threshold its level and top features (JSON text in
 * top, the caller's cap bytes). */
static float learned_score(an_engine *e, const core_event *ev, uint8_t *level,
                           const char **planted, char *top, size_t cap)
{
    const an_learned_model *m = e->learned;
    double z = an_learned_logit_fast(m, e->lscratch, ev->prompt, ev->prompt_len);
    /* below the threshold, a sentence planted among a table's rows still
     * makes it a signal when the model leans to attack (an_learned.h) */
    bool row = e->lscratch->row_planted && z >= AN_LEARNED_ROW_BAR;
    if (z < m->threshold && !row)
        return (float)z;
    an_learned_featurize(m, e->lscratch, ev->prompt, ev->prompt_len);
    *level = z >= m->strong ? 2 : 1;
    *planted = z >= m->threshold ? an_learned_planted(m, e->lscratch) : NULL;
    if (!*planted && row) /* below the threshold, always so */
        *planted = AN_LEARNED_ROW_PLANTED;
    an_learned_top t[AN_LEARNED_TOP];
    int n = 0;
    an_learned_logit(m, e->lscratch, t, &n);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "feature", t[i].text);
        cJSON_AddStringToObject(f, "kind", t[i].kind);
        cJSON_AddNumberToObject(f, "weight", round(t[i].contrib * 1000) / 1000);
        cJSON_AddItemToArray(a, f);
    }
    if (!a || !cJSON_PrintPreallocated(a, top, (int)cap, 0))
        snprintf(top, cap, "[]");
    cJSON_Delete(a);
    return (float)z;
}

/* The values behind a response's leak findings, as evidence: class, field,
 * offsets and HMAC-SHA256 under collector.redact_key (whose first 12 hex
 * digits are the stored row's pseudonym token), never the value. NULL when
 * none is found or out of memory (the alert then goes without them). */
#define LEAK_VALUES_MAX 16
static char *leak_values(const an_engine *e, const char *t, size_t n)
{
    core_rd_hit h[LEAK_VALUES_MAX];
    size_t nh = core_rd_scan(t, n, CORE_RD_SECRETS | CORE_RD_PERSONAL, h, LEAK_VALUES_MAX);
    if (!nh)
        return NULL;
    if (nh > LEAK_VALUES_MAX)
        nh = LEAK_VALUES_MAX;
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < nh; i++) {
        char hex[65];
        core_pseudonym_hex(e->rd_key, t + h[i].from, h[i].to - h[i].from, hex);
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "class", core_rd_class_name(h[i].cls));
        cJSON_AddStringToObject(v, "field", "response");
        cJSON_AddNumberToObject(v, "from", h[i].from);
        cJSON_AddNumberToObject(v, "to", h[i].to);
        cJSON_AddStringToObject(v, "hash", hex);
        cJSON_AddBoolToObject(v, "keyed", e->rd_keyed);
        cJSON_AddItemToArray(a, v);
    }
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

static void obs_free(an_obs *o)
{
    if (o)
        cJSON_free(o->leak_values);
    free(o);
}

static an_obs *make_obs(an_engine *e, const core_event *ev, int32_t source, int64_t arrival_us)
{
    float learned = -INFINITY;
    uint8_t level = 0;
    const char *planted = NULL;
    char top[1024]; /* (not = "": that zeroes all of it, every event) */
    top[0] = '\0';
    /* what the prompt's text alone decides, remembered (an_pcache.h) */
    const an_pcache_val *pv = NULL;
    uint64_t ph = 0;
    if (e->pcache && ev->prompt) {
        ph = an_pcache_hash(ev->prompt, ev->prompt_len);
        pv = an_pcache_get(e->pcache, ph, ev->prompt, ev->prompt_len);
    }
    if (pv) {
        learned = pv->learned;
        level = pv->level;
        planted = pv->planted;
        if (pv->top)
            snprintf(top, sizeof top, "%s", pv->top);
    } else if (e->learned && ev->prompt) {
        learned = learned_score(e, ev, &level, &planted, top, sizeof top);
    }
    size_t nsc = ev->n_scores < AN_OBS_SCORES_MAX ? ev->n_scores : AN_OBS_SCORES_MAX;
    size_t extra = slen(ev->event_id) + slen(ev->api_key_id) + slen(ev->tenant) +
                   slen(ev->model) + slen(ev->model_version) + slen(ev->finish_reason);
    extra += level ? strlen(top) + 1 : 0;
    for (size_t i = 0; i < nsc; i++)
        extra += slen(ev->scores[i].name);
    an_obs *o = calloc(1, sizeof *o + extra);
    if (!o)
        return NULL;
    char *p = (char *)(o + 1);
    o->ts_us = ev->ts_us;
    o->seq = e->seq++;
    o->arrival_us = arrival_us;
    o->source = source;
    o->event_id = put(&p, ev->event_id);
    o->api_key_id = put(&p, ev->api_key_id);
    o->tenant = put(&p, ev->tenant);
    o->model = put(&p, ev->model);
    o->model_version = put(&p, ev->model_version);
    o->finish_reason = put(&p, ev->finish_reason);
    o->key_hash = an_hash(ev->api_key_id, strlen(ev->api_key_id), 0);
    o->tenant_hash = ev->tenant ? an_hash(ev->tenant, strlen(ev->tenant), 7) : 0;
    o->prompt_tokens = ev->prompt_tokens;
    o->completion_tokens = ev->completion_tokens;
    o->has_latency = ev->has_latency;
    o->latency_ms = ev->latency_ms;
    o->has_status = ev->has_status;
    o->status = ev->status;
    o->has_prompt = ev->prompt != NULL;
    o->has_response = ev->response != NULL;
    o->prompt_len = (uint32_t)(ev->prompt_size > UINT32_MAX ? UINT32_MAX : ev->prompt_size);
    o->learned = learned;
    o->learned_level = level;
    o->learned_top = level ? put(&p, top) : NULL;
    o->learned_planted = level ? planted : NULL;
    o->response_len = (uint32_t)(ev->response_size > UINT32_MAX ? UINT32_MAX : ev->response_size);
    o->n_scores = (uint8_t)nsc;
    for (size_t i = 0; i < nsc; i++) {
        o->score_name[i] = put(&p, ev->scores[i].name);
        o->score_val[i] = ev->scores[i].value;
    }
    if (pv) {
        o->simhash = pv->simhash;
        o->prefix_hash = pv->prefix_hash;
    } else if (ev->prompt) {
        o->simhash = an_simhash(ev->prompt, ev->prompt_len);
        o->prefix_hash = an_prefix_hash(ev->prompt, ev->prompt_len);
    }
    an_pcache_val nv;
    bool keep = e->pcache && ev->prompt && !pv;
    int src = an_rules_scan_memo(e->rules, ev, o, (int)e->cfg->an_lk_bulk_min,
                                 pv ? &pv->rules : NULL, keep ? &nv.rules : NULL);
    if (keep && src == 0) {
        nv.learned = learned;
        nv.level = level;
        nv.planted = planted;
        nv.simhash = o->simhash;
        nv.prefix_hash = o->prefix_hash;
        nv.top = level ? top : NULL;
        an_pcache_put(e->pcache, ph, ev->prompt, ev->prompt_len, &nv);
    }
    if (src < 0) {
        static core_log_limit rl;
        int64_t sup = core_log_limit_check(&rl, e->cfg->log_error_interval_ms);
        if (sup >= 0)
            core_log(CORE_LOG_WARN, "analytics", "signature scan failed", "event_id=%s suppressed=%lld",
                     core_log_quote((char[160]){0}, 160, ev->event_id), (long long)sup);
    }
    if (o->refusal && ev->prompt)
        o->has_rp = an_rephrase_sketch(ev->prompt, ev->prompt_len, o->rp);
    if (sysprompt_echoed(ev))
        o->leak |= AN_LEAK_SYSPROMPT;
    if ((o->leak & ~(uint32_t)AN_LEAK_SYSPROMPT) && ev->response)
        o->leak_values = leak_values(e, ev->response, ev->response_len);
    return o;
}

/* ---- reorder heap ---- */

static int obs_cmp(const an_obs *a, const an_obs *b)
{
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    int c = strcmp(a->event_id, b->event_id);
    if (c)
        return c;
    c = strcmp(a->api_key_id, b->api_key_id);
    if (c)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int heap_push(an_engine *e, an_obs *o)
{
    if (e->nheap == e->capheap) {
        size_t nc = e->capheap ? e->capheap * 2 : 1024;
        an_obs **nh = realloc(e->heap, nc * sizeof *nh);
        if (!nh)
            return -1;
        e->heap = nh;
        e->capheap = nc;
    }
    size_t i = e->nheap++;
    while (i > 0) {
        size_t par = (i - 1) / 2;
        if (obs_cmp(e->heap[par], o) <= 0)
            break;
        e->heap[i] = e->heap[par];
        i = par;
    }
    e->heap[i] = o;
    return 0;
}

an_obs *an_engine_heap_pop(an_engine *e)
{
    an_obs *top = e->heap[0];
    an_obs *last = e->heap[--e->nheap];
    size_t i = 0, n = e->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const an_obs *mv = last;
        if (l < n && obs_cmp(e->heap[l], mv) < 0) {
            m = l;
            mv = e->heap[l];
        }
        if (r < n && obs_cmp(e->heap[r], mv) < 0)
            m = r;
        if (m == i)
            break;
        e->heap[i] = e->heap[m];
        i = m;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

/* ---- keys ---- */

static void lru_unlink(an_engine *e, an_key *k)
{
    if (k->lru_prev)
        k->lru_prev->lru_next = k->lru_next;
    else
        e->lru_head = k->lru_next;
    if (k->lru_next)
        k->lru_next->lru_prev = k->lru_prev;
    else
        e->lru_tail = k->lru_prev;
    k->lru_prev = k->lru_next = NULL;
}

static void lru_append(an_engine *e, an_key *k)
{
    k->lru_prev = e->lru_tail;
    k->lru_next = NULL;
    if (e->lru_tail)
        e->lru_tail->lru_next = k;
    else
        e->lru_head = k;
    e->lru_tail = k;
}

void an_engine_key_remove(an_engine *e, an_key *k)
{
    an_key **pp = &e->buckets[k->hash & (e->nbuckets - 1)];
    while (*pp && *pp != k)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = k->hnext;
    lru_unlink(e, k);
    e->nkeys--;
    e->st.keys_evicted++;
    e->st.key_state_bytes -= an_key_size(k);
    an_engine_key_free(k);
}

static void grow(an_engine *e)
{
    size_t nb = e->nbuckets * 2;
    an_key **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < e->nbuckets; i++)
        for (an_key *k = e->buckets[i], *n; k; k = n) {
            n = k->hnext;
            k->hnext = b[k->hash & (nb - 1)];
            b[k->hash & (nb - 1)] = k;
        }
    free(e->buckets);
    e->buckets = b;
    e->nbuckets = nb;
}

an_key *an_engine_key_find(an_engine *e, const char *id, uint64_t h)
{
    for (an_key *k = e->buckets[h & (e->nbuckets - 1)]; k; k = k->hnext)
        if (k->hash == h && strcmp(k->id, id) == 0)
            return k;
    return NULL;
}

void an_engine_key_link(an_engine *e, an_key *k)
{
    an_key **head = &e->buckets[k->hash & (e->nbuckets - 1)];
    k->hnext = *head;
    *head = k;
    lru_append(e, k);
    e->nkeys++;
    e->st.keys++;
    an_engine_key_bytes(e, an_key_size(k)); /* with what a restored key brought */
    if (e->nkeys > e->st.keys_peak)
        e->st.keys_peak = e->nkeys;
    if (e->nkeys > e->nbuckets)
        grow(e);
}

static an_key *key_get(an_engine *e, const an_obs *o)
{
    an_key *k = an_engine_key_find(e, o->api_key_id, o->key_hash);
    if (k) {
        lru_unlink(e, k);
        lru_append(e, k);
        k->src = o->source;
        return k;
    }
    size_t idlen = strlen(o->api_key_id);
    if (!(k = calloc(1, sizeof *k + idlen + 1)))
        return NULL;
    memcpy(k->id, o->api_key_id, idlen + 1);
    k->hash = o->key_hash;
    k->tenant_hash = o->tenant_hash;
    k->first_ts = o->ts_us;
    k->dr_window = -1;
    k->src = o->source;
    an_engine_key_link(e, k);
    /* the cap holds at every event, not only at the minute's sweep */
    while (e->nkeys > (size_t)e->cfg->an_max_keys && e->lru_head != k)
        an_engine_key_remove(e, e->lru_head);
    return k;
}

/* Idle eviction on event time, so that replay and live drop the same keys. */
static void evict(an_engine *e)
{
    int64_t idle_us = e->cfg->an_key_idle_ms * 1000;
    while (e->lru_head && (e->lru_head->last_ts < e->now_us - idle_us ||
                           e->nkeys > (size_t)e->cfg->an_max_keys))
        an_engine_key_remove(e, e->lru_head);
}

double an_engine_tenant_base(an_engine *e, uint64_t th)
{
    if (!th)
        return -1;
    for (size_t i = th & (TENANT_SLOTS - 1), probes = 0; probes < 16;
         i = (i + 1) & (TENANT_SLOTS - 1), probes++) {
        if (e->tenants[i].hash == th)
            return e->tenants[i].n >= 4 ? e->tenants[i].base : -1;
        if (!e->tenants[i].hash)
            return -1;
    }
    return -1;
}

void an_engine_tenant_note(an_engine *e, uint64_t th, double c)
{
    if (!th)
        return;
    for (size_t i = th & (TENANT_SLOTS - 1), probes = 0; probes < 16;
         i = (i + 1) & (TENANT_SLOTS - 1), probes++) {
        tenant_slot *t = &e->tenants[i];
        if (!t->hash)
            t->hash = th;
        if (t->hash == th) {
            t->base = t->n ? (float)(0.95 * t->base + 0.05 * c) : (float)c;
            t->n++;
            return;
        }
    }
}

/* ---- populations of per-key volumes ---- */

static void pop_decay(pop_sketch *p, uint32_t bucket)
{
    if (bucket <= p->bucket)
        return;
    uint32_t n = bucket - p->bucket;
    float f = n > 400 ? 0.0f : (float)pow(POP_DECAY, n);
    p->total *= f;
    for (int b = 0; b < POP_BINS; b++)
        p->w[b] *= f;
    p->bucket = bucket;
}

static int pop_bin(double v)
{
    if (v < 1)
        return 0;
    int b = (int)(2 * log2(v)) + 1;
    return b < POP_BINS ? b : POP_BINS - 1;
}

/* The q-quantile, interpolated geometrically inside its bin. */
static double pop_quantile(const pop_sketch *p, double q)
{
    double target = q * p->total, cum = 0;
    for (int b = 0; b < POP_BINS; b++) {
        if (p->w[b] <= 0 || cum + p->w[b] < target) {
            cum += p->w[b];
            continue;
        }
        if (b == 0)
            return 0;
        double lo = pow(2, (b - 1) / 2.0), frac = (target - cum) / p->w[b];
        return lo * pow(M_SQRT2, frac);
    }
    return pow(2, (POP_BINS - 1) / 2.0);
}

static pop_sketch *pop_tenant(an_engine *e, uint64_t th, bool add)
{
    if (!th)
        return NULL;
    for (size_t i = th & (POP_TENANTS - 1), probes = 0; probes < 16;
         i = (i + 1) & (POP_TENANTS - 1), probes++) {
        pop_sketch *p = &e->pop_tenants[i];
        if (p->hash == th)
            return p;
        if (!p->hash) {
            if (!add)
                return NULL;
            p->hash = th;
            return p;
        }
    }
    return NULL;
}

static void pop_add(pop_sketch *p, uint32_t bucket, double v)
{
    if (!p->bucket)
        p->bucket = bucket;
    pop_decay(p, bucket);
    p->w[pop_bin(v)] += 1;
    p->total += 1;
}

void an_engine_pop_note(an_engine *e, uint64_t th, uint32_t bucket, double v, double n)
{
    pop_add(&e->fleet, bucket, v);
    pop_sketch *t = pop_tenant(e, th, true);
    if (t) {
        pop_add(t, bucket, v);
        pop_add(&e->pop_tenants_n[t - e->pop_tenants], bucket, n);
    }
}

double an_engine_pop_tenant_median_n(an_engine *e, uint64_t th, uint32_t bucket)
{
    pop_sketch *t = pop_tenant(e, th, false);
    if (!t)
        return -1;
    pop_sketch *p = &e->pop_tenants_n[t - e->pop_tenants];
    pop_decay(p, bucket);
    return p->total < POP_MIN_SAMPLES ? -1 : pop_quantile(p, 0.5);
}

/* p without the key's own samples (each decayed since its bucket closed). */
static void pop_without(pop_sketch *out, const pop_sketch *p, const double *own,
                        const uint32_t *own_bucket, int n_own)
{
    *out = *p;
    for (int i = 0; i < n_own; i++) {
        uint32_t age = p->bucket > own_bucket[i] ? p->bucket - own_bucket[i] - 1 : 0;
        float w = (float)pow(POP_DECAY, age);
        int b = pop_bin(own[i]);
        w = w < out->w[b] ? w : out->w[b];
        out->w[b] -= w;
        out->total -= w;
    }
}

bool an_engine_pop_quantile(an_engine *e, uint64_t th, uint32_t bucket, double q,
                            const double *own, const uint32_t *own_bucket, int n_own,
                            double *value, double *samples)
{
    pop_sketch tmp;
    pop_decay(&e->fleet, bucket);
    pop_without(&tmp, &e->fleet, own, own_bucket, n_own);
    *samples = tmp.total;
    if (tmp.total < POP_MIN_SAMPLES)
        return false;
    double f = pop_quantile(&tmp, q);
    pop_sketch *t = pop_tenant(e, th, false);
    if (t) {
        pop_decay(t, bucket);
        pop_without(&tmp, t, own, own_bucket, n_own);
        if (tmp.total >= POP_MIN_SAMPLES) {
            double tf = pop_quantile(&tmp, q);
            if (tf > f)
                f = tf;
        }
    }
    *value = f;
    return true;
}

/* ---- processing ---- */

/* Moves the clock to ts. One event more than key_idle_ms ahead (a sender's
 * clock gone wrong, or a forged ts) would make every key look idle and be
 * evicted with its baselines, and every later event late: such a jump is
 * taken only when a second event confirms it (lands within key_idle_ms of
 * the first), as resumed traffic after a long pause does. Event time only,
 * so replay and live agree. */
static void clock_advance(an_engine *e, int64_t ts)
{
    int64_t idle_us = e->cfg->an_key_idle_ms * 1000;
    if (e->now_us != INT64_MIN && ts - e->now_us > idle_us) {
        if (e->jump_us && ts >= e->jump_us - idle_us && ts <= e->jump_us + idle_us) {
            e->now_us = ts;
            e->jump_us = 0;
        } else {
            e->jump_us = ts;
            e->st.clock_outliers++;
        }
        return;
    }
    e->now_us = ts;
}

void an_engine_process(an_engine *e, an_obs *o)
{
    if (o->ts_us < e->now_us)
        e->st.late++;
    else
        clock_advance(e, o->ts_us);
    e->st.events++;
    an_key *k = key_get(e, o);
    if (k) {
        for (size_t i = 0; i < an_detectors_count; i++)
            an_detectors[i]->observe(e->det_state[i], e, k, o);
        if (o->ts_us > k->last_ts)
            k->last_ts = o->ts_us;
    }
    int64_t minute = e->now_us / 60000000;
    if (minute != e->last_tick_min) {
        e->last_tick_min = minute;
        an_incidents_tick(e->inc, e->now_us);
        evict(e);
    }
    obs_free(o);
}

/* Idleness is judged on hand-over times (when the collector delivered),
 * not on when the analytics got round to an event: a backlog in the
 * analytics thread must not make a partition look quiet. now_ms: the newest
 * hand-over, or the clock when the queue has run dry. */
static int64_t watermark(const an_engine *e, int64_t now_ms)
{
    int64_t wm = INT64_MAX, newest = INT64_MIN;
    for (size_t i = 0; i < e->nsrc; i++) {
        if (e->src[i].max_ts > newest)
            newest = e->src[i].max_ts;
        if (e->source_idle_ms && now_ms - e->src[i].last_push_ms > e->source_idle_ms)
            continue;
        if (e->src[i].max_ts < wm)
            wm = e->src[i].max_ts;
    }
    if (!e->nsrc)
        return INT64_MIN;
    return wm == INT64_MAX ? newest : wm; /* all idle: nothing else is coming */
}

void an_engine_set_source_idle_ms(an_engine *e, int64_t idle_ms) { e->source_idle_ms = idle_ms; }

static void release(an_engine *e, int64_t now_ms)
{
    /* live: a new partition (start-up, rebalance) may be followed by others
     * whose first events are older; wait until no new one has appeared for
     * the idle time before trusting the watermark */
    if (e->source_idle_ms && now_ms - e->last_new_source_ms < e->source_idle_ms &&
        e->nheap <= (size_t)e->cfg->an_reorder_max_events)
        return;
    int64_t wm = watermark(e, now_ms);
    int64_t horizon = wm == INT64_MIN ? INT64_MIN : wm - e->cfg->an_reorder_window_ms * 1000;
    while (e->nheap && (e->heap[0]->ts_us <= horizon ||
                        e->nheap > (size_t)e->cfg->an_reorder_max_events)) {
        if (e->heap[0]->ts_us > horizon)
            e->st.forced++;
        an_engine_process(e, an_engine_heap_pop(e));
    }
}

void an_engine_advance(an_engine *e)
{
    /* the queue ran dry: what has not arrived by now is late or quiet */
    int64_t now_ms = core_mono_ms();
    if (now_ms < e->newest_arrival_ms)
        now_ms = e->newest_arrival_ms;
    release(e, now_ms);
}

int an_engine_source_slot(an_engine *e, int32_t id, bool add)
{
    size_t i;
    for (i = 0; i < e->nsrc && e->src[i].id != id; i++)
        ;
    if (i < e->nsrc)
        return (int)i;
    if (!add || e->nsrc == MAX_SOURCES)
        return -1;
    e->src[e->nsrc] = (src_hw){.id = id, .max_ts = INT64_MIN, .next_offset = -1};
    return (int)e->nsrc++;
}

int an_engine_push(an_engine *e, const core_event *ev, int32_t source, int64_t arrival_us)
{
    an_obs *o = make_obs(e, ev, source, arrival_us);
    if (!o)
        return -1;
    size_t before = e->nsrc;
    int i = an_engine_source_slot(e, source, true);
    if (e->nsrc > before && e->source_idle_ms)
        e->last_new_source_ms = arrival_us / 1000;
    if (i >= 0) {
        src_hw *s = &e->src[i];
        if (o->ts_us > s->max_ts)
            s->max_ts = o->ts_us;
        if (e->source_idle_ms)
            s->last_push_ms = arrival_us / 1000;
        if (ev->offset + 1 > s->next_offset)
            s->next_offset = ev->offset + 1;
    }
    if (heap_push(e, o) < 0) {
        obs_free(o);
        return -1;
    }
    if (arrival_us / 1000 > e->newest_arrival_ms)
        e->newest_arrival_ms = arrival_us / 1000;
    release(e, e->newest_arrival_ms);
    return 0;
}

void an_engine_finish(an_engine *e)
{
    while (e->nheap)
        an_engine_process(e, an_engine_heap_pop(e));
    an_incidents_finish(e->inc);
}

void an_engine_alert(an_engine *e, an_alert *a)
{
    e->st.alerts++;
    if (a->alert_only)
        e->st.alerts_only++;
    an_incidents_alert(e->inc, a);
}

void an_engine_key_bytes(an_engine *e, size_t n)
{
    e->st.key_state_bytes += n;
    if (e->st.key_state_bytes > e->st.key_state_bytes_peak)
        e->st.key_state_bytes_peak = e->st.key_state_bytes;
}

void an_engine_stats_get(const an_engine *e, an_engine_stats *st)
{
    *st = e->st;
    st->keys = e->nkeys;
    st->incidents = an_incidents_count(e->inc);
    st->key_state_bytes = e->st.key_state_bytes;
    an_pcache_counts(e->pcache, &st->memo_hits, &st->memo_lookups);
}
