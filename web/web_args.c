/* The query-string arguments of a route that takes a fixed set of them:
 * anything else (unknown, repeated, without a value, too long) is a 400.
 * One walker for every route; web_args_rules holds what differs between
 * route families (their error code and wording, bounds, empty values). */
#include <microhttpd.h>
#include <string.h>

#include "web/web_internal.h"

typedef struct {
    const web_args_rules *rules;
    const char *const *names;
    size_t n;
    const char **v;
    const char *bad, *why;
} collect_state;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    collect_state *s = cls;
    const web_args_rules *ru = s->rules;
    if (s->bad)
        return MHD_YES;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(key, s->names[i]) == 0) {
            size_t max = ru->long_name && strcmp(key, ru->long_name) == 0 ? ru->long_maxlen
                                                                          : ru->maxlen;
            if (s->v[i]) {
                s->bad = key;
                s->why = "is given twice";
            } else if (!value || (!*value && !ru->empty_ok)) {
                s->bad = key;
                s->why = "has no value";
            } else if (strlen(value) > max) {
                s->bad = key;
                s->why = ru->too_long;
            } else {
                s->v[i] = value;
            }
            return MHD_YES;
        }
    s->bad = key;
    s->why = ru->unknown;
    return MHD_YES;
}

int web_args_with(web_req *r, const web_args_rules *rules, const char *const *names, size_t n,
                  const char **v)
{
    collect_state s = {rules, names, n, v, NULL, NULL};
    for (size_t i = 0; i < n; i++)
        v[i] = NULL;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &s);
    if (s.bad) {
        if (rules->whole_key)
            web_reply_error(r, 400, rules->code, "'%s' %s", s.bad, s.why);
        else
            web_reply_error(r, 400, rules->code, "'%.64s' %s", s.bad, s.why);
        return -1;
    }
    return 0;
}

const char *web_arg(const char *const *names, size_t n, const char *const *v, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return v[i];
    return NULL;
}

int web_args(web_req *r, const char *const *names, size_t n, const char **v, size_t maxlen)
{
    const web_args_rules rules = {.code = "bad_query",
                                  .unknown = "is not a parameter of this route",
                                  .too_long = "is too long",
                                  .maxlen = maxlen};
    return web_args_with(r, &rules, names, n, v);
}
