/* The live analytics inside `custos run`: a bounded queue from the
 * collector's writer thread, one analytics thread running the engine, and
 * after each batch one PostgreSQL transaction for the incidents, alerts and
 * evidence links it produced, then the incident JSON to Kafka. */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/an_engine.h"
#include "analytics/an_features.h"
#include "analytics/an_hold.h"
#include "analytics/an_live_snap.h"
#include "analytics/an_snapshot.h"
#include "analytics/analytics.h"
#include "core/backoff.h"
#include "core/db.h"
#include "core/hdr.h"
#include "core/json_scan.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/queue.h"
#include "core/util.h"
#include "incidents/incidents.h"

/* The live analytics' metrics (core registry). */
static CORE_METRIC_DEFINE(an_m_events, CORE_COUNTER, "custos_analytics_events_total",
                          "events through the live analytics")
static CORE_METRIC_DEFINE(an_m_late, CORE_COUNTER, "custos_analytics_late_events_total",
                          "events older than the reorder window")
static CORE_METRIC_DEFINE(an_m_alerts, CORE_COUNTER, "custos_analytics_alerts_total",
                          "detector alerts")
static CORE_METRIC_DEFINE(an_m_incidents, CORE_COUNTER, "custos_analytics_incidents_total",
                          "incidents opened")
static CORE_METRIC_DEFINE(an_m_keys, CORE_GAUGE, "custos_analytics_tracked_keys",
                          "api keys with detector state")
static CORE_METRIC_DEFINE(an_m_queue_waits, CORE_COUNTER, "custos_analytics_queue_waits_total",
                          "times ingest waited on the full analytics queue")
static CORE_METRIC_DEFINE(an_m_db_errors, CORE_COUNTER, "custos_analytics_db_errors_total",
                          "failed writes of alerts and incidents")
static CORE_METRIC_DEFINE(an_m_published, CORE_COUNTER, "custos_analytics_published_total",
                          "incident messages delivered to the incidents topic")
static CORE_METRIC_DEFINE(an_m_alerts_stored, CORE_COUNTER, "custos_analytics_alerts_stored_total",
                          "alerts committed to PostgreSQL (raised = stored + dropped + pending)")
static CORE_METRIC_DEFINE(an_m_alert_rows, CORE_COUNTER, "custos_analytics_alert_rows_total",
                          "alert rows committed (a coalesced row stands for many alerts)")
static CORE_METRIC_DEFINE(an_m_flushes, CORE_COUNTER, "custos_analytics_flushes_total",
                          "transactions that stored incidents and alerts")
static CORE_METRIC_DEFINE(an_m_dropped, CORE_COUNTER, "custos_analytics_dropped_total",
                          "alerts or incident updates given up after retries")

#define PENDING_MAX 100000 /* rows held while PostgreSQL is down; older ones are dropped */
/* A flush (one transaction) waits while more batches are queued, for at
 * most FLUSH_MS or FLUSH_ROWS rows: under load one upsert per incident and
 * one fsync cover many batches, and the collector never waits for it. */
#define FLUSH_MS 250
#define FLUSH_ROWS 20000
/* Incidents held at most (analytics.incident_hold_ms): a state and a
 * coalesced row each, a few KiB; past it incidents are written at once. */
#define HOLD_MAX 65536
typedef struct {
    core_event *evs;
    size_t n;
    int64_t enq_us; /* when the collector handed it over (its batch was committed) */
    /* a partition assigned or revoked (evs NULL): its state restored or saved */
    enum { Q_EVENTS, Q_ASSIGNED, Q_REVOKED } kind;
    char *topic;
    int32_t partition;
    int64_t next_offset;
} qitem;

/* A snapshot row waiting for the batch's transaction. */
typedef struct {
    char *topic;
    int32_t partition;
    int64_t next_offset;
    uint32_t keys;
    void *blob;
    size_t n;
} snap_row;

/* What one flush writes: incidents (newest state each), alerts (one row
 * each), coalesced alerts (one row per incident, past its first
 * analytics.alert_rows_per_incident alerts), snapshot rows. */
typedef struct {
    struct inc_row_s *incs;
    size_t nincs, capincs;
    struct alert_row_s *alerts;
    size_t nalerts, capalerts;
    struct alert_group_s *groups;
    size_t ngroups, capgroups;
    uint32_t *gidx; /* the groups by incident id, open addressing: index + 1, 0 = empty */
    size_t ngidx;   /* slots: 0, or a power of two >= 2 * ngroups */
    snap_row *srows;
    size_t nsrows, capsrows;
} row_set;

#define SNAP_TOPICS 4096 /* partitions whose topic is remembered (the engine's sources) */

/* An incident's newest state in this batch, in the record incidents/ takes
 * (rec's strings point into the owned copies below). */
typedef struct inc_row_s {
    inc_record rec;
    char *incident_id, *api_key_id, *model, *model_version, *tenant, *summary, *atlas, *owasp,
        *doc;
} inc_row;

/* An alert's strings, owned (the records below point into them). */
typedef struct {
    char *incident_id, *event_id, *api_key_id, *model, *model_version, *summary, *evidence;
    int64_t arrival_us; /* when its event reached the analytics (committed) */
} alert_strs;

typedef struct alert_row_s {
    inc_alert a;
    alert_strs s;
} alert_row;

/* The alerts of one incident past its first alert_rows_per_incident in this
 * flush: one row (the strings and arrival time are its first alert's). */
typedef struct alert_group_s {
    inc_alert_group g;
    alert_strs s;
} alert_group;

/* An open incident's hold (analytics.incident_hold_ms, wall clock): the
 * severity it was last written with, its newest state not written yet, and
 * its coalesced alerts since its last write. */
typedef struct {
    an_hold_entry h; /* first: an_hold's part */
    inc_severity sev;
    bool has_row, has_grp;
    inc_row row;
    alert_group grp;
} held;

struct an_live {
    core_config cfg; /* shallow copy; strings below are our own */
    char *dsn, *topic;
    an_engine *engine;
    PGconn *pg;
    rd_kafka_t *rk;
    pthread_t thread;
    bool started;
    core_queue *q; /* weighted by events; the collector blocks on it when full */
    atomic_bool stopping;
    uint64_t events, batches, db_errors, dropped, published, kafka_errors;
    _Atomic uint64_t waits;
    core_incident_sink incident_sink; /* where incidents go (the playbooks) */
    /* the rows the engine callbacks produce (cur, this thread's) and the
     * rows the flusher thread is writing or failed to write (fl): the
     * engine goes on while a transaction is in flight */
    row_set cur, fl;
    pthread_t flusher;
    bool flusher_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool fl_busy, fl_quit; /* under mu: fl handed to the flusher; the flusher to end */
    uint64_t flush_waits;  /* times the analytics waited for the flusher (back-pressure) */
    _Atomic size_t fl_alerts; /* alert rows in fl (for PENDING_MAX) */
    core_log_limit rl_drop;
    core_hdr *lat;      /* committed event -> its alert row committed, us (every row) */
    core_hdr *lat_open; /* the same for an incident's first alert: the incident stored */
    core_log_limit rl_db, rl_kafka;
    core_backoff backoff;            /* PostgreSQL down: the collector's retry settings */
    int64_t pending_since_ms;        /* rows waiting for a flush since (0: none) */
    uint64_t alerts_stored, alert_rows, alerts_coalesced, flushes;
    int64_t retry_at_ms, last_delay_ms; /* when to try again; the delay last waited */
    /* snapshots (analytics.snapshots): rows for the next transaction, the
     * topic of each assigned partition, and what they cost */
    bool snaps;
    char *group;
    struct {
        int32_t partition;
        char *topic;
    } topics[SNAP_TOPICS];
    size_t ntopics;
    int64_t last_snap_ms;
    uint64_t snap_count, snap_restored, snap_refused;
    size_t snap_bytes_last, snap_keys_last;
    int64_t snap_save_us_max, snap_write_us_max, snap_save_us_sum, snap_write_us_sum;
    /* incident updates waiting out their hold, and what the hold saved */
    an_hold hold;
    size_t held_groups;     /* coalesced rows waiting there (for PENDING_MAX) */
    uint64_t updates_held;  /* incident states never written: a newer one came first */
    uint64_t holds_written; /* written when their hold ended */
};

