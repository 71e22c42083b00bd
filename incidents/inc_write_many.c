/* Many alerts and their evidence links in one statement each (an alert
 * storm writes thousands per flush: one round trip per row was the cost). */
#include <stdio.h>
#include <string.h>

#include "core/db.h"
#include "core/event.h"
#include "incidents/incidents.h"

#define CHUNK 2000 /* rows per statement: bounds the array literals */

enum { A_INC, A_TYPE, A_SEV, A_TS, A_EVENT, A_KEY, A_MODEL, A_VERSION, A_SUMMARY, A_EVIDENCE, A_N };

static void arrays_free(core_db_array *a, int n)
{
    for (int i = 0; i < n; i++)
        core_db_array_free(&a[i]);
}

/* One chunk: the alerts, then the links of those that went to an incident. */
static int insert_chunk(PGconn *c, const inc_alert *as, size_t n, char *err, size_t errlen)
{
    core_db_array a[A_N] = {{0}}, l[4] = {{0}};
    int rc = -1;
    size_t links = 0;
    for (size_t i = 0; i < n; i++) {
        const inc_alert *x = &as[i];
        if (!x->event_id || (unsigned)x->type >= INC_TYPE_COUNT ||
            (unsigned)x->severity >= INC_SEVERITY_COUNT) {
            snprintf(err, errlen, "alert: missing event id, or a value out of range");
            goto done;
        }
        char ts[40];
        core_ts_format(x->ts_us, ts, sizeof ts);
        core_db_array_add(&a[A_INC], x->incident_id);
        core_db_array_add(&a[A_TYPE], inc_type_name(x->type));
        core_db_array_add(&a[A_SEV], inc_severity_name(x->severity));
        core_db_array_add(&a[A_TS], ts);
        core_db_array_add(&a[A_EVENT], x->event_id);
        core_db_array_add(&a[A_KEY], x->api_key_id);
        core_db_array_add(&a[A_MODEL], x->model);
        core_db_array_add(&a[A_VERSION], x->model_version);
        core_db_array_add(&a[A_SUMMARY], x->summary ? x->summary : "");
        core_db_array_add(&a[A_EVIDENCE], x->evidence_json ? x->evidence_json : "{}");
        if (x->incident_id) { /* a weak signal alone: no evidence link */
            core_db_array_add(&l[0], x->incident_id);
            core_db_array_add(&l[1], x->event_id);
            core_db_array_add(&l[2], ts);
            core_db_array_add(&l[3], x->api_key_id);
            links++;
        }
    }
    const char *v[A_N];
    for (int i = 0; i < A_N; i++)
        if (!(v[i] = core_db_array_text(&a[i]))) {
            snprintf(err, errlen, "out of memory");
            goto done;
        }
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
        for (int i = 0; i < 4; i++)
            if (!(w[i] = core_db_array_text(&l[i]))) {
                snprintf(err, errlen, "out of memory");
                goto done;
            }
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

int inc_alerts_insert(PGconn *c, const inc_alert *as, size_t n, char *err, size_t errlen)
{
    for (size_t off = 0; off < n; off += CHUNK)
        if (insert_chunk(c, as + off, n - off < CHUNK ? n - off : CHUNK, err, errlen) < 0)
            return -1;
    return 0;
}
