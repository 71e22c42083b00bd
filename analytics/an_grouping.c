/* Incidents: alerts of one type and subject group into one open incident;
 * later alerts update it (severity may rise, evidence accumulates, last seen
 * moves); after incident_quiet_ms of event time without alerts it closes and
 * the next alert opens a new one. Incident ids are derived from what opened
 * them, so live and replay name them alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/an_features.h"
#include "analytics/an_grouping.h"
#include "analytics/an_snapshot.h"
#include "core/json_scan.h"

#define INC_MAX_IDS 8
#define INC_MAX_EVENTS 16
#define INC_MAX_RULES 24

typedef struct inc {
    char id[24];
    inc_type type;
    inc_severity sev, emitted_sev;
    uint64_t subj_hash;
    char *api_key_id, *model, *model_version, *summary, *tenant;
    int64_t first_us, detected_us, last_us, last_emit_us;
    int n_alerts;
    bool dirty, opened_emitted;
    char *evidence; /* the latest alert's (an_alert.evidence) */
    char atlas[INC_MAX_IDS][24], owasp[INC_MAX_IDS][16];
    int n_atlas, n_owasp;
    char *rules[INC_MAX_RULES];
    int n_rules;
    char *events[INC_MAX_EVENTS];
    int n_events;
    struct inc *hnext;
} inc;

struct an_incidents {
    const core_config *cfg;
    an_callbacks cb;
    inc **open; /* in the order they opened */
    size_t nopen, capopen;
    uint64_t total;
};

static const char *const g_atlas[INC_TYPE_COUNT][4] = {
    {"AML.T0024.002", "AML.T0005.001"},
    {"AML.T0054"}, /* plus what the matched rules name */
    {"AML.T0031"}, /* drift: see docs/analytics.md */
    {"AML.T0057"},
    {"AML.T0029", "AML.T0034"},
};
static const char *const g_owasp[INC_TYPE_COUNT][3] = {
    {"LLM10:2025"},
    {"LLM01:2025"},
    {"LLM04:2025"},
    {"LLM02:2025"},
    {"LLM10:2025"},
};

an_incidents *an_incidents_new(const core_config *cfg, const an_callbacks *cb)
{
    an_incidents *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->cfg = cfg;
    if (cb)
        g->cb = *cb;
    return g;
}

static void inc_free(inc *i)
{
    free(i->api_key_id);
    free(i->model);
    free(i->model_version);
    free(i->summary);
    free(i->tenant);
    free(i->evidence);
    for (int k = 0; k < i->n_rules; k++)
        free(i->rules[k]);
    for (int k = 0; k < i->n_events; k++)
        free(i->events[k]);
    free(i);
}

void an_incidents_free(an_incidents *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nopen; i++)
        inc_free(g->open[i]);
    free(g->open);
    free(g);
}

uint64_t an_incidents_count(const an_incidents *g) { return g->total; }

static uint64_t subject_hash(inc_type t, const an_alert *a)
{
    uint64_t h = an_hash(&t, sizeof t, 0);
    if (a->api_key_id)
        return an_hash(a->api_key_id, strlen(a->api_key_id), h);
    h = an_hash(a->model, strlen(a->model), h);
    return an_hash(a->model_version, strlen(a->model_version), h ^ 0x5f);
}

static bool same_subject(const inc *i, const an_alert *a)
{
    if (i->type != a->type)
        return false;
    if (a->api_key_id)
        return i->api_key_id && strcmp(i->api_key_id, a->api_key_id) == 0;
    return !i->api_key_id && strcmp(i->model, a->model) == 0 &&
           strcmp(i->model_version, a->model_version) == 0;
}

static void add_id(char (*arr)[24], int *n, size_t width, const char *s)
{
    for (int k = 0; k < *n; k++)
        if (strcmp((char *)arr + (size_t)k * width, s) == 0)
            return;
    if (*n < INC_MAX_IDS) {
        snprintf((char *)arr + (size_t)*n * width, width, "%s", s);
        (*n)++;
    }
}

static void add_str(char **arr, int *n, int max, const char *s)
{
    for (int k = 0; k < *n; k++)
        if (strcmp(arr[k], s) == 0)
            return;
    if (*n < max && (arr[*n] = strdup(s)))
        (*n)++;
}

