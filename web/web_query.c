/* The query string and JSON bodies of the containment, keys and models
 * routes: a list's arguments, each named once and bounded, nothing else;
 * a body's numeric members and its allowed members. */
#include <microhttpd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_internal.h"

#define ARG_MAX 256

typedef struct {
    const char *const *names;
    size_t n;
    const char **out;
    const char *bad, *why;
} arg_walk;

static enum MHD_Result take(void *cls, enum MHD_ValueKind kind, const char *key,
                            const char *value)
{
    (void)kind;
    arg_walk *w = cls;
    if (w->bad)
        return MHD_YES;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(key, w->names[i]) == 0) {
            if (w->out[i]) {
                w->bad = key;
                w->why = "is given twice";
            } else if (!value || !*value || strlen(value) > ARG_MAX) {
                w->bad = key;
                w->why = value && *value ? "is longer than 256 bytes" : "has no value";
            } else {
                w->out[i] = value;
            }
            return MHD_YES;
        }
    w->bad = key;
    w->why = "is not a filter of this list";
    return MHD_YES;
}

int web_query_args(web_req *r, const char *const *names, size_t n, const char **out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    arg_walk w = {.names = names, .n = n, .out = out};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, take, &w);
    if (w.bad) {
        web_reply_error(r, 400, "bad_filter", "'%.64s' %s", w.bad, w.why);
        return -1;
    }
    return 0;
}

int web_query_limit(web_req *r, const char *s, int def, int max)
{
    if (!s)
        return def;
    size_t n = strlen(s);
    if (n == 0 || n > 3 || strspn(s, "0123456789") != n || atoi(s) < 1 || atoi(s) > max) {
        web_reply_error(r, 400, "bad_filter", "limit is 1 to %d", max);
        return -1;
    }
    return atoi(s);
}

bool web_json_only(web_req *r, const char *const *allowed)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, r->json)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (m->string && strcmp(m->string, *a) == 0)
                ok = true;
        if (!ok) {
            web_reply_error(r, 400, "bad_request", "unknown member '%.64s'",
                            m->string ? m->string : "");
            return false;
        }
    }
    return true;
}

int web_json_number(web_req *r, const char *name, double min, double max, bool integer,
                    double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
        v->valuedouble > max || (integer && v->valuedouble != floor(v->valuedouble))) {
        web_reply_error(r, 400, "bad_request", "'%s' must be %s from %g to %g", name,
                        integer ? "a whole number" : "a number", min, max);
        return -1;
    }
    *out = v->valuedouble;
    return 1;
}
