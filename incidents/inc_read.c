/* The read queries the CLI, the console's API and the auditors call: one
 * page of incidents (filters, keyset pagination with an opaque cursor),
 * counts by status, and one incident with everything about it. The SQL is
 * fixed text with numbered parameters; a filter adds a fixed fragment,
 * never input. PostgreSQL builds the JSON (json_build_object), so what the
 * columns hold reaches the caller exactly. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "incidents/incidents.h"

#define LIST_LIMIT_MAX 500
#define SECTION_MAX 1000  /* rows per section of one incident (alerts, events...) */
#define TIMELINE_MAX 2000
#define FILTER_MAX 256    /* bytes of one filter value */
#define PARAMS_MAX 20

/* Timestamps as core_ts_format writes them (microseconds, UTC, Z). */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* ---- the cursor: "c1" and the hex of "<detected_at us>:<incident_id>" ---- */

#define CURSOR_ID_MAX 64

static void cursor_make(int64_t us, const char *id, char *out, size_t outlen)
{
    char raw[32 + CURSOR_ID_MAX];
    int n = snprintf(raw, sizeof raw, "%" PRId64 ":%s", us, id);
    size_t o = (size_t)snprintf(out, outlen, "c1");
    for (int i = 0; i < n && o + 3 <= outlen; i++, o += 2)
        snprintf(out + o, 3, "%02x", (unsigned char)raw[i]);
}

static bool id_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* Parses a cursor; false when it is not one this code made. */
static bool cursor_parse(const char *c, int64_t *us, char id[CURSOR_ID_MAX + 1])
{
    size_t len = strlen(c);
    if (len < 6 || len > 2 + 2 * (21 + CURSOR_ID_MAX) || strncmp(c, "c1", 2) || len % 2)
        return false;
    char raw[32 + CURSOR_ID_MAX];
    size_t n = 0;
    for (size_t i = 2; i < len; i += 2) {
        unsigned v;
        if (!isxdigit((unsigned char)c[i]) || !isxdigit((unsigned char)c[i + 1]) ||
            sscanf(c + i, "%2x", &v) != 1 || v == 0)
            return false;
        raw[n++] = (char)v;
    }
    raw[n] = '\0';
    char *colon = strchr(raw, ':'), *end;
    if (!colon || colon == raw)
        return false;
    *colon = '\0';
    long long v = strtoll(raw, &end, 10);
    if (*end || (raw[0] != '-' && !isdigit((unsigned char)raw[0])))
        return false;
    const char *s = colon + 1;
    size_t idlen = strlen(s);
    if (idlen == 0 || idlen > CURSOR_ID_MAX)
        return false;
    for (size_t i = 0; i < idlen; i++)
        if (!id_char(s[i]))
            return false;
    *us = v;
    memcpy(id, s, idlen + 1);
    return true;
}

/* ---- filters ---- */

typedef struct {
    char sql[2048];
    const char *p[PARAMS_MAX];
    char num[4][24]; /* text of numeric parameters */
    int n, nnum;
} query;

/* Appends pre, the next parameter's $n (value), then post (fixed text). */
static int add2(query *q, const char *pre, const char *value, const char *post)
{
    if (q->n >= PARAMS_MAX)
        return -1;
    q->p[q->n++] = value;
    size_t len = strlen(q->sql);
    int w = snprintf(q->sql + len, sizeof q->sql - len, "%s$%d%s", pre, q->n, post);
    return w < 0 || (size_t)w >= sizeof q->sql - len ? -1 : 0;
}

static int add(query *q, const char *pre, const char *value) { return add2(q, pre, value, ""); }

static const char *num(query *q, int64_t v)
{
    snprintf(q->num[q->nnum], sizeof q->num[0], "%" PRId64, v);
    return q->num[q->nnum++];
}

static bool word(const char *s) /* a status: lowercase letters and '_' */
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
            return false;
    return true;
}

