/* Many alerts and their evidence links in one statement each (an alert
 * storm writes thousands per flush: one round trip per row was the cost),
 * and the coalesced rows that stand for many alerts of one incident
 * (sql/migrations/0016_alert_coalescing.sql). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/event.h"
#include "incidents/incidents.h"

#define CHUNK 2000 /* rows per statement: bounds the array literals */

enum { A_INC, A_TYPE, A_SEV, A_TS, A_EVENT, A_KEY, A_MODEL, A_VERSION, A_SUMMARY, A_EVIDENCE, A_N };
/* a coalesced row's columns beyond a single alert's */
enum { G_LAST_TS = A_N, G_COUNT, G_FIRST_SEQ, G_LAST_SEQ, G_N };

static void arrays_free(core_db_array *a, int n)
{
    for (int i = 0; i < n; i++)
        core_db_array_free(&a[i]);
}

/* The array texts of a[0..n) into v; -1 (err) when out of memory. */
static int arrays_text(core_db_array *a, int n, const char **v, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++)
        if (!(v[i] = core_db_array_text(&a[i]))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    return 0;
}

/* The columns a single alert and a coalesced row share, one element each. */
static void add_common(core_db_array *a, const char *incident_id, inc_type type,
                       inc_severity severity, const char *ts, const char *event_id,
                       const char *api_key_id, const char *model, const char *model_version,
                       const char *summary, const char *evidence_json)
{
    core_db_array_add(&a[A_INC], incident_id);
    core_db_array_add(&a[A_TYPE], inc_type_name(type));
    core_db_array_add(&a[A_SEV], inc_severity_name(severity));
    core_db_array_add(&a[A_TS], ts);
    core_db_array_add(&a[A_EVENT], event_id);
    core_db_array_add(&a[A_KEY], api_key_id);
    core_db_array_add(&a[A_MODEL], model);
    core_db_array_add(&a[A_VERSION], model_version);
    core_db_array_add(&a[A_SUMMARY], summary ? summary : "");
    core_db_array_add(&a[A_EVIDENCE], evidence_json ? evidence_json : "{}");
}

#define AT(base, stride, i) ((const void *)((const char *)(base) + (i) * (stride)))

/* One chunk: the alerts, then the links of those that went to an incident. */
static int insert_chunk(PGconn *c, const inc_alert *as, size_t n, size_t stride, char *err,
                        size_t errlen)
{
    core_db_array a[A_N] = {{0}}, l[4] = {{0}};
    int rc = -1;
    size_t links = 0;
    for (size_t i = 0; i < n; i++) {
        const inc_alert *x = AT(as, stride, i);
        if (!x->event_id || (unsigned)x->type >= INC_TYPE_COUNT ||
            (unsigned)x->severity >= INC_SEVERITY_COUNT) {
            snprintf(err, errlen, "alert: missing event id, or a value out of range");
            goto done;
        }
        char ts[40];
        core_ts_format(x->ts_us, ts, sizeof ts);
        add_common(a, x->incident_id, x->type, x->severity, ts, x->event_id, x->api_key_id,
                   x->model, x->model_version, x->summary, x->evidence_json);
        if (x->incident_id) { /* a weak signal alone: no evidence link */
            core_db_array_add(&l[0], x->incident_id);
            core_db_array_add(&l[1], x->event_id);
            core_db_array_add(&l[2], ts);
            core_db_array_add(&l[3], x->api_key_id);
            links++;
        }
    }
    const char *v[A_N];
    if (arrays_text(a, A_N, v, err, errlen) < 0)
        goto done;
    /* A repeated alert is ignored: (incident, event, type) for an incident's
     * alert, (event, type) for an alert alone, each a unique index. */
    if (core_db_exec_params(
            c,
            "INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model,"
            " model_version, summary, evidence) SELECT i, t, s, ts::timestamptz, e, k, m, mv, su,"
            " ev::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
            " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])"
            " AS u(i, t, s, ts, e, k, m, mv, su, ev) ON CONFLICT DO NOTHING",
            A_N, v, "storing the alerts", err, errlen) < 0)
        goto done;
    if (links) {
        const char *w[4];
        if (arrays_text(l, 4, w, err, errlen) < 0)
            goto done;
        if (core_db_exec_params(c,
                                "INSERT INTO incident_events (incident_id, event_id, ts, api_key_id)"
                                " SELECT i, e, ts::timestamptz, k FROM unnest($1::text[],"
                                " $2::text[], $3::text[], $4::text[]) AS u(i, e, ts, k)"
                                " ON CONFLICT DO NOTHING",
                                4, w, "linking the evidence", err, errlen) < 0)
            goto done;
    }
    rc = 0;
done:
    arrays_free(a, A_N);
    arrays_free(l, 4);
    return rc;
}

