/* Serious incidents (EU AI Act Art. 73): marking an incident serious with
 * its category and the time the provider became aware of it, the reporting
 * deadline derived from them, the reports filed with the authority, the
 * deadline check that notifies before the deadline and escalates after it
 * (each once, audited), and the initial and complete report as JSON and as
 * Markdown built from that same JSON. Tables: serious_incidents,
 * serious_reports (sql/migrations/0014_serious_incidents.sql). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "core/event.h"
#include "core/log.h"
#include "incidents/incidents.h"

#define ACTOR_MAX 200
#define REFERENCE_MAX 1000
#define SKEW_US (5LL * 60 * 1000000) /* an awareness or filing time this far ahead is refused */
#define DAY_US (86400LL * 1000000)
#define CHECK_BATCH 100

static const struct {
    const char *name, *article, *label;
    int days;
} k_cat[INC_SERIOUS_CATEGORY_COUNT] = {
    [INC_SERIOUS_GENERAL] = {"general", "73(2)", "general", 15},
    [INC_SERIOUS_WIDESPREAD] = {"widespread_infringement", "73(3)", "widespread infringement", 2},
    [INC_SERIOUS_CRITICAL_INFRA] = {"critical_infrastructure", "73(3)",
                                    "critical infrastructure", 2},
    [INC_SERIOUS_DEATH] = {"death", "73(4)", "death of a person", 10},
};

const char *inc_serious_category_name(inc_serious_category c)
{
    return (unsigned)c < INC_SERIOUS_CATEGORY_COUNT ? k_cat[c].name : "?";
}

int inc_serious_category_parse(const char *s)
{
    for (int i = 0; s && i < INC_SERIOUS_CATEGORY_COUNT; i++)
        if (strcmp(s, k_cat[i].name) == 0)
            return i;
    return -1;
}

int inc_serious_deadline_days(inc_serious_category c)
{
    return (unsigned)c < INC_SERIOUS_CATEGORY_COUNT ? k_cat[c].days : -1;
}

const char *inc_serious_article(inc_serious_category c)
{
    return (unsigned)c < INC_SERIOUS_CATEGORY_COUNT ? k_cat[c].article : "?";
}

/* One line of 1..max bytes, valid UTF-8, no control character. */
static bool one_line(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= max && core_utf8_invalid_at((const unsigned char *)s, n) < 0 &&
           core_text_control_at(s, n) < 0;
}

/* Appends an incident_updates row (the feed the console and the stream
 * follow: touching the incident's updated_at fires its change_feed
 * trigger) and the audit row (detail is consumed), in the caller's
 * transaction. */
static int record(PGconn *c, const char *incident_id, const char *actor, const char *event,
                  const char *note, cJSON *detail, char *err, size_t errlen)
{
    const char *u[3] = {incident_id, note, actor};
    if (core_db_exec_params(c,
                            "INSERT INTO incident_updates (incident_id, note, actor) VALUES ($1, "
                            "$2, $3)",
                            3, u, "recording the incident update", err, errlen) < 0 ||
        core_db_exec_params(c, "UPDATE incidents SET updated_at = now() WHERE incident_id = $1",
                            1, u, "touching the incident", err, errlen) < 0) {
        cJSON_Delete(detail);
        return -1;
    }
    return audit_append_json(c, actor, event, 0, incident_id, detail, err, errlen);
}

