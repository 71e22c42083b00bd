/* The read side of containment, for the console's API and the CLI: pages
 * of actions across incidents (the approval queue), the API keys with their
 * registry state, and the model versions with their deployments, rollbacks
 * and drift state. The registry tables (api_keys, model_deployments,
 * model_deployment_history) and actions are this module's; beside them these
 * queries read, never write, the incidents' rows (open counts, the drift
 * incident and its last alert) and interactions (last seen, the last hour's
 * traffic per minute), as incidents/inc_read.c reads actions and
 * interactions for an incident. Fixed SQL with numbered parameters only;
 * PostgreSQL builds the JSON, so what the columns hold reaches the caller
 * exactly. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/event.h"
#include "playbooks/pb_engine.h"
#include "playbooks/playbooks.h"

#define LIMIT_MAX 500
#define HISTORY_MAX 200 /* a key's or a version's actions shown, newest first */
#define ID_MAX 256      /* key ids, models, versions, incident ids */

/* Timestamps as core_ts_format writes them (microseconds, UTC, Z). */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

/* One action as the API shows it. Manual actions with no incident keep ''
 * as their incident_id (the column is NOT NULL): shown as null. */
#define ACTION_JSON(a)                                                                            \
    "json_build_object('id', " a ".id, 'incident_id', nullif(" a ".incident_id, ''), "          \
    "'playbook', " a ".playbook, 'kind', " a ".kind, 'subject', " a ".subject, 'params', "      \
    a ".params, 'state', " a ".state, 'dry_run', " a ".dry_run, 'approval_required', "           \
    a ".approval_required, 'requested_by', " a ".actor, 'requested_at', " TS(a ".created_at")  \
    ", 'expires_at', " TS(a ".expires_at") ", 'expires_in_s', CASE WHEN " a ".state = "          \
    "'pending_approval' THEN greatest(0, ceil(extract(epoch FROM " a ".expires_at - now())))"   \
    "::bigint END, 'decided_at', " TS(a ".decided_at") ", 'decided_by', " a ".decided_by, "     \
    "'decision_reason', " a ".decision_reason, 'started_at', " TS(a ".started_at") ", "         \
    "'finished_at', " TS(a ".finished_at") ", 'error', " a ".error, 'result', " a ".result, "   \
    "'ttl_s', " a ".ttl_s, 'revert_of', " a ".revert_of, 'revert_at', " TS(a ".revert_at")      \
    ", 'reverted_at', " TS(a ".reverted_at") ", 'updated_at', " TS(a ".updated_at") ")"

/* The states an action can be in (sql/migrations 0003, 0005). */
static const char *const k_states[] = {"proposed", "pending_approval", "approved", "executing",
                                       "done",     "failed",           "skipped",  "rejected",
                                       "expired",  "dry_run",          NULL};

/* A line of 1..ID_MAX bytes of valid UTF-8 without control characters. */
static bool id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= ID_MAX && core_utf8_invalid_at((const unsigned char *)s, n) < 0 &&
           core_text_control_at(s, n) < 0;
}

/* ---- one JSON cell ---- */

static cJSON *json_cell(PGconn *c, const char *sql, int n, const char *const *p, const char *what,
                        char *err, size_t errlen)
{
    PGresult *r = core_db_query(c, sql, n, p, what, err, errlen);
    if (!r)
        return NULL;
    cJSON *v = PQntuples(r) && !PQgetisnull(r, 0, 0) ? cJSON_Parse(PQgetvalue(r, 0, 0))
                                                     : cJSON_CreateNull();
    PQclear(r);
    if (!v)
        snprintf(err, errlen, "%s: unreadable JSON from the database", what);
    return v;
}

/* ---- actions ---- */

/* What an action will do, in words and as its target, added to a (one
 * action's JSON). */
