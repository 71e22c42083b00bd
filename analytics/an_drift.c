/* Drift per model and version: tumbling windows (drift_window_ms, aligned
 * on event time) against a reference, the version's own first
 * drift_reference_ms of traffic (at least five times drift_min_events).
 * Metrics: response length, completion tokens, latency (reference sextiles
 * as bins), refusal (two bins), finish_reason (stop, length,
 * content_filter, tool_calls, other) and up to four scores.* (sextiles).
 * A window's PSI per metric, less its expected value from sampling alone
 * ((bins-1)(1/n + 1/n_ref)), is judged when it has drift_min_events events;
 * drift is raised when the largest PSI is >= drift_psi for
 * drift_consecutive windows in a row. PSI >= 0.2 is the customary "major
 * shift" mark; requiring consecutive windows keeps one odd window quiet.
 * Each key contributes at most drift_key_cap events to a window (and to the
 * reference), so one unusual key cannot move the model's distributions, and
 * a window needs drift_min_keys distinct keys, so a model left with a few
 * heavy keys (say, the old version after a rollout) is not judged on them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_detectors.h"
#include "analytics/an_features.h"
#include "analytics/an_snapshot.h"
#include "core/json_scan.h"

#define NB 6 /* sextiles: with windows of tens of events, ten bins are mostly noise */
#define REF_MAX 4000
#define NSCORES AN_OBS_SCORES_MAX
enum { M_RESP, M_CTOK, M_LAT, M_REFUSAL, M_FINISH, M_SCORE0, NM = M_SCORE0 + NSCORES };
static const char *const g_mname[M_SCORE0] = {"response_length", "completion_tokens",
                                              "latency_ms", "refusal", "finish_reason"};
#define MAX_MODELS 4096

typedef struct {
    float *sample; /* reference values until the bins are built */
    uint32_t nsample, nref;
    int nbins;
    double edges[NB - 1];
    double ref_prop[NB];
    uint32_t cnt[NB];
    bool ready;
} metric;

typedef struct dmodel {
    char *model, *version;
    uint64_t hash;
    struct dmodel *next;
    int64_t first_ts;
    bool ref_ready;
    uint32_t ref_n;
    int64_t window;
    uint32_t win_n, win_keys;
    int consec;
    int64_t run_start_us;
    char score[NSCORES][68];
    int nscores;
    metric m[NM];
} dmodel;

typedef struct an_drift an_drift;

struct an_drift {
    const core_config *cfg;
    dmodel *buckets[1024];
    size_t n;
    size_t bytes;
};

static void *drift_new(const core_config *cfg)
{
    an_drift *d = calloc(1, sizeof *d);
    if (d)
        d->cfg = cfg;
    return d;
}

static void model_free(dmodel *m)
{
    for (int i = 0; i < NM; i++)
        free(m->m[i].sample);
    free(m->model);
    free(m->version);
    free(m);
}

static void drift_free(void *state)
{
    an_drift *d = state;
    if (!d)
        return;
    for (size_t b = 0; b < 1024; b++)
        for (dmodel *m = d->buckets[b], *n; m; m = n) {
            n = m->next;
            model_free(m);
        }
    free(d);
}

static size_t drift_bytes(const void *state) { return ((const an_drift *)state)->bytes; }

static dmodel *get_model(an_drift *d, const an_obs *o)
{
    uint64_t h = an_hash(o->model, strlen(o->model), 0);
    h = an_hash(o->model_version, strlen(o->model_version), h ^ 0x2f);
    dmodel **head = &d->buckets[h & 1023];
    for (dmodel *m = *head; m; m = m->next)
        if (m->hash == h && !strcmp(m->model, o->model) && !strcmp(m->version, o->model_version))
            return m;
    if (d->n >= MAX_MODELS)
        return NULL;
    dmodel *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->model = strdup(o->model);
    m->version = strdup(o->model_version);
    if (!m->model || !m->version) {
        model_free(m);
        return NULL;
    }
    m->hash = h;
    m->first_ts = o->ts_us;
    m->window = -1;
    m->next = *head;
    *head = m;
    d->n++;
    d->bytes += sizeof *m;
    return m;
}

