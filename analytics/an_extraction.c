/* Extraction (model distillation through the API): a key sending many
 * diverse prompts and harvesting long answers, far above its own history and
 * its tenant's, at machine-steady pacing.
 *
 * Per key: twelve 5-minute buckets (count, novel prompts, template reuse,
 * long answers, completion tokens, inter-arrival sums), a ring of the last
 * 16 prompt SimHashes and prefix hashes, and the last 32 successive-query
 * distances for PRADA's normality test. Two windows are judged:
 *   burst:        the current and previous bucket (5-10 min), >= fast_min
 *   low-and-slow: the last six buckets (25-30 min), >= slow_min, and steady
 *                 pacing (inter-arrival CV <= iat_cv) or PRADA's W < delta.
 * Both need novelty (share of prompts >= novel_bits away from each of the
 * recent 16), few template repeats, long answers, and volume >=
 * baseline_mult x the larger of the key's own baseline and its tenant's. The
 * key's baseline only takes buckets older than the judged windows, so an
 * attack cannot make itself its own normal while it is being judged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_detectors.h"
#include "analytics/an_features.h"
#include "core/json_scan.h"

#define BUCKET_US (300LL * 1000000)
#define SLOW_BUCKETS 6
#define EVAL_EVERY 4
#define REALERT_US (10LL * 60 * 1000000)
#define BASE_ALPHA 0.1

static const an_ex_bucket k_empty; /* what a slot the key never used reads as */

const an_ex_bucket *an_ex_at(const an_ex_state *s, int j)
{
    if (s->b)
        return &s->b[j];
    return (int)(s->one.id % AN_EX_BUCKETS) == j ? &s->one : &k_empty;
}

an_ex_bucket *an_ex_slot(an_engine *e, an_key *k, uint32_t id)
{
    an_ex_state *s = &k->ex;
    if (s->b)
        return &s->b[id % AN_EX_BUCKETS];
    /* one bucket stands for the ring while it is the only one used */
    if (s->one.id % AN_EX_BUCKETS == id % AN_EX_BUCKETS || s->one.n == 0)
        return &s->one;
    if (!(s->b = calloc(AN_EX_BUCKETS, sizeof *s->b)))
        return NULL;
    an_engine_key_bytes(e, AN_EX_BUCKETS * sizeof *s->b);
    s->b[s->one.id % AN_EX_BUCKETS] = s->one;
    memset(&s->one, 0, sizeof s->one);
    return &s->b[id % AN_EX_BUCKETS];
}

/* The ring of recent prompts, allocated at the key's second prompt with
 * the first one's sketch moved in; NULL when out of memory. */
static an_ex_hist *hist_of(an_engine *e, an_ex_state *s)
{
    if (s->hist)
        return s->hist;
    if (!(s->hist = calloc(1, sizeof *s->hist)))
        return NULL;
    an_engine_key_bytes(e, sizeof *s->hist);
    s->hist->ring[0] = s->ring0;
    s->hist->pref[0] = s->pref0;
    s->ring0 = 0;
    s->pref0 = 0;
    return s->hist;
}

/* Folds buckets that left the judged windows into the key's baseline. */
static void fold(an_engine *e, an_key *k, uint32_t cur)
{
    an_ex_state *s = &k->ex;
    if (cur < SLOW_BUCKETS + 1)
        return;
    uint32_t upto = cur - SLOW_BUCKETS - 1; /* last bucket older than the slow window */
    if (s->last_closed == 0) {              /* first time: start at the key's first bucket */
        uint32_t first = (uint32_t)(k->first_ts / BUCKET_US);
        s->last_closed = first ? first - 1 : 0;
    }
    if (upto <= s->last_closed)
        return;
    uint32_t from = s->last_closed + 1;
    if (upto - from >= AN_EX_BUCKETS) { /* long silence: those buckets were empty */
        uint32_t gap = upto - from + 1 - AN_EX_BUCKETS;
        s->base *= (float)pow(1 - BASE_ALPHA, gap > 1000 ? 1000 : gap);
        s->base_n += gap;
        from = upto + 1 - AN_EX_BUCKETS;
    }
    for (uint32_t j = from; j <= upto; j++) {
        const an_ex_bucket *b = an_ex_peek(s, j);
        double c = b->id == j ? b->n : 0;
        s->base = s->base_n ? (float)((1 - BASE_ALPHA) * s->base + BASE_ALPHA * c) : (float)c;
        s->base_n++;
        if (c > 0)
            an_engine_tenant_note(e, k->tenant_hash, c);
    }
    s->last_closed = upto;
}