int inc_serious_mark(PGconn *c, const char *incident_id, inc_serious_category cat,
                     int64_t aware_at_us, const char *actor, int64_t *deadline_us, char *err,
                     size_t errlen)
{
    if (!incident_id || !*incident_id || strlen(incident_id) > 256) {
        snprintf(err, errlen, "an incident id is 1 to 256 bytes");
        return INC_SERIOUS_REFUSED;
    }
    if ((unsigned)cat >= INC_SERIOUS_CATEGORY_COUNT) {
        snprintf(err, errlen, "category is one of general, widespread_infringement, "
                              "critical_infrastructure, death");
        return INC_SERIOUS_REFUSED;
    }
    if (!one_line(actor, ACTOR_MAX)) {
        snprintf(err, errlen, "actor: 1 to %d bytes, one line", ACTOR_MAX);
        return INC_SERIOUS_REFUSED;
    }
    if (aware_at_us <= 0 || aware_at_us > core_wall_us() + SKEW_US) {
        snprintf(err, errlen, "aware_at is a time that has come (RFC 3339, not in the future)");
        return INC_SERIOUS_REFUSED;
    }
    int64_t deadline = aware_at_us + (int64_t)k_cat[cat].days * DAY_US;
    char aware[40], due[40];
    core_ts_format(aware_at_us, aware, sizeof aware);
    core_ts_format(deadline, due, sizeof due);
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    const char *v[5] = {incident_id, inc_serious_category_name(cat), aware, due, actor};
    /* Locks the incident, so a marking and the deadline check serialise. */
    PGresult *r = core_db_query(
        c,
        "WITH inc AS (SELECT incident_id FROM incidents WHERE incident_id = $1 FOR UPDATE), "
        "old AS (SELECT s.* FROM serious_incidents s JOIN inc USING (incident_id) FOR UPDATE), "
        "up AS (INSERT INTO serious_incidents AS s (incident_id, category, aware_at, deadline_at, "
        "marked_by) SELECT incident_id, $2, $3, $4, $5 FROM inc ON CONFLICT (incident_id) DO "
        "UPDATE SET category = $2, aware_at = $3, deadline_at = $4, updated_at = now(), "
        "notified_at = CASE WHEN s.deadline_at = $4::timestamptz THEN s.notified_at END, "
        "escalated_at = CASE WHEN s.deadline_at = $4::timestamptz THEN s.escalated_at END "
        "RETURNING incident_id) "
        "SELECT (SELECT count(*) FROM up), (SELECT category FROM old), "
        "(SELECT change_feed_ts(aware_at) FROM old), (SELECT change_feed_ts(deadline_at) FROM old)",
        5, v, "marking the incident serious", err, errlen);
    if (!r)
        goto fail;
    if (strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
        PQclear(r);
        core_db_rollback(c);
        snprintf(err, errlen, "no incident %s", incident_id);
        return 0;
    }
    bool again = !PQgetisnull(r, 0, 1);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "category", inc_serious_category_name(cat));
    cJSON_AddStringToObject(d, "article", k_cat[cat].article);
    cJSON_AddStringToObject(d, "aware_at", aware);
    cJSON_AddStringToObject(d, "deadline_at", due);
    cJSON_AddNumberToObject(d, "deadline_days", k_cat[cat].days);
    if (again) {
        cJSON *b = cJSON_AddObjectToObject(d, "before");
        cJSON_AddStringToObject(b, "category", PQgetvalue(r, 0, 1));
        cJSON_AddStringToObject(b, "aware_at", PQgetvalue(r, 0, 2));
        cJSON_AddStringToObject(b, "deadline_at", PQgetvalue(r, 0, 3));
    }
    PQclear(r);
    char note[300];
    snprintf(note, sizeof note, "serious incident (Art. %s, %s): report due %s", k_cat[cat].article,
             k_cat[cat].label, due);
    int rc = record(c, incident_id, actor,
                    again ? "serious_incident_changed" : "serious_incident_marked", note, d, err,
                    errlen);
    if (rc < 0 || core_db_commit(c, err, errlen) < 0)
        goto fail;
    if (deadline_us)
        *deadline_us = deadline;
    return 1;
fail:
    core_db_rollback(c);
    return -1;
}

