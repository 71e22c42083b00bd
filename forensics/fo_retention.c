/* Retention of interactions: whole daily partitions past
 * retention.interactions_days are dropped, one transaction and one audit
 * row (retention_dropped) each; rows under a legal hold are moved into the
 * default partition first and so survive (custos_retention_drop in schema
 * 10). Rows in the default partition past retention and under no hold are
 * deleted (retention_deleted). Rejected events and alerts past their own
 * settings (retention.rejected_days, retention.alerts_days) and under no
 * hold are deleted, one transaction and one retention_deleted row per
 * table (custos_rejected_held, custos_alert_held in schema 15). The audit
 * chain, incidents and actions are never dropped. */
#include "forensics/forensics.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "forensics/fo_internal.h"

static const char *const k_old_parts =
    "SELECT c.relname, to_char(to_date(substr(c.relname, 14), 'YYYYMMDD'), 'YYYY-MM-DD') "
    "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'interactions'::regclass AND c.relname ~ '^interactions_[0-9]{8}$' "
    "AND (to_date(substr(c.relname, 14), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' "
    "<= now() - make_interval(days => $1::int) ORDER BY c.relname";

/* The ids of the active holds, as a JSON array text (caller frees). */
static char *active_holds(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = core_db_query(c, "SELECT coalesce(json_agg(id ORDER BY id), '[]')::text "
                                   "FROM legal_holds WHERE released_at IS NULL",
                                0, NULL, "reading the legal holds", err, errlen);
    if (!r)
        return NULL;
    char *s = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return s;
}

/* One partition, in a transaction of its own. */
static int drop_one(PGconn *c, const char *part, const char *day, bool dry, const char *actor,
                    FILE *out, forensics_retention_result *res, char *err, size_t errlen)
{
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    char *holds = NULL;
    const char *v[] = {part, dry ? "true" : "false"};
    PGresult *r = NULL;
    if (core_db_exec(c, "SELECT pg_advisory_xact_lock(hashtext('custos_retention'))", err,
                     errlen) < 0)
        goto fail;
    r = core_db_query(c, "SELECT total, held FROM custos_retention_drop($1, $2::boolean)", 2, v,
                      "dropping a partition", err, errlen);
    if (!r || !(holds = active_holds(c, err, errlen)))
        goto fail;
    int64_t total = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    int64_t held = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    if (!dry) {
        char detail[512];
        snprintf(detail, sizeof detail,
                 "{\"partition\":\"%s\",\"day\":\"%s\",\"rows_dropped\":%" PRId64
                 ",\"rows_held\":%" PRId64 ",\"holds\":%.200s}",
                 part, day, total - held, held, holds);
        if (audit_append(c, actor, "retention_dropped", 0, NULL, detail, err, errlen) < 0)
            goto fail;
    }
    if (dry ? (core_db_rollback(c), 0) : core_db_commit(c, err, errlen))
        goto fail;
    res->partitions++;
    res->rows_dropped += total - held;
    res->rows_held += held;
    if (out)
        fprintf(out, "%s %s (%s): %" PRId64 " rows dropped, %" PRId64 " held rows kept\n",
                dry ? "would drop" : "dropped", part, day, total - held, held);
    PQclear(r);
    free(holds);
    return 0;
fail:
    PQclear(r);
    free(holds);
    core_db_rollback(c);
    return -1;
}