static void put_lit(core_json_buf *b, const char *s) { core_json_buf_put(b, s, strlen(s)); }
static void put_str(core_json_buf *b, const char *s) { core_json_put_string(b, s, strlen(s)); }

/* A JSON array of the n strings str(arr, k). */
static void put_str_array(core_json_buf *b, const void *arr, int n,
                          const char *(*str)(const void *arr, int k))
{
    core_json_buf_put(b, "[", 1);
    for (int k = 0; k < n; k++) {
        if (k)
            core_json_buf_put(b, ",", 1);
        put_str(b, str(arr, k));
    }
    core_json_buf_put(b, "]", 1);
}

static const char *atlas_at(const void *arr, int k) { return ((const char(*)[24])arr)[k]; }
static const char *owasp_at(const void *arr, int k) { return ((const char(*)[16])arr)[k]; }
static const char *ptr_at(const void *arr, int k) { return ((char *const *)arr)[k]; }

/* The incident's JSON (malloc'd), or NULL when out of memory. Written
 * directly, byte for byte what cJSON_PrintUnformatted wrote of the tree this
 * was built as before (the fields below in this order, the incident's
 * counts appended to a copy of its evidence): an incident is written at each
 * update, and building, copying and freeing that tree was most of a storm's
 * analytics. */
static char *json_of(const inc *i)
{
    char ts[40], num[16];
    const char *ev = i->evidence;
    core_json_buf b;
    core_json_buf_init(&b);
    put_lit(&b, "{\"incident_id\":");
    put_str(&b, i->id);
    put_lit(&b, ",\"type\":");
    put_str(&b, inc_type_name(i->type));
    put_lit(&b, ",\"severity\":");
    put_str(&b, inc_severity_name(i->sev));
    if (i->api_key_id) {
        put_lit(&b, ",\"api_key_id\":");
        put_str(&b, i->api_key_id);
    }
    if (i->model) {
        put_lit(&b, ",\"model\":");
        put_str(&b, i->model);
    }
    if (i->model_version) {
        put_lit(&b, ",\"model_version\":");
        put_str(&b, i->model_version);
    }
    put_lit(&b, ",\"first_seen\":");
    put_str(&b, core_ts_format(i->first_us, ts, sizeof ts));
    put_lit(&b, ",\"detected_at\":");
    put_str(&b, core_ts_format(i->detected_us, ts, sizeof ts));
    put_lit(&b, ",\"atlas\":");
    put_str_array(&b, i->atlas, i->n_atlas, atlas_at);
    put_lit(&b, ",\"owasp\":");
    put_str_array(&b, i->owasp, i->n_owasp, owasp_at);
    put_lit(&b, ",\"summary\":");
    put_str(&b, i->summary ? i->summary : "");
    /* the evidence object, then what the incident adds to it */
    put_lit(&b, ",\"evidence\":");
    size_t evn = ev ? strlen(ev) : 0;
    if (evn > 2) {
        core_json_buf_put(&b, ev, evn - 1); /* without its closing brace */
        core_json_buf_put(&b, ",", 1);
    } else {
        core_json_buf_put(&b, "{", 1);
    }
    snprintf(num, sizeof num, "%d", i->n_alerts);
    put_lit(&b, "\"alerts\":");
    put_lit(&b, num);
    put_lit(&b, ",\"last_seen\":");
    put_str(&b, core_ts_format(i->last_us, ts, sizeof ts));
    if (i->n_rules) {
        put_lit(&b, ",\"rules\":");
        put_str_array(&b, i->rules, i->n_rules, ptr_at);
    }
    put_lit(&b, ",\"event_ids\":");
    put_str_array(&b, i->events, i->n_events, ptr_at);
    put_lit(&b, "}}");
    char *out = core_json_buf_take(&b);
    core_json_buf_free(&b);
    return out;
}

