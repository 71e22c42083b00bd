/* The live analytics inside `custos run`: a bounded queue from the
 * collector's writer thread, one analytics thread running the engine, and
 * after each batch one PostgreSQL transaction for the incidents, alerts and
 * evidence links it produced, then the incident JSON to Kafka. */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics.h"
#include "analytics/an_engine.h"
#include "core/db.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

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
static CORE_METRIC_DEFINE(an_m_dropped, CORE_COUNTER, "custos_analytics_dropped_total",
                          "alerts or incident updates given up after retries")

#define PENDING_MAX 100000 /* rows held while PostgreSQL is down; older ones are dropped */
#define LAT_SAMPLES 65536

typedef struct qitem {
    core_event *evs;
    size_t n;
    int64_t enq_us; /* when the collector handed it over (its batch was committed) */
    struct qitem *next;
} qitem;

typedef struct {
    char *incident_id, *type, *severity, *api_key_id, *model, *model_version, *summary;
    char *first_seen, *detected_at, *last_seen, *atlas, *owasp, *doc, *status;
    int alerts;
} inc_row;

typedef struct {
    char *incident_id, *type, *severity, *ts, *event_id, *api_key_id, *model, *model_version,
        *summary, *evidence;
    int64_t arrival_us; /* when its event reached the analytics (committed) */
} alert_row;

struct an_live {
    core_config cfg; /* shallow copy; strings below are our own */
    char *dsn, *topic;
    an_engine *engine;
    PGconn *pg;
    rd_kafka_t *rk;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t can_put, can_get;
    qitem *head, *tail;
    size_t queued, cap;
    bool stopping;
    uint64_t waits, events, batches, db_errors, dropped, published, kafka_errors;
    core_incident_sink incident_sink; /* where incidents go (the playbooks) */
    /* produced by the engine callbacks during one batch */
    inc_row *incs;
    size_t nincs, capincs;
    alert_row *alerts;
    size_t nalerts, capalerts;
    int64_t *lat_us; /* committed event -> alert/incident rows committed */
    size_t nlat;
    core_log_limit rl_db, rl_kafka;
    int64_t retry_at_ms, backoff_ms; /* PostgreSQL down: when to try again */
};

static char *dupz(const char *s) { return s ? strdup(s) : NULL; }

