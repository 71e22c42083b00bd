/* The audit chain as the console reads it: newest first, filtered by actor
 * and by event (kind), in keyset pages on seq. Fixed SQL, numbered
 * parameters; PostgreSQL builds the JSON. detail is given as the text the
 * chain hashed (a JSON object as written), not re-encoded. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "core/db.h"

static const char k_list[] =
    "SELECT coalesce(json_agg(json_build_object('seq', seq,"
    " 'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " 'actor', actor, 'kind', event, 'action_id', action_id, 'incident_id', incident_id,"
    " 'detail', detail,"
    " 'hash', hash) ORDER BY seq DESC), '[]')::text, min(seq), count(*)"
    " FROM (SELECT * FROM audit_log WHERE ($1::text IS NULL OR actor = $1)"
    " AND ($2::text IS NULL OR event = $2) AND ($3::bigint IS NULL OR seq < $3)"
    " ORDER BY seq DESC LIMIT $4::int) t";

cJSON *audit_list(PGconn *c, const char *actor, const char *kind, int64_t before, int limit,
                  char *err, size_t errlen)
{
    char b[24], l[16];
    snprintf(b, sizeof b, "%" PRId64, before);
    snprintf(l, sizeof l, "%d", limit + 1);
    const char *p[4] = {actor, kind, before > 0 ? b : NULL, l};
    PGresult *r = core_db_query(c, k_list, 4, p, "reading the audit log", err, errlen);
    if (!r)
        return NULL;
    cJSON *rows = cJSON_Parse(PQgetvalue(r, 0, 0));
    long n = strtol(PQgetvalue(r, 0, 2), NULL, 10);
    PQclear(r);
    if (!rows) {
        snprintf(err, errlen, "reading the audit log: the database's JSON did not parse");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    /* one row more than asked for says there is a next page */
    cJSON *next = NULL;
    if (n > limit) {
        cJSON_DeleteItemFromArray(rows, limit);
        const cJSON *last = cJSON_GetArrayItem(rows, limit - 1);
        next = cJSON_CreateNumber(cJSON_GetObjectItemCaseSensitive(last, "seq")->valuedouble);
    }
    cJSON_AddItemToObject(o, "entries", rows);
    cJSON_AddItemToObject(o, "next_before", next ? next : cJSON_CreateNull());
    return o;
}
