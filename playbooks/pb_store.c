/* Actions and their transitions in PostgreSQL (each one audited through
 * audit/), and incident deliveries. */
#include "playbooks/pb_store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/db.h"
#include "core/log.h"

void pb_action_clear(pb_action *a)
{
    free(a->incident_id);
    free(a->playbook);
    free(a->subject);
    free(a->state);
    free(a->actor);
    cJSON_Delete(a->params);
    memset(a, 0, sizeof *a);
}

/* ---- actions ---- */

static char *audit_detail_transition(const char *from, const char *to, const char *note,
                                     const char *result_json, const char *gate)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "from", from);
    cJSON_AddStringToObject(d, "to", to);
    if (note)
        cJSON_AddStringToObject(d, "note", note);
    if (gate) /* the preservation gate's answer (EU AI Act Art. 73(6)) */
        cJSON_AddStringToObject(d, "gate", gate);
    if (result_json) {
        cJSON *res = cJSON_Parse(result_json);
        if (res)
            cJSON_AddItemToObject(d, "result", res);
    }
    char *s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return s;
}

int pb_store_propose(PGconn *c, const char *incident_id, const char *playbook, pb_kind kind,
                     const char *subject, const char *params_json, bool dry_run,
                     bool approval_required, int64_t ttl_s, int64_t revert_of,
                     const char *actor, const char *first_state, int64_t expiry_ms,
                     const char *result_json, int64_t *id, char *state, size_t statelen,
                     bool *created, char *err, size_t errlen)
{
    int rc = -1;
    PGresult *r = NULL;
    char *detail = NULL, *detail2 = NULL;
    *created = false;
    /* The identity of an action: same incident, kind, parameters and
     * dry-run flag is the same action. */
    size_t kl = strlen(pb_kinds[kind]) + strlen(params_json) + 8;
    char *keysrc = malloc(kl);
    if (!keysrc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(keysrc, kl, "%s\n%s\n%d", pb_kinds[kind], params_json, dry_run ? 1 : 0);
    char key[65];
    audit_sha256_hex(keysrc, strlen(keysrc), key);
    free(keysrc);
    char ttl[32], rev[32], exp[32];
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_s);
    snprintf(rev, sizeof rev, "%" PRId64, revert_of);
    snprintf(exp, sizeof exp, "%" PRId64, expiry_ms);
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    /* Stored in its first state at once: the audit chain below records the
     * proposal and the move to that state, as two events of one
     * transaction (no one outside it ever saw the row as 'proposed'), and
     * the change feed gets one row for it, not two. */
    const char *v[] = {incident_id, playbook, pb_kinds[kind], subject, params_json, key,
                       dry_run ? "t" : "f", approval_required ? "t" : "f",
                       ttl_s > 0 ? ttl : NULL, revert_of > 0 ? rev : NULL, actor,
                       first_state, exp, result_json};
    r = core_db_query(c,
            "INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state, "
            "dry_run, approval_required, ttl_s, revert_of, actor, expires_at, finished_at, "
            "result) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $12, $7::boolean, $8::boolean, "
            "$9::bigint, $10::bigint, $11, CASE WHEN $12 = 'pending_approval' THEN now() + "
            "$13::bigint * interval '1 millisecond' END, CASE WHEN $12 = 'dry_run' THEN now() "
            "END, $14::jsonb) "
            "ON CONFLICT (incident_id, kind, params_key) DO NOTHING RETURNING id",
            14, v, "recording the action", err, errlen);
    if (!r)
        goto done;
    if (PQntuples(r) == 0) {
        PQclear(r);
        const char *v2[] = {incident_id, pb_kinds[kind], key};
        r = core_db_query(c,
                          "SELECT id, state FROM actions WHERE incident_id = $1 AND kind = $2 AND "
                          "params_key = $3", 3, v2, "finding the action", err, errlen);
        if (!r || PQntuples(r) != 1) {
            if (r)
                snprintf(err, errlen, "the action vanished");
            goto done;
        }
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        snprintf(state, statelen, "%s", PQgetvalue(r, 0, 1));
        if (core_db_commit(c, err, errlen) < 0)
            goto done;
        rc = 0;
        goto done;
    }
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = NULL;
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "playbook", playbook);
    cJSON_AddStringToObject(d, "kind", pb_kinds[kind]);
    cJSON_AddStringToObject(d, "subject", subject);
    cJSON *pj = cJSON_Parse(params_json);
    cJSON_AddItemToObject(d, "params", pj ? pj : cJSON_CreateNull());
    cJSON_AddBoolToObject(d, "dry_run", dry_run);
    cJSON_AddBoolToObject(d, "approval_required", approval_required);
    if (revert_of > 0)
        cJSON_AddNumberToObject(d, "revert_of", (double)revert_of);
    detail = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    if (!detail || audit_append(c, actor, "proposed", *id, incident_id, detail, err, errlen) < 0)
        goto done;
    detail2 = audit_detail_transition("proposed", first_state, NULL, result_json, NULL);
    if (!detail2 ||
        audit_append(c, actor, first_state, *id, incident_id, detail2, err, errlen) < 0 ||
        core_db_commit(c, err, errlen) < 0)
        goto done;
    snprintf(state, statelen, "%s", first_state);
    *created = true;
    rc = 0;
