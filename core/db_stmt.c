/* The connection's statement cache: a parameterised statement that custos
 * sends again and again (the incident writer's upserts, a playbook's
 * action transitions, the offset reads of every batch) is prepared once on
 * each connection and then only bound and executed, so the server parses,
 * analyses and plans it once instead of at every call. Under an alert storm
 * that work was a fifth of PostgreSQL's CPU (docs/architecture.md, "The
 * statement cache and the change feed").
 *
 * The cache lives on the PGconn as libpq instance data (the event system):
 * emptied when PQreset() opens a new session, whose server has none of the
 * statements, and freed by PQfinish(). A connection is used by one thread at
 * a time, as libpq requires, so the cache needs no lock. It holds at most
 * CORE_DB_STMT_MAX statements; past that a new text runs unprepared, as do
 * all of them with postgres.prepared_statements off (a connection pooler
 * that hands each transaction another server session keeps no prepared
 * statement). */
#include <libpq-events.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

typedef struct {
    uint64_t h;
    char *sql;
    unsigned name; /* "custos_<name>" on the server */
} stmt;

typedef struct {
    stmt s[CORE_DB_STMT_MAX];
    int n;
    unsigned next_name;
} stmt_cache;

static atomic_bool g_prepare = true;

void core_db_set_prepared(bool on) { atomic_store(&g_prepare, on); }

static void cache_clear(stmt_cache *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->n; i++)
        free(sc->s[i].sql);
    sc->n = 0;
}

static int cache_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNRESET) {
        const PGEventConnReset *e = info;
        cache_clear(PQinstanceData(e->conn, cache_event));
    } else if (id == PGEVT_CONNDESTROY) {
        const PGEventConnDestroy *e = info;
        stmt_cache *sc = PQinstanceData(e->conn, cache_event);
        cache_clear(sc);
        free(sc);
    }
    return 1;
}

/* The connection's cache, made on first use (NULL when out of memory). */
static stmt_cache *cache_of(PGconn *c)
{
    stmt_cache *sc = PQinstanceData(c, cache_event);
    if (sc)
        return sc;
    /* 0 when it is registered already (an earlier attempt ran out of
     * memory below): PQsetInstanceData then still works */
    (void)PQregisterEventProc(c, cache_event, "custos statement cache", NULL);
    sc = calloc(1, sizeof *sc);
    if (!sc)
        return NULL;
    if (!PQsetInstanceData(c, cache_event, sc)) {
        free(sc);
        return NULL;
    }
    return sc;
}

static uint64_t text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void drop(stmt_cache *sc, int i)
{
    free(sc->s[i].sql);
    sc->s[i] = sc->s[--sc->n];
}

/* The errors after which a cached statement is no use: the server no
 * longer has it (a pooler's other session, DISCARD ALL) or a table it reads
 * changed its columns ("cached plan must not change result type"). */
static bool stale(const PGresult *r)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return st && (strcmp(st, "26000") == 0 || strcmp(st, "0A000") == 0);
}

/* Prepares sql as statement no of c: true when it was, else false with the
 * failed result (NULL when libpq had none to give) in *fail. */
static bool prepare(PGconn *c, unsigned no, const char *sql, int n, PGresult **fail)
{
    char name[32];
    snprintf(name, sizeof name, "custos_%u", no);
    PGresult *p = PQprepare(c, name, sql, n, NULL);
    if (PQresultStatus(p) == PGRES_COMMAND_OK) {
        PQclear(p);
        return true;
    }
    *fail = p;
    return false;
}

PGresult *core_db_exec_stmt(PGconn *c, const char *sql, int n, const char *const *params,
                            const int *lengths, const int *formats)
{
    stmt_cache *sc = c && atomic_load(&g_prepare) && PQstatus(c) == CONNECTION_OK ? cache_of(c) : NULL;
    if (!sc)
        return PQexecParams(c, sql, n, NULL, params, lengths, formats, 0);
    uint64_t h = text_hash(sql);
    int i = 0;
    while (i < sc->n && !(sc->s[i].h == h && strcmp(sc->s[i].sql, sql) == 0))
        i++;
    for (int attempt = 0;; attempt++) {
        if (i == sc->n) {
            char *copy;
            if (sc->n == CORE_DB_STMT_MAX || !(copy = strdup(sql)))
                return PQexecParams(c, sql, n, NULL, params, lengths, formats, 0);
            unsigned no = ++sc->next_name;
            PGresult *fail = NULL;
            if (!prepare(c, no, sql, n, &fail)) {
                /* the statement's own error (or the aborted transaction's,
                 * or a broken connection's), as PQexecParams would have
                 * reported it */
                free(copy);
                return fail;
            }
            sc->s[sc->n++] = (stmt){h, copy, no};
        }
        char name[32];
        snprintf(name, sizeof name, "custos_%u", sc->s[i].name);
        PGresult *r = PQexecPrepared(c, name, n, params, lengths, formats, 0);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || !stale(r))
            return r;
        /* Prepared again at the next call. The statement did not run, so
         * outside a transaction it is run again at once; inside one the
         * error has aborted it and is the caller's to see. */
        drop(sc, i);
        i = sc->n;
        if (attempt > 0 || PQtransactionStatus(c) != PQTRANS_IDLE)
            return r;
        PQclear(r);
    }
}

int core_db_stmt_count(PGconn *c)
{
    stmt_cache *sc = c ? PQinstanceData(c, cache_event) : NULL;
    return sc ? sc->n : 0;
}
