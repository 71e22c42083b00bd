/* /api/v1/views: the queue's saved views, per user (web_saved_views): a
 * name and the query string of the filters. At most VIEWS_MAX per user;
 * saving under a name that exists replaces its query. Each change is
 * audited. Sessions only: an API token has no user to keep views for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "web/web_internal.h"

#define VIEWS_MAX 50
#define NAME_MAX_CHARS 60
#define QUERY_MAX 2000

static web_result need_user(web_req *r)
{
    return web_reply_error(r, 400, "not_a_session", "saved views belong to a signed-in user");
}

web_result web_h_views_list(web_req *r)
{
    if (r->auth.kind != WEB_AUTH_SESSION)
        return need_user(r);
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)r->auth.user_id);
    const char *p[1] = {uid};
    PGresult *res = core_db_query(
        r->db,
        "SELECT coalesce(json_agg(json_build_object('id', view_id, 'name', name, 'query', query,"
        " 'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"
        " ORDER BY name), '[]')::text FROM web_saved_views WHERE user_id = $1",
        1, p, "listing saved views", r->err, sizeof r->err);
    if (!res)
        return WEB_FAIL;
    cJSON *views = cJSON_Parse(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!views)
        return web_fail(r, "listing saved views: the database's JSON did not parse");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "views", views);
    cJSON_AddNumberToObject(o, "max", VIEWS_MAX);
    return web_reply_json(r, 200, o);
}

/* Characters in a UTF-8 string (its bytes are valid: cJSON checked). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int audit_view(web_req *r, const char *event, const char *name, const char *query)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "address", r->addr);
    cJSON_AddStringToObject(d, "name", name);
    if (query)
        cJSON_AddStringToObject(d, "query", query);
    char *js = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (!js) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    int rc = audit_append(r->db, r->auth.actor, event, 0, NULL, js, r->err, sizeof r->err);
    free(js);
    if (rc == 0)
        r->audited = true;
    return rc;
}

web_result web_h_views_save(web_req *r)
{
    if (r->auth.kind != WEB_AUTH_SESSION)
        return need_user(r);
    const char *name = NULL, *query = NULL;
    if (web_json_string(r, "name", 4 * NAME_MAX_CHARS, true, &name) < 0 ||
        web_json_string(r, "query", QUERY_MAX, true, &query) < 0)
        return WEB_CLIENT_ERROR;
    size_t nc = chars(name);
    if (nc == 0 || nc > NAME_MAX_CHARS)
        return web_reply_error(r, 400, "bad_request", "a view's name is 1 to %d characters",
                               NAME_MAX_CHARS);
    for (const char *s = name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return web_reply_error(r, 400, "bad_request", "a view's name has no control characters");
    /* a query string of the queue's filters: printable ASCII, no '#' */
    for (const char *s = query; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '#')
            return web_reply_error(r, 400, "bad_request",
                                   "query is a URL-encoded query string (printable ASCII)");
    if (query[0] == '?')
        query++;
    char uid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)r->auth.user_id);
    const char *p[3] = {uid, name, query};
    if (core_db_begin(r->db, r->err, sizeof r->err) < 0)
        return WEB_FAIL;
    /* the user's row locked: two saves at once cannot pass the limit */
    PGresult *res = core_db_query(
        r->db,
        "SELECT (SELECT count(*) FROM web_saved_views WHERE user_id = $1),"
        " EXISTS (SELECT 1 FROM web_saved_views WHERE user_id = $1 AND name = $2)"
        " FROM web_users WHERE user_id = $1 FOR UPDATE",
        2, p, "counting saved views", r->err, sizeof r->err);
    if (!res)
        goto fail;
    long n = PQntuples(res) ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    bool exists = PQntuples(res) && PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    if (!exists && n >= VIEWS_MAX) {
        core_db_rollback(r->db);
        return web_reply_error(r, 409, "too_many_views",
                               "at most %d saved views: forget one first", VIEWS_MAX);
    }
    res = core_db_query(r->db,
                        "INSERT INTO web_saved_views (user_id, name, query) VALUES ($1, $2, $3)"
                        " ON CONFLICT (user_id, name) DO UPDATE SET query = EXCLUDED.query,"
                        " created_at = now() RETURNING view_id",
                        3, p, "saving a view", r->err, sizeof r->err);
    if (!res)
        goto fail;
    long long id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (audit_view(r, exists ? "view_replaced" : "view_saved", name, query) < 0 ||
        core_db_commit(r->db, r->err, sizeof r->err) < 0)
        goto fail;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)id);
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "query", query);
    return web_reply_json(r, exists ? 200 : 201, o);
fail:
    core_db_rollback(r->db);
    r->audited = false;
    return WEB_FAIL;
}

web_result web_h_views_delete(web_req *r)
{
    if (r->auth.kind != WEB_AUTH_SESSION)
        return need_user(r);
    int64_t id = web_parse_id(r->params.v[0]);
    if (id < 0)
        return web_reply_error(r, 400, "bad_id", "a view id is a positive number");
    char uid[24], vid[24];
    snprintf(uid, sizeof uid, "%lld", (long long)r->auth.user_id);
    snprintf(vid, sizeof vid, "%lld", (long long)id);
    const char *p[2] = {uid, vid};
    if (core_db_begin(r->db, r->err, sizeof r->err) < 0)
        return WEB_FAIL;
    PGresult *res = core_db_query(r->db,
                                  "DELETE FROM web_saved_views WHERE user_id = $1 AND view_id = $2"
                                  " RETURNING name",
                                  2, p, "forgetting a view", r->err, sizeof r->err);
    if (!res)
        goto fail;
    if (PQntuples(res) == 0) {
        PQclear(res);
        core_db_rollback(r->db);
        return web_reply_error(r, 404, "not_found", "you have no saved view %lld", (long long)id);
    }
    char name[256];
    snprintf(name, sizeof name, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (audit_view(r, "view_deleted", name, NULL) < 0 ||
        core_db_commit(r->db, r->err, sizeof r->err) < 0)
        goto fail;
    return web_reply_empty(r, 204);
fail:
    core_db_rollback(r->db);
    r->audited = false;
    return WEB_FAIL;
}