done:
    if (rc < 0)
        core_db_rollback(c);
    PQclear(r);
    free(detail);
    free(detail2);
    return rc;
}

static int transition(PGconn *c, int64_t id, const char *from, const char *to,
                      const char *actor, const char *note, const char *result_json,
                      const char *gate, char *err, size_t errlen)
{
    int rc = -1;
    char *detail = NULL;
    char ids[32];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    const char *v[] = {ids, to, from, actor, note, result_json, gate};
    PGresult *r = core_db_query(
            c,
            "WITH old AS (SELECT id, state FROM actions WHERE id = $1::bigint FOR UPDATE) "
            "UPDATE actions a SET state = $2, updated_at = now(), "
            "decided_at = CASE WHEN $2 IN ('approved', 'rejected') THEN now() ELSE a.decided_at END, "
            "decided_by = CASE WHEN $2 IN ('approved', 'rejected') THEN $4 ELSE a.decided_by END, "
            "decision_reason = CASE WHEN $2 IN ('approved', 'rejected') THEN $5 "
            "ELSE a.decision_reason END, "
            "approval_gate = CASE WHEN $2 = 'approved' THEN $7 ELSE a.approval_gate END, "
            "started_at = CASE WHEN $2 = 'executing' THEN now() ELSE a.started_at END, "
            "attempts = CASE WHEN $2 = 'executing' THEN a.attempts + 1 ELSE a.attempts END, "
            "finished_at = CASE WHEN $2 IN ('done', 'failed', 'skipped', 'rejected', 'expired') "
            "THEN now() ELSE a.finished_at END, "
            "error = CASE WHEN $2 IN ('failed', 'skipped') THEN $5 ELSE a.error END, "
            "result = CASE WHEN $2 IN ('done', 'failed', 'skipped') AND $6::text IS NOT NULL "
            "THEN $6::jsonb ELSE a.result END, "
            "revert_at = CASE WHEN $2 = 'done' AND a.ttl_s IS NOT NULL "
            "THEN now() + a.ttl_s * interval '1 second' ELSE a.revert_at END "
            "FROM old WHERE a.id = old.id AND old.state = ANY($3::text[]) "
            "RETURNING old.state, a.incident_id",
            7, v, "moving the action", err, errlen);
    if (!r)
        goto done;
    if (PQntuples(r) == 0) {
        PQclear(r);
        core_db_rollback(c);
        return 0;
    }
    detail = audit_detail_transition(PQgetvalue(r, 0, 0), to, note, result_json, gate);
    char inc[256];
    snprintf(inc, sizeof inc, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    if (!detail || audit_append(c, actor, to, id, inc, detail, err, errlen) < 0 ||
        core_db_commit(c, err, errlen) < 0)
        goto done;
    rc = 1;
done:
    if (rc < 0)
        core_db_rollback(c);
    free(detail);
    return rc;
}

int pb_store_transition(PGconn *c, int64_t id, const char *from, const char *to,
                        const char *actor, const char *note, const char *result_json,
                        char *err, size_t errlen)
{
    return transition(c, id, from, to, actor, note, result_json, NULL, err, errlen);
}

int pb_store_approve(PGconn *c, int64_t id, const char *actor, const char *reason,
                     const char *gate, char *err, size_t errlen)
{
    return transition(c, id, "{pending_approval}", "approved", actor, reason, NULL, gate, err,
                      errlen);
}

int pb_store_get(PGconn *c, int64_t id, pb_action *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    char ids[32];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    const char *v[] = {ids};
    PGresult *r = core_db_query(c,
            "SELECT id, incident_id, playbook, kind, subject, params::text, state, "
            "coalesce(ttl_s, 0), coalesce(revert_of, 0), dry_run, approval_required, "
            "actor, coalesce(approval_gate, '') FROM actions WHERE id = $1::bigint",
            1, v, "reading the action", err, errlen);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    a->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    a->incident_id = strdup(PQgetvalue(r, 0, 1));
    a->playbook = strdup(PQgetvalue(r, 0, 2));
    a->kind = (pb_kind)pb_kind_parse(PQgetvalue(r, 0, 3));
    a->subject = strdup(PQgetvalue(r, 0, 4));
    a->params = cJSON_Parse(PQgetvalue(r, 0, 5));
    a->state = strdup(PQgetvalue(r, 0, 6));
    a->ttl_s = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
    a->revert_of = strtoll(PQgetvalue(r, 0, 8), NULL, 10);
    a->dry_run = PQgetvalue(r, 0, 9)[0] == 't';
    a->approval_required = PQgetvalue(r, 0, 10)[0] == 't';
    a->actor = strdup(PQgetvalue(r, 0, 11));
    snprintf(a->approval_gate, sizeof a->approval_gate, "%s", PQgetvalue(r, 0, 12));
    PQclear(r);
    if (!a->incident_id || !a->playbook || !a->subject || !a->params || !a->state || !a->actor ||
        (int)a->kind < 0) {
        pb_action_clear(a);
        snprintf(err, errlen, "action %" PRId64 ": unreadable row", id);
        return -1;
    }
    return 1;
}

int pb_store_delivery(PGconn *c, const char *incident_id, const char *json, int64_t *deliveries,
                      int64_t *actions, char *err, size_t errlen)
{
    const char *v[] = {incident_id, json};
    PGresult *r = core_db_query(c,
            "INSERT INTO incident_deliveries (incident_id, deliveries, last_incident) "
            "VALUES ($1, 1, $2) ON CONFLICT (incident_id) DO UPDATE SET deliveries = "
            "incident_deliveries.deliveries + 1, last_at = now(), last_incident = "
            "EXCLUDED.last_incident RETURNING deliveries, "
            "(SELECT count(*) FROM actions WHERE incident_id = $1)",
            2, v, "counting the delivery", err, errlen);
    if (!r)
        return -1;
    *deliveries = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *actions = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return 0;
}

char *pb_store_incident_json(PGconn *c, const char *incident_id, char *err, size_t errlen)
{
    const char *v[] = {incident_id};
    PGresult *r = core_db_query(c,
                                "SELECT last_incident FROM incident_deliveries WHERE "
                                "incident_id = $1",
                                1, v, "reading the incident", err, errlen);
    if (!r)
        return NULL;
    char *s = PQntuples(r) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    if (!PQntuples(r))
        snprintf(err, errlen, "incident %s was never delivered to the playbooks", incident_id);
    PQclear(r);
    return s;
}

static int ids_of(PGconn *c, const char *sql, int64_t *ids, int max, char *err, size_t errlen)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", max);
    const char *v[] = {lim};
    PGresult *r = core_db_query(c, sql, 1, v, "finding due actions", err, errlen);
    if (!r)
        return -1;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        ids[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    PQclear(r);
    return n;
}

int pb_store_due_expiry(PGconn *c, int64_t *ids, int max, char *err, size_t errlen)
{
    return ids_of(c, "SELECT id FROM actions WHERE state = 'pending_approval' AND expires_at <= "
                     "now() ORDER BY id LIMIT $1::int", ids, max, err, errlen);
}

int pb_store_due_revert(PGconn *c, int64_t *ids, int max, char *err, size_t errlen)
{
    /* A revert that failed has escalated to a human: not retried forever. */
    return ids_of(c, "SELECT id FROM actions a WHERE state = 'done' AND revert_at <= now() AND "
                     "reverted_at IS NULL AND NOT EXISTS (SELECT 1 FROM actions r WHERE "
                     "r.revert_of = a.id AND r.state = 'failed') ORDER BY revert_at LIMIT $1::int",
                  ids, max, err, errlen);
}

static int ids_of2(PGconn *c, const char *sql, int secs, int64_t *ids, int max, char *err,
                   size_t errlen)
{
    char lim[16], sec[16];
    snprintf(lim, sizeof lim, "%d", max);
    snprintf(sec, sizeof sec, "%d", secs);
    const char *v[] = {lim, sec};
    PGresult *r = core_db_query(c, sql, 2, v, "finding due actions", err, errlen);
    if (!r)
        return -1;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        ids[i] = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    PQclear(r);
    return n;
}

int pb_store_due_orphans(PGconn *c, int stale_s, int64_t *ids, int max, char *err, size_t errlen)
{
    return ids_of2(c, "SELECT id FROM actions WHERE state = 'approved' AND updated_at < now() - "
                      "$2::int * interval '1 second' ORDER BY id LIMIT $1::int",
                   stale_s, ids, max, err, errlen);
}

int pb_store_due_stuck(PGconn *c, int stuck_s, int64_t *ids, int max, char *err, size_t errlen)
{
    return ids_of2(c, "SELECT id FROM actions WHERE state = 'executing' AND started_at < now() - "
                      "$2::int * interval '1 second' ORDER BY id LIMIT $1::int",
                   stuck_s, ids, max, err, errlen);
}

int pb_store_mark_reverted(PGconn *c, int64_t id, int64_t revert_id, char *err, size_t errlen)
{
    int rc = -1;
    char ids[32], detail[96];
    snprintf(ids, sizeof ids, "%" PRId64, id);
    snprintf(detail, sizeof detail, "{\"revert_action\":%" PRId64 "}", revert_id);
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    const char *v[] = {ids};
    PGresult *r = core_db_query(c,
                                "UPDATE actions SET reverted_at = now(), updated_at = now() "
                                "WHERE id = $1::bigint AND reverted_at IS NULL RETURNING incident_id",
                                1, v, "marking the action reverted", err, errlen);
    if (!r)
        goto done;
    if (PQntuples(r) == 1 &&
        audit_append(c, "auto-revert", "reverted", id, PQgetvalue(r, 0, 0), detail, err,
                        errlen) < 0) {
        PQclear(r);
        goto done;
    }
    PQclear(r);
    if (core_db_commit(c, err, errlen) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0)
        core_db_rollback(c);
    return rc;
}

int pb_store_list(PGconn *c, const char *state, const char *incident, int limit, bool json,
                  FILE *out, char *err, size_t errlen)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[] = {state, incident, lim};
    PGresult *r = core_db_query(c,
            "SELECT id, state, kind, subject, incident_id, playbook, "
            "to_char(created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "coalesce(CASE WHEN state = 'pending_approval' THEN 'expires ' || "
            "to_char(expires_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END, error, "
            "decision_reason, CASE WHEN reverted_at IS NOT NULL THEN 'reverted' "
            "WHEN revert_at IS NOT NULL THEN 'reverts ' || to_char(revert_at, "
            "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END, ''), "
            "(SELECT row_to_json(x) FROM (SELECT a.*) x)::text "
            "FROM actions a WHERE ($1::text IS NULL OR state = $1) AND "
            "($2::text IS NULL OR incident_id = $2) ORDER BY id DESC LIMIT $3::int",
            3, v, "listing actions", err, errlen);
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (!json)
        fprintf(out, "%-6s %-16s %-14s %-20s %-20s %-22s %-20s %s\n", "ID", "STATE", "KIND",
                "SUBJECT", "INCIDENT", "PLAYBOOK", "CREATED", "NOTE");
    for (int i = 0; i < n; i++) {
        if (json)
            fprintf(out, "%s\n", PQgetvalue(r, i, 8));
        else
            fprintf(out, "%-6s %-16s %-14s %-20.20s %-20.20s %-22.22s %-20s %s\n",
                    PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                    PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
                    PQgetvalue(r, i, 6), PQgetvalue(r, i, 7));
    }
    PQclear(r);
    return n;
}