static void inc_row_free(inc_row *r)
{
    char **f[] = {&r->incident_id, &r->type,   &r->severity,   &r->api_key_id, &r->model,
                  &r->model_version, &r->summary, &r->first_seen, &r->detected_at, &r->last_seen,
                  &r->atlas,       &r->owasp,   &r->doc,        &r->status};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

static void alert_row_free(alert_row *r)
{
    char **f[] = {&r->incident_id, &r->type,  &r->severity,      &r->ts,      &r->event_id,
                  &r->api_key_id,  &r->model, &r->model_version, &r->summary, &r->evidence};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

/* A PostgreSQL text[] literal of the JSON array of strings in doc[field]. */
static char *pg_array(const cJSON *doc, const char *field)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, field);
    size_t cap = 3;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) if (cJSON_IsString(it)) cap += 2 * strlen(it->valuestring) + 4;
    char *o = malloc(cap), *p = o;
    if (!o)
        return NULL;
    *p++ = '{';
    bool first = true;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsString(it))
            continue;
        if (!first)
            *p++ = ',';
        first = false;
        *p++ = '"';
        for (const char *s = it->valuestring; *s; s++) {
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

/* Engine callback: an incident opened or changed. Keeps the newest state per
 * incident for this batch's transaction, publishes the JSON. */
static void on_incident(void *ud, const an_incident_view *v)
{
    an_live *al = ud;
    size_t i;
    for (i = 0; i < al->nincs && strcmp(al->incs[i].incident_id, v->incident_id); i++)
        ;
    if (i == al->nincs) {
        if (core_grow(&al->incs, &al->capincs, al->nincs, sizeof *al->incs, 64) < 0)
            return;
        memset(&al->incs[al->nincs++], 0, sizeof *al->incs);
    }
    inc_row *r = &al->incs[i];
    inc_row_free(r);
    cJSON *doc = cJSON_Parse(v->json);
    char ts[40];
    r->incident_id = dupz(v->incident_id);
    r->type = dupz(inc_type_name(v->type));
    r->severity = dupz(inc_severity_name(v->severity));
    r->api_key_id = dupz(v->api_key_id);
    r->model = dupz(v->model);
    r->model_version = dupz(v->model_version);
    r->summary = dupz(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "summary")));
    r->first_seen = dupz(core_ts_format(v->first_seen_us, ts, sizeof ts));
    r->detected_at = dupz(core_ts_format(v->detected_at_us, ts, sizeof ts));
    r->last_seen = dupz(core_ts_format(v->last_seen_us, ts, sizeof ts));
    r->atlas = pg_array(doc, "atlas");
    r->owasp = pg_array(doc, "owasp");
    r->doc = dupz(v->json);
    r->status = dupz(v->final ? "closed" : "open");
    r->alerts = v->n_alerts;
    cJSON_Delete(doc);
    /* Each incident is logged as it opens (updates only raise the counter):
     * an operator tailing the log sees what was found, for whom. */
    if (v->opened) {
        char q[400], qk[300], qm[300], qv[200];
        core_log(CORE_LOG_INFO, "analytics", "incident opened",
                 "incident=%s type=%s severity=%s api_key=%s model=%s model_version=%s summary=%s",
                 r->incident_id, r->type, r->severity,
                 core_log_quote(qk, sizeof qk, r->api_key_id ? r->api_key_id : "-"),
                 core_log_quote(qm, sizeof qm, r->model ? r->model : "-"),
                 core_log_quote(qv, sizeof qv, r->model_version ? r->model_version : "-"),
                 core_log_quote(q, sizeof q, r->summary ? r->summary : ""));
    }

    if (al->rk) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            al->rk, RD_KAFKA_V_TOPIC(al->topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(v->incident_id, strlen(v->incident_id)),
            RD_KAFKA_V_VALUE((void *)v->json, strlen(v->json)), RD_KAFKA_V_END);
        if (e) { /* not even queued; delivered ones are counted in on_delivery */
            al->kafka_errors++;
            if (core_log_limit_check(&al->rl_kafka, al->cfg.log_error_interval_ms) >= 0)
                core_log(CORE_LOG_WARN, "analytics", "incident not published", "error=%s",
                         rd_kafka_err2str(e));
        }
    }
    if (al->incident_sink.deliver)
        al->incident_sink.deliver(al->incident_sink.ud, v->json);
}

static void on_alert(void *ud, const an_incident_view *v, const an_alert *a)
{
    an_live *al = ud;
    if (al->nalerts >= PENDING_MAX) {
        al->dropped++;
        core_metric_add(&an_m_dropped, 1);
        return;
    }
    if (core_grow(&al->alerts, &al->capalerts, al->nalerts, sizeof *al->alerts, 256) < 0)
        return;
    alert_row *r = &al->alerts[al->nalerts++];
    char ts[40];
    char *ev = a->evidence ? cJSON_PrintUnformatted(a->evidence) : NULL;
    *r = (alert_row){
        .incident_id = v ? dupz(v->incident_id) : NULL, /* NULL: an alert alone */
        .type = dupz(inc_type_name(a->type)),
        .severity = dupz(inc_severity_name(a->severity)),
        .ts = dupz(core_ts_format(a->trigger->ts_us, ts, sizeof ts)),
        .event_id = dupz(a->trigger->event_id),
        .api_key_id = dupz(a->trigger->api_key_id),
        .model = dupz(a->trigger->model),
        .model_version = dupz(a->trigger->model_version),
        .summary = dupz(a->summary ? a->summary : ""),
        .evidence = ev ? ev : strdup("{}"),
        .arrival_us = a->trigger->arrival_us,
    };
}