static void action_explain(cJSON *a, const core_config *cfg)
{
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "kind"));
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(a, "params");
    int k = kind ? pb_kind_parse(kind) : -1;
    if (k < 0)
        return;
    cJSON *t = cJSON_AddObjectToObject(a, "target");
    const char *const members[] = {"key_id", "model", "from", "to", "target", "rps", "ttl_s",
                                   NULL};
    for (int i = 0; members[i]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, members[i]);
        if (v)
            cJSON_AddItemToObject(t, members[i], cJSON_Duplicate(v, 1));
    }
    char *would = cfg ? pb_describe((pb_kind)k, params, cfg) : NULL;
    if (would)
        cJSON_AddStringToObject(a, "will", would);
    free(would);
}

/* Cursors: "a<id>" for the newest-first lists, "p<requested us>.<id>" for
 * the pending ones (oldest first). False when s is not one this code made
 * for that order. */
static bool cursor_parse(const char *s, bool pending, int64_t *us, int64_t *id)
{
    size_t n = strlen(s);
    if (n < 2 || n > 40 || s[0] != (pending ? 'p' : 'a'))
        return false;
    const char *p = s + 1;
    char *end;
    if (pending) {
        if (!(isdigit((unsigned char)*p) || *p == '-'))
            return false;
        *us = strtoll(p, &end, 10);
        if (*end != '.')
            return false;
        p = end + 1;
    }
    if (!isdigit((unsigned char)*p) || *p == '0')
        return false;
    *id = strtoll(p, &end, 10);
    return *end == '\0' && *id > 0;
}

const char *pb_action_state_word(const char *s)
{
    if (!s)
        return NULL;
    if (strcmp(s, "pending") == 0)
        return "pending_approval";
    for (int i = 0; k_states[i]; i++)
        if (strcmp(s, k_states[i]) == 0)
            return k_states[i];
    return NULL;
}

cJSON *pb_actions_page(PGconn *c, const pb_action_filter *f, const core_config *cfg,
                       bool *bad, char *err, size_t errlen)
{
    *bad = true;
    const char *state = NULL;
    if (f->state && !(state = pb_action_state_word(f->state))) {
        snprintf(err, errlen, "unknown state '%.64s' (pending, approved, executing, done, failed, "
                              "skipped, rejected, expired, dry_run, proposed)", f->state);
        return NULL;
    }
    if (f->incident && !id_ok(f->incident)) {
        snprintf(err, errlen, "incident is 1 to %d bytes of text", ID_MAX);
        return NULL;
    }
    if (f->limit < 1 || f->limit > LIMIT_MAX) {
        snprintf(err, errlen, "limit is 1 to %d", LIMIT_MAX);
        return NULL;
    }
    /* Pending approvals oldest first (the next to expire on top: the
     * expiry is a fixed time after the request); any other view newest
     * first by id, which only grows. */
    bool oldest_first = state && strcmp(state, "pending_approval") == 0;
    int64_t cus = 0, cid = 0;
    if (f->cursor && !cursor_parse(f->cursor, oldest_first, &cus, &cid)) {
        snprintf(err, errlen, "bad cursor: pass next_cursor from the previous page as it is");
        return NULL;
    }
    *bad = false;
    char cu[24], ci[24], lim[16];
    snprintf(cu, sizeof cu, "%" PRId64, cus);
    snprintf(ci, sizeof ci, "%" PRId64, cid);
    snprintf(lim, sizeof lim, "%d", f->limit + 1);
    const char *v[] = {state, f->incident, f->cursor ? ci : NULL, lim, f->cursor ? cu : NULL};
    PGresult *r = core_db_query(
            c,
            oldest_first
                    ? "SELECT " ACTION_JSON("a") "::text, a.id, " US("a.created_at") " FROM "
                      "actions a WHERE a.state = $1 AND ($2::text IS NULL OR a.incident_id = $2) "
                      "AND ($3::bigint IS NULL OR (a.created_at, a.id) > ('epoch'::timestamptz + "
                      "$5::bigint * interval '1 microsecond', $3::bigint)) ORDER BY a.created_at, "
                      "a.id LIMIT $4::int"
                    : "SELECT " ACTION_JSON("a") "::text, a.id, 0 FROM actions a WHERE ($1::text "
                      "IS NULL OR a.state = $1) AND ($2::text IS NULL OR a.incident_id = $2) AND "
                      "($3::bigint IS NULL OR a.id < $3::bigint) ORDER BY a.id DESC LIMIT $4::int",
            oldest_first ? 5 : 4, v, "listing actions", err, errlen);
    if (!r)
        return NULL;
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "actions");
    int rows = PQntuples(r), shown = rows > f->limit ? f->limit : rows;
    for (int i = 0; i < shown; i++) {
        cJSON *a = cJSON_Parse(PQgetvalue(r, i, 0));
        if (!a)
            continue;
        action_explain(a, cfg);
        cJSON_AddItemToArray(arr, a);
    }
    if (rows > f->limit) {
        char next[48];
        if (oldest_first)
            snprintf(next, sizeof next, "p%s.%s", PQgetvalue(r, shown - 1, 2),
                     PQgetvalue(r, shown - 1, 1));
        else
            snprintf(next, sizeof next, "a%s", PQgetvalue(r, shown - 1, 1));
        cJSON_AddStringToObject(out, "next_cursor", next);
    } else {
        cJSON_AddNullToObject(out, "next_cursor");
    }
    PQclear(r);
    return out;
}