static int finish_cat(const char *f)
{
    if (!f)
        return -1;
    if (!strcmp(f, "stop") || !strcmp(f, "end_turn"))
        return 0;
    if (!strcmp(f, "length") || !strcmp(f, "max_tokens"))
        return 1;
    if (!strcmp(f, "content_filter"))
        return 2;
    if (!strcmp(f, "tool_calls") || !strcmp(f, "function_call") || !strcmp(f, "tool_use"))
        return 3;
    return 4;
}

/* The metric values of one observation; NAN where absent. */
static void values(const dmodel *m, const an_obs *o, double *v)
{
    for (int i = 0; i < NM; i++)
        v[i] = NAN;
    if (o->has_response)
        v[M_RESP] = o->response_len;
    if (o->completion_tokens >= 0)
        v[M_CTOK] = (double)o->completion_tokens;
    if (o->has_latency)
        v[M_LAT] = o->latency_ms;
    if (o->has_response || o->refusal >= 0)
        v[M_REFUSAL] = o->refusal == 1;
    int fc = finish_cat(o->finish_reason);
    if (fc >= 0)
        v[M_FINISH] = fc;
    for (int s = 0; s < m->nscores; s++)
        for (int j = 0; j < o->n_scores; j++)
            if (!strcmp(m->score[s], o->score_name[j]))
                v[M_SCORE0 + s] = o->score_val[j];
}

static int cmp_f(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int bin_of(const metric *mt, double v)
{
    /* the reference was kept as float: compare like with like, or values
     * equal to an edge land on the other side of it */
    v = (float)v;
    int b = 0;
    while (b < mt->nbins - 1 && v > mt->edges[b])
        b++;
    return b;
}

/* Bins from the reference sample: fixed for the two categorical metrics,
 * deciles (ties merged) for the rest; the reference's own share per bin. */
static void build(metric *mt, int idx)
{
    if (mt->nsample < 20) {
        mt->ready = false;
        return;
    }
    if (idx == M_REFUSAL) {
        mt->nbins = 2;
        mt->edges[0] = 0.5;
    } else if (idx == M_FINISH) {
        mt->nbins = 5;
        for (int i = 0; i < 4; i++)
            mt->edges[i] = i + 0.5;
    } else {
        float *s = malloc(mt->nsample * sizeof *s);
        if (!s)
            return;
        memcpy(s, mt->sample, mt->nsample * sizeof *s);
        qsort(s, mt->nsample, sizeof *s, cmp_f);
        int nb = 0;
        for (int q = 1; q < NB; q++) {
            double e = s[(size_t)q * mt->nsample / NB];
            if (nb == 0 || e > mt->edges[nb - 1])
                mt->edges[nb++] = e;
        }
        mt->nbins = nb + 1;
        free(s);
    }
    uint32_t c[NB] = {0};
    for (uint32_t i = 0; i < mt->nsample; i++)
        c[bin_of(mt, mt->sample[i])]++;
    for (int b = 0; b < mt->nbins; b++)
        mt->ref_prop[b] = (double)c[b] / mt->nsample;
    mt->nref = mt->nsample;
    mt->ready = true;
}

static void judge(an_drift *d, an_engine *e, dmodel *m, const an_obs *o)
{
    const core_config *cfg = d->cfg;
    double psi[NM], maxpsi = 0;
    bool judged = false;
    for (int i = 0; i < NM; i++) {
        psi[i] = -1;
        metric *mt = &m->m[i];
        uint32_t n = 0;
        int used = 0; /* the bins a window like the reference can fill */
        for (int b = 0; b < mt->nbins; b++) {
            n += mt->cnt[b];
            used += mt->ref_prop[b] > 0;
        }
        if (mt->ready && n * 2 >= (uint32_t)cfg->an_dr_min_events) {
            /* minus what sampling alone gives on average, (k - 1) x
             * (1/n + 1/n_ref) for the k bins the reference fills: small
             * windows must not look like drift */
            psi[i] = an_psi(mt->ref_prop, mt->nref, mt->cnt, mt->nbins) -
                     (used > 2 ? used - 1 : 1) * (1.0 / n + 1.0 / mt->nref);
            if (psi[i] < 0)
                psi[i] = 0;
            judged = true;
            if (psi[i] > maxpsi)
                maxpsi = psi[i];
        }
        memset(mt->cnt, 0, sizeof mt->cnt);
    }
    uint32_t n = m->win_n, nkeys = m->win_keys;
    m->win_n = m->win_keys = 0;
    /* too few to judge: neither counts for nor against (a window judged
     * with nothing changed does: it ends a run) */
    if (n < (uint32_t)cfg->an_dr_min_events || nkeys < (uint32_t)cfg->an_dr_min_keys || !judged)
        return;
    int64_t wstart = m->window * cfg->an_dr_window_ms * 1000;
    if (maxpsi * 1000 < cfg->an_dr_psi_x1000) {
        m->consec = 0;
        return;
    }
    if (m->consec++ == 0)
        m->run_start_us = wstart;
    if (m->consec < cfg->an_dr_consecutive)
        return;
    char names[256] = "";
    cJSON *ev = cJSON_CreateObject();
    cJSON *pj = cJSON_AddObjectToObject(ev, "psi");
    int nn = 0;
    for (int i = 0; i < NM; i++) {
        if (psi[i] < 0)
            continue;
        const char *name = i < M_SCORE0 ? g_mname[i] : m->score[i - M_SCORE0];
        char key[80];
        snprintf(key, sizeof key, "%s%s", i < M_SCORE0 ? "" : "scores.", name);
        cJSON_AddNumberToObject(pj, key, round(psi[i] * 1000) / 1000);
        if (psi[i] * 1000 >= cfg->an_dr_psi_x1000) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", nn++ ? ", " : "", key);
        }
    }
    cJSON_AddNumberToObject(ev, "windows_over_threshold", m->consec);
    cJSON_AddNumberToObject(ev, "window_events", n);
    cJSON_AddNumberToObject(ev, "window_keys", nkeys);
    cJSON_AddNumberToObject(ev, "window_minutes", (double)cfg->an_dr_window_ms / 60000.0);
    cJSON_AddNumberToObject(ev, "reference_events", m->ref_n);
    char ts[40];
    cJSON_AddStringToObject(ev, "reference_start", core_ts_format(m->first_ts, ts, sizeof ts));
    char summary[400];
    snprintf(summary, sizeof summary,
             "Model %.64s version %.64s drifted from its early traffic on %s (PSI up to %.2f) "
             "for %d windows in a row.",
             m->model, m->version, names, maxpsi, m->consec);
    an_alert a = {
        .type = INC_DRIFT,
        .severity = maxpsi >= 0.5 ? INC_HIGH : INC_MEDIUM,
        .trigger = o,
        .first_ts = m->run_start_us,
        .api_key_id = NULL,
        .model = m->model,
        .model_version = m->version,
        .summary = summary,
        .evidence = core_json_print_unformatted(ev), /* NULL when out of memory: none */
    };
    an_engine_alert(e, &a);
    free(a.evidence);
    cJSON_Delete(ev);
}