static const char *SQL_INC =
    "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, "
    "model_version, first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
    "ON CONFLICT (incident_id) DO UPDATE SET "
    "severity = CASE WHEN incidents.status IN ('open', 'closed') THEN EXCLUDED.severity "
    "ELSE incidents.severity END, "
    "status = CASE WHEN incidents.status IN ('open', 'closed') THEN EXCLUDED.status "
    "ELSE incidents.status END, first_seen = EXCLUDED.first_seen, "
    "last_seen = EXCLUDED.last_seen, alerts = EXCLUDED.alerts, atlas = EXCLUDED.atlas, "
    "owasp = EXCLUDED.owasp, summary = EXCLUDED.summary, doc = EXCLUDED.doc, updated_at = now()";
static const char *SQL_ALERT =
    "INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model, "
    "model_version, summary, evidence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
    "ON CONFLICT (incident_id, event_id, type) DO NOTHING";
static const char *SQL_ALERT_ALONE =
    "INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model, "
    "model_version, summary, evidence) VALUES (NULL, $1, $2, $3, $4, $5, $6, $7, $8, $9) "
    "ON CONFLICT (event_id, type) WHERE incident_id IS NULL DO NOTHING";
static const char *SQL_LINK =
    "INSERT INTO incident_events (incident_id, event_id, ts, api_key_id) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT DO NOTHING";

static int exec_params(PGconn *c, const char *sql, int n, const char *const *v, char *err,
                       size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
    if (rc < 0)
        core_db_error(c, "analytics write", err, errlen);
    PQclear(r);
    return rc;
}

/* Writes what the last batch produced in one transaction. On failure the
 * rows stay pending for the next batch (bounded) and the connection is reset.
 * Once a playbook or an analyst has moved an incident past open/closed
 * (contained, escalated...), its status and severity are theirs. */
