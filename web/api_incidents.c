/* /api/v1/incidents: the queue (filters in the query string, keyset pages)
 * and one incident, through incidents/'s read queries (web/ holds no SQL
 * for their tables). Prompt and response content is never in these
 * answers: revealing it is its own audited call. */
#include <ctype.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "incidents/incidents.h"
#include "web/web_internal.h"

/* The query-string parameters of the list, and the inc_filter field each
 * fills (NULL: handled apart). */
static const char *const k_params[] = {"status", "disposition", "type",     "severity",
                                       "api_key", "tenant",      "model",    "version",
                                       "assignee", "q",          "since",    "until",
                                       "cursor",  "limit"};
#define N_PARAMS (sizeof k_params / sizeof k_params[0])
#define VALUE_MAX 256

typedef struct {
    const char *v[N_PARAMS];
    const char *bad; /* first unknown, repeated or overlong parameter */
    const char *why;
} args;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    args *a = cls;
    if (a->bad)
        return MHD_YES;
    for (size_t i = 0; i < N_PARAMS; i++)
        if (strcmp(key, k_params[i]) == 0) {
            if (a->v[i]) {
                a->bad = key;
                a->why = "is given twice";
            } else if (!value || strlen(value) > VALUE_MAX) {
                a->bad = key;
                a->why = value ? "is longer than 256 bytes" : "has no value";
            } else {
                a->v[i] = value;
            }
            return MHD_YES;
        }
    a->bad = key;
    a->why = "is not a filter of this list";
    return MHD_YES;
}

static const char *arg(const args *a, const char *name)
{
    for (size_t i = 0; i < N_PARAMS; i++)
        if (strcmp(k_params[i], name) == 0)
            return a->v[i];
    return NULL;
}

/* RFC 3339 in UTC ("2026-12-01T12:00:00Z", optional fraction up to
 * microseconds) to microseconds since the epoch; -1 when not one. */
int64_t web_parse_time_us(const char *s)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 6) {
            frac = frac * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || isdigit((unsigned char)*p))
            return -1;
        while (digits++ < 6)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return -1;
    time_t t = timegm(&tm);
    if (t < 0)
        return -1;
    return (int64_t)t * 1000000 + frac;
}

/* incidents/ prefixes database failures with the query's name; anything
 * else it refuses is the caller's (a bad cursor or filter). */
static bool db_failure(const char *err)
{
    return strncmp(err, "listing incidents", 17) == 0 ||
           strncmp(err, "counting incidents", 18) == 0;
}

web_result web_h_incidents_list(web_req *r)
{
    args a = {0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &a);
    if (a.bad)
        return web_reply_error(r, 400, "bad_filter", "'%.64s' %s", a.bad, a.why);
    inc_filter f = {
        .status = arg(&a, "status"),
        .disposition = arg(&a, "disposition"),
        .type = arg(&a, "type"),
        .severity = arg(&a, "severity"),
        .api_key_id = arg(&a, "api_key"),
        .tenant = arg(&a, "tenant"),
        .model = arg(&a, "model"),
        .model_version = arg(&a, "version"),
        .assignee = arg(&a, "assignee"),
        .text = arg(&a, "q"),
        .cursor = arg(&a, "cursor"),
        .limit = 50,
    };
    if (f.status && inc_status_parse(f.status) < 0)
        return web_reply_error(r, 400, "bad_filter", "unknown status '%.64s'", f.status);
    const char *lim = arg(&a, "limit");
    if (lim) {
        size_t n = strlen(lim);
        if (n == 0 || n > 3 || strspn(lim, "0123456789") != n || atoi(lim) < 1 || atoi(lim) > 500)
            return web_reply_error(r, 400, "bad_filter", "limit is 1 to 500");
        f.limit = atoi(lim);
    }
    const char *since = arg(&a, "since"), *until = arg(&a, "until");
    if (since && (f.since_us = web_parse_time_us(since)) <= 0)
        return web_reply_error(r, 400, "bad_filter",
                               "since is an RFC 3339 UTC time (2026-12-01T12:00:00Z)");
    if (until && (f.until_us = web_parse_time_us(until)) <= 0)
        return web_reply_error(r, 400, "bad_filter",
                               "until is an RFC 3339 UTC time (2026-12-01T12:00:00Z)");
    cJSON *page = inc_list(r->db, &f, r->err, sizeof r->err);
    if (!page) {
        if (db_failure(r->err))
            return WEB_FAIL;
        return web_reply_error(r, 400, "bad_filter", "%s", r->err);
    }
    /* The first page carries the counts per status over the same filter. */
    if (!f.cursor) {
        cJSON *counts = inc_counts_by_status(r->db, &f, r->err, sizeof r->err);
        if (!counts) {
            cJSON_Delete(page);
            return db_failure(r->err) ? WEB_FAIL
                                      : web_reply_error(r, 400, "bad_filter", "%s", r->err);
        }
        cJSON_AddItemToObject(page, "counts", counts);
    }
    return web_reply_json(r, 200, page);
}

web_result web_h_incident_get(web_req *r)
{
    bool found = false;
    r->err[0] = '\0';
    cJSON *inc = inc_get(r->db, r->params.v[0], false, &found, r->err, sizeof r->err);
    if (!inc) {
        if (!found && r->err[0] == '\0')
            return web_reply_error(r, 404, "not_found", "no incident %s", r->params.v[0]);
        return WEB_FAIL;
    }
    return web_reply_json(r, 200, inc);
}
