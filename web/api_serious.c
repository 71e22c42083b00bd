/* Serious incidents (EU AI Act Art. 73) over the API: marking an incident
 * serious (POST /api/v1/incidents/{id}/serious), recording a report filed
 * with the authority (POST .../serious/reports), and the initial or
 * complete report as JSON or Markdown (GET .../report?kind=&format=). The
 * writes and the audit rows are incidents/'s (inc_serious.c,
 * inc_serious_report.c). */
#include <stdlib.h>
#include <string.h>

#include "core/event.h"
#include "core/log.h"
#include "incidents/incidents.h"
#include "web/web_internal.h"

/* An RFC 3339 member of the body: 1 found, 0 absent, -1 answered 400. */
static int time_member(web_req *r, const char *name, int64_t *us)
{
    const char *s = NULL;
    int got = web_json_string(r, name, 64, false, &s);
    if (got <= 0)
        return got;
    if (core_ts_parse(s, strlen(s), us) < 0) {
        web_reply_error(r, 400, "bad_request", "%s is an RFC 3339 time (2026-11-21T13:04:00Z)",
                        name);
        return -1;
    }
    return 1;
}

web_result web_h_incident_serious(web_req *r)
{
    static const char *const allowed[] = {"category", "aware_at", NULL};
    const char *category = NULL;
    int64_t aware = 0;
    if (!web_json_only(r, allowed) || web_json_string(r, "category", 64, true, &category) < 0)
        return WEB_CLIENT_ERROR;
    int got = time_member(r, "aware_at", &aware);
    if (got < 0)
        return WEB_CLIENT_ERROR;
    if (got == 0)
        aware = core_wall_us();
    int cat = inc_serious_category_parse(category);
    if (cat < 0)
        return web_reply_error(r, 400, "bad_request", "category is one of general, "
                               "widespread_infringement, critical_infrastructure, death");
    int64_t deadline = 0;
    int rc = inc_serious_mark(r->db, r->params.v[0], (inc_serious_category)cat, aware,
                              r->auth.actor, &deadline, r->err, sizeof r->err);
    if (rc == INC_SERIOUS_REFUSED)
        return web_reply_error(r, 400, "bad_request", "%s", r->err);
    if (rc == 0)
        return web_reply_error(r, 404, "not_found", "no incident %s", r->params.v[0]);
    if (rc < 0)
        return WEB_FAIL;
    r->audited = true; /* serious_incident_marked, by incidents/ */
    cJSON *s = inc_serious_get(r->db, r->params.v[0], r->err, sizeof r->err);
    if (!s)
        return WEB_FAIL;
    return web_reply_json(r, 200, s);
}

web_result web_h_incident_serious_report_filed(web_req *r)
{
    static const char *const allowed[] = {"kind", "reference", "filed_by", "filed_at", NULL};
    inc_serious_filing f = {.incident_id = r->params.v[0], .actor = r->auth.actor};
    if (!web_json_only(r, allowed) || web_json_string(r, "kind", 16, true, &f.kind) < 0 ||
        web_json_string(r, "reference", 1000, true, &f.reference) < 0 ||
        web_json_string(r, "filed_by", 200, false, &f.filed_by) < 0 ||
        time_member(r, "filed_at", &f.filed_at_us) < 0)
        return WEB_CLIENT_ERROR;
    int64_t id = inc_serious_report_filed(r->db, &f, r->err, sizeof r->err);
    if (id == INC_SERIOUS_REFUSED)
        return web_reply_error(r, 409, "conflict", "%s", r->err);
    if (id == 0)
        return web_reply_error(r, 404, "not_found", "%s", r->err);
    if (id < 0)
        return WEB_FAIL;
    r->audited = true; /* serious_report_filed */
    cJSON *s = inc_serious_get(r->db, r->params.v[0], r->err, sizeof r->err);
    if (!s)
        return WEB_FAIL;
    cJSON_AddNumberToObject(s, "report_id", (double)id);
    return web_reply_json(r, 201, s);
}

web_result web_h_incident_report(web_req *r)
{
    static const char *const names[] = {"kind", "format"};
    const char *v[2];
    if (web_args(r, names, 2, v, 16) < 0)
        return WEB_CLIENT_ERROR;
    const char *kind = v[0], *format = v[1] ? v[1] : "json";
    if (!kind || (strcmp(kind, "initial") != 0 && strcmp(kind, "complete") != 0))
        return web_reply_error(r, 400, "bad_query", "kind is initial or complete");
    bool md = strcmp(format, "md") == 0;
    if (!md && strcmp(format, "json") != 0)
        return web_reply_error(r, 400, "bad_query", "format is json or md");
    bool found = false;
    cJSON *rep = inc_serious_report(r->db, r->params.v[0], kind, r->auth.actor, &found, r->err,
                                    sizeof r->err);
    if (!rep)
        return found || r->err[0]
                   ? WEB_FAIL
                   : web_reply_error(r, 404, "not_found",
                                     "incident %s is not marked serious (or does not exist)",
                                     r->params.v[0]);
    r->audited = true; /* serious_report_exported, with the JSON's SHA-256 */
    if (!md)
        return web_reply_json(r, 200, rep);
    char *text = inc_serious_report_md(rep);
    cJSON_Delete(rep);
    if (!text)
        return web_fail(r, "out of memory");
    free(r->body);
    r->body = text;
    r->body_len = strlen(text);
    r->status = 200;
    r->ctype = "text/markdown; charset=utf-8";
    return WEB_DONE;
}
