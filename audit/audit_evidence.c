/* Evidence freeze: what a model change is about to destroy, kept as one
 * immutable evidence_records row with the SHA-256 of its exact text, and an
 * evidence_frozen audit row beside it. */
#include "audit/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

/* The model version's events over the incident's span, and the incident's
 * own evidence events (incident_events), at most $4 in time order. */
static const char *const k_collect =
    "WITH inc AS (SELECT $1::json AS j), "
    "ev AS (SELECT i.* FROM interactions i, inc WHERE i.model = $2 AND i.model_version = $3 "
    "AND i.ts >= coalesce((inc.j->>'first_seen')::timestamptz, now() - interval '1 day') "
    "AND i.ts <= coalesce((inc.j->>'detected_at')::timestamptz, now()) "
    "UNION SELECT i.* FROM incident_events ie JOIN interactions i ON i.event_id = ie.event_id "
    "AND i.ts = ie.ts WHERE ie.incident_id = $5), "
    "sel AS (SELECT * FROM ev ORDER BY ts LIMIT $4::bigint) "
    "SELECT json_build_object('schema', 'custos.evidence.v1', 'action_id', $6::bigint, "
    "'incident_id', $5::text, 'frozen_at', now(), 'incident', (SELECT j FROM inc), "
    "'drift_windows', (SELECT j->'evidence' FROM inc), 'events', (SELECT coalesce("
    "json_agg(row_to_json(sel) ORDER BY ts), '[]'::json) FROM sel))::text, "
    "(SELECT count(*) FROM sel)";

int64_t audit_evidence_freeze(PGconn *c, const char *incident_id, const char *incident_json,
                              const char *model, const char *model_version, int64_t action_id,
                              const char *actor, int64_t max_events, char sha256[65], char *err,
                              size_t errlen)
{
    int64_t id = -1;
    PGresult *r2 = NULL;
    char ids[32], lim[32];
    snprintf(ids, sizeof ids, "%" PRId64, action_id);
    snprintf(lim, sizeof lim, "%" PRId64, max_events);
    const char *v[] = {incident_json ? incident_json : "{}", model, model_version, lim,
                       incident_id, ids};
    PGresult *r = core_db_query(c, k_collect, 6, v, "collecting the evidence", err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        snprintf(err, errlen, "collecting the evidence: no result row");
        goto done;
    }
    const char *content = PQgetvalue(r, 0, 0);
    audit_sha256_hex(content, strlen(content), sha256);
    const char *v2[] = {incident_id, ids, content, sha256,
                        PQgetvalue(r, 0, 1)};
    r2 = core_db_query(c,
                       "INSERT INTO evidence_records (incident_id, action_id, content, sha256, "
                       "events) VALUES ($1, $2::bigint, $3, $4, $5::bigint) RETURNING id",
                       5, v2, "storing the evidence", err, errlen);
    if (!r2)
        goto done;
    char detail[256];
    snprintf(detail, sizeof detail, "{\"evidence_id\":%s,\"sha256\":\"%s\",\"events\":%s}",
             PQgetvalue(r2, 0, 0), sha256, PQgetvalue(r, 0, 1));
    if (audit_append(c, actor, "evidence_frozen", action_id, incident_id, detail, err, errlen) < 0)
        goto done;
    id = strtoll(PQgetvalue(r2, 0, 0), NULL, 10);
done:
    PQclear(r2);
    PQclear(r);
    return id;
}