int inc_alerts_insert(PGconn *c, const inc_alert *as, size_t n, size_t stride, char *err,
                      size_t errlen)
{
    for (size_t off = 0; off < n; off += CHUNK)
        if (insert_chunk(c, AT(as, stride, off), n - off < CHUNK ? n - off : CHUNK, stride, err,
                         errlen) < 0)
            return -1;
    return 0;
}

/* A coalesced row covers the incident's alert numbers first_seq..last_seq.
 * Rows of one incident are written in the order of their numbers, so the
 * highest number stored (the row with the highest first_seq) tells what a
 * replayed flush already holds: only the numbers past it are inserted (the
 * count cut to them), and a row wholly covered is skipped. */
static const char SQL_GROUPS[] =
    "INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model,"
    " model_version, summary, evidence, last_ts, count, first_seq, last_seq)"
    " SELECT u.i, u.t, u.s, u.ts::timestamptz, u.e, u.k, u.m, u.mv, u.su, u.ev::jsonb,"
    " u.lt::timestamptz,"
    " CASE WHEN p.covered >= u.fs THEN least(u.c, u.ls - p.covered) ELSE u.c END,"
    " greatest(u.fs, coalesce(p.covered, 0) + 1), u.ls"
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    " $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int[], $13::int[],"
    " $14::int[]) AS u(i, t, s, ts, e, k, m, mv, su, ev, lt, c, fs, ls)"
    " LEFT JOIN LATERAL (SELECT a.last_seq AS covered FROM alerts a WHERE a.incident_id = u.i"
    " AND a.first_seq IS NOT NULL ORDER BY a.first_seq DESC LIMIT 1) p ON true"
    " WHERE u.ls > coalesce(p.covered, 0) ON CONFLICT DO NOTHING";

static int groups_chunk(PGconn *c, const inc_alert_group *gs, size_t n, size_t stride, char *err,
                        size_t errlen)
{
    core_db_array a[G_N] = {{0}};
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        const inc_alert_group *g = AT(gs, stride, i);
        if (!g->incident_id || !g->event_id || (unsigned)g->type >= INC_TYPE_COUNT ||
            (unsigned)g->severity >= INC_SEVERITY_COUNT || g->first_seq < 1 ||
            g->last_seq < g->first_seq || g->count < 1 ||
            g->count > g->last_seq - g->first_seq + 1 || g->last_seq > INT32_MAX ||
            g->last_ts_us < g->first_ts_us) {
            snprintf(err, errlen, "coalesced alert: missing incident or event id, or a value out of range");
            goto done;
        }
        char ts[40], lt[40];
        core_ts_format(g->first_ts_us, ts, sizeof ts);
        core_ts_format(g->last_ts_us, lt, sizeof lt);
        add_common(a, g->incident_id, g->type, g->severity, ts, g->event_id, g->api_key_id,
                   g->model, g->model_version, g->summary, g->evidence_json);
        core_db_array_add(&a[G_LAST_TS], lt);
        core_db_array_add_i64(&a[G_COUNT], g->count);
        core_db_array_add_i64(&a[G_FIRST_SEQ], g->first_seq);
        core_db_array_add_i64(&a[G_LAST_SEQ], g->last_seq);
    }
    const char *v[G_N];
    if (arrays_text(a, G_N, v, err, errlen) < 0)
        goto done;
    if (core_db_exec_params(c, SQL_GROUPS, G_N, v, "storing the coalesced alerts", err, errlen) < 0)
        goto done;
    rc = 0;
done:
    arrays_free(a, G_N);
    return rc;
}

int inc_alert_groups_insert(PGconn *c, const inc_alert_group *gs, size_t n, size_t stride,
                            char *err, size_t errlen)
{
    for (size_t off = 0; off < n; off += CHUNK)
        if (groups_chunk(c, AT(gs, stride, off), n - off < CHUNK ? n - off : CHUNK, stride, err,
                         errlen) < 0)
            return -1;
    return 0;
}