/* Appends the WHERE fragments of f. -1 with err on a bad value. */
static int where(query *q, const inc_filter *f, char *err, size_t errlen)
{
    const char *vals[] = {f->api_key_id, f->tenant, f->model, f->model_version, f->assignee,
                          f->text, f->status};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        if (vals[i] && strlen(vals[i]) > FILTER_MAX) {
            snprintf(err, errlen, "a filter value is longer than %d bytes", FILTER_MAX);
            return -1;
        }
    if (f->status && !word(f->status)) {
        snprintf(err, errlen, "status '%.64s' is not a status word", f->status);
        return -1;
    }
    if (f->type && inc_type_parse(f->type) < 0) {
        snprintf(err, errlen, "unknown type '%.64s' (extraction, probing, drift, leakage, flood)",
                 f->type);
        return -1;
    }
    if (f->severity && inc_severity_parse(f->severity) < 0) {
        snprintf(err, errlen, "unknown severity '%.64s' (low, medium, high, critical)",
                 f->severity);
        return -1;
    }
    if (f->disposition && *f->disposition && inc_disposition_parse(f->disposition) < 0) {
        snprintf(err, errlen,
                 "unknown disposition '%.64s' (true_positive, false_positive, benign, duplicate)",
                 f->disposition);
        return -1;
    }
    if (f->since_us && f->until_us && f->since_us > f->until_us) {
        snprintf(err, errlen, "since is after until");
        return -1;
    }
    int rc = 0;
    if (f->status)
        rc |= add(q, " AND status = ", f->status);
    if (f->type)
        rc |= add(q, " AND type = ", f->type);
    if (f->severity) /* the vocabulary's spelling: parse is case-insensitive */
        rc |= add(q, " AND severity = ",
                  inc_severity_name((inc_severity)inc_severity_parse(f->severity)));
    if (f->disposition && *f->disposition)
        rc |= add(q, " AND disposition = ", f->disposition);
    else if (f->disposition) /* "": not yet decided */
        strncat(q->sql, " AND disposition IS NULL", sizeof q->sql - strlen(q->sql) - 1);
    if (f->api_key_id)
        rc |= add(q, " AND api_key_id = ", f->api_key_id);
    if (f->tenant)
        rc |= add(q, " AND tenant = ", f->tenant);
    if (f->model)
        rc |= add(q, " AND model = ", f->model);
    if (f->model_version)
        rc |= add(q, " AND model_version = ", f->model_version);
    if (f->assignee)
        rc |= add(q, " AND assignee = ", f->assignee);
    if (f->text)
        rc |= add2(q, " AND strpos(lower(summary), lower(", f->text, ")) > 0");
    if (f->since_us)
        rc |= add2(q, " AND detected_at >= 'epoch'::timestamptz + ", num(q, f->since_us),
                   "::bigint * interval '1 microsecond'");
    if (f->until_us)
        rc |= add2(q, " AND detected_at < 'epoch'::timestamptz + ", num(q, f->until_us),
                   "::bigint * interval '1 microsecond'");
    if (rc) {
        snprintf(err, errlen, "too many filters");
        return -1;
    }
    return 0;
}

#define LIST_COLUMNS                                                                          \
    "json_build_object('incident_id', incident_id, 'type', type, 'severity', severity, "     \
    "'status', status, 'disposition', disposition, 'assignee', assignee, 'tenant', tenant, " \
    "'api_key_id', api_key_id, 'model', model, 'model_version', model_version, "             \
    "'first_seen', " TS("first_seen") ", 'detected_at', " TS("detected_at") ", "             \
    "'last_seen', " TS("last_seen") ", 'alert_count', alerts, 'atlas', atlas, 'owasp', owasp, "   \
    "'summary', summary, 'closed_at', " TS("closed_at") ", 'closed_by', closed_by, "        \
    "'updated_at', " TS("updated_at") ")::text"

int inc_filter_check(const inc_filter *f, char *err, size_t errlen)
{
    if (f->limit < 1 || f->limit > LIST_LIMIT_MAX) {
        snprintf(err, errlen, "limit must be 1 to %d", LIST_LIMIT_MAX);
        return -1;
    }
    query q = {.sql = "SELECT 1 FROM incidents WHERE true"};
    if (where(&q, f, err, errlen) < 0)
        return -1;
    char cid[CURSOR_ID_MAX + 1];
    int64_t cus = 0;
    if (f->cursor && !cursor_parse(f->cursor, &cus, cid)) {
        snprintf(err, errlen, "bad cursor: pass next_cursor from the previous page as it is");
        return -1;
    }
    return 0;
}