int64_t inc_serious_report_filed(PGconn *c, const inc_serious_filing *f, char *err, size_t errlen)
{
    bool initial = f->kind && strcmp(f->kind, "initial") == 0;
    if (!initial && !(f->kind && strcmp(f->kind, "complete") == 0)) {
        snprintf(err, errlen, "kind is initial or complete");
        return INC_SERIOUS_REFUSED;
    }
    if (!one_line(f->reference, REFERENCE_MAX)) {
        snprintf(err, errlen, "reference (the authority's reference of the report) is one line "
                              "of 1 to %d bytes", REFERENCE_MAX);
        return INC_SERIOUS_REFUSED;
    }
    if (!one_line(f->actor, ACTOR_MAX) || (f->filed_by && !one_line(f->filed_by, ACTOR_MAX))) {
        snprintf(err, errlen, "filed_by and the actor: 1 to %d bytes, one line", ACTOR_MAX);
        return INC_SERIOUS_REFUSED;
    }
    int64_t at = f->filed_at_us ? f->filed_at_us : core_wall_us();
    if (at <= 0 || at > core_wall_us() + SKEW_US) {
        snprintf(err, errlen, "filed_at is a time that has come (not in the future)");
        return INC_SERIOUS_REFUSED;
    }
    char ats[40];
    core_ts_format(at, ats, sizeof ats);
    const char *filed_by = f->filed_by ? f->filed_by : f->actor;
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    const char *v[1] = {f->incident_id};
    PGresult *r = core_db_query(c,
                                "SELECT count(*) FILTER (WHERE r.kind = 'initial'), "
                                "count(*) FILTER (WHERE r.kind = 'complete') FROM "
                                "(SELECT incident_id FROM serious_incidents WHERE incident_id = $1 "
                                "FOR UPDATE) s LEFT JOIN serious_reports r USING (incident_id) "
                                "GROUP BY s.incident_id",
                                1, v, "reading the reports", err, errlen);
    if (!r)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        core_db_rollback(c);
        snprintf(err, errlen, "incident %s is not marked serious", f->incident_id);
        return 0;
    }
    bool has_initial = strcmp(PQgetvalue(r, 0, 0), "0") != 0,
         has_complete = strcmp(PQgetvalue(r, 0, 1), "0") != 0;
    PQclear(r);
    if ((initial && (has_initial || has_complete)) || (!initial && has_complete)) {
        core_db_rollback(c);
        snprintf(err, errlen, "%s", initial && has_complete
                                        ? "the complete report is filed already: an initial one "
                                          "comes before it"
                                        : initial ? "an initial report is filed already"
                                                  : "the complete report is filed already");
        return INC_SERIOUS_REFUSED;
    }
    const char *w[6] = {f->incident_id, f->kind, filed_by, ats, f->reference, f->actor};
    r = core_db_query(c,
                      "INSERT INTO serious_reports (incident_id, kind, filed_by, filed_at, "
                      "reference, recorded_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                      6, w, "recording the report", err, errlen);
    if (!r)
        goto fail;
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "report_id", (double)id);
    cJSON_AddStringToObject(d, "kind", f->kind);
    cJSON_AddStringToObject(d, "filed_by", filed_by);
    cJSON_AddStringToObject(d, "filed_at", ats);
    cJSON_AddStringToObject(d, "reference", f->reference);
    char note[1200];
    snprintf(note, sizeof note, "%s Art. 73 report filed by %s at %s, reference %s", f->kind,
             filed_by, ats, f->reference);
    int rc = record(c, f->incident_id, f->actor, "serious_report_filed", note, d, err, errlen);
    if (rc < 0 || core_db_commit(c, err, errlen) < 0)
        goto fail;
    return id;
fail:
    core_db_rollback(c);
    return -1;
}