static void fill_view(const inc *i, an_incident_view *v, const char *json, bool opened,
                      bool final)
{
    v->incident_id = i->id;
    v->type = i->type;
    v->severity = i->sev;
    v->api_key_id = i->api_key_id;
    v->model = i->model;
    v->model_version = i->model_version;
    v->tenant = i->tenant;
    v->summary = i->summary ? i->summary : "";
    v->atlas = (const char(*)[24])i->atlas;
    v->n_atlas = i->n_atlas;
    v->owasp = (const char(*)[16])i->owasp;
    v->n_owasp = i->n_owasp;
    v->first_seen_us = i->first_us;
    v->detected_at_us = i->detected_us;
    v->last_seen_us = i->last_us;
    v->n_alerts = i->n_alerts;
    v->opened = opened;
    v->final = final;
    v->json = json;
}

static void emit(an_incidents *g, inc *i, bool final)
{
    if (!g->cb.incident)
        return;
    char *json = json_of(i);
    if (!json)
        return;
    an_incident_view v;
    fill_view(i, &v, json, !i->opened_emitted, final);
    g->cb.incident(g->cb.ud, &v);
    free(json);
    i->opened_emitted = true;
    i->dirty = false;
    i->emitted_sev = i->sev;
    i->last_emit_us = i->last_us;
}

static void close_at(an_incidents *g, size_t idx)
{
    inc *i = g->open[idx];
    emit(g, i, true);
    inc_free(i);
    memmove(&g->open[idx], &g->open[idx + 1], (g->nopen - idx - 1) * sizeof *g->open);
    g->nopen--;
}

void an_incidents_tick(an_incidents *g, int64_t now_us)
{
    int64_t quiet = g->cfg->an_incident_quiet_ms * 1000;
    for (size_t k = 0; k < g->nopen;) {
        if (g->open[k]->last_us < now_us - quiet)
            close_at(g, k);
        else
            k++;
    }
}

void an_incidents_finish(an_incidents *g)
{
    while (g->nopen)
        close_at(g, 0);
}

void an_incidents_alert(an_incidents *g, an_alert *a)
{
    if (a->alert_only) {
        if (g->cb.alert)
            g->cb.alert(g->cb.ud, NULL, a);
        return;
    }
    uint64_t h = subject_hash(a->type, a);
    int64_t ts = a->trigger->ts_us;
    int64_t quiet = g->cfg->an_incident_quiet_ms * 1000;
    inc *i = NULL;
    for (size_t k = 0; k < g->nopen; k++)
        if (g->open[k]->subj_hash == h && same_subject(g->open[k], a)) {
            i = g->open[k];
            if (i->last_us < ts - quiet) { /* quiet long enough: this one is over */
                close_at(g, k);
                i = NULL;
            }
            break;
        }
    bool opened = false;
    if (!i) {
        if (g->nopen == g->capopen) {
            size_t nc = g->capopen ? g->capopen * 2 : 64;
            inc **no = realloc(g->open, nc * sizeof *no);
            if (!no) {
                free(a->evidence);
                a->evidence = NULL;
                return;
            }
            g->open = no;
            g->capopen = nc;
        }
        i = calloc(1, sizeof *i);
        if (!i) {
            free(a->evidence);
            a->evidence = NULL;
            return;
        }
        i->type = a->type;
        i->subj_hash = h;
        i->sev = a->severity;
        i->api_key_id = a->api_key_id ? strdup(a->api_key_id) : NULL;
        i->model = a->model ? strdup(a->model) : NULL;
        i->model_version = a->model_version ? strdup(a->model_version) : NULL;
        /* the tenant of a key's traffic; a model-scoped incident has none */
        i->tenant = a->api_key_id && a->trigger->tenant ? strdup(a->trigger->tenant) : NULL;
        i->first_us = a->first_ts < ts ? a->first_ts : ts;
        i->detected_us = ts;
        /* the id names what opened it: type, subject, the event that fired */
        uint64_t idh = an_hash(a->trigger->event_id, strlen(a->trigger->event_id), h);
        idh = an_hash(&ts, sizeof ts, idh);
        snprintf(i->id, sizeof i->id, "inc-%016llx", (unsigned long long)idh);
        for (int k = 0; k < 4 && g_atlas[a->type][k]; k++)
            add_id(i->atlas, &i->n_atlas, sizeof i->atlas[0], g_atlas[a->type][k]);
        for (int k = 0; k < 3 && g_owasp[a->type][k]; k++)
            add_id((char(*)[24])i->owasp, &i->n_owasp, sizeof i->owasp[0], g_owasp[a->type][k]);
        g->open[g->nopen++] = i;
        g->total++;
        opened = true;
    }
    i->n_alerts++;
    if (ts > i->last_us)
        i->last_us = ts;
    if (a->first_ts < i->first_us)
        i->first_us = a->first_ts;
    bool rose = a->severity > i->sev;
    if (rose)
        i->sev = a->severity;
    if (a->summary) {
        free(i->summary);
        i->summary = strdup(a->summary);
    }
    for (int k = 0; k < a->n_rules; k++) {
        const an_rule *r = a->rules[k];
        add_str(i->rules, &i->n_rules, INC_MAX_RULES, r->id);
        for (int j = 0; j < r->n_atlas; j++)
            add_id(i->atlas, &i->n_atlas, sizeof i->atlas[0], r->atlas[j]);
        for (int j = 0; j < r->n_owasp; j++)
            add_id((char(*)[24])i->owasp, &i->n_owasp, sizeof i->owasp[0], r->owasp[j]);
    }
    add_str(i->events, &i->n_events, INC_MAX_EVENTS, a->trigger->event_id);
    i->dirty = true;
    if (g->cb.alert) {
        an_incident_view v;
        fill_view(i, &v, NULL, opened, false);
        g->cb.alert(g->cb.ud, &v, a);
    }
    /* the alert's evidence is lent to the callback (its row keeps a copy)
     * and then becomes the incident's latest */
    if (a->evidence) {
        free(i->evidence);
        i->evidence = a->evidence;
        a->evidence = NULL;
    }
    if (opened || rose || ts - i->last_emit_us >= g->cfg->an_incident_update_ms * 1000)
        emit(g, i, false);
}