cJSON *inc_list(PGconn *c, const inc_filter *f, char *err, size_t errlen)
{
    if (f->limit < 1 || f->limit > LIST_LIMIT_MAX) {
        snprintf(err, errlen, "limit must be 1 to %d", LIST_LIMIT_MAX);
        return NULL;
    }
    query q = {.sql = "SELECT " LIST_COLUMNS ", " US("detected_at") ", incident_id "
                      "FROM incidents WHERE true"};
    if (where(&q, f, err, errlen) < 0)
        return NULL;
    char cid[CURSOR_ID_MAX + 1];
    int64_t cus = 0;
    if (f->cursor) {
        if (!cursor_parse(f->cursor, &cus, cid)) {
            snprintf(err, errlen, "bad cursor: pass next_cursor from the previous page as it is");
            return NULL;
        }
        const char *us = num(&q, cus);
        q.p[q.n] = us;
        q.p[q.n + 1] = cid;
        q.n += 2;
        size_t len = strlen(q.sql);
        snprintf(q.sql + len, sizeof q.sql - len,
                 " AND (detected_at, incident_id) < ('epoch'::timestamptz + $%d::bigint * "
                 "interval '1 microsecond', $%d)",
                 q.n - 1, q.n);
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", f->limit + 1); /* one more: is there a next page? */
    if (add(&q, " ORDER BY detected_at DESC, incident_id DESC LIMIT ", lim) < 0) {
        snprintf(err, errlen, "too many filters");
        return NULL;
    }
    PGresult *r = core_db_query(c, q.sql, q.n, q.p, "listing incidents", err, errlen);
    if (!r)
        return NULL;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "incidents");
    int rows = PQntuples(r), shown = rows > f->limit ? f->limit : rows;
    for (int i = 0; i < shown; i++)
        cJSON_AddItemToArray(arr, cJSON_Parse(PQgetvalue(r, i, 0)));
    if (rows > f->limit) {
        char cur[2 + 2 * (32 + CURSOR_ID_MAX) + 1];
        cursor_make(strtoll(PQgetvalue(r, shown - 1, 1), NULL, 10), PQgetvalue(r, shown - 1, 2),
                    cur, sizeof cur);
        cJSON_AddStringToObject(out, "next_cursor", cur);
    } else {
        cJSON_AddNullToObject(out, "next_cursor");
    }
    PQclear(r);
    return out;
}

cJSON *inc_counts_by_status(PGconn *c, const inc_filter *f, char *err, size_t errlen)
{
    query q = {.sql = "SELECT status, count(*) FROM incidents WHERE true"};
    if (where(&q, f, err, errlen) < 0)
        return NULL;
    strncat(q.sql, " GROUP BY status ORDER BY status", sizeof q.sql - strlen(q.sql) - 1);
    PGresult *r = core_db_query(c, q.sql, q.n, q.p, "counting incidents", err, errlen);
    if (!r)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    for (int i = 0; i < PQntuples(r); i++)
        cJSON_AddNumberToObject(out, PQgetvalue(r, i, 0),
                                (double)strtoll(PQgetvalue(r, i, 1), NULL, 10));
    PQclear(r);
    return out;
}

/* ---- one incident ---- */

/* One JSON value (the query's single text cell), parsed; NULL with err. */
static cJSON *json_cell(PGconn *c, const char *sql, int n, const char *const *p,
                        const char *what, char *err, size_t errlen)
{
    PGresult *r = core_db_query(c, sql, n, p, what, err, errlen);
    if (!r)
        return NULL;
    cJSON *v = PQntuples(r) && !PQgetisnull(r, 0, 0) ? cJSON_Parse(PQgetvalue(r, 0, 0))
                                                     : cJSON_CreateArray();
    PQclear(r);
    if (!v)
        snprintf(err, errlen, "%s: unreadable JSON from the database", what);
    return v;
}

/* Adds section name (a JSON array) to o, cut to max with name_truncated. */
static int section(cJSON *o, const char *name, cJSON *arr, int max)
{
    if (!arr)
        return -1;
    bool cut = cJSON_GetArraySize(arr) > max;
    while (cJSON_GetArraySize(arr) > max)
        cJSON_DeleteItemFromArray(arr, max);
    cJSON_AddItemToObject(o, name, arr);
    if (cut) {
        char key[64];
        snprintf(key, sizeof key, "%s_truncated", name);
        cJSON_AddTrueToObject(o, key);
    }
    return 0;
}

#define LIMIT_1001 " LIMIT 1001"