/* The serious part of one incident as JSON (NULL when not serious). */
static const char *SQL_SERIOUS =
    "SELECT json_build_object('category', s.category, 'aware_at', change_feed_ts(s.aware_at), "
    "'deadline_at', change_feed_ts(s.deadline_at), "
    "'due_in_s', floor(extract(epoch FROM s.deadline_at - now()))::bigint, "
    "'marked_by', s.marked_by, 'marked_at', change_feed_ts(s.marked_at), "
    "'updated_at', change_feed_ts(s.updated_at), "
    "'notified_at', change_feed_ts(s.notified_at), "
    "'escalated_at', change_feed_ts(s.escalated_at), "
    "'reports', coalesce((SELECT json_agg(json_build_object('id', r.id, 'kind', r.kind, "
    "'filed_by', r.filed_by, 'filed_at', change_feed_ts(r.filed_at), 'reference', r.reference, "
    "'recorded_by', r.recorded_by, 'recorded_at', change_feed_ts(r.recorded_at)) ORDER BY r.id) "
    "FROM serious_reports r WHERE r.incident_id = s.incident_id), '[]'::json))::text "
    "FROM serious_incidents s WHERE s.incident_id = $1";

cJSON *inc_serious_get(PGconn *c, const char *incident_id, char *err, size_t errlen)
{
    err[0] = '\0';
    const char *v[1] = {incident_id};
    PGresult *r = core_db_query(c, SQL_SERIOUS, 1, v, "reading the serious incident", err, errlen);
    if (!r || PQntuples(r) == 0) {
        PQclear(r);
        return NULL;
    }
    cJSON *o = cJSON_Parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!o) {
        snprintf(err, errlen, "reading the serious incident: unreadable JSON");
        return NULL;
    }
    int cat = inc_serious_category_parse(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "category")));
    if (cat >= 0) {
        cJSON_AddStringToObject(o, "article", k_cat[cat].article);
        cJSON_AddStringToObject(o, "category_label", k_cat[cat].label);
        cJSON_AddNumberToObject(o, "deadline_days", k_cat[cat].days);
    }
    /* Where it stands: a report filed (initial or complete) meets the
     * deadline (73(5): an initial report may come first). */
    const char *state = "report_due";
    bool complete = false, initial = false;
    cJSON *rep;
    cJSON_ArrayForEach(rep, cJSON_GetObjectItemCaseSensitive(o, "reports"))
    {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rep, "kind"));
        complete |= k && strcmp(k, "complete") == 0;
        initial |= k && strcmp(k, "initial") == 0;
    }
    cJSON *due = cJSON_GetObjectItemCaseSensitive(o, "due_in_s");
    if (complete)
        state = "complete_report_filed";
    else if (initial)
        state = "initial_report_filed";
    else if (cJSON_IsNumber(due) && due->valuedouble < 0)
        state = "overdue";
    cJSON_AddStringToObject(o, "state", state);
    return o;
}

int inc_serious_attach(PGconn *c, cJSON *incident, const char *incident_id, char *err,
                       size_t errlen)
{
    cJSON *s = inc_serious_get(c, incident_id, err, errlen);
    if (!s && err[0])
        return -1;
    cJSON_AddItemToObject(incident, "serious", s ? s : cJSON_CreateNull());
    return 0;
}

/* ---- the deadline check ---- */

/* Raises what is due of one kind: near (notify) or passed (escalate), for
 * serious incidents with no report filed, each once (the column is set in
 * the transaction that raises it; rows another checker holds are skipped). */
