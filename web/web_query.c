/* The query string and JSON bodies of the containment, keys and models
 * routes: a list's arguments, each named once and bounded, nothing else;
 * a body's numeric members and its allowed members. */
#include <microhttpd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web_internal.h"

int web_query_args(web_req *r, const char *const *names, size_t n, const char **out)
{
    static const web_args_rules rules = {.code = "bad_filter",
                                         .unknown = "is not a filter of this list",
                                         .too_long = "is longer than 256 bytes",
                                         .maxlen = 256};
    return web_args_with(r, &rules, names, n, out);
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