cJSON *pb_action_read(PGconn *c, int64_t id, const core_config *cfg, char *err, size_t errlen)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    const char *v[] = {ids};
    cJSON *a = json_cell(c, "SELECT " ACTION_JSON("a") "::text FROM actions a WHERE a.id = "
                            "$1::bigint", 1, v, "reading the action", err, errlen);
    if (a && cJSON_IsNull(a)) {
        cJSON_Delete(a);
        snprintf(err, errlen, "action %" PRId64 " not found", id);
        return NULL;
    }
    if (a)
        action_explain(a, cfg);
    return a;
}

/* The arguments of a list by name: q (1 to ID_MAX bytes), a cursor made
 * by by_name_page with prefix, limit. 0, or -1 with err. */
static int by_name_check(const char *q, const char *cursor, char prefix, int limit, char *err,
                         size_t errlen)
{
    if (q && (!*q || strlen(q) > ID_MAX)) {
        snprintf(err, errlen, "q is 1 to %d bytes", ID_MAX);
        return -1;
    }
    if (cursor && (cursor[0] != prefix || !id_ok(cursor + 1))) {
        snprintf(err, errlen, "bad cursor: pass next_cursor from the previous page as it is");
        return -1;
    }
    if (limit < 1 || limit > LIMIT_MAX) {
        snprintf(err, errlen, "limit is 1 to %d", LIMIT_MAX);
        return -1;
    }
    return 0;
}

/* A page of a list by name from r (column 0 the JSON, column 1 the name;
 * limit + 1 rows asked): {"<member>": [...], "next_cursor": "<prefix><last
 * name>" or null}. Clears r. */
static cJSON *by_name_page(PGresult *r, const char *member, char prefix, int limit)
{
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, member);
    int rows = PQntuples(r), shown = rows > limit ? limit : rows;
    for (int i = 0; i < shown; i++)
        cJSON_AddItemToArray(arr, cJSON_Parse(PQgetvalue(r, i, 0)));
    char *next = NULL;
    if (rows > limit && asprintf(&next, "%c%s", prefix, PQgetvalue(r, shown - 1, 1)) >= 0)
        cJSON_AddStringToObject(out, "next_cursor", next);
    else
        cJSON_AddNullToObject(out, "next_cursor");
    free(next);
    PQclear(r);
    return out;
}

/* ---- keys ---- */

/* A key's registry state as the console shows it: revoked wins over a
 * throttle; a throttle without an end (no ttl) holds until lifted. until is
 * when a ttl puts it back (the revert of the action that set it), else
 * null. */
#define KEY_STATE                                                                                \
    "CASE WHEN k.status = 'revoked' THEN 'revoked' WHEN k.throttle_rps IS NOT NULL AND "       \
    "(k.throttled_until IS NULL OR k.throttled_until > now()) THEN 'throttled' ELSE 'active' END"