/* ---- snapshots ---- */

/* The fixed part of an incident in a snapshot (its strings follow). */
typedef struct {
    char id[24];
    int32_t type, sev, emitted_sev;
    uint64_t subj_hash;
    int64_t first_us, detected_us, last_us, last_emit_us;
    int32_t n_alerts;
    uint8_t dirty, opened_emitted;
    char atlas[INC_MAX_IDS][24], owasp[INC_MAX_IDS][16];
    int32_t n_atlas, n_owasp, n_rules, n_events;
} inc_fixed;

void an_incidents_save(const an_incidents *g, an_snap_w *(*route)(void *ud, const char *api_key_id),
                       void *ud)
{
    for (size_t k = 0; k < g->nopen; k++) {
        const inc *i = g->open[k];
        an_snap_w *w = route(ud, i->api_key_id);
        if (!w)
            continue;
        inc_fixed f;
        memset(&f, 0, sizeof f);
        memcpy(f.id, i->id, sizeof f.id);
        f.type = i->type;
        f.sev = i->sev;
        f.emitted_sev = i->emitted_sev;
        f.subj_hash = i->subj_hash;
        f.first_us = i->first_us;
        f.detected_us = i->detected_us;
        f.last_us = i->last_us;
        f.last_emit_us = i->last_emit_us;
        f.n_alerts = i->n_alerts;
        f.dirty = i->dirty;
        f.opened_emitted = i->opened_emitted;
        memcpy(f.atlas, i->atlas, sizeof f.atlas);
        memcpy(f.owasp, i->owasp, sizeof f.owasp);
        f.n_atlas = i->n_atlas;
        f.n_owasp = i->n_owasp;
        f.n_rules = i->n_rules;
        f.n_events = i->n_events;
        uint8_t tag = AN_SNAP_INCIDENT;
        an_snap_put(w, &tag, 1);
        an_snap_put(w, &f, sizeof f);
        an_snap_put_str(w, i->api_key_id);
        an_snap_put_str(w, i->model);
        an_snap_put_str(w, i->model_version);
        an_snap_put_str(w, i->summary);
        an_snap_put_str(w, i->tenant);
        an_snap_put_str(w, i->evidence);
        for (int r = 0; r < i->n_rules; r++)
            an_snap_put_str(w, i->rules[r]);
        for (int r = 0; r < i->n_events; r++)
            an_snap_put_str(w, i->events[r]);
    }
}

#define SNAP_STR_MAX (1u << 24)