typedef struct {
    double n, novel, tmpl, longout, ctok, iat_sum, iat_sq;
} sums;

static sums window(const an_ex_state *s, uint32_t cur, int nb)
{
    sums w = {0};
    for (int i = 0; i < nb && (uint32_t)i <= cur; i++) {
        const an_ex_bucket *b = an_ex_peek(s, cur - (uint32_t)i);
        if (b->id != cur - (uint32_t)i)
            continue;
        w.n += b->n;
        w.novel += b->novel;
        w.tmpl += b->tmpl;
        w.longout += b->longout;
        w.ctok += b->ctok;
        w.iat_sum += b->iat_sum;
        w.iat_sq += b->iat_sq;
    }
    return w;
}

/* Inter-arrival coefficient of variation of a window. */
static double cv_of(const sums *w)
{
    double m = w->iat_sum / w->n;
    double var = w->iat_sq / w->n - m * m;
    return m > 0 ? sqrt(var > 0 ? var : 0) / m : 0;
}

static double prada_w(const an_ex_state *s)
{
    if (s->dist_n < 20)
        return 1;
    double x[AN_EX_DIST];
    for (int i = 0; i < s->dist_n; i++)
        x[i] = s->hist->dist[i]; /* dist_n > 0: the ring is there */
    return an_shapiro_w(x, s->dist_n);
}

/* Folds o into the key's state: its 5-minute bucket, pacing, novelty
 * against the recent prompt sketches, long answers. Returns its bucket
 * (NULL when out of memory: nothing recorded). */
static an_ex_bucket *record(an_engine *e, an_key *k, const an_obs *o, uint32_t cur)
{
    const core_config *cfg = an_engine_cfg(e);
    an_ex_state *s = &k->ex;
    an_ex_hist *h = NULL;
    if (o->has_prompt && s->ring_n && !(h = hist_of(e, s)))
        return NULL;
    /* the key's previous bucket has closed: into the population, unless
     * it was mostly one template (a batch job cannot be extraction, so its
     * volume says nothing about what a diverse-prompt key may send) */
    if (s->last_ts) {
        uint32_t prev = (uint32_t)(s->last_ts / BUCKET_US);
        const an_ex_bucket *pb = an_ex_peek(s, prev);
        if (prev < cur && pb->id == prev && pb->n && 2u * pb->tmpl <= pb->n)
            an_engine_pop_note(e, k->tenant_hash, prev, pb->ctok, pb->n);
    }
    an_ex_bucket *b = an_ex_slot(e, k, cur);
    if (!b)
        return NULL;
    if (b->id != cur) {
        memset(b, 0, sizeof *b);
        b->id = cur;
    }
    if (b->n < UINT16_MAX)
        b->n++;
    if (s->last_ts && o->ts_us >= s->last_ts) {
        double gap = (double)(o->ts_us - s->last_ts) / 1e6;
        if (gap > 600)
            gap = 600; /* a session break is one long gap, not a pacing signal */
        b->iat_sum += (float)gap;
        b->iat_sq += (float)(gap * gap);
    }
    if (o->ts_us > s->last_ts)
        s->last_ts = o->ts_us;
    if (o->has_prompt) {
        int mind = 64;
        bool tmpl = false;
        for (int i = 0; i < s->ring_n; i++) {
            int d = an_hamming(an_ex_ring_at(s, i), o->simhash);
            if (d < mind)
                mind = d;
            tmpl |= an_ex_pref_at(s, i) == o->prefix_hash;
        }
        if (mind >= cfg->an_ex_novel_bits && b->novel < UINT16_MAX)
            b->novel++;
        if (tmpl && b->tmpl < UINT16_MAX)
            b->tmpl++;
        if (s->ring_n) {
            h->dist[s->dist_i] = (uint8_t)mind;
            s->dist_i = (uint8_t)((s->dist_i + 1) % AN_EX_DIST);
            if (s->dist_n < AN_EX_DIST)
                s->dist_n++;
        }
        if (h) {
            h->ring[s->ring_i] = o->simhash;
            h->pref[s->ring_i] = o->prefix_hash;
        } else { /* the key's first prompt */
            s->ring0 = o->simhash;
            s->pref0 = o->prefix_hash;
        }
        s->ring_i = (uint8_t)((s->ring_i + 1) % AN_EX_RING);
        if (s->ring_n < AN_EX_RING)
            s->ring_n++;
    }
    int64_t ct = o->completion_tokens >= 0 ? o->completion_tokens : o->response_len / 4;
    if (ct >= cfg->an_ex_long_tokens && b->longout < UINT16_MAX)
        b->longout++;
    b->ctok = b->ctok + (uint32_t)(ct > 100000 ? 100000 : ct);
    return b;
}