static void observe(void *state, an_engine *e, an_key *k, const an_obs *o)
{
    an_drift *d = state;
    const core_config *cfg = d->cfg;
    int64_t win = o->ts_us / (cfg->an_dr_window_ms * 1000);
    if (k->dr_window != win) {
        k->dr_window = win;
        k->dr_n = 0;
    }
    if (k->dr_n >= cfg->an_dr_key_cap)
        return;
    bool first_in_window = k->dr_n++ == 0;
    dmodel *m = get_model(d, o);
    if (!m)
        return;
    if (!m->ref_ready) {
        bool in_period = o->ts_us < m->first_ts + cfg->an_dr_reference_ms * 1000;
        if (in_period || m->ref_n < 5 * (uint32_t)cfg->an_dr_min_events) {
            for (int j = 0; j < o->n_scores && m->nscores < NSCORES; j++) {
                int s;
                for (s = 0; s < m->nscores && strcmp(m->score[s], o->score_name[j]); s++)
                    ;
                if (s == m->nscores && strlen(o->score_name[j]) < sizeof m->score[0])
                    snprintf(m->score[m->nscores++], sizeof m->score[0], "%s", o->score_name[j]);
            }
            double v[NM];
            values(m, o, v);
            m->ref_n++;
            for (int i = 0; i < NM; i++) {
                metric *mt = &m->m[i];
                if (isnan(v[i]) || mt->nsample >= REF_MAX)
                    continue;
                if (!mt->sample && !(mt->sample = malloc(REF_MAX * sizeof *mt->sample)))
                    continue;
                if (mt->nsample == 0)
                    d->bytes += REF_MAX * sizeof *mt->sample;
                mt->sample[mt->nsample++] = (float)v[i];
            }
            return;
        }
        for (int i = 0; i < NM; i++) {
            build(&m->m[i], i);
            if (m->m[i].sample)
                d->bytes -= REF_MAX * sizeof *m->m[i].sample;
            free(m->m[i].sample);
            m->m[i].sample = NULL;
        }
        m->ref_ready = true;
        m->window = win;
    }
    if (win != m->window) {
        judge(d, e, m, o);
        if (win > m->window + 1)
            m->consec = 0; /* a silent gap breaks a run */
        m->window = win;
    }
    double v[NM];
    values(m, o, v);
    m->win_n++;
    m->win_keys += first_in_window;
    for (int i = 0; i < NM; i++)
        if (m->m[i].ready && !isnan(v[i]))
            m->m[i].cnt[bin_of(&m->m[i], v[i])]++;
}