#define KEY_UNTIL                                                                                \
    "CASE WHEN k.status = 'revoked' THEN (SELECT x.revert_at FROM actions x WHERE x.id = "     \
    "k.action_id AND x.reverted_at IS NULL) WHEN k.throttle_rps IS NOT NULL AND "              \
    "(k.throttled_until IS NULL OR k.throttled_until > now()) THEN k.throttled_until END"
#define KEY_JSON(id)                                                                              \
    "json_build_object('key_id', " id ", 'status', " KEY_STATE ", 'until', "                    \
    "to_char((" KEY_UNTIL ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "        \
    "'in_registry', k.key_id IS NOT NULL, 'reason', k.reason, 'revoked_at', "                   \
    TS("k.revoked_at") ", 'restored_at', " TS("k.restored_at") ", 'throttle_rps', "            \
    "k.throttle_rps, 'throttled_until', " TS("k.throttled_until") ", 'updated_at', "           \
    TS("k.updated_at") ", 'last_action_id', k.action_id, 'last_seen', (SELECT " TS("max(i.ts)") \
    " FROM interactions i WHERE i.api_key_id = " id "), 'open_incidents', (SELECT count(*) "   \
    "FROM incidents n WHERE n.api_key_id = " id " AND n.status NOT IN ('closed', 'resolved')), " \
    "'incident_count', (SELECT count(*) FROM incidents n WHERE n.api_key_id = " id "))"

cJSON *pb_keys_page(PGconn *c, const pb_key_filter *f, bool *bad, char *err, size_t errlen)
{
    *bad = true;
    if (f->status && strcmp(f->status, "active") != 0 && strcmp(f->status, "throttled") != 0 &&
        strcmp(f->status, "revoked") != 0) {
        snprintf(err, errlen, "unknown status '%.64s' (active, throttled, revoked)", f->status);
        return NULL;
    }
    if (by_name_check(f->q, f->cursor, 'k', f->limit, err, errlen) < 0)
        return NULL;
    *bad = false;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", f->limit + 1);
    const char *v[] = {f->cursor ? f->cursor + 1 : NULL, f->q, f->status, lim};
    /* The keys custos knows of: those in the registry, and those incidents
     * name (a key only ever seen in traffic is found by its own page). The
     * page is cut first, then each row's counts are read. */
    PGresult *r = core_db_query(
            c,
            "WITH ids AS (SELECT key_id FROM api_keys WHERE ($1::text IS NULL OR key_id > $1) "
            "AND ($2::text IS NULL OR strpos(lower(key_id), lower($2)) > 0) UNION SELECT "
            "DISTINCT api_key_id FROM incidents WHERE api_key_id IS NOT NULL AND ($3::text IS NULL "
            "OR $3 = 'active') AND ($1::text IS NULL OR api_key_id > $1) AND ($2::text IS NULL "
            "OR strpos(lower(api_key_id), lower($2)) > 0)), page AS (SELECT ids.key_id AS id, "
            "k.* FROM ids LEFT JOIN api_keys k USING (key_id) WHERE $3::text IS NULL OR "
            KEY_STATE " = $3 ORDER BY ids.key_id LIMIT $4::int) "
            "SELECT " KEY_JSON("k.id") "::text, k.id FROM page k ORDER BY k.id",
            4, v, "listing keys", err, errlen);
    if (!r)
        return NULL;
    return by_name_page(r, "keys", 'k', f->limit);
}

/* The last hour of traffic per minute, oldest first: requests, tokens
 * (prompt and completion), refusals, 5xx answers. where is a fixed
 * fragment over interactions (i) with $1 (and $2) the subject. */