static const char *SQL_INCIDENT =
    "SELECT json_build_object('incident_id', incident_id, 'type', type, 'severity', severity, "
    "'status', status, 'status_by', status_by, 'disposition', disposition, 'assignee', "
    "assignee, 'tenant', tenant, 'api_key_id', api_key_id, 'model', model, 'model_version', "
    "model_version, 'first_seen', " TS("first_seen") ", 'detected_at', " TS("detected_at") ", "
    "'last_seen', " TS("last_seen") ", 'alert_count', alerts, 'atlas', atlas, 'owasp', owasp, "
    "'summary', summary, 'closed_at', " TS("closed_at") ", 'closed_by', closed_by, "
    "'close_reason', close_reason, 'created_at', " TS("created_at") ", 'updated_at', "
    TS("updated_at") ", 'doc', doc)::text FROM incidents WHERE incident_id = $1";

/* A coalesced row (past the incident's first analytics.alert_rows_per_incident
 * alerts) stands for count alerts, the first at at (its event_id, summary
 * and evidence), the last at last_at, the incident's alert numbers
 * first_seq..last_seq; a single alert has count 1, null last_at and its
 * number in both (null before schema 16). */
static const char *SQL_ALERTS =
    "SELECT coalesce(json_agg(a ORDER BY a.ts, a.id), '[]')::text FROM (SELECT id, type, "
    "severity, " TS("ts") " AS at, ts, event_id, api_key_id, model, model_version, summary, "
    "evidence, count, " TS("last_ts") " AS last_at, first_seq, last_seq FROM alerts WHERE "
    "incident_id = $1 ORDER BY ts, id" LIMIT_1001 ") a";

/* The interactions row is found by (event_id, ts): its daily partition. */
static const char *SQL_EVENTS =
    "SELECT coalesce(json_agg(s.x ORDER BY s.ord), '[]')::text FROM (SELECT e.ts AS ord, "
    "jsonb_build_object('event_id', e.event_id, 'ts', " TS("e.ts") ", 'api_key_id', "
    "e.api_key_id, 'stored', i.event_id IS NOT NULL, 'model', i.model, 'model_version', "
    "i.model_version, 'tenant', i.tenant, 'user_id', i.user_id, 'status', i.status, "
    "'finish_reason', i.finish_reason, 'refusal', i.refusal, 'prompt_tokens', "
    "i.prompt_tokens, 'completion_tokens', i.completion_tokens) || CASE WHEN $2::boolean "
    "THEN jsonb_build_object('prompt', i.prompt, 'response', i.response, 'prompt_truncated', "
    "i.prompt_truncated, 'response_truncated', i.response_truncated) ELSE '{}'::jsonb END "
    "AS x FROM incident_events e LEFT JOIN LATERAL (SELECT * FROM interactions i WHERE "
    "i.event_id = e.event_id AND i.ts = e.ts LIMIT 1) i ON true WHERE e.incident_id = $1 "
    "ORDER BY e.ts, e.event_id" LIMIT_1001 ") s(ord, x)";

static const char *SQL_ACTIONS =
    "SELECT coalesce(json_agg(a ORDER BY a.id), '[]')::text FROM (SELECT id, playbook, kind, "
    "subject, params, state, dry_run, approval_required, actor, " TS("created_at")
    " AS created_at, " TS("decided_at") " AS decided_at, decided_by, decision_reason, "
    TS("finished_at") " AS finished_at, error, result FROM actions WHERE incident_id = $1 "
    "ORDER BY id" LIMIT_1001 ") a";

static const char *SQL_UPDATES =
    "SELECT coalesce(json_agg(u ORDER BY u.id), '[]')::text FROM (SELECT id, action_id, "
    "status, severity, disposition, assignee, note, actor, " TS("at") " AS at FROM "
    "incident_updates WHERE incident_id = $1 ORDER BY at, id" LIMIT_1001 ") u";

static const char *SQL_COMMENTS =
    "SELECT coalesce(json_agg(c ORDER BY c.id), '[]')::text FROM (SELECT id, actor, body, "
    TS("at") " AS at FROM incident_comments WHERE incident_id = $1 ORDER BY at, id"
    LIMIT_1001 ") c";

/* Everything that happened, by time; ties in a fixed order (ord). A
 * coalesced alert row also gives its count and last_at, so that the console
 * can show the last time in the reader's time zone (what says it in UTC,
 * for the CLI and the exports). */