static int raise_due(PGconn *c, bool passed, int64_t notify_before_ms, char *err, size_t errlen)
{
    char before[32];
    snprintf(before, sizeof before, "%" PRId64, notify_before_ms);
    const char *v[1] = {before};
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    PGresult *r = core_db_query(
        c,
        passed ? "SELECT s.incident_id, s.category, change_feed_ts(s.deadline_at), "
                 "floor(extract(epoch FROM now() - s.deadline_at))::bigint "
                 "FROM serious_incidents s WHERE s.escalated_at IS NULL AND s.deadline_at <= now() "
                 "AND $1::bigint >= 0 "
                 "AND NOT EXISTS (SELECT 1 FROM serious_reports r WHERE r.incident_id = "
                 "s.incident_id) ORDER BY s.deadline_at LIMIT 100 FOR UPDATE SKIP LOCKED"
               : "SELECT s.incident_id, s.category, change_feed_ts(s.deadline_at), "
                 "floor(extract(epoch FROM s.deadline_at - now()))::bigint "
                 "FROM serious_incidents s WHERE s.notified_at IS NULL AND s.escalated_at IS NULL "
                 "AND s.deadline_at - $1::bigint * interval '1 millisecond' <= now() "
                 "AND s.deadline_at > now() "
                 "AND NOT EXISTS (SELECT 1 FROM serious_reports r WHERE r.incident_id = "
                 "s.incident_id) ORDER BY s.deadline_at LIMIT 100 FOR UPDATE SKIP LOCKED",
        1, v, "reading the serious incidents due", err, errlen);
    if (!r)
        goto fail;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(r, i, 0);
        int cat = inc_serious_category_parse(PQgetvalue(r, i, 1));
        const char *due = PQgetvalue(r, i, 2);
        long long secs = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        const char *u[1] = {id};
        if (core_db_exec_params(c,
                                passed ? "UPDATE serious_incidents SET escalated_at = now() "
                                         "WHERE incident_id = $1"
                                       : "UPDATE serious_incidents SET notified_at = now() "
                                         "WHERE incident_id = $1",
                                1, u, "marking the deadline raised", err, errlen) < 0)
            goto fail_r;
        char note[400];
        const char *art = cat >= 0 ? k_cat[cat].article : "?";
        if (passed)
            snprintf(note, sizeof note,
                     "ESCALATION: the Art. %s report of this serious incident was due %s and no "
                     "report is filed (%lld s overdue)", art, due, secs);
        else
            snprintf(note, sizeof note,
                     "the Art. %s report of this serious incident is due %s (in %lld s) and no "
                     "report is filed yet", art, due, secs);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "category", PQgetvalue(r, i, 1));
        cJSON_AddStringToObject(d, "deadline_at", due);
        cJSON_AddNumberToObject(d, passed ? "overdue_s" : "due_in_s", (double)secs);
        int rc = record(c, id, "custos:art73",
                        passed ? "serious_deadline_passed" : "serious_deadline_near", note, d, err,
                        errlen);
        if (rc < 0)
            goto fail_r;
        char q[300];
        core_log(passed ? CORE_LOG_ERROR : CORE_LOG_WARN, "incidents",
                 passed ? "serious incident report overdue" : "serious incident report due soon",
                 "incident=%s deadline=%s", core_log_quote(q, sizeof q, id), due);
    }
    PQclear(r);
    if (core_db_commit(c, err, errlen) < 0)
        goto fail;
    return n;
fail_r:
    PQclear(r);
fail:
    core_db_rollback(c);
    return -1;
}

int inc_serious_check(PGconn *c, int64_t notify_before_ms, int *notified, int *escalated,
                      char *err, size_t errlen)
{
    *notified = *escalated = 0;
    /* Passed first: an incident whose deadline went by while nothing ran
     * is escalated, not notified after the fact. */
    for (int n; (n = raise_due(c, true, notify_before_ms, err, errlen)) != 0; *escalated += n)
        if (n < 0)
            return -1;
    for (int n; (n = raise_due(c, false, notify_before_ms, err, errlen)) != 0; *notified += n)
        if (n < 0)
            return -1;
    return 0;
}

/* ---- the preservation gate's question ---- */

cJSON *inc_serious_touching(PGconn *c, const char *incident_id, const char *model, char *err,
                            size_t errlen)
{
    const char *v[2] = {incident_id && *incident_id ? incident_id : NULL, model};
    PGresult *r = core_db_query(
        c,
        "SELECT s.incident_id FROM serious_incidents s JOIN incidents i USING (incident_id) "
        "WHERE s.incident_id = $1 OR (i.model = $2 AND i.status NOT IN ('closed', 'resolved')) "
        "ORDER BY s.incident_id LIMIT 50",
        2, v, "reading the serious incidents of the action", err, errlen);
    if (!r)
        return NULL;
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < PQntuples(r); i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(PQgetvalue(r, i, 0)));
    PQclear(r);
    if (!a)
        snprintf(err, errlen, "out of memory");
    return a;
}