#define TRAFFIC_SQL(where)                                                                        \
    "SELECT json_build_object('step_s', 60, 'since', " TS("(date_trunc('minute', now()) - "     \
    "interval '59 minutes')") ", 'points', coalesce(json_agg(json_build_object('t', " TS("m.t")  \
    ", 'requests', coalesce(c.n, 0), 'tokens', coalesce(c.tok, 0), 'refusals', coalesce(c.ref, " \
    "0), 'errors', coalesce(c.errs, 0)) ORDER BY m.t), '[]'))::text FROM generate_series("      \
    "date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()), "        \
    "interval '1 minute') m(t) LEFT JOIN (SELECT date_trunc('minute', i.ts) AS t, count(*) AS n, " \
    "sum(coalesce(i.prompt_tokens, 0) + coalesce(i.completion_tokens, 0)) AS tok, count(*) "    \
    "FILTER (WHERE i.refusal) AS ref, count(*) FILTER (WHERE i.status >= 500) AS errs FROM "    \
    "interactions i WHERE " where " AND i.ts >= date_trunc('minute', now()) - interval "       \
    "'59 minutes' AND i.ts < date_trunc('minute', now()) + interval '1 minute' GROUP BY 1) c "  \
    "USING (t)"

static const char *SQL_KEY_TRAFFIC = TRAFFIC_SQL("i.api_key_id = $1");
static const char *SQL_VERSION_TRAFFIC = TRAFFIC_SQL("i.model = $1 AND i.model_version = $2");

/* A key's actions (its status history), newest first. */
static const char *SQL_KEY_HISTORY =
    "SELECT coalesce(json_agg(x.j ORDER BY x.id DESC), '[]')::text FROM (SELECT a.id, "
    ACTION_JSON("a") " AS j FROM actions a WHERE a.subject = $1 AND a.kind IN ('revoke_key', "
    "'restore_key', 'throttle_key', 'unthrottle_key') ORDER BY a.id DESC LIMIT 200) x";

/* Adds member name (query sql over p) to o. -1 with err. */
static int add_cell(PGconn *c, cJSON *o, const char *name, const char *sql, int n,
                    const char *const *p, const char *what, char *err, size_t errlen)
{
    cJSON *v = json_cell(c, sql, n, p, what, err, errlen);
    if (!v)
        return -1;
    cJSON_AddItemToObject(o, name, v);
    return 0;
}

/* Adds "will" to each action of the array o[name]. */
static void explain_all(cJSON *o, const char *name, const core_config *cfg)
{
    cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(o, name)) action_explain(a, cfg);
}

