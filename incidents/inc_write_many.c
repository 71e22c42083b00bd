/* Many alerts and their evidence links in one statement each (an alert
 * storm writes thousands per flush: one round trip per row was the cost),
 * and the coalesced rows that stand for many alerts of one incident
 * (sql/migrations/0016_alert_coalescing.sql). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/event.h"
#include "incidents/incidents.h"

#define CHUNK 2000 /* rows per statement: bounds the array literals */

enum { A_INC, A_TYPE, A_SEV, A_TS, A_EVENT, A_KEY, A_MODEL, A_VERSION, A_SUMMARY, A_EVIDENCE, A_N };
/* a single alert's number; a coalesced row's columns beyond a single alert's */
enum { A_SEQ = A_N, S_N };
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
    core_db_array a[S_N] = {{0}}, l[4] = {{0}};
    int rc = -1;
    size_t links = 0;
    for (size_t i = 0; i < n; i++) {
        const inc_alert *x = AT(as, stride, i);
        if (!x->event_id || (unsigned)x->type >= INC_TYPE_COUNT ||
            (unsigned)x->severity >= INC_SEVERITY_COUNT || x->seq < 0 || x->seq > INT32_MAX ||
            (x->seq && !x->incident_id)) {
            snprintf(err, errlen, "alert: missing event id, or a value out of range");
            goto done;
        }
        char ts[40];
        core_ts_format(x->ts_us, ts, sizeof ts);
        add_common(a, x->incident_id, x->type, x->severity, ts, x->event_id, x->api_key_id,
                   x->model, x->model_version, x->summary, x->evidence_json);
        if (x->seq)
            core_db_array_add_i64(&a[A_SEQ], x->seq);
        else
            core_db_array_add(&a[A_SEQ], NULL);
        if (x->incident_id) { /* a weak signal alone: no evidence link */
            core_db_array_add(&l[0], x->incident_id);
            core_db_array_add(&l[1], x->event_id);
            core_db_array_add(&l[2], ts);
            core_db_array_add(&l[3], x->api_key_id);
            links++;
        }
    }
    const char *v[S_N];
    if (arrays_text(a, S_N, v, err, errlen) < 0)
        goto done;
    /* A repeated alert is ignored: (incident, number) for a numbered one,
     * (incident, event, type) for an incident's alert without a number,
     * (event, type) for an alert alone, each a unique index. */
    if (core_db_exec_params(
            c,
            "INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, model,"
            " model_version, summary, evidence, first_seq, last_seq) SELECT i, t, s,"
            " ts::timestamptz, e, k, m, mv, su, ev::jsonb, n, n FROM unnest($1::text[],"
            " $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],"
            " $9::text[], $10::text[], $11::int[]) AS u(i, t, s, ts, e, k, m, mv, su, ev, n)"
            " ON CONFLICT DO NOTHING",
            S_N, v, "storing the alerts", err, errlen) < 0)
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
    arrays_free(a, S_N);
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
 * highest number stored (the row with the highest first_seq, single or
 * coalesced) tells what a replayed flush already holds: only the numbers
 * past it are inserted (the count cut to them), and a row wholly covered is
 * skipped. */
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
        const inc_alert *x = &g->a;
        if (!x->incident_id || !x->event_id || (unsigned)x->type >= INC_TYPE_COUNT ||
            (unsigned)x->severity >= INC_SEVERITY_COUNT || x->seq < 1 ||
            g->last_seq < x->seq || g->count < 1 || g->count > g->last_seq - x->seq + 1 ||
            g->last_seq > INT32_MAX || g->last_ts_us < x->ts_us) {
            snprintf(err, errlen, "coalesced alert: missing incident or event id, or a value out of range");
            goto done;
        }
        char ts[40], lt[40];
        core_ts_format(x->ts_us, ts, sizeof ts);
        core_ts_format(g->last_ts_us, lt, sizeof lt);
        add_common(a, x->incident_id, x->type, x->severity, ts, x->event_id, x->api_key_id,
                   x->model, x->model_version, x->summary, x->evidence_json);
        core_db_array_add(&a[G_LAST_TS], lt);
        core_db_array_add_i64(&a[G_COUNT], g->count);
        core_db_array_add_i64(&a[G_FIRST_SEQ], x->seq);
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

/* ---- the detector's upserts of a whole flush ---- */

