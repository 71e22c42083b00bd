/* The query-string arguments of a route that takes a fixed set of them:
 * anything else (unknown, repeated, without a value, too long) is a 400. */
#include <microhttpd.h>
#include <string.h>

#include "web/web_internal.h"

typedef struct {
    const char *const *names;
    size_t n, maxlen;
    const char **v;
    const char *bad, *why;
} collect_state;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    collect_state *s = cls;
    if (s->bad)
        return MHD_YES;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(key, s->names[i]) == 0) {
            if (s->v[i]) {
                s->bad = key;
                s->why = "is given twice";
            } else if (!value || !*value) {
                s->bad = key;
                s->why = "has no value";
            } else if (strlen(value) > s->maxlen) {
                s->bad = key;
                s->why = "is too long";
            } else {
                s->v[i] = value;
            }
            return MHD_YES;
        }
    s->bad = key;
    s->why = "is not a parameter of this route";
    return MHD_YES;
}

int web_args(web_req *r, const char *const *names, size_t n, const char **v, size_t maxlen)
{
    collect_state s = {names, n, maxlen, v, NULL, NULL};
    for (size_t i = 0; i < n; i++)
        v[i] = NULL;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &s);
    if (s.bad) {
        web_reply_error(r, 400, "bad_query", "'%.64s' %s", s.bad, s.why);
        return -1;
    }
    return 0;
}