cJSON *pb_key_read(PGconn *c, const char *key, const core_config *cfg, bool *found, char *err,
                   size_t errlen)
{
    *found = false;
    if (err && errlen)
        err[0] = '\0';
    if (!id_ok(key)) {
        snprintf(err, errlen, "a key id is 1 to %d bytes of text", ID_MAX);
        return NULL;
    }
    const char *p[] = {key};
    /* Known: in the registry, named by an incident, or seen in traffic. */
    cJSON *o = json_cell(c,
                         "SELECT " KEY_JSON("$1::text") "::text FROM (SELECT 1) one LEFT JOIN "
                         "api_keys k ON k.key_id = $1 WHERE k.key_id IS NOT NULL OR EXISTS "
                         "(SELECT 1 FROM incidents WHERE api_key_id = $1) OR EXISTS (SELECT 1 "
                         "FROM interactions WHERE api_key_id = $1)",
                         1, p, "reading the key", err, errlen);
    if (!o)
        return NULL;
    if (cJSON_IsNull(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    *found = true;
    if (add_cell(c, o, "first_seen",
                 "SELECT to_json(" TS("min(ts)") ")::text FROM interactions WHERE api_key_id = $1",
                 1, p, "reading the key's first event", err, errlen) < 0 ||
        add_cell(c, o, "history", SQL_KEY_HISTORY, 1, p, "reading the key's actions", err,
                 errlen) < 0 ||
        add_cell(c, o, "traffic", SQL_KEY_TRAFFIC, 1, p, "reading the key's traffic", err,
                 errlen) < 0) {
        cJSON_Delete(o);
        return NULL;
    }
    explain_all(o, "history", cfg);
    return o;
}

/* ---- models ---- */

/* The drift state of a version: its newest drift incident, "drifting"
 * while that is not closed or resolved, "settled" after, "none" without
 * one. The evidence of its last alert (PSI per feature, windows over the
 * threshold) is added by pb_model_version_read. */
#define DRIFT_JSON(m, v)                                                                          \
    "(SELECT coalesce((SELECT json_build_object('state', CASE WHEN d.status IN ('closed', "     \
    "'resolved') THEN 'settled' ELSE 'drifting' END, 'incident_id', d.incident_id, 'severity', " \
    "d.severity, 'status', d.status, 'detected_at', " TS("d.detected_at") ", 'last_seen', "     \
    TS("d.last_seen") ", 'summary', d.summary) FROM incidents d WHERE d.type = 'drift' AND "    \
    "d.model = " m " AND d.model_version = " v " ORDER BY d.detected_at DESC, d.incident_id "    \
    "DESC LIMIT 1), json_build_object('state', 'none')))"

#define VERSION_JSON(m, v)                                                                        \
    "json_build_object('version', " v ", 'active', coalesce(md.active, false), 'in_registry', "  \
    "md.model IS NOT NULL, 'deployed_at', " TS("md.deployed_at") ", 'retired_at', "            \
    TS("md.retired_at") ", 'open_incidents', (SELECT count(*) FROM incidents n WHERE n.model = " \
    m " AND n.model_version = " v " AND n.status NOT IN ('closed', 'resolved')), 'drift', "     \
    DRIFT_JSON(m, v) ")"

cJSON *pb_models_page(PGconn *c, const pb_model_filter *f, bool *bad, char *err, size_t errlen)
{
    *bad = true;
    if (by_name_check(f->q, f->cursor, 'm', f->limit, err, errlen) < 0)
        return NULL;
    *bad = false;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", f->limit + 1);
    const char *v[] = {f->cursor ? f->cursor + 1 : NULL, f->q, lim};
    /* Models of the registry and of incidents, a page of them by name,
     * each with every version either knows (at most 100). */
    PGresult *r = core_db_query(
            c,
            "WITH names AS (SELECT model FROM model_deployments WHERE ($1::text IS NULL OR model "
            "> $1) AND ($2::text IS NULL OR strpos(lower(model), lower($2)) > 0) UNION SELECT "
            "DISTINCT model FROM incidents WHERE model IS NOT NULL AND ($1::text IS NULL OR "
            "model > $1) AND ($2::text IS NULL OR strpos(lower(model), lower($2)) > 0)), page AS "
            "(SELECT model FROM names ORDER BY model LIMIT $3::int) "
            "SELECT json_build_object('model', page.model, 'active_version', (SELECT version "
            "FROM model_deployments WHERE model = page.model AND active), 'versions', (SELECT "
            "coalesce(json_agg(" VERSION_JSON("page.model", "vv.version") " ORDER BY "
            "md.deployed_at NULLS LAST, vv.version), '[]') FROM (SELECT version FROM "
            "model_deployments WHERE model = page.model UNION SELECT DISTINCT model_version FROM "
            "incidents WHERE model = page.model AND model_version IS NOT NULL LIMIT 100) vv LEFT "
            "JOIN model_deployments md ON md.model = page.model AND md.version = vv.version))"
            "::text, page.model FROM page ORDER BY page.model",
            3, v, "listing models", err, errlen);
    if (!r)
        return NULL;
    return by_name_page(r, "models", 'm', f->limit);
}

static const char *SQL_DEPLOYMENTS =
    "SELECT coalesce(json_agg(json_build_object('at', " TS("h.at") ", 'from_version', "
    "h.from_version, 'to_version', h.to_version, 'action_id', h.action_id, 'by', coalesce("
    "a.decided_by, a.actor)) ORDER BY h.at DESC, h.id DESC), '[]')::text FROM (SELECT * FROM "
    "model_deployment_history WHERE model = $1 AND (from_version = $2 OR to_version = $2) "
    "ORDER BY at DESC, id DESC LIMIT 200) h LEFT JOIN actions a ON a.id = h.action_id";

static const char *SQL_ROLLBACKS =
    "SELECT coalesce(json_agg(x.j ORDER BY x.id DESC), '[]')::text FROM (SELECT a.id, "
    ACTION_JSON("a") " AS j FROM actions a WHERE a.kind = 'rollback_model' AND a.subject = $1 "
    "AND a.params->>'from' = $2 ORDER BY a.id DESC LIMIT 200) x";

/* The evidence of the newest drift incident's last alert. */
static const char *SQL_DRIFT_EVIDENCE =
    "SELECT (SELECT json_build_object('at', " TS("al.ts") ", 'evidence', al.evidence) FROM "
    "alerts al WHERE al.incident_id = d.incident_id ORDER BY al.ts DESC, al.id DESC LIMIT 1)"
    "::text FROM incidents d WHERE d.type = 'drift' AND d.model = $1 AND d.model_version = $2 "
    "ORDER BY d.detected_at DESC, d.incident_id DESC LIMIT 1";

cJSON *pb_model_version_read(PGconn *c, const char *model, const char *version,
                             const core_config *cfg, bool *found, char *err, size_t errlen)
{
    *found = false;
    if (err && errlen)
        err[0] = '\0';
    if (!id_ok(model) || !id_ok(version)) {
        snprintf(err, errlen, "a model and a version are 1 to %d bytes of text", ID_MAX);
        return NULL;
    }
    const char *p[] = {model, version};
    cJSON *o = json_cell(c,
                         "SELECT (jsonb_build_object('model', $1::text, 'active_version', (SELECT "
                         "version FROM model_deployments WHERE model = $1 AND active), "
                         "'last_seen', (SELECT " TS("max(ts)") " FROM interactions WHERE model = "
                         "$1 AND model_version = $2)) || " VERSION_JSON("$1::text", "$2::text")
                         "::jsonb)::text FROM (SELECT 1) one LEFT JOIN model_deployments md ON "
                         "md.model = $1 AND md.version = $2 WHERE md.model IS NOT NULL OR EXISTS "
                         "(SELECT 1 FROM incidents WHERE model = $1 AND model_version = $2) OR "
                         "EXISTS (SELECT 1 FROM interactions WHERE model = $1 AND model_version = "
                         "$2)",
                         2, p, "reading the model version", err, errlen);
    if (!o)
        return NULL;
    if (cJSON_IsNull(o)) {
        cJSON_Delete(o);
        return NULL;
    }
    *found = true;
    cJSON *ev = NULL;
    if (add_cell(c, o, "versions",
                 "SELECT coalesce(json_agg(json_build_object('version', version, 'active', active, "
                 "'deployed_at', " TS("deployed_at") ", 'retired_at', " TS("retired_at") ") "
                 "ORDER BY deployed_at, version), '[]')::text FROM model_deployments WHERE model "
                 "= $1", 1, p, "reading the model's versions", err, errlen) < 0 ||
        add_cell(c, o, "deployments", SQL_DEPLOYMENTS, 2, p, "reading the deployments", err,
                 errlen) < 0 ||
        add_cell(c, o, "rollbacks", SQL_ROLLBACKS, 2, p, "reading the rollbacks", err,
                 errlen) < 0 ||
        add_cell(c, o, "traffic", SQL_VERSION_TRAFFIC, 2, p, "reading the version's traffic",
                 err, errlen) < 0 ||
        !(ev = json_cell(c, SQL_DRIFT_EVIDENCE, 2, p, "reading the drift evidence", err,
                         errlen))) {
        cJSON_Delete(o);
        return NULL;
    }
    explain_all(o, "rollbacks", cfg);
    cJSON *drift = cJSON_GetObjectItemCaseSensitive(o, "drift");
    if (cJSON_IsObject(drift) && cJSON_IsObject(ev)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(ev, "evidence");
        cJSON_AddItemToObject(drift, "last_alert_at",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ev, "at"), 1));
        const char *const members[] = {"psi", "windows_over_threshold", "window_events",
                                       "window_keys", "window_minutes", "reference_start", NULL};
        for (int i = 0; members[i]; i++) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, members[i]);
            if (m)
                cJSON_AddItemToObject(drift, members[i], cJSON_Duplicate(m, 1));
        }
    }
    cJSON_Delete(ev);
    return o;
}