int an_incidents_load(an_incidents *g, an_snap_r *r)
{
    inc_fixed f;
    an_snap_get(r, &f, sizeof f);
    inc *i = calloc(1, sizeof *i);
    if (!i)
        return -1;
    f.id[sizeof f.id - 1] = '\0';
    memcpy(i->id, f.id, sizeof i->id);
    bool ok = !r->bad && f.type >= 0 && f.type < INC_TYPE_COUNT && f.sev >= 0 &&
              f.sev < INC_SEVERITY_COUNT && f.n_atlas >= 0 && f.n_atlas <= INC_MAX_IDS &&
              f.n_owasp >= 0 && f.n_owasp <= INC_MAX_IDS && f.n_rules >= 0 &&
              f.n_rules <= INC_MAX_RULES && f.n_events >= 0 && f.n_events <= INC_MAX_EVENTS;
    char *ev = NULL;
    if (ok) {
        i->type = (inc_type)f.type;
        i->sev = (inc_severity)f.sev;
        i->emitted_sev = (inc_severity)f.emitted_sev;
        i->subj_hash = f.subj_hash;
        i->first_us = f.first_us;
        i->detected_us = f.detected_us;
        i->last_us = f.last_us;
        i->last_emit_us = f.last_emit_us;
        i->n_alerts = f.n_alerts;
        i->dirty = f.dirty;
        i->opened_emitted = f.opened_emitted;
        memcpy(i->atlas, f.atlas, sizeof i->atlas);
        memcpy(i->owasp, f.owasp, sizeof i->owasp);
        for (int k = 0; k < INC_MAX_IDS; k++) {
            i->atlas[k][sizeof i->atlas[k] - 1] = '\0';
            i->owasp[k][sizeof i->owasp[k] - 1] = '\0';
        }
        i->n_atlas = f.n_atlas;
        i->n_owasp = f.n_owasp;
        i->api_key_id = an_snap_get_str(r, SNAP_STR_MAX);
        i->model = an_snap_get_str(r, SNAP_STR_MAX);
        i->model_version = an_snap_get_str(r, SNAP_STR_MAX);
        i->summary = an_snap_get_str(r, SNAP_STR_MAX);
        i->tenant = an_snap_get_str(r, SNAP_STR_MAX);
        ev = an_snap_get_str(r, SNAP_STR_MAX);
        for (int k = 0; k < f.n_rules; k++)
            if ((i->rules[i->n_rules] = an_snap_get_str(r, SNAP_STR_MAX)))
                i->n_rules++;
        for (int k = 0; k < f.n_events; k++)
            if ((i->events[i->n_events] = an_snap_get_str(r, SNAP_STR_MAX)))
                i->n_events++;
        /* evidence is an object (json_of() writes into it), kept as the
         * compact text it was saved as */
        if (ev) {
            cJSON *t = cJSON_Parse(ev);
            if (!t || !cJSON_IsObject(t) || !(i->evidence = core_json_print_unformatted(t)))
                r->bad = true;
            cJSON_Delete(t);
        }
        /* a key-scoped incident names its key, a model-scoped one its model */
        ok = !r->bad && i->n_rules == f.n_rules && i->n_events == f.n_events &&
             (i->api_key_id || (i->model && i->model_version));
    }
    free(ev);
    for (size_t k = 0; ok && k < g->nopen; k++)
        if (strcmp(g->open[k]->id, i->id) == 0) {
            inc_free(i); /* already open here: ours is newer */
            return 0;
        }
    if (ok && g->nopen == g->capopen) {
        size_t nc = g->capopen ? g->capopen * 2 : 64;
        inc **no = realloc(g->open, nc * sizeof *no);
        if (no) {
            g->open = no;
            g->capopen = nc;
        } else {
            ok = false;
        }
    }
    if (!ok) {
        inc_free(i);
        return -1;
    }
    g->open[g->nopen++] = i;
    return 0;
}

void an_incidents_close_key(an_incidents *g, const char *api_key_id)
{
    for (size_t k = 0; k < g->nopen;) {
        if (g->open[k]->api_key_id && strcmp(g->open[k]->api_key_id, api_key_id) == 0)
            close_at(g, k);
        else
            k++;
    }
}