/* What made the key look like extraction, for its alert. */
typedef struct {
    const char *path; /* "burst" or "low-and-slow" */
    sums w, sw;       /* the window judged; the slow window */
    int nb;           /* its buckets */
    uint32_t cur;
    bool cold;
    double kb, tb, ref, fence, q99, pop_n, cv, pw;
} ex_verdict;

/* Raises the extraction alert for verdict v (summary and evidence). */
static void raise_alert(an_engine *e, an_key *k, const an_obs *o, const ex_verdict *v)
{
    const core_config *cfg = an_engine_cfg(e);
    const char *path = v->path;
    sums w = v->w, sw = v->sw;
    int nb = v->nb;
    uint32_t cur = v->cur;
    bool cold = v->cold;
    double kb = v->kb, tb = v->tb, ref = v->ref, fence = v->fence, q99 = v->q99,
           pop_n = v->pop_n, cv = v->cv, pw = v->pw;
    double novelty = w.novel / w.n, tmpl = w.tmpl / w.n;
    double mean_ct = w.ctok / w.n;
    k->ex.win_first_ts = o->ts_us;
    bool burst = nb == 2;
    inc_severity sev = burst || sw.n >= 3.0 * cfg->an_ex_slow_min ? INC_HIGH : INC_MEDIUM;
    char summary[384];
    if (cold)
        snprintf(summary, sizeof summary,
                 "Key %.64s, new or without history, sent %.0f diverse prompts in %d minutes "
                 "harvesting ~%.0f-token answers, %.1fx the far-out mark of its population's "
                 "5-minute volume: likely model extraction (%s).",
                 o->api_key_id, w.n, nb * 5, mean_ct, w.ctok / nb / fence, path);
    else
        snprintf(summary, sizeof summary,
                 "Key %.64s sent %.0f diverse prompts in %d minutes harvesting ~%.0f-token "
                 "answers, %.0fx its usual volume: likely model extraction (%s).",
                 o->api_key_id, w.n, nb * 5, mean_ct, w.n / nb / ref, path);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "pattern", path);
    cJSON_AddNumberToObject(ev, "requests", w.n);
    cJSON_AddNumberToObject(ev, "window_minutes", nb * 5);
    cJSON_AddNumberToObject(ev, "novelty", round(novelty * 1000) / 1000);
    cJSON_AddNumberToObject(ev, "template_share", round(tmpl * 1000) / 1000);
    cJSON_AddNumberToObject(ev, "mean_completion_tokens", round(mean_ct));
    cJSON_AddNumberToObject(ev, "inter_arrival_cv", round(cv * 1000) / 1000);
    cJSON_AddNumberToObject(ev, "prada_w", round(pw * 1000) / 1000);
    cJSON_AddNumberToObject(ev, "key_baseline_per_5min", kb < 0 ? -1 : round(kb * 100) / 100);
    cJSON_AddNumberToObject(ev, "tenant_baseline_per_5min", tb < 0 ? -1 : round(tb * 100) / 100);
    cJSON_AddBoolToObject(ev, "prada_departs", pw * 1000 < cfg->an_ex_prada_w_x1000);
    cJSON_AddBoolToObject(ev, "cold_key", cold);
    if (cold) {
        cJSON_AddNumberToObject(ev, "completion_tokens_per_5min", round(w.ctok / nb));
        cJSON_AddNumberToObject(ev, "population_q99_per_5min", round(q99));
        cJSON_AddNumberToObject(ev, "population_fence_per_5min", round(fence));
        cJSON_AddNumberToObject(ev, "population_samples", round(pop_n));
    }
    int64_t wstart = ((int64_t)cur - nb + 1) * BUCKET_US;
    an_alert a = {
        .type = INC_EXTRACTION,
        .severity = sev,
        .trigger = o,
        .first_ts = k->first_ts > wstart ? k->first_ts : wstart,
        .api_key_id = o->api_key_id,
        .model = o->model,
        .model_version = o->model_version,
        .summary = summary,
        .evidence = core_json_print_unformatted(ev), /* NULL when out of memory: none */
    };
    an_engine_alert(e, &a);
    free(a.evidence);
    cJSON_Delete(ev);
}

