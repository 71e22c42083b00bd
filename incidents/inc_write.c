/* Writing incidents: the detector's upsert, alerts and evidence links (in
 * the analytics' batch transaction), and the changes of playbooks and
 * analysts, each with its incident_updates row and audit row. Every write
 * reads the stored row under a row lock, asks inc_rule.c what the result is
 * and writes that: the status rule is decided in one place. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "core/event.h"
#include "incidents/incidents.h"

#define COMMENT_MAX 10000 /* bytes, as incident_comments checks */
#define ACTOR_MAX 200

/* An actor or assignee: printed and logged, so bounded and one line. */
static bool identifier(const char *s)
{
    size_t n = strlen(s);
    return n <= ACTOR_MAX && core_text_control_at(s, n) < 0;
}

/* The stored row as the rule reads it, plus what a change reports. */
typedef struct {
    inc_state st;
    char status_word[65]; /* the stored status text (a playbook's word may be outside the enum) */
    char assignee[201];
    bool has_assignee;
} stored_row;

void inc_state_from_row(const PGresult *r, int row, int col, inc_state *st)
{
    memset(st, 0, sizeof *st);
    st->status = inc_status_parse(PQgetvalue(r, row, col));
    int sev = inc_severity_parse(PQgetvalue(r, row, col + 1));
    st->severity = sev < 0 ? INC_LOW : (inc_severity)sev;
    int d = inc_disposition_parse(PQgetvalue(r, row, col + 2));
    st->disposition = d < 0 ? INC_DISP_NONE : (inc_disposition)d;
    st->by_detector = PQgetvalue(r, row, col + 3)[0] == 't';
}

