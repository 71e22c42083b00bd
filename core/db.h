/* PostgreSQL connection and schema migrations. */
#ifndef CORE_DB_H
#define CORE_DB_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    int version;
    const char *name;
    const char *sql;
} core_migration;

/* Generated from sql/migrations/NNNN_name.sql at build time, in order. */
extern const core_migration core_migrations[];
extern const int core_migrations_count;

/* The schema version this binary was built for (the last migration). */
int core_db_schema_target(void);

/* Connects with dsn and a timeout; returns the connection or NULL with a
 * message (no password in it) in err. The caller owns it: PQfinish(). */
PGconn *core_db_connect(const char *dsn, int timeout_s, char *err, size_t errlen);

/* Reads the highest applied migration version into *applied (0: none).
 * Returns -1 with err on failure. */
int core_db_schema_version(PGconn *c, int *applied, char *err, size_t errlen);

/* Applies every migration not yet recorded in schema_migrations (not only
 * those above the highest applied), in order, each in its own transaction;
 * serialised by an advisory lock. Refuses a database holding a migration this
 * binary does not know. Returns the number applied, or -1 with err. */
int core_db_migrate(PGconn *c, char *err, size_t errlen);

/* Returns 0 when every migration of this binary is applied and none it does
 * not know; otherwise -1 with err saying whether the database is behind
 * (naming the first missing migration) or ahead, and what fixes it. */
int core_db_check_schema(PGconn *c, char *err, size_t errlen);

/* Makes sure the daily partitions of interactions exist from yesterday to
 * days_ahead days from now (moving rows out of the default partition when
 * needed). Returns the number created, or -1 with err. */
int core_db_ensure_partitions(PGconn *c, int days_ahead, char *err, size_t errlen);

/* Runs a command without parameters that returns no rows (BEGIN, COMMIT...).
 * Returns 0 or -1 with err. */
int core_db_exec(PGconn *c, const char *sql, char *err, size_t errlen);

/* Copies PQerrorMessage without its trailing newline into err. */
void core_db_error(PGconn *c, const char *what, char *err, size_t errlen);

#endif