static char *dupz(const char *s) { return s ? strdup(s) : NULL; }

static void inc_row_free(inc_row *r)
{
    char **f[] = {&r->incident_id, &r->api_key_id, &r->model, &r->model_version, &r->tenant,
                  &r->summary,     &r->atlas,      &r->owasp, &r->doc};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

/* An alert that memory could not hold: counted and logged as dropped
 * (raised = stored + dropped, end to end). */
static void drop_oom(an_live *al)
{
    al->dropped++;
    core_metric_add(&an_m_dropped, 1);
    core_log(CORE_LOG_ERROR, "analytics", "out of memory: alert dropped", NULL);
}

static void alert_strs_free(alert_strs *r)
{
    char **f[] = {&r->incident_id, &r->event_id, &r->api_key_id, &r->model,
                  &r->model_version, &r->summary, &r->evidence};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

/* Copies a's strings (incident_id NULL: an alert alone); -1 when out of
 * memory (what was copied is freed, the alert counted as dropped). */
static int alert_strs_fill(an_live *al, alert_strs *r, const char *incident_id,
                           const an_alert *a)
{
    char *ev = a->evidence ? strdup(a->evidence) : NULL;
    *r = (alert_strs){
        .incident_id = dupz(incident_id),
        .event_id = dupz(a->trigger->event_id),
        .api_key_id = dupz(a->trigger->api_key_id),
        .model = dupz(a->trigger->model),
        .model_version = dupz(a->trigger->model_version),
        .summary = dupz(a->summary ? a->summary : ""),
        .evidence = ev ? ev : strdup("{}"),
        .arrival_us = a->trigger->arrival_us,
    };
    if ((incident_id && !r->incident_id) || !r->event_id || !r->summary || !r->evidence) {
        alert_strs_free(r);
        drop_oom(al);
        return -1;
    }
    return 0;
}

/* The slot of incident id in rs's incidents: the row there, or a new
 * zeroed one appended; -1 when out of memory. */
static ssize_t inc_slot(row_set *rs, const char *id)
{
    size_t i;
    for (i = 0; i < rs->nincs && strcmp(rs->incs[i].incident_id, id); i++)
        ;
    if (i == rs->nincs) {
        if (core_grow(&rs->incs, &rs->capincs, rs->nincs, sizeof *rs->incs, 64) < 0)
            return -1;
        memset(&rs->incs[rs->nincs++], 0, sizeof *rs->incs);
    }
    return (ssize_t)i;
}

static uint64_t id_hash(const char *s) { return an_hash(s, strlen(s), 0); }

/* The index of incident id's group in rs, or -1. */
static ssize_t group_find(const row_set *rs, const char *id)
{
    if (!rs->ngidx)
        return -1;
    for (size_t k = id_hash(id) & (rs->ngidx - 1);; k = (k + 1) & (rs->ngidx - 1)) {
        uint32_t v = rs->gidx[k];
        if (!v)
            return -1;
        if (!strcmp(rs->groups[v - 1].s.incident_id, id))
            return (ssize_t)v - 1;
    }
}

/* Indexes groups[i] (its incident_id set, not yet indexed); -1 when out of memory. */
static int group_index(row_set *rs, size_t i)
{
    if (2 * (i + 1) > rs->ngidx) { /* grow and rehash */
        size_t n = rs->ngidx ? 2 * rs->ngidx : 256;
        uint32_t *t = calloc(n, sizeof *t);
        if (!t)
            return -1;
        free(rs->gidx);
        rs->gidx = t;
        rs->ngidx = n;
        for (size_t j = 0; j < i; j++) {
            size_t k = id_hash(rs->groups[j].s.incident_id) & (n - 1);
            while (t[k])
                k = (k + 1) & (n - 1);
            t[k] = (uint32_t)j + 1;
        }
    }
    size_t k = id_hash(rs->groups[i].s.incident_id) & (rs->ngidx - 1);
    while (rs->gidx[k])
        k = (k + 1) & (rs->ngidx - 1);
    rs->gidx[k] = (uint32_t)i + 1;
    return 0;
}

/* The slot of partition's snapshot row in rs: the row there, or a new
 * zeroed one appended; -1 when out of memory. */
static ssize_t snap_slot(row_set *rs, int32_t partition)
{
    size_t i;
    for (i = 0; i < rs->nsrows && rs->srows[i].partition != partition; i++)
        ;
    if (i == rs->nsrows) {
        if (core_grow(&rs->srows, &rs->capsrows, rs->nsrows, sizeof *rs->srows, 16) < 0)
            return -1;
        rs->srows[rs->nsrows++] = (snap_row){0};
    }
    return (ssize_t)i;
}

/* Adds o's alerts to g, the same incident's coalesced row: o's alerts are
 * the newer ones (its last number is the row's now). */
static void group_absorb(inc_alert_group *g, const inc_alert_group *o)
{
    g->count += o->count;
    g->last_seq = o->last_seq;
    if (o->a.ts_us < g->a.ts_us)
        g->a.ts_us = o->a.ts_us;
    if (o->last_ts_us > g->last_ts_us)
        g->last_ts_us = o->last_ts_us;
    if (o->a.severity > g->a.severity)
        g->a.severity = o->a.severity;
}

/* Rows waiting in rs (alerts and coalesced ones): what PENDING_MAX bounds. */
static size_t alert_rows(const row_set *rs) { return rs->nalerts + rs->ngroups; }

/* A PostgreSQL text[] literal of n ids (each width bytes, NUL-terminated). */
static char *pg_array(const char *ids, int n, size_t width)
{
    size_t cap = 3;
    for (int k = 0; k < n; k++)
        cap += 2 * strlen(ids + (size_t)k * width) + 4;
    char *o = malloc(cap), *p = o;
    if (!o)
        return NULL;
    *p++ = '{';
    for (int k = 0; k < n; k++) {
        if (k)
            *p++ = ',';
        *p++ = '"';
        for (const char *s = ids + (size_t)k * width; *s; s++) {
            if (*s == '"' || *s == '\\')
                *p++ = '\\';
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return o;
}

/* The incident topic and the playbooks get an incident's JSON. */
static void publish(an_live *al, const char *incident_id, const char *json)
{
    if (al->rk) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            al->rk, RD_KAFKA_V_TOPIC(al->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(incident_id, strlen(incident_id)),
            RD_KAFKA_V_VALUE((void *)json, strlen(json)), RD_KAFKA_V_END);
        if (e) { /* not even queued; delivered ones are counted in on_delivery */
            al->kafka_errors++;
            if (core_log_limit_check(&al->rl_kafka, al->cfg.log_error_interval_ms) >= 0)
                core_log(CORE_LOG_WARN, "analytics", "incident not published", "error=%s",
                         rd_kafka_err2str(e));
        }
    }
    if (al->incident_sink.deliver)
        al->incident_sink.deliver(al->incident_sink.ud, json);
}

/* r (freed or zeroed) holds incident v's state, in the record incidents/ takes. */
static void row_fill(inc_row *r, const an_incident_view *v)
{
    inc_row_free(r);
    r->incident_id = dupz(v->incident_id);
    r->api_key_id = dupz(v->api_key_id);
    r->model = dupz(v->model);
    r->model_version = dupz(v->model_version);
    r->tenant = dupz(v->tenant);
    r->summary = dupz(v->summary);
    r->atlas = pg_array((const char *)v->atlas, v->n_atlas, sizeof v->atlas[0]);
    r->owasp = pg_array((const char *)v->owasp, v->n_owasp, sizeof v->owasp[0]);
    r->doc = dupz(v->json);
    r->rec = (inc_record){
        .incident_id = r->incident_id,
        .type = v->type,
        .severity = v->severity,
        .status = v->final ? INC_CLOSED : INC_OPEN,
        .api_key_id = r->api_key_id,
        .model = r->model,
        .model_version = r->model_version,
        .tenant = r->tenant,
        .first_seen_us = v->first_seen_us,
        .detected_at_us = v->detected_at_us,
        .last_seen_us = v->last_seen_us,
        .alerts = v->n_alerts,
        .atlas_array = r->atlas,
        .owasp_array = r->owasp,
        .summary = r->summary,
        .doc_json = r->doc,
    };
}

/* Incident v's state into this flush (the newest state per incident), published. */
static void write_incident(an_live *al, const an_incident_view *v)
{
    ssize_t i = inc_slot(&al->cur, v->incident_id);
    if (i < 0)
        return;
    row_fill(&al->cur.incs[i], v);
    publish(al, v->incident_id, v->json);
}

/* A held state into this flush, published (r is left empty). */
static void put_row(an_live *al, inc_row *r)
{
    ssize_t i = inc_slot(&al->cur, r->incident_id);
    if (i >= 0) {
        inc_row_free(&al->cur.incs[i]);
        al->cur.incs[i] = *r; /* the strings move with the record */
        if (r->doc)
            publish(al, r->incident_id, r->doc);
        memset(r, 0, sizeof *r);
    } else {
        inc_row_free(r); /* the next state of the incident is written in full */
    }
}

/* A held coalesced row into this flush, joining the incident's row there
 * if it has one (g's strings move or are freed). */
static void put_group(an_live *al, alert_group *g)
{
    row_set *rs = &al->cur;
    ssize_t i = group_find(rs, g->s.incident_id);
    if (i >= 0) {
        group_absorb(&rs->groups[i].g, &g->g);
        alert_strs_free(&g->s);
        return;
    }
    if (core_grow(&rs->groups, &rs->capgroups, rs->ngroups, sizeof *rs->groups, 64) < 0)
        goto oom;
    rs->groups[rs->ngroups] = *g;
    if (group_index(rs, rs->ngroups) < 0)
        goto oom;
    rs->ngroups++;
    return;
oom: /* the alerts it stands for are counted as dropped */
    al->dropped += (uint64_t)g->g.count;
    core_metric_add(&an_m_dropped, (uint64_t)g->g.count);
    core_log(CORE_LOG_ERROR, "analytics", "out of memory: alerts dropped", "alerts=%lld",
             (long long)g->g.count);
    alert_strs_free(&g->s);
}

/* What e holds, into this flush. */
static void hold_release(an_live *al, held *e)
{
    if (e->has_row) {
        put_row(al, &e->row);
        e->has_row = false;
        al->holds_written++;
    }
    if (e->has_grp) {
        put_group(al, &e->grp);
        e->has_grp = false;
        al->held_groups--;
    }
}

/* The holds that are over (analytics thread, after each batch and when
 * idle): what they hold is written, an empty one is forgotten. */
static void hold_sweep(an_live *al)
{
    int64_t now = core_mono_ms(), hold = al->cfg.an_incident_hold_ms;
    held *e;
    while ((e = (held *)an_hold_oldest(&al->hold)) && now - e->h.written_ms >= hold) {
        if (e->has_row || e->has_grp) {
            hold_release(al, e);
            an_hold_touch(&al->hold, &e->h, now);
        } else {
            an_hold_remove(&al->hold, &e->h);
            free(e);
        }
    }
}

/* Every hold ends now (before a partition's state is read or saved, and
 * at stop): what they hold is written with the next flush. */
static void hold_release_all(an_live *al)
{
    held *e;
    while ((e = (held *)an_hold_oldest(&al->hold))) {
        hold_release(al, e);
        an_hold_remove(&al->hold, &e->h);
        free(e);
    }
}

/* The hold of incident id, begun now when it has none (NULL when out of
 * memory, or HOLD_MAX incidents are held: then they are written at once). */
static held *hold_of(an_live *al, const char *id, inc_severity sev)
{
    held *e = (held *)an_hold_find(&al->hold, id);
    if (e)
        return e;
    if (al->hold.count >= HOLD_MAX || !(e = calloc(1, sizeof *e)))
        return NULL;
    snprintf(e->h.id, sizeof e->h.id, "%s", id);
    e->sev = sev;
    if (an_hold_add(&al->hold, &e->h, core_mono_ms()) < 0) {
        free(e);
        return NULL;
    }
    return e;
}

/* Engine callback: an incident opened or changed. Its state is written
 * (the newest per incident in this flush) and published at once when it
 * opens, closes or rises in severity, or when analytics.incident_hold_ms
 * has passed since its last write; otherwise it waits for that, a newer
 * state replacing it (a storm, or a backlog read faster than its event
 * time passed, re-published every incident_update_ms of event time, and
 * each incident update costs PostgreSQL a row version in nine indexes). */
static void on_incident(void *ud, const an_incident_view *v)
{
    an_live *al = ud;
    /* Each incident is logged as it opens (updates only raise the counter):
     * an operator tailing the log sees what was found, for whom. */
    if (v->opened) {
        char q[400], qk[300], qm[300], qv[200];
        core_log(CORE_LOG_INFO, "analytics", "incident opened",
                 "incident=%s type=%s severity=%s api_key=%s model=%s model_version=%s summary=%s",
                 v->incident_id, inc_type_name(v->type), inc_severity_name(v->severity),
                 core_log_quote(qk, sizeof qk, v->api_key_id ? v->api_key_id : "-"),
                 core_log_quote(qm, sizeof qm, v->model ? v->model : "-"),
                 core_log_quote(qv, sizeof qv, v->model_version ? v->model_version : "-"),
                 core_log_quote(q, sizeof q, v->summary ? v->summary : ""));
    }
    if (al->cfg.an_incident_hold_ms <= 0) {
        write_incident(al, v);
        return;
    }
    int64_t now = core_mono_ms();
    held *e = (held *)an_hold_find(&al->hold, v->incident_id);
    if (e && !v->final && v->severity == e->sev &&
        now - e->h.written_ms < al->cfg.an_incident_hold_ms) { /* it waits */
        if (e->has_row)
            al->updates_held++;
        row_fill(&e->row, v);
        e->has_row = true;
        return;
    }
    write_incident(al, v);
    if (!e && !v->final)
        e = hold_of(al, v->incident_id, v->severity);
    if (!e)
        return;
    if (e->has_row) { /* an older state, never to be written */
        inc_row_free(&e->row);
        e->has_row = false;
        al->updates_held++;
    }
    hold_release(al, e); /* its coalesced alerts go with it */
    if (v->final) {
        an_hold_remove(&al->hold, &e->h);
        free(e);
        return;
    }
    e->sev = v->severity;
    an_hold_touch(&al->hold, &e->h, now);
}

/* The record incidents/ takes for alert a (its strings s; seq: its number
 * in the incident, 0 for an alert alone). */
static inc_alert alert_record(const alert_strs *s, const an_alert *a, int64_t seq)
{
    return (inc_alert){
        .incident_id = s->incident_id,
        .type = a->type,
        .severity = a->severity,
        .ts_us = a->trigger->ts_us,
        .event_id = s->event_id,
        .api_key_id = s->api_key_id,
        .model = s->model,
        .model_version = s->model_version,
        .summary = s->summary,
        .evidence_json = s->evidence,
        .seq = seq,
    };
}

/* Whether a new row may wait for PostgreSQL (PENDING_MAX); counts and
 * logs the alert dropped when not. */
static bool row_room(an_live *al)
{
    if (alert_rows(&al->cur) + atomic_load(&al->fl_alerts) + al->held_groups < PENDING_MAX)
        return true;
    /* only while PostgreSQL refuses the writes: counted and logged */
    al->dropped++;
    core_metric_add(&an_m_dropped, 1);
    if (core_log_limit_check(&al->rl_drop, al->cfg.log_error_interval_ms) >= 0)
        core_log(CORE_LOG_ERROR, "analytics", "alert dropped: too many waiting for PostgreSQL",
                 "pending_max=%d dropped=%llu", PENDING_MAX, (unsigned long long)al->dropped);
    return false;
}

/* An alert past its incident's first alert_rows_per_incident: into the
 * incident's coalesced row of this flush (a new one holds this alert's
 * event, summary and evidence; later ones add their count, number, time
 * and severity). */
static void coalesce(an_live *al, const an_incident_view *v, const an_alert *a)
{
    int64_t ts = a->trigger->ts_us;
    const inc_alert_group one = {.a = {.ts_us = ts, .severity = a->severity},
                                 .last_ts_us = ts, .count = 1, .last_seq = v->n_alerts};
    /* held: the row waits with the incident's state (a storm's incident
     * writes one coalesced row per hold, not one per flush); an incident
     * with no hold begins one and this row goes now */
    held *e = NULL;
    if (al->cfg.an_incident_hold_ms > 0 && !(e = (held *)an_hold_find(&al->hold, v->incident_id)))
        hold_of(al, v->incident_id, v->severity);
    if (e && e->has_grp) {
        group_absorb(&e->grp.g, &one);
        return;
    }
    if (!e) {
        ssize_t i = group_find(&al->cur, v->incident_id);
        if (i >= 0) {
            group_absorb(&al->cur.groups[i].g, &one);
            return;
        }
    }
    alert_group g;
    if (!row_room(al) || alert_strs_fill(al, &g.s, v->incident_id, a) < 0)
        return;
    g.g = one;
    g.g.a = alert_record(&g.s, a, v->n_alerts);
    if (e) {
        e->grp = g;
        e->has_grp = true;
        al->held_groups++;
    } else {
        put_group(al, &g); /* a new row of this flush */
    }
}

static void on_alert(void *ud, const an_incident_view *v, const an_alert *a)
{
    an_live *al = ud;
    if (v && v->n_alerts > al->cfg.an_alert_rows_per_incident) {
        coalesce(al, v, a);
        return;
    }
    if (!row_room(al))
        return;
    if (core_grow(&al->cur.alerts, &al->cur.capalerts, al->cur.nalerts, sizeof *al->cur.alerts, 256) < 0) {
        drop_oom(al);
        return;
    }
    alert_row *r = &al->cur.alerts[al->cur.nalerts];
    if (alert_strs_fill(al, &r->s, v ? v->incident_id : NULL, a) < 0) /* NULL: an alert alone */
        return;
    al->cur.nalerts++;
    r->a = alert_record(&r->s, a, v ? v->n_alerts : 0);
}

/* The set's rows through incidents/, in the open transaction. */
/* After the incidents: a new owner that reads the state finds them stored. */
static int write_snapshots(an_live *al, const row_set *rs, char *err, size_t errlen)
{
    for (size_t i = 0; i < rs->nsrows; i++) {
        const snap_row *r = &rs->srows[i];
        if (an_snap_db_write(al->pg, al->group, r->topic, r->partition, r->next_offset, r->keys,
                             r->blob, r->n, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int write_rows(an_live *al, const row_set *rs, char *err, size_t errlen)
{
    /* the incidents in a few statements, not two round trips each */
    if (rs->nincs && inc_upsert_detected_many(al->pg, &rs->incs[0].rec, rs->nincs,
                                              sizeof *rs->incs, err, errlen) < 0)
        return -1;
    /* the alerts and their evidence links in a few statements, not two per
     * alert, read in place (each row begins with its record) */
    if (rs->nalerts &&
        inc_alerts_insert(al->pg, &rs->alerts[0].a, rs->nalerts, sizeof *rs->alerts, err,
                          errlen) < 0)
        return -1;
    if (rs->ngroups &&
        inc_alert_groups_insert(al->pg, &rs->groups[0].g, rs->ngroups, sizeof *rs->groups, err,
                                errlen) < 0)
        return -1;
    return write_snapshots(al, rs, err, errlen);
}

static void rows_clear(row_set *rs)
{
    for (size_t i = 0; i < rs->nincs; i++)
        inc_row_free(&rs->incs[i]);
    for (size_t i = 0; i < rs->nalerts; i++)
        alert_strs_free(&rs->alerts[i].s);
    for (size_t i = 0; i < rs->ngroups; i++)
        alert_strs_free(&rs->groups[i].s);
    if (rs->ngroups)
        memset(rs->gidx, 0, rs->ngidx * sizeof *rs->gidx);
    rs->nincs = rs->nalerts = rs->ngroups = 0;
    for (size_t i = 0; i < rs->nsrows; i++) {
        free(rs->srows[i].topic);
        free(rs->srows[i].blob);
    }
    rs->nsrows = 0;
}

static void rows_free(row_set *rs)
{
    rows_clear(rs);
    free(rs->incs);
    free(rs->alerts);
    free(rs->groups);
    free(rs->gidx);
    free(rs->srows);
    memset(rs, 0, sizeof *rs);
}

static bool rows_empty(const row_set *rs)
{
    return !rs->nincs && !rs->nalerts && !rs->ngroups && !rs->nsrows;
}

/* Moves src's rows behind dst's (src is newer): an incident or a snapshot
 * row in both keeps src's state, alerts are appended. src is left empty.
 * Returns -1 when out of memory (src keeps what was not moved). */
static int rows_merge(row_set *dst, row_set *src)
{
    if (rows_empty(dst)) { /* the common case: swap, no copy */
        row_set t = *dst;
        *dst = *src;
        *src = t;
        return 0;
    }
    if (src->nalerts) {
        while (dst->capalerts < dst->nalerts + src->nalerts)
            if (core_grow(&dst->alerts, &dst->capalerts, dst->capalerts, sizeof *dst->alerts,
                          256) < 0)
                return -1;
        memcpy(dst->alerts + dst->nalerts, src->alerts, src->nalerts * sizeof *src->alerts);
        dst->nalerts += src->nalerts;
        src->nalerts = 0;
    }
    while (src->ngroups) { /* an incident's newer alerts join its older row */
        alert_group *r = &src->groups[src->ngroups - 1];
        ssize_t i = group_find(dst, r->s.incident_id);
        if (i >= 0) {
            group_absorb(&dst->groups[i].g, &r->g);
            alert_strs_free(&r->s);
        } else {
            if (core_grow(&dst->groups, &dst->capgroups, dst->ngroups, sizeof *dst->groups,
                          64) < 0)
                return -1;
            dst->groups[dst->ngroups] = *r; /* the strings move with the record */
            if (group_index(dst, dst->ngroups) < 0)
                return -1;
            dst->ngroups++;
        }
        src->ngroups--;
    }
    if (!src->ngroups && src->ngidx)
        memset(src->gidx, 0, src->ngidx * sizeof *src->gidx);
    while (src->nincs) {
        inc_row *r = &src->incs[src->nincs - 1];
        ssize_t i = inc_slot(dst, r->incident_id);
        if (i < 0)
            return -1;
        inc_row_free(&dst->incs[i]);
        dst->incs[i] = *r; /* the strings move with the record */
        src->nincs--;
    }
    while (src->nsrows) {
        snap_row *r = &src->srows[src->nsrows - 1];
        ssize_t i = snap_slot(dst, r->partition);
        if (i < 0)
            return -1;
        free(dst->srows[i].topic);
        free(dst->srows[i].blob);
        dst->srows[i] = *r; /* the bytes move with the record */
        src->nsrows--;
    }
    return 0;
}

/* Writes the flusher's set in one transaction (the flusher thread, or the
 * analytics thread at stop when no flusher runs). On failure the rows stay
 * in the set for the next try (bounded by PENDING_MAX) and the connection
 * is reset. Who may change an incident's status once a playbook or an
 * analyst has moved it is incidents/' rule (inc_upsert_detected). */
static void flush_set(an_live *al)
{
    row_set *rs = &al->fl;
    if (rows_empty(rs))
        return;
    int64_t t0 = core_mono_us();
    bool with_snaps = rs->nsrows > 0;
    char err[512] = "no connection";
    bool in_tx = false;
    if (!al->pg || PQstatus(al->pg) != CONNECTION_OK) {
        if (al->pg)
            PQreset(al->pg);
        else
            al->pg = core_db_connect(al->dsn, (int)al->cfg.pg_connect_timeout_s, err, sizeof err);
        if (!al->pg || PQstatus(al->pg) != CONNECTION_OK)
            goto fail;
    }
    if (core_db_begin(al->pg, err, sizeof err) < 0)
        goto fail;
    in_tx = true;
    if (write_rows(al, rs, err, sizeof err) < 0)
        goto fail;
    in_tx = false; /* a failed COMMIT ends the transaction too */
    if (core_db_commit(al->pg, err, sizeof err) < 0)
        goto fail;
    /* committed event -> its alert and incident rows committed */
    int64_t now = core_mono_us();
    for (size_t i = 0; i < rs->nalerts && al->lat; i++)
        if (rs->alerts[i].s.arrival_us) {
            core_hdr_observe(al->lat, now - rs->alerts[i].s.arrival_us);
            if (rs->alerts[i].a.seq == 1 && al->lat_open) /* the incident opened */
                core_hdr_observe(al->lat_open, now - rs->alerts[i].s.arrival_us);
        }
    /* a coalesced row: once, its first (so its oldest) alert's */
    uint64_t coalesced = 0;
    for (size_t i = 0; i < rs->ngroups; i++) {
        coalesced += (uint64_t)rs->groups[i].g.count;
        if (rs->groups[i].s.arrival_us && al->lat)
            core_hdr_observe(al->lat, now - rs->groups[i].s.arrival_us);
    }
    al->alerts_stored += rs->nalerts + coalesced;
    al->alerts_coalesced += coalesced;
    al->alert_rows += alert_rows(rs);
    al->flushes++;
    core_metric_add(&an_m_alerts_stored, rs->nalerts + coalesced);
    core_metric_add(&an_m_alert_rows, alert_rows(rs));
    core_metric_add(&an_m_flushes, 1);
    rows_clear(rs);
    al->retry_at_ms = 0;
    core_backoff_reset(&al->backoff);
    if (with_snaps) {
        int64_t dt = core_mono_us() - t0;
        al->snap_write_us_sum += dt;
        if (dt > al->snap_write_us_max)
            al->snap_write_us_max = dt;
    }
    return;
fail:
    if (in_tx)
        core_db_rollback(al->pg);
    al->db_errors++;
    core_metric_add(&an_m_db_errors, 1);
    al->last_delay_ms = core_backoff_next(&al->backoff);
    al->retry_at_ms = core_mono_ms() + al->last_delay_ms;
    if (core_log_limit_check(&al->rl_db, al->cfg.log_error_interval_ms) >= 0)
        core_log(CORE_LOG_ERROR, "analytics", "cannot store incidents, will retry",
                 "pending_incidents=%zu pending_alert_rows=%zu error=%s", rs->nincs, alert_rows(rs),
                 core_log_quote((char[600]){0}, 600, err));
}

/* The flusher thread: one transaction per hand-over, while the analytics
 * thread goes on with the next events (a storm's writes no longer stop the
 * engine, so the collector's queue drains while PostgreSQL works). */
static void *flusher_main(void *arg)
{
    an_live *al = arg;
    pthread_mutex_lock(&al->mu);
    for (;;) {
        while (!al->fl_busy && !al->fl_quit)
            pthread_cond_wait(&al->cv, &al->mu);
        if (!al->fl_busy)
            break; /* quit, nothing handed over */
        pthread_mutex_unlock(&al->mu);
        flush_set(al); /* fl and the connection are ours while fl_busy */
        pthread_mutex_lock(&al->mu);
        atomic_store(&al->fl_alerts, alert_rows(&al->fl));
        al->fl_busy = false;
        pthread_cond_broadcast(&al->cv);
    }
    pthread_mutex_unlock(&al->mu);
    return NULL;
}

/* Waits until the flusher holds nothing (mu held). */
static void flusher_wait_idle(an_live *al)
{
    while (al->fl_busy)
        pthread_cond_wait(&al->cv, &al->mu);
}

/* Hands what the engine produced to the flusher (analytics thread).
 * sync: wait until it is written (or failed), as before a partition's
 * state is read or saved (a sync call waits for the flusher to be idle,
 * then respects the back-off too). Otherwise, when the flusher is still busy the
 * rows wait for the next call, unless they reach FLUSH_ROWS: then this
 * thread waits (back-pressure on the analytics, never a drop). Backing off
 * after a failure, the rows wait (bounded by PENDING_MAX). */
static void flush_db(an_live *al, bool sync)
{
    if (sync)
        hold_release_all(al);
    if (!sync && rows_empty(&al->cur))
        return;
    pthread_mutex_lock(&al->mu);
    if (al->fl_busy) {
        if (!sync && alert_rows(&al->cur) < FLUSH_ROWS && al->cur.nincs < FLUSH_ROWS) {
            pthread_mutex_unlock(&al->mu);
            return;
        }
        al->flush_waits++;
        flusher_wait_idle(al);
    }
    /* idle: fl (what failed last time, if anything) is this thread's */
    if (al->retry_at_ms && core_mono_ms() < al->retry_at_ms) {
        pthread_mutex_unlock(&al->mu);
        return; /* backing off; the rows wait (bounded) */
    }
    if (rows_merge(&al->fl, &al->cur) < 0)
        core_log(CORE_LOG_ERROR, "analytics", "out of memory: rows wait for the next flush", NULL);
    al->pending_since_ms = rows_empty(&al->cur) ? 0 : core_mono_ms();
    if (rows_empty(&al->fl)) {
        pthread_mutex_unlock(&al->mu);
        return;
    }
    if (!al->flusher_started) { /* no thread (it could not start, or at stop) */
        pthread_mutex_unlock(&al->mu);
        flush_set(al);
        return;
    }
    atomic_store(&al->fl_alerts, alert_rows(&al->fl));
    al->fl_busy = true;
    pthread_cond_broadcast(&al->cv);
    if (sync)
        flusher_wait_idle(al);
    pthread_mutex_unlock(&al->mu);
}

/* The engine's running totals into core/metrics (one writer: this thread). */
static void publish_stats(an_live *al)
{
    an_engine_stats st;
    an_engine_stats_get(al->engine, &st);
    core_metric_set(&an_m_events, st.events);
    core_metric_set(&an_m_late, st.late);
    core_metric_set(&an_m_alerts, st.alerts);
    core_metric_set(&an_m_incidents, st.incidents);
    core_metric_set(&an_m_keys, st.keys);
}

static void qitem_free(void *p)
{
    qitem *q = p;
    for (size_t i = 0; i < q->n; i++)
        core_event_clear(&q->evs[i]);
    free(q->evs);
    free(q->topic);
    free(q);
}

/* ---- snapshots (docs/analytics.md, "State across restarts and rebalances") ---- */

static const char *topic_of(const an_live *al, int32_t partition)
{
    for (size_t i = 0; i < al->ntopics; i++)
        if (al->topics[i].partition == partition)
            return al->topics[i].topic;
    return NULL;
}

static void topic_note(an_live *al, const char *topic, int32_t partition)
{
    const char *t = topic_of(al, partition);
    if ((t && !strcmp(t, topic)) || al->ntopics == SNAP_TOPICS)
        return;
    char *dup = strdup(topic);
    if (!dup)
        return;
    for (size_t i = 0; i < al->ntopics; i++)
        if (al->topics[i].partition == partition) {
            free(al->topics[i].topic);
            al->topics[i].topic = dup;
            return;
        }
    al->topics[al->ntopics].partition = partition;
    al->topics[al->ntopics++].topic = dup;
}

/* an_engine_save's row: queued for the next transaction, replacing an
 * older row of the same partition. */
static void snap_row_add(void *ud, int32_t source, int64_t next_offset, uint32_t keys,
                         const void *blob, size_t n)
{
    an_live *al = ud;
    const char *topic = source == AN_SNAP_SHARED ? "" : topic_of(al, source);
    if (!topic)
        return;
    ssize_t i = snap_slot(&al->cur, source);
    if (i < 0)
        return;
    snap_row *r = &al->cur.srows[i];
    void *copy = malloc(n ? n : 1);
    char *t = strdup(topic);
    if (!copy || !t) {
        free(copy);
        free(t);
        return;
    }
    memcpy(copy, blob, n);
    free(r->topic);
    free(r->blob);
    *r = (snap_row){t, source, next_offset, keys, copy, n};
    if (source != AN_SNAP_SHARED)
        al->snap_keys_last += keys;
    al->snap_bytes_last += n;
}

/* Saves the state of source (AN_SNAP_ALL: every one) for the next
 * transaction, and measures what it cost. */
static void snapshot(an_live *al, int32_t source)
{
    int64_t t0 = core_mono_us();
    al->snap_bytes_last = al->snap_keys_last = 0;
    if (an_engine_save(al->engine, source, snap_row_add, al) < 0) {
        core_log(CORE_LOG_WARN, "analytics", "out of memory: state not saved", "partition=%d",
                 (int)source);
        return;
    }
    int64_t dt = core_mono_us() - t0;
    al->snap_count++;
    al->snap_save_us_sum += dt;
    if (dt > al->snap_save_us_max)
        al->snap_save_us_max = dt;
    al->last_snap_ms = core_mono_ms();
}

/* A connection for the state's reads; NULL when PostgreSQL cannot be reached. */
static PGconn *snap_conn(an_live *al)
{
    char err[512];
    if (al->pg && PQstatus(al->pg) == CONNECTION_OK)
        return al->pg;
    if (al->pg)
        PQreset(al->pg);
    else
        al->pg = core_db_connect(al->dsn, (int)al->cfg.pg_connect_timeout_s, err, sizeof err);
    return al->pg && PQstatus(al->pg) == CONNECTION_OK ? al->pg : NULL;
}

/* Loads one row into the engine; logs what came of it. */
static void restore_row(an_live *al, const char *topic, int32_t partition, int64_t stored)
{
    PGconn *c = snap_conn(al);
    char err[512] = "no connection";
    int64_t next = -1;
    void *blob = NULL;
    size_t n = 0;
    int found = c ? an_snap_db_read(c, al->group, topic, partition, &next, &blob, &n, err,
                                    sizeof err)
                  : -1;
    /* the previous owner saves at its revoke, which may come after our
     * assignment: wait (bounded) for its row to reach the stored offset */
    int64_t deadline = core_mono_ms() + al->cfg.an_snapshot_wait_ms;
    while (found == 1 && partition != AN_SNAP_SHARED && stored >= 0 && next < stored &&
           core_mono_ms() < deadline && !atomic_load(&al->stopping)) {
        free(blob);
        blob = NULL;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        found = an_snap_db_read(c, al->group, topic, partition, &next, &blob, &n, err, sizeof err);
    }
    if (found < 0) {
        core_log(CORE_LOG_WARN, "analytics", "state not restored, starting cold",
                 "topic=%s partition=%d error=%s", topic, (int)partition,
                 core_log_quote((char[600]){0}, 600, err));
    } else if (found == 1) {
        char lerr[256];
        if (an_engine_load(al->engine, partition, blob, n, lerr, sizeof lerr) < 0) {
            al->snap_refused++;
            core_log(CORE_LOG_WARN, "analytics", "state refused", "topic=%s partition=%d error=%s",
                     topic, (int)partition, core_log_quote((char[300]){0}, 300, lerr));
        } else {
            al->snap_restored++;
            core_log(CORE_LOG_INFO, "analytics", "state restored",
                     "topic=%s partition=%d bytes=%zu next_offset=%lld events_behind=%lld", topic,
                     (int)partition, n, (long long)next,
                     (long long)(stored >= 0 && next >= 0 && stored > next ? stored - next : 0));
        }
    }
    free(blob);
}

/* A partition assigned: the shared state when we hold nothing yet, then
 * the partition's own, before any of its events. */
static void on_assigned(an_live *al, const qitem *q)
{
    topic_note(al, q->topic, q->partition);
    flush_db(al, true); /* our own last rows first: we may be taking back what we gave */
    bool fresh = an_engine_fresh(al->engine);
    /* the partition's row first: waiting for the previous owner's revoke
     * also waits for the shared row it writes in the same transaction */
    restore_row(al, q->topic, q->partition, q->next_offset);
    if (fresh)
        restore_row(al, "", AN_SNAP_SHARED, -1);
}

/* A partition revoked, its last events delivered: judge what it sent, save
 * its state, close its keys' incidents here (the new owner continues them)
 * and forget it. */
static void on_revoked(an_live *al, const qitem *q)
{
    an_engine_drain(al->engine);
    an_engine_source_committed(al->engine, q->partition, q->next_offset);
    snapshot(al, q->partition);
    an_engine_release(al->engine, q->partition);
    flush_db(al, true);
}

static void on_partition(void *ud, const char *topic, int32_t partition, int64_t next_offset,
                         bool assigned)
{
    an_live *al = ud;
    qitem *q = calloc(1, sizeof *q);
    if (!q || !(q->topic = strdup(topic))) {
        free(q);
        core_log(CORE_LOG_ERROR, "analytics", "out of memory: partition state not handled",
                 "partition=%d", (int)partition);
        return;
    }
    q->kind = assigned ? Q_ASSIGNED : Q_REVOKED;
    q->partition = partition;
    q->next_offset = next_offset;
    if (core_queue_push(al->q, q, 1, CORE_QUEUE_BLOCK, NULL) != CORE_QUEUE_OK)
        qitem_free(q);
}

/* A quiet spell: let the watermark move past the last events. */
static void idle(an_live *al)
{
    an_engine_advance(al->engine);
    /* what the idle watermark released counts too: without this the stats
     * kept the totals of the last hand-over for good once traffic stopped */
    publish_stats(al);
    hold_sweep(al);
    flush_db(al, false);
    if (al->rk)
        rd_kafka_poll(al->rk, 0);
}

static void *run(void *arg)
{
    an_live *al = arg;
    for (;;) {
        qitem *q = core_queue_pop(al->q, 200, NULL);
        if (!q) {
            if (atomic_load(&al->stopping) && core_queue_len(al->q) == 0)
                break; /* stopping and drained */
            idle(al);
            continue;
        }
        if (q->kind != Q_EVENTS) {
            if (q->kind == Q_ASSIGNED)
                on_assigned(al, q);
            else
                on_revoked(al, q);
            qitem_free(q);
            continue;
        }
        for (size_t i = 0; i < q->n; i++) {
            core_event *ev = &q->evs[i];
            if (an_engine_push(al->engine, ev, ev->partition, q->enq_us) < 0)
                core_log(CORE_LOG_ERROR, "analytics", "out of memory: event skipped", NULL);
            core_event_clear(ev);
        }
        al->events += q->n;
        al->batches++;
        publish_stats(al);
        free(q->evs);
        free(q);
        if (al->snaps && core_mono_ms() - al->last_snap_ms >= al->cfg.an_snapshot_interval_ms)
            snapshot(al, AN_SNAP_ALL);
        hold_sweep(al);
        if (!rows_empty(&al->cur) && !al->pending_since_ms)
            al->pending_since_ms = core_mono_ms();
        if (core_queue_len(al->q) == 0 || alert_rows(&al->cur) >= FLUSH_ROWS ||
            al->cur.nincs >= FLUSH_ROWS ||
            (al->pending_since_ms && core_mono_ms() - al->pending_since_ms >= FLUSH_MS))
            flush_db(al, false);
        if (al->rk)
            rd_kafka_poll(al->rk, 0);
    }
    if (al->snaps) {
        /* what is left (the shared state, partitions never revoked) is
         * saved before the stop closes the open incidents */
        an_engine_drain(al->engine);
        snapshot(al, AN_SNAP_ALL);
    }
    an_engine_finish(al->engine);
    hold_release_all(al); /* what waits out a hold goes with the last flush */
    /* the last incident states: a few tries past any back-off, then give up
     * (logged with what is lost) */
    for (int attempt = 0; attempt < 3 && !(rows_empty(&al->cur) && rows_empty(&al->fl));
         attempt++) {
        if (attempt) {
            struct timespec ts = {al->last_delay_ms / 1000, (al->last_delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&al->mu); /* the flusher idle: its back-off is ours to clear */
        flusher_wait_idle(al);
        al->retry_at_ms = 0;
        pthread_mutex_unlock(&al->mu);
        flush_db(al, true);
    }
    if (al->cur.nincs || alert_rows(&al->cur) || al->fl.nincs || alert_rows(&al->fl))
        core_log(CORE_LOG_ERROR, "analytics", "incidents not stored at stop",
                 "incidents=%zu alert_rows=%zu", al->cur.nincs + al->fl.nincs,
                 alert_rows(&al->cur) + alert_rows(&al->fl));
    return NULL;
}

static void deliver(void *ud, core_event *evs, size_t n)
{
    an_live *al = ud;
    qitem *q = malloc(sizeof *q);
    if (!q) {
        for (size_t i = 0; i < n; i++)
            core_event_clear(&evs[i]);
        free(evs);
        return;
    }
    *q = (qitem){.evs = evs, .n = n, .enq_us = core_mono_us(), .kind = Q_EVENTS};
    /* a batch larger than the whole queue still goes in when the queue is
     * empty (core_queue), or it could never be accepted */
    bool waited = false;
    core_queue_status st = core_queue_push(al->q, q, n, CORE_QUEUE_BLOCK, &waited);
    if (waited) {
        atomic_fetch_add(&al->waits, 1);
        core_metric_add(&an_m_queue_waits, 1);
    }
    if (st != CORE_QUEUE_OK) { /* closed: the analytics are stopping */
        core_log(CORE_LOG_WARN, "analytics", "events handed over after stop, not analysed",
                 "events=%zu", n);
        qitem_free(q);
    }
}

core_event_sink an_live_sink(an_live *al)
{
    core_event_sink s = {deliver, al, al->snaps ? on_partition : NULL};
    return s;
}

void an_live_on_incident(an_live *al, core_incident_sink sink) { al->incident_sink = sink; }

/* Delivery reports (from rd_kafka_poll/flush on the analytics thread or at
 * stop): what was really published, and what failed. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    an_live *al = opaque;
    if (m->err) {
        al->kafka_errors++;
        if (core_log_limit_check(&al->rl_kafka, al->cfg.log_error_interval_ms) >= 0)
            core_log(CORE_LOG_WARN, "analytics", "incident not delivered to Kafka", "error=%s",
                     rd_kafka_err2str(m->err));
    } else {
        al->published++;
        core_metric_add(&an_m_published, 1);
    }
}

static rd_kafka_t *producer(an_live *al, const core_config *cfg, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, al);
    char e[512];
    const char *kv[][2] = {
        {"bootstrap.servers", cfg->kafka_brokers},
        {"client.id", cfg->kafka_client_id},
        {"security.protocol", cfg->kafka_security_protocol},
        {"linger.ms", "5"},
        {"enable.idempotence", "true"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], e, sizeof e) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "kafka %s: %s", kv[i][0], e);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    if (cfg->kafka_sasl_mechanism && *cfg->kafka_sasl_mechanism) {
        const char *s[][2] = {{"sasl.mechanism", cfg->kafka_sasl_mechanism},
                              {"sasl.username", cfg->kafka_sasl_username},
                              {"sasl.password", cfg->kafka_sasl_password}};
        for (size_t i = 0; i < 3; i++)
            if (rd_kafka_conf_set(conf, s[i][0], s[i][1], e, sizeof e) != RD_KAFKA_CONF_OK) {
                snprintf(err, errlen, "kafka %s: %s", s[i][0], e);
                rd_kafka_conf_destroy(conf);
                return NULL;
            }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!rk) {
        snprintf(err, errlen, "kafka producer: %s", e);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return rk; /* rd_kafka_new took conf */
}

an_live *an_live_start(const core_config *cfg, char *err, size_t errlen)
{
    an_live *al = calloc(1, sizeof *al);
    if (!al) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    al->cfg = *cfg;
    pthread_mutex_init(&al->mu, NULL);
    pthread_cond_init(&al->cv, NULL);
    al->dsn = dupz(cfg->pg_dsn);
    al->topic = dupz(cfg->an_incidents_topic);
    al->snaps = strcmp(cfg->an_snapshots, "on") == 0;
    al->group = dupz(cfg->kafka_group);
    al->q = core_queue_new((size_t)cfg->an_queue_events);
    al->lat = calloc(1, sizeof *al->lat);
    al->lat_open = calloc(1, sizeof *al->lat_open);
    /* the collector's back-off settings, doubling up to retry_max_ms */
    core_backoff_init(&al->backoff, cfg->coll_retry_min_ms, cfg->coll_retry_max_ms);
    if (!al->dsn || !al->topic || !al->lat || !al->lat_open || !al->q || !al->group) {
        snprintf(err, errlen, "out of memory");
        goto error;
    }
    an_callbacks cb = {on_incident, on_alert, al};
    if (!(al->engine = an_engine_new(&al->cfg, &cb, err, errlen)))
        goto error;
    /* a partition silent for partition_idle_ms of wall time no longer holds
     * the others back: one with traffic delivers a batch at least every
     * collector.batch_max_ms */
    an_engine_set_source_idle_ms(al->engine, cfg->an_partition_idle_ms);
    if (!(al->pg = core_db_connect(al->dsn, (int)cfg->pg_connect_timeout_s, err, errlen)))
        goto error;
    if (core_db_check_schema(al->pg, err, errlen) < 0)
        goto error;
    if (!(al->rk = producer(al, cfg, err, errlen)))
        goto error;
    if (pthread_create(&al->flusher, NULL, flusher_main, al) != 0) {
        snprintf(err, errlen, "cannot start the analytics' flusher thread");
        goto error;
    }
    al->flusher_started = true;
    pthread_setname_np(al->flusher, "custos-an-flush");
    if (pthread_create(&al->thread, NULL, run, al) != 0) {
        snprintf(err, errlen, "cannot start the analytics thread");
        goto error;
    }
    pthread_setname_np(al->thread, "custos-analytic"); /* for top -H and perf */
    al->started = true;
    core_log(CORE_LOG_INFO, "analytics", "live analytics started", "topic=%s queue_events=%zu",
             al->topic, (size_t)cfg->an_queue_events);
    return al;
error:
    an_live_stop(al);
    return NULL;
}

void an_live_stop(an_live *al)
{
    if (!al)
        return;
    if (al->started) {
        atomic_store(&al->stopping, true);
        core_queue_close(al->q); /* the thread drains what is queued, then ends */
        pthread_join(al->thread, NULL);
    }
    if (al->flusher_started) { /* after the thread's last flush (it waited for it) */
        pthread_mutex_lock(&al->mu);
        al->fl_quit = true;
        pthread_cond_broadcast(&al->cv);
        pthread_mutex_unlock(&al->mu);
        pthread_join(al->flusher, NULL);
        al->flusher_started = false;
    }
    if (al->rk) {
        if (rd_kafka_flush(al->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            core_log(CORE_LOG_WARN, "analytics", "incidents not all published at stop",
                     "outq=%d", rd_kafka_outq_len(al->rk));
        rd_kafka_destroy(al->rk);
    }
    if (al->started) {
        an_engine_stats st;
        an_engine_stats_get(al->engine, &st);
        int64_t p50 = al->lat_open ? core_hdr_quantile(al->lat_open, 0.50) : 0;
        int64_t p99 = al->lat_open ? core_hdr_quantile(al->lat_open, 0.99) : 0;
        int64_t p999 = al->lat_open ? core_hdr_quantile(al->lat_open, 0.999) : 0;
        int64_t a50 = al->lat ? core_hdr_quantile(al->lat, 0.50) : 0;
        int64_t a99 = al->lat ? core_hdr_quantile(al->lat, 0.99) : 0;
        core_log(CORE_LOG_INFO, "analytics", "live analytics stopped",
                 "events=%llu batches=%llu incidents=%llu alerts=%llu late=%llu forced=%llu "
                 "keys=%llu key_state_bytes_avg=%.0f keys_peak=%llu key_state_mb_peak=%.1f "
                 "queue_full_waits=%llu flush_waits=%llu db_errors=%llu published=%llu kafka_errors=%llu dropped_alerts=%llu "
                 "commit_to_incident_p50_ms=%.1f commit_to_incident_p99_ms=%.1f "
                 "commit_to_incident_p999_ms=%.1f commit_to_alert_p50_ms=%.1f "
                 "commit_to_alert_p99_ms=%.1f alerts_stored=%llu alert_rows=%llu "
                 "alerts_coalesced=%llu flushes=%llu incident_updates_held=%llu "
                 "incident_updates_after_hold=%llu "
                 "snapshots=%llu snapshot_bytes_last=%zu snapshot_keys_last=%zu "
                 "snapshot_save_ms_avg=%.2f snapshot_save_ms_max=%.2f "
                 "snapshot_write_ms_avg=%.2f snapshot_write_ms_max=%.2f "
                 "states_restored=%llu states_refused=%llu prompt_memo_hit_pct=%.1f",
                 (unsigned long long)al->events, (unsigned long long)al->batches,
                 (unsigned long long)st.incidents, (unsigned long long)st.alerts,
                 (unsigned long long)st.late, (unsigned long long)st.forced,
                 (unsigned long long)st.keys,
                 st.keys ? (double)st.key_state_bytes / (double)st.keys : 0.0,
                 (unsigned long long)st.keys_peak, (double)st.key_state_bytes_peak / 1048576.0,
                 (unsigned long long)atomic_load(&al->waits),
                 (unsigned long long)al->flush_waits, (unsigned long long)al->db_errors,
                 (unsigned long long)al->published, (unsigned long long)al->kafka_errors,
                 (unsigned long long)al->dropped, p50 / 1e3, p99 / 1e3, p999 / 1e3, a50 / 1e3,
                 a99 / 1e3,
                 (unsigned long long)al->alerts_stored, (unsigned long long)al->alert_rows,
                 (unsigned long long)al->alerts_coalesced, (unsigned long long)al->flushes,
                 (unsigned long long)al->updates_held, (unsigned long long)al->holds_written,
                 (unsigned long long)al->snap_count, al->snap_bytes_last, al->snap_keys_last,
                 al->snap_count ? al->snap_save_us_sum / 1e3 / (double)al->snap_count : 0.0,
                 al->snap_save_us_max / 1e3,
                 al->snap_count ? al->snap_write_us_sum / 1e3 / (double)al->snap_count : 0.0,
                 al->snap_write_us_max / 1e3, (unsigned long long)al->snap_restored,
                 (unsigned long long)al->snap_refused,
                 st.memo_lookups ? 100.0 * (double)st.memo_hits / (double)st.memo_lookups : 0.0);
    }
    core_queue_free(al->q, qitem_free); /* items are left only when the thread never ran */
    for (held *e; (e = (held *)an_hold_oldest(&al->hold));) { /* empty once the thread ran */
        if (e->has_row)
            inc_row_free(&e->row);
        if (e->has_grp)
            alert_strs_free(&e->grp.s);
        an_hold_remove(&al->hold, &e->h);
        free(e);
    }
    an_hold_free(&al->hold);
    rows_free(&al->cur);
    rows_free(&al->fl);
    pthread_cond_destroy(&al->cv);
    pthread_mutex_destroy(&al->mu);
    an_engine_free(al->engine);
    if (al->pg)
        PQfinish(al->pg);
    free(al->lat);
    free(al->lat_open);
    for (size_t i = 0; i < al->ntopics; i++)
        free(al->topics[i].topic);
    free(al->group);
    free(al->dsn);
    free(al->topic);
    free(al);
}