static void observe(void *state, an_engine *e, an_key *k, const an_obs *o)
{
    (void)state; /* all its state is the key's */
    const core_config *cfg = an_engine_cfg(e);
    an_ex_state *s = &k->ex;
    uint32_t cur = (uint32_t)(o->ts_us / BUCKET_US);
    fold(e, k, cur);
    an_ex_bucket *b = record(e, k, o, cur);
    if (!b)
        return;

    if (b->n % EVAL_EVERY)
        return;
    if (s->win_first_ts && o->ts_us - s->win_first_ts < REALERT_US)
        return;

    sums fw = window(s, cur, 2), sw = window(s, cur, SLOW_BUCKETS);
    double kb = s->base_n >= 3 ? s->base : -1;
    /* the tenant's usual: the median key's 5-minute count once there are
     * enough, before that the EWMA of its active keys' counts */
    double tb = an_engine_pop_tenant_median_n(e, k->tenant_hash, cur);
    if (tb < 0)
        tb = an_engine_tenant_base(e, k->tenant_hash);
    double ref = kb > tb ? kb : tb;
    if (ref < 1)
        ref = 1;
    /* a key without a baseline of its own is judged on volume only against
     * the population: far out (fence_pct x the 99th percentile) in the
     * per-key 5-minute completion tokens of its tenant and the fleet; while
     * the population is too small to say, not at all */
    bool cold = kb < 0;
    double fence = 0, pop_n = 0;
    bool pop = false;
    if (cold) {
        double own[AN_EX_BUCKETS];
        uint32_t own_b[AN_EX_BUCKETS];
        int n_own = 0;
        for (int j = 0; j < AN_EX_BUCKETS; j++) { /* the closed buckets it has noted */
            const an_ex_bucket *bj = an_ex_at(s, j);
            if (bj->n && 2u * bj->tmpl <= bj->n && bj->id < cur && bj->id + AN_EX_BUCKETS > cur) {
                own[n_own] = bj->ctok;
                own_b[n_own++] = bj->id;
            }
        }
        pop = an_engine_pop_quantile(e, k->tenant_hash, cur, 0.99, own, own_b, n_own, &fence,
                                     &pop_n);
    }
    double q99 = fence;
    fence *= (double)cfg->an_ex_cold_fence_pct / 100;
    const char *path = NULL;
    sums w = {0};
    int nb = 0;
    double cv = -1, pw = 1;
    /* cold: far out (the fence) in volume, or past the 99th percentile at a
     * machine-steady pace (volume and timing together, never timing alone) */
    bool cold_burst = pop && (fw.ctok / 2 >= fence ||
                              (fw.ctok / 2 >= q99 && cv_of(&fw) * 100 <= cfg->an_ex_iat_cv_pct));
    if (fw.n >= cfg->an_ex_fast_min &&
        (cold ? cold_burst : fw.n / 2 >= cfg->an_ex_baseline_mult * ref)) {
        path = "burst";
        w = fw;
        nb = 2;
    } else if (sw.n >= cfg->an_ex_slow_min &&
               (cold ? pop && sw.ctok / SLOW_BUCKETS >= q99
                     : sw.n / SLOW_BUCKETS >= cfg->an_ex_baseline_mult * ref)) {
        double m = sw.iat_sum / sw.n;
        double var = sw.iat_sq / sw.n - m * m;
        cv = m > 0 ? sqrt(var > 0 ? var : 0) / m : 0;
        pw = prada_w(s);
        /* steady pacing is the test; PRADA's W only supports it (benign keys
         * that repeat favourite prompts have W ~ 0.72 too) */
        if (cv * 100 <= cfg->an_ex_iat_cv_pct) {
            path = "low-and-slow";
            w = sw;
            nb = SLOW_BUCKETS;
        }
    }
    if (!path)
        return;
    double novelty = w.novel / w.n, tmpl = w.tmpl / w.n, longs = w.longout / w.n;
    double mean_ct = w.ctok / w.n;
    if (novelty * 100 < cfg->an_ex_novelty_pct || tmpl > 0.5)
        return;
    if (mean_ct < cfg->an_ex_long_tokens && longs < 0.5)
        return;
    if (cv < 0) {
        double m = w.iat_sum / w.n;
        double var = w.iat_sq / w.n - m * m;
        cv = m > 0 ? sqrt(var > 0 ? var : 0) / m : 0;
        pw = prada_w(s);
    }
    ex_verdict v = {path, w, sw, nb, cur, cold, kb, tb, ref, fence, q99, pop_n, cv, pw};
    raise_alert(e, k, o, &v);
}

const an_detector an_detector_extraction = {
    .name = "extraction", .type = INC_EXTRACTION, .observe = observe};