/* Reads and locks incident_id. Returns 1 found, 0 not, -1 with err. */
static int read_locked(PGconn *c, const char *incident_id, stored_row *s, char *err, size_t errlen)
{
    const char *v[] = {incident_id};
    PGresult *r = core_db_query(c,
                                "SELECT status, severity, coalesce(disposition, ''), "
                                "status_by IS NULL AND status IN ('open', 'closed'), assignee "
                                "FROM incidents WHERE incident_id = $1 FOR UPDATE",
                                1, v, "reading the incident", err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    memset(s, 0, sizeof *s);
    snprintf(s->status_word, sizeof s->status_word, "%s", PQgetvalue(r, 0, 0));
    inc_state_from_row(r, 0, 0, &s->st);
    s->has_assignee = !PQgetisnull(r, 0, 4);
    if (s->has_assignee)
        snprintf(s->assignee, sizeof s->assignee, "%s", PQgetvalue(r, 0, 4));
    PQclear(r);
    return 1;
}

static const char *SQL_INSERT =
    "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, "
    "model_version, first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc, "
    "tenant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
    "ON CONFLICT (incident_id) DO NOTHING";
static const char *SQL_UPDATE =
    "UPDATE incidents SET status = $2, severity = $3, first_seen = $4, last_seen = $5, "
    "alerts = $6, atlas = $7, owasp = $8, summary = $9, doc = $10, "
    "tenant = coalesce(tenant, $11), updated_at = now() WHERE incident_id = $1";

int inc_upsert_detected(PGconn *c, const inc_record *r, char *err, size_t errlen)
{
    if (!r->incident_id || !r->doc_json || (unsigned)r->type >= INC_TYPE_COUNT ||
        (unsigned)r->severity >= INC_SEVERITY_COUNT ||
        (r->status != INC_OPEN && r->status != INC_CLOSED)) {
        snprintf(err, errlen, "incident record: missing id or doc, or a value out of range");
        return -1;
    }
    char first[40], det[40], last[40], alerts[24];
    core_ts_format(r->first_seen_us, first, sizeof first);
    core_ts_format(r->detected_at_us, det, sizeof det);
    core_ts_format(r->last_seen_us, last, sizeof last);
    snprintf(alerts, sizeof alerts, "%" PRId64, r->alerts);
    const char *atlas = r->atlas_array ? r->atlas_array : "{}";
    const char *owasp = r->owasp_array ? r->owasp_array : "{}";
    const char *summary = r->summary ? r->summary : "";
    stored_row s;
    int found = read_locked(c, r->incident_id, &s, err, errlen);
    if (found < 0)
        return -1;
    if (!found) {
        inc_state next;
        inc_rule_detected(NULL, r->status, r->severity, &next);
        const char *v[16] = {r->incident_id,
                             inc_type_name(r->type),
                             inc_severity_name(next.severity),
                             inc_status_name(next.status),
                             r->api_key_id,
                             r->model,
                             r->model_version,
                             first,
                             det,
                             last,
                             alerts,
                             atlas,
                             owasp,
                             summary,
                             r->doc_json,
                             r->tenant};
        long long n =
            core_db_exec_params(c, SQL_INSERT, 16, v, "storing the incident", err, errlen);
        if (n < 0)
            return -1;
        if (n == 1)
            return 0;
        /* another writer inserted it meanwhile: update it as stored */
        if ((found = read_locked(c, r->incident_id, &s, err, errlen)) <= 0) {
            if (!found)
                snprintf(err, errlen, "incident %s vanished while being stored", r->incident_id);
            return -1;
        }
    }
    inc_state next;
    inc_rule_detected(&s.st, r->status, r->severity, &next);
    /* a status outside the vocabulary (a playbook's own word) stays as stored */
    const char *status =
        next.status >= 0 ? inc_status_name((inc_status)next.status) : s.status_word;
    const char *v[11] = {r->incident_id, status,   inc_severity_name(next.severity),
                         first,          last,     alerts,
                         atlas,          owasp,    summary,
                         r->doc_json,    r->tenant};
    return core_db_exec_params(c, SQL_UPDATE, 11, v, "updating the incident", err, errlen) < 0 ? -1
                                                                                               : 0;
}

int inc_alert_insert(PGconn *c, const inc_alert *a, char *err, size_t errlen)
{
    if (!a->event_id || (unsigned)a->type >= INC_TYPE_COUNT ||
        (unsigned)a->severity >= INC_SEVERITY_COUNT) {
        snprintf(err, errlen, "alert: missing event id, or a value out of range");
        return -1;
    }
    char ts[40];
    core_ts_format(a->ts_us, ts, sizeof ts);
    const char *summary = a->summary ? a->summary : "";
    const char *evidence = a->evidence_json ? a->evidence_json : "{}";
    if (!a->incident_id) { /* a weak signal alone: (event_id, type) identifies it */
        const char *v[9] = {inc_type_name(a->type),
                            inc_severity_name(a->severity),
                            ts,
                            a->event_id,
                            a->api_key_id,
                            a->model,
                            a->model_version,
                            summary,
                            evidence};
        return core_db_exec_params(
                   c,
                   "INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, "
                   "model, model_version, summary, evidence) VALUES (NULL, $1, $2, $3, $4, $5, "
                   "$6, $7, $8, $9) ON CONFLICT (event_id, type) WHERE incident_id IS NULL DO "
                   "NOTHING",
                   9, v, "storing the alert", err, errlen) < 0
                   ? -1
                   : 0;
    }
    const char *v[10] = {a->incident_id,
                         inc_type_name(a->type),
                         inc_severity_name(a->severity),
                         ts,
                         a->event_id,
                         a->api_key_id,
                         a->model,
                         a->model_version,
                         summary,
                         evidence};
    return core_db_exec_params(c,
                               "INSERT INTO alerts (incident_id, type, severity, ts, event_id, "
                               "api_key_id, model, model_version, summary, evidence) VALUES ($1, "
                               "$2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (incident_id, "
                               "event_id, type) WHERE first_seq IS NULL DO NOTHING",
                               10, v, "storing the alert", err, errlen) < 0
               ? -1
               : 0;
}

int inc_link_event(PGconn *c, const char *incident_id, const char *event_id, int64_t ts_us,
                   const char *api_key_id, char *err, size_t errlen)
{
    if (!incident_id || !event_id) {
        snprintf(err, errlen, "evidence link: missing incident or event id");
        return -1;
    }
    char ts[40];
    core_ts_format(ts_us, ts, sizeof ts);
    const char *v[4] = {incident_id, event_id, ts, api_key_id};
    return core_db_exec_params(c,
                               "INSERT INTO incident_events (incident_id, event_id, ts, "
                               "api_key_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                               4, v, "linking the evidence", err, errlen) < 0
               ? -1
               : 0;
}

/* The audit detail of a change: before, after, reason (a JSON object). */
static char *change_detail(const stored_row *s, const inc_state *next, const char *next_status,
                           const inc_change *ch)
{
    cJSON *o = cJSON_CreateObject(), *b = cJSON_AddObjectToObject(o, "before"),
          *a = cJSON_AddObjectToObject(o, "after");
    cJSON_AddStringToObject(b, "status", s->status_word);
    cJSON_AddStringToObject(b, "severity", inc_severity_name(s->st.severity));
    cJSON_AddStringToObject(b, "disposition", inc_disposition_name(s->st.disposition));
    if (s->has_assignee)
        cJSON_AddStringToObject(b, "assignee", s->assignee);
    else
        cJSON_AddNullToObject(b, "assignee");
    cJSON_AddStringToObject(a, "status", next_status);
    cJSON_AddStringToObject(a, "severity", inc_severity_name(next->severity));
    cJSON_AddStringToObject(a, "disposition", inc_disposition_name(next->disposition));
    const char *asg = ch->assignee ? ch->assignee : (s->has_assignee ? s->assignee : NULL);
    if (asg && *asg)
        cJSON_AddStringToObject(a, "assignee", asg);
    else
        cJSON_AddNullToObject(a, "assignee");
    if (ch->reason)
        cJSON_AddStringToObject(o, "reason", ch->reason);
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}

static const char *SQL_CHANGE =
    "UPDATE incidents SET status = $2, severity = $3, disposition = NULLIF($4, ''), "
    "assignee = CASE WHEN $5::boolean THEN NULLIF($6, '') ELSE assignee END, "
    "status_by = coalesce($7, status_by), "
    "closed_at = CASE $8 WHEN 'close' THEN now() WHEN 'reopen' THEN NULL ELSE closed_at END, "
    "closed_by = CASE $8 WHEN 'close' THEN $9 WHEN 'reopen' THEN NULL ELSE closed_by END, "
    "close_reason = CASE $8 WHEN 'close' THEN $10 WHEN 'reopen' THEN NULL ELSE close_reason END, "
    "updated_at = now() WHERE incident_id = $1";

/* Writes an applied change: the row, its incident_updates row, its audit row. */
static int write_change(PGconn *c, const inc_change *ch, const stored_row *s, const inc_state *next,
                        char *err, size_t errlen)
{
    const char *status =
        next->status >= 0 ? inc_status_name((inc_status)next->status) : s->status_word;
    const char *closing = "keep";
    if (ch->status >= 0 && inc_status_is_closing(ch->status))
        closing = "close";
    else if (ch->status >= 0 && inc_status_is_closing(s->st.status))
        closing = "reopen";
    char action[24];
    snprintf(action, sizeof action, "%" PRId64, ch->action_id);
    const char *v[10] = {ch->incident_id,
                         status,
                         inc_severity_name(next->severity),
                         inc_disposition_name(next->disposition),
                         ch->assignee ? "true" : "false",
                         ch->assignee,
                         ch->status >= 0 ? ch->actor : NULL,
                         closing,
                         ch->actor,
                         ch->reason};
    if (core_db_exec_params(c, SQL_CHANGE, 10, v, "changing the incident", err, errlen) < 0)
        return -1;
    const char *u[8] = {ch->incident_id,
                        ch->action_id > 0 ? action : NULL,
                        ch->status >= 0 ? status : NULL,
                        ch->severity >= 0 ? inc_severity_name(next->severity) : NULL,
                        ch->reason,
                        ch->actor,
                        ch->disposition >= 0 ? inc_disposition_name(next->disposition) : NULL,
                        ch->assignee};
    if (core_db_exec_params(c,
                            "INSERT INTO incident_updates (incident_id, action_id, status, "
                            "severity, note, actor, disposition, assignee) VALUES ($1, "
                            "$2::bigint, $3, $4, $5, $6, $7, $8)",
                            8, u, "recording the incident update", err, errlen) < 0)
        return -1;
    char *detail = change_detail(s, next, status, ch);
    if (!detail) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = audit_append(c, ch->actor, "incident_changed", ch->action_id > 0 ? ch->action_id : 0,
                          ch->incident_id, detail, err, errlen);
    free(detail);
    return rc;
}

int inc_apply_change(PGconn *c, const inc_change *ch, char *err, size_t errlen)
{
    if (!ch->incident_id || !*ch->incident_id) {
        snprintf(err, errlen, "a change needs an incident id");
        return -1;
    }
    if (ch->actor && !identifier(ch->actor)) {
        snprintf(err, errlen, "actor: up to %d bytes, no control characters", ACTOR_MAX);
        return -1;
    }
    if (ch->assignee && !identifier(ch->assignee)) {
        snprintf(err, errlen, "assignee: up to %d bytes, no control characters", ACTOR_MAX);
        return -1;
    }
    if (ch->reason && strlen(ch->reason) > COMMENT_MAX) {
        snprintf(err, errlen, "reason longer than %d bytes", COMMENT_MAX);
        return -1;
    }
    stored_row s;
    int found = read_locked(c, ch->incident_id, &s, err, errlen);
    if (found <= 0)
        return found;
    inc_state next;
    int changed = inc_rule_change(&s.st, ch, &next, err, errlen);
    if (changed < 0)
        return -1;
    bool assignee_changed =
        ch->assignee &&
        (*ch->assignee ? !s.has_assignee || strcmp(s.assignee, ch->assignee) : s.has_assignee);
    if (!changed && !assignee_changed && !(ch->reason && *ch->reason))
        return 1; /* nothing to record */
    return write_change(c, ch, &s, &next, err, errlen) < 0 ? -1 : 1;
}

int64_t inc_comment_add(PGconn *c, const char *incident_id, const char *actor, const char *text,
                        char *err, size_t errlen)
{
    if (!incident_id || !actor || !*actor || !identifier(actor)) {
        snprintf(err, errlen, "a comment needs an incident id and an actor (up to %d bytes)",
                 ACTOR_MAX);
        return -1;
    }
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > COMMENT_MAX) {
        snprintf(err, errlen, "a comment has 1 to %d bytes", COMMENT_MAX);
        return -1;
    }
    const char *v[3] = {incident_id, actor, text};
    PGresult *r = core_db_query(c,
                                "INSERT INTO incident_comments (incident_id, actor, body) "
                                "SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM incidents WHERE "
                                "incident_id = $1) RETURNING id",
                                3, v, "adding the comment", err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        snprintf(err, errlen, "no incident %s", incident_id);
        return -1;
    }
    int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    char sha[65], detail[160];
    audit_sha256_hex(text, len, sha);
    snprintf(detail, sizeof detail, "{\"comment_id\":%" PRId64 ",\"bytes\":%zu,\"sha256\":\"%s\"}",
             id, len, sha);
    if (audit_append(c, actor, "incident_commented", 0, incident_id, detail, err, errlen) < 0)
        return -1;
    return id;
}