static const char *SQL_TIMELINE =
    "SELECT coalesce(json_agg(jsonb_build_object('at', " TS("t.at") ", 'kind', t.kind, "
    "'actor', t.actor, 'what', t.what) || CASE WHEN t.last_at IS NOT NULL THEN "
    "jsonb_build_object('count', t.count, 'last_at', " TS("t.last_at") ") ELSE '{}'::jsonb "
    "END ORDER BY t.at, t.ord, t.id), '[]')::text FROM ("
    "SELECT detected_at AS at, 0 AS ord, 0::bigint AS id, 'detected' AS kind, 'detector' AS "
    "actor, type || ' ' || severity || ': ' || summary AS what, NULL::timestamptz AS last_at, "
    "NULL::integer AS count FROM incidents WHERE incident_id = $1 "
    "UNION ALL SELECT ts, 1, id, 'alert', 'detector', severity || ': ' || summary || CASE WHEN "
    "last_ts IS NOT NULL THEN ' (' || CASE WHEN count > 1 THEN count || ' alerts coalesced, "
    "the last at ' || " TS("last_ts") " ELSE '1 alert coalesced' END || ')' ELSE '' END, "
    "CASE WHEN count > 1 THEN last_ts END, CASE WHEN count > 1 THEN count END FROM alerts "
    "WHERE incident_id = $1 "
    "UNION ALL SELECT created_at, 2, id, 'action_proposed', actor, kind || ' ' || subject || "
    "' (action ' || id || ')', NULL, NULL FROM actions WHERE incident_id = $1 "
    "UNION ALL SELECT decided_at, 3, id, 'action_decided', decided_by, state || ' (action ' || "
    "id || ')' || coalesce(': ' || decision_reason, ''), NULL, NULL FROM actions WHERE "
    "incident_id = $1 AND decided_at IS NOT NULL "
    "UNION ALL SELECT finished_at, 4, id, 'action_finished', actor, state || ' (action ' || id "
    "|| ')' || coalesce(': ' || error, ''), NULL, NULL FROM actions WHERE incident_id = $1 AND "
    "finished_at IS NOT NULL "
    "UNION ALL SELECT at, 5, id, 'update', actor, concat_ws(', ', 'status ' || status, "
    "'severity ' || severity, 'disposition ' || disposition, 'assignee ' || assignee, note), "
    "NULL, NULL FROM incident_updates WHERE incident_id = $1 "
    "UNION ALL SELECT at, 6, id, 'comment', actor, body, NULL, NULL FROM incident_comments "
    "WHERE incident_id = $1 "
    "ORDER BY 1, 2, 3 LIMIT 2001) t";

cJSON *inc_get(PGconn *c, const char *incident_id, bool with_content, bool *found, char *err,
               size_t errlen)
{
    *found = false;
    if (err && errlen)
        err[0] = '\0';
    if (!incident_id || !*incident_id || strlen(incident_id) > FILTER_MAX) {
        snprintf(err, errlen, "bad incident id");
        return NULL;
    }
    const char *p[2] = {incident_id, with_content ? "true" : "false"};
    PGresult *r = core_db_query(c, SQL_INCIDENT, 1, p, "reading the incident", err, errlen);
    if (!r)
        return NULL;
    if (!PQntuples(r)) {
        PQclear(r);
        return NULL;
    }
    *found = true;
    cJSON *o = cJSON_Parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!o) {
        snprintf(err, errlen, "reading the incident: unreadable JSON");
        return NULL;
    }
    struct {
        const char *name, *sql, *what;
        int nparams, max;
    } sec[] = {
        {"alerts", SQL_ALERTS, "reading the alerts", 1, SECTION_MAX},
        {"events", SQL_EVENTS, "reading the evidence events", 2, SECTION_MAX},
        {"actions", SQL_ACTIONS, "reading the actions", 1, SECTION_MAX},
        {"updates", SQL_UPDATES, "reading the updates", 1, SECTION_MAX},
        {"comments", SQL_COMMENTS, "reading the comments", 1, SECTION_MAX},
        {"timeline", SQL_TIMELINE, "reading the timeline", 1, TIMELINE_MAX},
    };
    for (size_t i = 0; i < sizeof sec / sizeof sec[0]; i++)
        if (section(o, sec[i].name,
                    json_cell(c, sec[i].sql, sec[i].nparams, p, sec[i].what, err, errlen),
                    sec[i].max) < 0) {
            cJSON_Delete(o);
            return NULL;
        }
    if (inc_serious_attach(c, o, incident_id, err, errlen) < 0) { /* Art. 73 (inc_serious.c) */
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