/* Rows in the default partition past retention and under no hold. */
static int trim_default(PGconn *c, const char *days, bool dry, const char *actor, FILE *out,
                        forensics_retention_result *res, char *err, size_t errlen)
{
    static const char *const count_sql =
        "SELECT count(*) FROM interactions_default WHERE ts < now() - make_interval(days => "
        "$1::int) AND NOT custos_held(ts, event_id, api_key_id, model, model_version)";
    static const char *const delete_sql =
        "DELETE FROM interactions_default WHERE ts < now() - make_interval(days => $1::int) "
        "AND NOT custos_held(ts, event_id, api_key_id, model, model_version)";
    const char *v[] = {days};
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    long long n;
    if (dry) {
        PGresult *r = core_db_query(c, count_sql, 1, v, "counting old rows", err, errlen);
        n = r ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
        PQclear(r);
        core_db_rollback(c);
        if (n < 0)
            return -1;
    } else {
        n = core_db_exec_params(c, delete_sql, 1, v, "deleting old rows", err, errlen);
        char detail[160];
        snprintf(detail, sizeof detail,
                 "{\"partition\":\"interactions_default\",\"rows_deleted\":%lld}", n);
        if (n < 0 ||
            (n > 0 && audit_append(c, actor, "retention_deleted", 0, NULL, detail, err,
                                   errlen) < 0) ||
            core_db_commit(c, err, errlen) < 0) {
            core_db_rollback(c);
            return -1;
        }
    }
    res->default_deleted = n;
    if (out && n > 0)
        fprintf(out, "%s %lld rows of interactions_default past retention\n",
                dry ? "would delete" : "deleted", n);
    return 0;
}

/* A table whose old rows are deleted row by row: what its rows are called,
 * and the statements (parameter $1: the days), counting (rows to go, rows
 * held, the oldest and newest time of those to go) and deleting (its count). */
typedef struct {
    const char *table, *rows;
    const char *count_sql, *delete_sql;
} trim_spec;

#define ISO_S "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"
#define TRIM_COUNT(T, TS, HELD)                                                               \
    "SELECT count(*) FILTER (WHERE NOT held), count(*) FILTER (WHERE held), "                \
    "coalesce(to_char(min(t) FILTER (WHERE NOT held) AT TIME ZONE 'UTC', " ISO_S "), ''), "   \
    "coalesce(to_char(max(t) FILTER (WHERE NOT held) AT TIME ZONE 'UTC', " ISO_S "), '') "    \
    "FROM (SELECT " TS " AS t, " HELD " AS held FROM " T " WHERE " TS                         \
    " < now() - make_interval(days => $1::int)) x"
#define TRIM_DELETE(T, TS, HELD)                                                              \
    "WITH d AS (DELETE FROM " T " WHERE " TS " < now() - make_interval(days => $1::int) "    \
    "AND NOT " HELD " RETURNING 1) SELECT count(*) FROM d"
#define REJ_HELD "custos_rejected_held(received_at, kafka_ts)"
/* a coalesced alert row (migration 0016) spans ts..last_ts: it goes when its
 * last alert is past retention, and stays while a hold covers any of it */
#define ALERT_TS "coalesce(last_ts, ts)"
#define ALERT_HELD "custos_alert_span_held(incident_id, ts, coalesce(last_ts, ts), api_key_id)"

static const trim_spec k_rejected = {
    "rejected_events", "rejected events",
    TRIM_COUNT("rejected_events", "received_at", REJ_HELD),
    TRIM_DELETE("rejected_events", "received_at", REJ_HELD)};
static const trim_spec k_alerts = {"alerts", "alerts",
                                   TRIM_COUNT("alerts", ALERT_TS, ALERT_HELD),
                                   TRIM_DELETE("alerts", ALERT_TS, ALERT_HELD)};

/* Deletes (or, dry, counts) the rows of one table older than days and
 * under no hold, in one transaction with its audit row. */