static void flush_db(an_live *al)
{
    if (!al->nincs && !al->nalerts)
        return;
    if (al->retry_at_ms && core_mono_ms() < al->retry_at_ms)
        return; /* backing off; the rows wait (bounded) */
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
    if (core_db_exec(al->pg, "BEGIN", err, sizeof err) < 0)
        goto fail;
    in_tx = true;
    for (size_t i = 0; i < al->nincs; i++) {
        inc_row *r = &al->incs[i];
        char alerts[16];
        snprintf(alerts, sizeof alerts, "%d", r->alerts);
        const char *v[15] = {r->incident_id, r->type,      r->severity,    r->status,
                             r->api_key_id,  r->model,     r->model_version, r->first_seen,
                             r->detected_at, r->last_seen, alerts,         r->atlas,
                             r->owasp,       r->summary,   r->doc};
        if (exec_params(al->pg, SQL_INC, 15, v, err, sizeof err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < al->nalerts; i++) {
        alert_row *r = &al->alerts[i];
        if (!r->incident_id) { /* a weak signal alone: no incident, no evidence link */
            const char *v[9] = {r->type,       r->severity, r->ts,            r->event_id,
                                r->api_key_id, r->model,    r->model_version, r->summary,
                                r->evidence};
            if (exec_params(al->pg, SQL_ALERT_ALONE, 9, v, err, sizeof err) < 0)
                goto fail;
            continue;
        }
        const char *v[10] = {r->incident_id, r->type,       r->severity, r->ts,
                             r->event_id,    r->api_key_id, r->model,    r->model_version,
                             r->summary,     r->evidence};
        if (exec_params(al->pg, SQL_ALERT, 10, v, err, sizeof err) < 0)
            goto fail;
        const char *l[4] = {r->incident_id, r->event_id, r->ts, r->api_key_id};
        if (exec_params(al->pg, SQL_LINK, 4, l, err, sizeof err) < 0)
            goto fail;
    }
    in_tx = false; /* a failed COMMIT ends the transaction too */
    if (core_db_exec(al->pg, "COMMIT", err, sizeof err) < 0)
        goto fail;
    /* committed event -> its alert and incident rows committed */
    int64_t now = core_mono_us();
    for (size_t i = 0; i < al->nalerts && al->lat_us; i++) {
        if (!al->alerts[i].arrival_us)
            continue;
        al->lat_us[al->nlat % LAT_SAMPLES] = now - al->alerts[i].arrival_us;
        al->nlat++;
    }
    for (size_t i = 0; i < al->nincs; i++)
        inc_row_free(&al->incs[i]);
    for (size_t i = 0; i < al->nalerts; i++)
        alert_row_free(&al->alerts[i]);
    al->nincs = al->nalerts = 0;
    al->retry_at_ms = 0;
    al->backoff_ms = 0;
    return;
fail:
    if (in_tx)
        core_db_exec(al->pg, "ROLLBACK", (char[128]){0}, 128);
    al->db_errors++;
    core_metric_add(&an_m_db_errors, 1);
    /* the collector's back-off settings, doubling up to retry_max_ms */
    al->backoff_ms = al->backoff_ms ? al->backoff_ms * 2 : al->cfg.coll_retry_min_ms;
    if (al->backoff_ms > al->cfg.coll_retry_max_ms)
        al->backoff_ms = al->cfg.coll_retry_max_ms;
    al->retry_at_ms = core_mono_ms() + al->backoff_ms;
    if (core_log_limit_check(&al->rl_db, al->cfg.log_error_interval_ms) >= 0)
        core_log(CORE_LOG_ERROR, "analytics", "cannot store incidents, will retry",
                 "pending_incidents=%zu pending_alerts=%zu error=%s", al->nincs, al->nalerts,
                 core_log_quote((char[600]){0}, 600, err));
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

static void *run(void *arg)
{
    an_live *al = arg;
    for (;;) {
        pthread_mutex_lock(&al->mu);
        while (!al->head && !al->stopping) {
            /* a quiet spell: let the watermark move past the last events */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&al->can_get, &al->mu, &ts) != 0 && !al->head) {
                pthread_mutex_unlock(&al->mu);
                an_engine_advance(al->engine);
                /* what the idle watermark released counts too: without this
                 * the stats kept the totals of the last hand-over for good
                 * once traffic stopped */
                publish_stats(al);
                flush_db(al);
                if (al->rk)
                    rd_kafka_poll(al->rk, 0);
                pthread_mutex_lock(&al->mu);
            }
        }
        qitem *q = al->head;
        if (!q) { /* stopping and drained */
            pthread_mutex_unlock(&al->mu);
            break;
        }
        al->head = q->next;
        if (!al->head)
            al->tail = NULL;
        al->queued -= q->n;
        pthread_cond_broadcast(&al->can_put);
        pthread_mutex_unlock(&al->mu);

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
        flush_db(al);
        if (al->rk)
            rd_kafka_poll(al->rk, 0);
    }
    an_engine_finish(al->engine);
    /* the last incident states: a few tries past any back-off, then give up
     * (logged with what is lost) */
    for (int attempt = 0; attempt < 3 && (al->nincs || al->nalerts); attempt++) {
        if (attempt) {
            struct timespec ts = {al->backoff_ms / 1000, (al->backoff_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        al->retry_at_ms = 0;
        flush_db(al);
    }
    if (al->nincs || al->nalerts)
        core_log(CORE_LOG_ERROR, "analytics", "incidents not stored at stop",
                 "incidents=%zu alerts=%zu", al->nincs, al->nalerts);
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
    *q = (qitem){evs, n, core_mono_us(), NULL};
    pthread_mutex_lock(&al->mu);
    /* a batch larger than the whole queue still goes in when the queue is
     * empty, or it could never be accepted */
    if (al->queued && al->queued + n > al->cap) {
        al->waits++;
        core_metric_add(&an_m_queue_waits, 1);
        while (al->queued && al->queued + n > al->cap && !al->stopping)
            pthread_cond_wait(&al->can_put, &al->mu);
    }
    if (al->tail)
        al->tail->next = q;
    else
        al->head = q;
    al->tail = q;
    al->queued += n;
    pthread_cond_signal(&al->can_get);
    pthread_mutex_unlock(&al->mu);
}

core_event_sink an_live_sink(an_live *al)
{
    core_event_sink s = {deliver, al};
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
    al->dsn = dupz(cfg->pg_dsn);
    al->topic = dupz(cfg->an_incidents_topic);
    al->cap = (size_t)cfg->an_queue_events;
    al->lat_us = calloc(LAT_SAMPLES, sizeof *al->lat_us);
    pthread_mutex_init(&al->mu, NULL);
    pthread_cond_init(&al->can_put, NULL);
    pthread_cond_init(&al->can_get, NULL);
    if (!al->dsn || !al->topic || !al->lat_us) {
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
    if (pthread_create(&al->thread, NULL, run, al) != 0) {
        snprintf(err, errlen, "cannot start the analytics thread");
        goto error;
    }
    pthread_setname_np(al->thread, "custos-analytic"); /* for top -H and perf */
    al->started = true;
    core_log(CORE_LOG_INFO, "analytics", "live analytics started", "topic=%s queue_events=%zu",
             al->topic, al->cap);
    return al;
error:
    an_live_stop(al);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void an_live_stop(an_live *al)
{
    if (!al)
        return;
    if (al->started) {
        pthread_mutex_lock(&al->mu);
        al->stopping = true;
        pthread_cond_broadcast(&al->can_get);
        pthread_cond_broadcast(&al->can_put);
        pthread_mutex_unlock(&al->mu);
        pthread_join(al->thread, NULL);
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
        size_t n = al->nlat < LAT_SAMPLES ? al->nlat : LAT_SAMPLES;
        int64_t p50 = 0, p99 = 0;
        if (n) {
            qsort(al->lat_us, n, sizeof *al->lat_us, cmp_i64);
            p50 = al->lat_us[n / 2];
            p99 = al->lat_us[n * 99 / 100];
        }
        core_log(CORE_LOG_INFO, "analytics", "live analytics stopped",
                 "events=%llu batches=%llu incidents=%llu alerts=%llu late=%llu forced=%llu "
                 "keys=%llu key_state_bytes_avg=%.0f queue_full_waits=%llu db_errors=%llu "
                 "published=%llu kafka_errors=%llu dropped_alerts=%llu "
                 "commit_to_incident_p50_ms=%.1f commit_to_incident_p99_ms=%.1f",
                 (unsigned long long)al->events, (unsigned long long)al->batches,
                 (unsigned long long)st.incidents, (unsigned long long)st.alerts,
                 (unsigned long long)st.late, (unsigned long long)st.forced,
                 (unsigned long long)st.keys,
                 st.keys ? (double)st.key_state_bytes / (double)st.keys : 0.0,
                 (unsigned long long)al->waits, (unsigned long long)al->db_errors,
                 (unsigned long long)al->published, (unsigned long long)al->kafka_errors,
                 (unsigned long long)al->dropped, p50 / 1e3, p99 / 1e3);
    }
    for (qitem *q = al->head, *n; q; q = n) { /* only when the thread never ran */
        n = q->next;
        for (size_t i = 0; i < q->n; i++)
            core_event_clear(&q->evs[i]);
        free(q->evs);
        free(q);
    }
    for (size_t i = 0; i < al->nincs; i++)
        inc_row_free(&al->incs[i]);
    for (size_t i = 0; i < al->nalerts; i++)
        alert_row_free(&al->alerts[i]);
    free(al->incs);
    free(al->alerts);
    an_engine_free(al->engine);
    if (al->pg)
        PQfinish(al->pg);
    pthread_mutex_destroy(&al->mu);
    pthread_cond_destroy(&al->can_put);
    pthread_cond_destroy(&al->can_get);
    free(al->lat_us);
    free(al->dsn);
    free(al->topic);
    free(al);
}
