/* PostgreSQL connection, schema version checks and migrations. */
#include "core/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define MIGRATE_LOCK_KEY 0x637573746f73LL /* "custos" */

int core_db_schema_target(void)
{
    return core_migrations_count ? core_migrations[core_migrations_count - 1].version : 0;
}

void core_db_error(PGconn *c, const char *what, char *err, size_t errlen)
{
    const char *m = c ? PQerrorMessage(c) : "no connection";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "%s: %.*s", what, (int)n, m);
}

/* Server notices ("relation already exists, skipping") go to the log at
 * debug level instead of raw lines on stderr. */
static void notice_cb(void *arg, const char *msg)
{
    (void)arg;
    char q[512];
    size_t n = strlen(msg);
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(n && msg[n - 1] == '\n' ? n - 1 : n), msg);
    core_log(CORE_LOG_DEBUG, "postgres", "notice", "detail=%s", core_log_quote(q, sizeof q, line));
}

PGconn *core_db_connect(const char *dsn, int timeout_s, char *err, size_t errlen)
{
    char tmo[16];
    snprintf(tmo, sizeof tmo, "%d", timeout_s);
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {dsn, tmo, "custos", NULL};
    /* expand_dbname=1: dsn may be a conninfo string or a URI. */
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        snprintf(err, errlen, "connecting to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        core_db_error(c, "connecting to PostgreSQL", err, errlen);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, notice_cb, NULL);
    PGresult *r = PQexec(c, "SET TIME ZONE 'UTC'");
    PQclear(r);
    return c;
}

int core_db_exec(PGconn *c, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        core_db_error(c, sql, err, errlen);
    PQclear(r);
    return ok ? 0 : -1;
}

/* Reads the applied versions into a bitmap-like array indexed by position in
 * core_migrations (applied[i] != 0), and counts applied versions this binary
 * does not know (*unknown, the highest in *unknown_max). Returns -1 with err. */
static int applied_set(PGconn *c, char *applied, int *unknown, int *unknown_max, int *max,
                       char *err, size_t errlen)
{
    memset(applied, 0, (size_t)core_migrations_count);
    *unknown = *unknown_max = *max = 0;
    PGresult *r = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_db_error(c, "reading schema version", err, errlen);
        PQclear(r);
        return -1;
    }
    int exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!exists)
        return 0;
    r = PQexec(c, "SELECT version FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_db_error(c, "reading schema version", err, errlen);
        PQclear(r);
        return -1;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        int v = atoi(PQgetvalue(r, row, 0));
        int i;
        for (i = 0; i < core_migrations_count; i++)
            if (core_migrations[i].version == v)
                break;
        if (i < core_migrations_count) {
            applied[i] = 1;
        } else {
            (*unknown)++;
            if (v > *unknown_max)
                *unknown_max = v;
        }
        if (v > *max)
            *max = v;
    }
    PQclear(r);
    return 0;
}

int core_db_schema_version(PGconn *c, int *applied_max, char *err, size_t errlen)
{
    char applied[256];
    int unknown, unknown_max;
    if (core_migrations_count > (int)sizeof applied) {
        snprintf(err, errlen, "too many migrations");
        return -1;
    }
    return applied_set(c, applied, &unknown, &unknown_max, applied_max, err, errlen);
}

int core_db_check_schema(PGconn *c, char *err, size_t errlen)
{
    char applied[256];
    int unknown, unknown_max, max;
    if (applied_set(c, applied, &unknown, &unknown_max, &max, err, errlen) < 0)
        return -1;
    if (unknown) {
        snprintf(err, errlen,
                 "database schema has migration %d, which this custos does not know (it knows up "
                 "to %d): upgrade custos to a release that does",
                 unknown_max, core_db_schema_target());
        return -1;
    }
    for (int i = 0; i < core_migrations_count; i++)
        if (!applied[i]) {
            snprintf(err, errlen,
                     "database schema is behind this custos: migration %s is not applied: run "
                     "'custos migrate'",
                     core_migrations[i].name);
            return -1;
        }
    return 0;
}

int core_db_migrate(PGconn *c, char *err, size_t errlen)
{
    char lock[96];
    char applied[256];
    int applied_n = 0, unknown, unknown_max, max;
    snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%lld)", MIGRATE_LOCK_KEY);
    if (core_migrations_count > (int)sizeof applied) {
        snprintf(err, errlen, "too many migrations");
        return -1;
    }
    if (core_db_exec(c, lock, err, errlen) < 0)
        return -1;
    if (core_db_exec(c,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     " version integer PRIMARY KEY, name text NOT NULL,"
                     " applied_at timestamptz NOT NULL DEFAULT now())",
                     err, errlen) < 0)
        goto fail;
    if (applied_set(c, applied, &unknown, &unknown_max, &max, err, errlen) < 0)
        goto fail;
    if (unknown) {
        snprintf(err, errlen,
                 "database schema has migration %d, which this custos does not know: refusing "
                 "to migrate",
                 unknown_max);
        goto fail;
    }
    /* Every migration not applied yet, in order (not only those above the
     * highest applied one: branches may land out of order). */
    for (int i = 0; i < core_migrations_count; i++) {
        const core_migration *m = &core_migrations[i];
        if (applied[i])
            continue;
        char what[160];
        snprintf(what, sizeof what, "migration %s", m->name);
        if (core_db_exec(c, "BEGIN", err, errlen) < 0)
            goto fail;
        PGresult *r = PQexec(c, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            core_db_error(c, what, err, errlen);
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            goto fail;
        }
        PQclear(r);
        char ver[16];
        snprintf(ver, sizeof ver, "%d", m->version);
        const char *params[] = {ver, m->name};
        r = PQexecParams(c, "INSERT INTO schema_migrations(version, name) VALUES ($1, $2)", 2,
                         NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            core_db_error(c, what, err, errlen);
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            goto fail;
        }
        PQclear(r);
        if (core_db_exec(c, "COMMIT", err, errlen) < 0)
            goto fail;
        applied_n++;
    }
    snprintf(lock, sizeof lock, "SELECT pg_advisory_unlock(%lld)", MIGRATE_LOCK_KEY);
    core_db_exec(c, lock, err, errlen);
    return applied_n;
fail:
    {
        char e2[64];
        snprintf(lock, sizeof lock, "SELECT pg_advisory_unlock(%lld)", MIGRATE_LOCK_KEY);
        core_db_exec(c, lock, e2, sizeof e2);
    }
    return -1;
}

int core_db_ensure_partitions(PGconn *c, int days_ahead, char *err, size_t errlen)
{
    char n[16];
    snprintf(n, sizeof n, "%d", days_ahead);
    const char *params[] = {n};
    PGresult *r = PQexecParams(c, "SELECT custos_ensure_partitions(current_date - 1, $1::int + 1)",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        core_db_error(c, "creating partitions", err, errlen);
        PQclear(r);
        return -1;
    }
    int created = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return created;
}