static int trim_table(PGconn *c, const trim_spec *t, int64_t days, bool dry, const char *actor,
                      FILE *out, int64_t *deleted, int64_t *held, char *err, size_t errlen)
{
    char d[32], what[64];
    snprintf(d, sizeof d, "%" PRId64, days);
    snprintf(what, sizeof what, "counting old %s", t->rows);
    const char *v[] = {d};
    char *holds = NULL;
    PGresult *r = NULL;
    if (core_db_begin(c, err, errlen) < 0)
        return -1;
    if (core_db_exec(c, "SELECT pg_advisory_xact_lock(hashtext('custos_retention'))", err,
                     errlen) < 0 ||
        !(r = core_db_query(c, t->count_sql, 1, v, what, err, errlen)) ||
        !(holds = active_holds(c, err, errlen)))
        goto fail;
    int64_t n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    *held = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    char oldest[32], newest[32];
    snprintf(oldest, sizeof oldest, "%s", PQgetvalue(r, 0, 2));
    snprintf(newest, sizeof newest, "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    r = NULL;
    if (!dry && n > 0) {
        snprintf(what, sizeof what, "deleting old %s", t->rows);
        if (!(r = core_db_query(c, t->delete_sql, 1, v, what, err, errlen)))
            goto fail;
        n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        char detail[600];
        snprintf(detail, sizeof detail,
                 "{\"table\":\"%s\",\"days\":%s,\"rows_deleted\":%" PRId64
                 ",\"rows_held\":%" PRId64 ",\"oldest\":\"%s\",\"newest\":\"%s\",\"holds\":%.200s}",
                 t->table, d, n, *held, oldest, newest, holds);
        if (audit_append(c, actor, "retention_deleted", 0, NULL, detail, err, errlen) < 0)
            goto fail;
    }
    if (dry ? (core_db_rollback(c), 0) : core_db_commit(c, err, errlen))
        goto fail;
    *deleted = n;
    if (out && (n > 0 || *held > 0))
        fprintf(out, "%s %" PRId64 " %s older than %s days (%s .. %s), %" PRId64
                     " held kept\n",
                dry ? "would delete" : "deleted", n, t->rows, d, n ? oldest : "-",
                n ? newest : "-", *held);
    PQclear(r);
    free(holds);
    return 0;
fail:
    PQclear(r);
    free(holds);
    core_db_rollback(c);
    return -1;
}

int forensics_retention_run(PGconn *c, const core_config *cfg, bool dry, const char *actor,
                            FILE *out, forensics_retention_result *res, char *err,
                            size_t errlen)
{
    memset(res, 0, sizeof *res);
    char days[32];
    snprintf(days, sizeof days, "%" PRId64, cfg->ret_interactions_days);
    const char *v[] = {days};
    PGresult *r = core_db_query(c, k_old_parts, 1, v, "listing partitions", err, errlen);
    if (!r)
        return -1;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++)
        rc = drop_one(c, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), dry, actor, out, res, err,
                      errlen);
    PQclear(r);
    if (rc == 0)
        rc = trim_default(c, days, dry, actor, out, res, err, errlen);
    if (rc == 0 && cfg->ret_rejected_days > 0)
        rc = trim_table(c, &k_rejected, cfg->ret_rejected_days, dry, actor, out,
                        &res->rejected_deleted, &res->rejected_held, err, errlen);
    if (rc == 0 && cfg->ret_alerts_days > 0)
        rc = trim_table(c, &k_alerts, cfg->ret_alerts_days, dry, actor, out,
                        &res->alerts_deleted, &res->alerts_held, err, errlen);
    return rc;
}

void forensics_service_retention(forensics_service *s)
{
    PGconn *c = forensics_service_db(s);
    if (!c)
        return;
    char err[1024], q[1100];
    forensics_retention_result res;
    if (forensics_retention_run(c, forensics_service_cfg(s), false, "system", NULL, &res, err,
                                sizeof err) < 0)
        core_log(CORE_LOG_WARN, "forensics", "retention failed", "error=%s",
                 core_log_quote(q, sizeof q, err));
    else if (res.partitions > 0 || res.default_deleted > 0 || res.rejected_deleted > 0 ||
             res.alerts_deleted > 0)
        core_log(CORE_LOG_INFO, "forensics", "retention applied",
                 "partitions_dropped=%" PRId64 " rows_dropped=%" PRId64 " rows_held=%" PRId64
                 " default_deleted=%" PRId64 " rejected_deleted=%" PRId64
                 " alerts_deleted=%" PRId64,
                 res.partitions, res.rows_dropped, res.rows_held, res.default_deleted,
                 res.rejected_deleted, res.alerts_deleted);
}