/* The models in a snapshot: each dmodel as it is (its pointers replaced on
 * load), its names, then each metric's reference sample. */
static void drift_save(const void *state, an_snap_w *w)
{
    const an_drift *d = state;
    an_snap_put_u32(w, (uint32_t)sizeof(dmodel));
    an_snap_put_u32(w, (uint32_t)d->n);
    for (size_t b = 0; b < 1024; b++)
        for (const dmodel *m = d->buckets[b]; m; m = m->next) {
            an_snap_put(w, m, sizeof *m);
            an_snap_put_str(w, m->model);
            an_snap_put_str(w, m->version);
            for (int i = 0; i < NM; i++)
                if (m->m[i].sample && m->m[i].nsample)
                    an_snap_put(w, m->m[i].sample, m->m[i].nsample * sizeof(float));
        }
}

/* Adds the snapshot's models this state does not hold yet. */
static int drift_load(void *state, an_snap_r *r)
{
    an_drift *d = state;
    if (an_snap_get_u32(r) != sizeof(dmodel))
        return -1;
    uint32_t n = an_snap_get_u32(r);
    for (uint32_t k = 0; k < n && !r->bad; k++) {
        dmodel *m = calloc(1, sizeof *m);
        if (!m)
            return -1;
        an_snap_get(r, m, sizeof *m);
        m->next = NULL;
        m->model = m->version = NULL;
        for (int i = 0; i < NM; i++)
            m->m[i].sample = NULL;
        m->model = an_snap_get_str(r, 4096);
        m->version = an_snap_get_str(r, 4096);
        bool ok = !r->bad && m->model && m->version;
        for (int i = 0; ok && i < NM; i++) {
            metric *mt = &m->m[i];
            if (mt->nsample > REF_MAX || mt->nbins < 0 || mt->nbins > NB) {
                ok = false;
                break;
            }
            if (!mt->nsample || m->ref_ready)
                continue;
            if (!(mt->sample = malloc(REF_MAX * sizeof *mt->sample)) ||
                !an_snap_get(r, mt->sample, mt->nsample * sizeof *mt->sample))
                ok = false;
        }
        uint64_t h = an_hash(m->model ? m->model : "", m->model ? strlen(m->model) : 0, 0);
        if (ok)
            h = an_hash(m->version, strlen(m->version), h ^ 0x2f);
        if (!ok || h != m->hash) {
            model_free(m);
            return -1;
        }
        dmodel **head = &d->buckets[h & 1023];
        bool have = false;
        for (dmodel *x = *head; x && !have; x = x->next)
            have = x->hash == h && !strcmp(x->model, m->model) && !strcmp(x->version, m->version);
        if (have || d->n >= MAX_MODELS) {
            model_free(m);
            continue;
        }
        m->next = *head;
        *head = m;
        d->n++;
        d->bytes += sizeof *m;
        for (int i = 0; i < NM; i++)
            if (m->m[i].sample)
                d->bytes += REF_MAX * sizeof *m->m[i].sample;
    }
    return r->bad ? -1 : 0;
}

/* Drift is per model version, not per key: its state is its own. */
const an_detector an_detector_drift = {.name = "drift",
                                       .type = INC_DRIFT,
                                       .init = drift_new,
                                       .observe = observe,
                                       .bytes = drift_bytes,
                                       .free = drift_free,
                                       .save = drift_save,
                                       .load = drift_load};
