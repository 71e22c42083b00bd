/* PostgreSQL connection and schema migrations. */
#ifndef CORE_DB_H
#define CORE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- parameterised queries (every query with input goes through these) ----
 * params are n text values (NULL is SQL NULL); what names the query in err
 * ("what: server message"). */

/* Returns the result when the statement succeeded (tuples or command), else
 * NULL with err. The caller PQclear()s it. */
PGresult *core_db_query(PGconn *c, const char *sql, int n, const char *const *params,
                        const char *what, char *err, size_t errlen);

/* PQexecParams through the connection's statement cache (core/db_stmt.c):
 * the first call of a text on a connection prepares it, later ones only
 * bind and execute it. Same arguments and result as PQexecParams (text
 * results); the caller PQclear()s the result. */
#define CORE_DB_STMT_MAX 256
PGresult *core_db_exec_stmt(PGconn *c, const char *sql, int n, const char *const *params,
                            const int *lengths, const int *formats);
/* postgres.prepared_statements: off runs every statement unprepared. */
void core_db_set_prepared(bool on);
/* Statements prepared on c (for tests). */
int core_db_stmt_count(PGconn *c);

/* Runs a statement; returns the number of rows it affected (0 when it says
 * none), or -1 with err. */
long long core_db_exec_params(PGconn *c, const char *sql, int n, const char *const *params,
                              const char *what, char *err, size_t errlen);

/* BEGIN / COMMIT return 0 or -1 with err; ROLLBACK cannot fail usefully. */
int core_db_begin(PGconn *c, char *err, size_t errlen);
int core_db_commit(PGconn *c, char *err, size_t errlen);
void core_db_rollback(PGconn *c);

/* True when a failure is worth retrying: the connection is gone, or the
 * server says serialization failure, deadlock, too many connections,
 * insufficient resources or shutting down (SQLSTATE classes 08, 40, 53,
 * 57P). r may be NULL. */
bool core_db_transient(PGconn *c, const PGresult *r);

/* ---- a small pool of connections to one database ----
 * For request-shaped work (the web server, analyst decisions): a caller
 * takes a connection, runs its statements and gives it back. Connections
 * are opened lazily up to size; one found broken, or returned inside a
 * transaction, is closed (after a ROLLBACK) rather than reused. */
typedef struct core_db_pool core_db_pool;

core_db_pool *core_db_pool_new(const char *dsn, int connect_timeout_s, int size);
/* A connection, waiting up to wait_ms for one to be free; NULL with err
 * when none could be opened or the wait ran out. */
PGconn *core_db_pool_get(core_db_pool *p, int64_t wait_ms, char *err, size_t errlen);
void core_db_pool_put(core_db_pool *p, PGconn *c);
/* Closes every connection; none may be out. NULL is a no-op. */
void core_db_pool_free(core_db_pool *p);

/* A PostgreSQL array literal built element by element, for statements that
 * take many rows in one parameter (unnest($1::text[], ...)): one round trip
 * instead of one per row. Elements are quoted and escaped; NULL adds a NULL
 * element. Zero-initialise, add, take the text with core_db_array_text
 * (NUL-terminated, owned by the array; NULL when out of memory), free. */
typedef struct {
    char *data;
    size_t len, cap, n;
    int oom;
} core_db_array;

void core_db_array_add(core_db_array *a, const char *s);
void core_db_array_add_i64(core_db_array *a, int64_t v);
const char *core_db_array_text(core_db_array *a);
void core_db_array_free(core_db_array *a);

#endif