/* What the status rule reads of a stored incident (as inc_write.c's
 * read_locked), for many at once. */
static const char SQL_LOCK_MANY[] =
    "SELECT incident_id, status, severity, coalesce(disposition, ''), status_by IS NULL AND "
    "status IN ('open', 'closed') FROM incidents WHERE incident_id = ANY($1::text[]) "
    "ORDER BY incident_id FOR UPDATE";
static const char SQL_INSERT_MANY[] =
    "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, "
    "model_version, first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc, "
    "tenant) SELECT i, t, s, st, k, m, mv, fs::timestamptz, d::timestamptz, ls::timestamptz, "
    "n::int, a::text[], o::text[], su, doc::jsonb, te FROM unnest($1::text[], $2::text[], "
    "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
    "$10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[]) "
    "AS u(i, t, s, st, k, m, mv, fs, d, ls, n, a, o, su, doc, te) "
    "ON CONFLICT (incident_id) DO NOTHING RETURNING incident_id";
static const char SQL_UPDATE_MANY[] =
    "UPDATE incidents SET status = u.st, severity = u.s, first_seen = u.fs::timestamptz, "
    "last_seen = u.ls::timestamptz, alerts = u.n::int, atlas = u.a::text[], owasp = u.o::text[], "
    "summary = u.su, doc = u.doc::jsonb, tenant = coalesce(incidents.tenant, u.te), "
    "updated_at = now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) "
    "AS u(i, st, s, fs, ls, n, a, o, su, doc, te) WHERE incidents.incident_id = u.i";

enum { I_ID, I_TYPE, I_SEV, I_STATUS, I_KEY, I_MODEL, I_VERSION, I_FIRST, I_DET, I_LAST,
       I_ALERTS, I_ATLAS, I_OWASP, I_SUMMARY, I_DOC, I_TENANT, I_N };
enum { U_ID, U_STATUS, U_SEV, U_FIRST, U_LAST, U_ALERTS, U_ATLAS, U_OWASP, U_SUMMARY, U_DOC,
       U_TENANT, U_N };

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The row of id among the locked ones (sorted by id), or -1. */
static int locked_row(PGresult *r, const char *id)
{
    int lo = 0, hi = PQntuples(r) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, d = strcmp(PQgetvalue(r, mid, 0), id);
        if (!d)
            return mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int upsert_chunk(PGconn *c, const inc_record *rs, size_t n, size_t stride, char *err,
                        size_t errlen)
{
    core_db_array ids = {0}, ins[I_N] = {{0}}, upd[U_N] = {{0}};
    PGresult *locked = NULL, *inserted = NULL;
    const char **stored_ids = NULL;
    size_t nins = 0, nupd = 0, nstored = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        const inc_record *r = AT(rs, stride, i);
        if (!r->incident_id || !r->doc_json || (unsigned)r->type >= INC_TYPE_COUNT ||
            (unsigned)r->severity >= INC_SEVERITY_COUNT ||
            (r->status != INC_OPEN && r->status != INC_CLOSED) || r->alerts < 0 ||
            r->alerts > INT32_MAX) {
            snprintf(err, errlen, "incident record: missing id or doc, or a value out of range");
            goto done;
        }
        core_db_array_add(&ids, r->incident_id);
    }
    const char *idv = core_db_array_text(&ids);
    if (!idv) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (!(locked = core_db_query(c, SQL_LOCK_MANY, 1, &idv, "reading the incidents", err, errlen)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        const inc_record *r = AT(rs, stride, i);
        char first[40], det[40], last[40];
        core_ts_format(r->first_seen_us, first, sizeof first);
        core_ts_format(r->detected_at_us, det, sizeof det);
        core_ts_format(r->last_seen_us, last, sizeof last);
        const char *atlas = r->atlas_array ? r->atlas_array : "{}";
        const char *owasp = r->owasp_array ? r->owasp_array : "{}";
        const char *summary = r->summary ? r->summary : "";
        int row = locked_row(locked, r->incident_id);
        inc_state next;
        if (row < 0) {
            inc_rule_detected(NULL, r->status, r->severity, &next);
            core_db_array_add(&ins[I_ID], r->incident_id);
            core_db_array_add(&ins[I_TYPE], inc_type_name(r->type));
            core_db_array_add(&ins[I_SEV], inc_severity_name(next.severity));
            core_db_array_add(&ins[I_STATUS], inc_status_name(next.status));
            core_db_array_add(&ins[I_KEY], r->api_key_id);
            core_db_array_add(&ins[I_MODEL], r->model);
            core_db_array_add(&ins[I_VERSION], r->model_version);
            core_db_array_add(&ins[I_FIRST], first);
            core_db_array_add(&ins[I_DET], det);
            core_db_array_add(&ins[I_LAST], last);
            core_db_array_add_i64(&ins[I_ALERTS], r->alerts);
            core_db_array_add(&ins[I_ATLAS], atlas);
            core_db_array_add(&ins[I_OWASP], owasp);
            core_db_array_add(&ins[I_SUMMARY], summary);
            core_db_array_add(&ins[I_DOC], r->doc_json);
            core_db_array_add(&ins[I_TENANT], r->tenant);
            nins++;
            continue;
        }
        inc_state stored;
        inc_state_from_row(locked, row, 1, &stored); /* column 0 is the id */
        inc_rule_detected(&stored, r->status, r->severity, &next);
        /* a status outside the vocabulary (a playbook's own word) stays as stored */
        const char *status = next.status >= 0 ? inc_status_name((inc_status)next.status)
                                              : PQgetvalue(locked, row, 1);
        core_db_array_add(&upd[U_ID], r->incident_id);
        core_db_array_add(&upd[U_STATUS], status);
        core_db_array_add(&upd[U_SEV], inc_severity_name(next.severity));
        core_db_array_add(&upd[U_FIRST], first);
        core_db_array_add(&upd[U_LAST], last);
        core_db_array_add_i64(&upd[U_ALERTS], r->alerts);
        core_db_array_add(&upd[U_ATLAS], atlas);
        core_db_array_add(&upd[U_OWASP], owasp);
        core_db_array_add(&upd[U_SUMMARY], summary);
        core_db_array_add(&upd[U_DOC], r->doc_json);
        core_db_array_add(&upd[U_TENANT], r->tenant);
        nupd++;
    }
    if (nupd) {
        const char *v[U_N];
        if (arrays_text(upd, U_N, v, err, errlen) < 0 ||
            core_db_exec_params(c, SQL_UPDATE_MANY, U_N, v, "updating the incidents", err,
                                errlen) < 0)
            goto done;
    }
    if (nins) {
        const char *v[I_N];
        if (arrays_text(ins, I_N, v, err, errlen) < 0 ||
            !(inserted = core_db_query(c, SQL_INSERT_MANY, I_N, v, "storing the incidents", err,
                                       errlen)))
            goto done;
        /* another writer inserted some meanwhile: those go the one-by-one way
         * (inc_upsert_detected reads them locked and updates them as stored) */
        if ((size_t)PQntuples(inserted) < nins) {
            int k = PQntuples(inserted);
            if (!(stored_ids = malloc((size_t)(k ? k : 1) * sizeof *stored_ids))) {
                snprintf(err, errlen, "out of memory");
                goto done;
            }
            for (int j = 0; j < k; j++)
                stored_ids[j] = PQgetvalue(inserted, j, 0);
            qsort(stored_ids, (size_t)k, sizeof *stored_ids, cmp_str);
            nstored = (size_t)k;
            for (size_t i = 0; i < n; i++) {
                const inc_record *r = AT(rs, stride, i);
                const char *id = r->incident_id;
                if (locked_row(locked, id) >= 0 ||
                    bsearch(&id, stored_ids, nstored, sizeof *stored_ids, cmp_str))
                    continue;
                if (inc_upsert_detected(c, r, err, errlen) < 0)
                    goto done;
            }
        }
    }
    rc = 0;
done:
    free(stored_ids);
    PQclear(inserted);
    PQclear(locked);
    core_db_array_free(&ids);
    arrays_free(ins, I_N);
    arrays_free(upd, U_N);
    return rc;
}

int inc_upsert_detected_many(PGconn *c, const inc_record *rs, size_t n, size_t stride,
                             char *err, size_t errlen)
{
    for (size_t off = 0; off < n; off += CHUNK)
        if (upsert_chunk(c, AT(rs, stride, off), n - off < CHUNK ? n - off : CHUNK, stride, err,
                         errlen) < 0)
            return -1;
    return 0;
}
