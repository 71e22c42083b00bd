/* Parameterised queries, transactions, and the connection pool. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/util.h"

PGresult *core_db_query(PGconn *c, const char *sql, int n, const char *const *params,
                        const char *what, char *err, size_t errlen)
{
    PGresult *r = core_db_exec_stmt(c, sql, n, params, NULL, NULL);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        core_db_error(c, what, err, errlen);
        PQclear(r);
        return NULL;
    }
    return r;
}

long long core_db_exec_params(PGconn *c, const char *sql, int n, const char *const *params,
                              const char *what, char *err, size_t errlen)
{
    PGresult *r = core_db_query(c, sql, n, params, what, err, errlen);
    if (!r)
        return -1;
    const char *t = PQcmdTuples(r);
    long long rows = t && *t ? strtoll(t, NULL, 10) : 0;
    PQclear(r);
    return rows;
}

int core_db_begin(PGconn *c, char *err, size_t errlen) { return core_db_exec(c, "BEGIN", err, errlen); }
int core_db_commit(PGconn *c, char *err, size_t errlen) { return core_db_exec(c, "COMMIT", err, errlen); }
void core_db_rollback(PGconn *c) { PQclear(PQexec(c, "ROLLBACK")); }

bool core_db_transient(PGconn *c, const PGresult *r)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return true;
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!st)
        return !r; /* no answer at all: the connection broke */
    return strncmp(st, "08", 2) == 0 || strncmp(st, "40", 2) == 0 ||
           strncmp(st, "53", 2) == 0 || strncmp(st, "57P", 3) == 0;
}

/* ---- the pool ---- */

struct core_db_pool {
    pthread_mutex_t mu;
    pthread_cond_t freed;
    char *dsn;
    int timeout_s, size, open; /* open: connections in use or idle */
    PGconn **idle;
    int nidle;
};

core_db_pool *core_db_pool_new(const char *dsn, int connect_timeout_s, int size)
{
    core_db_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->size = size > 0 ? size : 1;
    p->dsn = strdup(dsn ? dsn : "");
    p->idle = calloc((size_t)p->size, sizeof *p->idle);
    if (!p->dsn || !p->idle) {
        free(p->dsn);
        free(p->idle);
        free(p);
        return NULL;
    }
    p->timeout_s = connect_timeout_s;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->freed, &ca);
    pthread_condattr_destroy(&ca);
    return p;
}

PGconn *core_db_pool_get(core_db_pool *p, int64_t wait_ms, char *err, size_t errlen)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->nidle > 0) {
            PGconn *c = p->idle[--p->nidle];
            if (PQstatus(c) == CONNECTION_OK) {
                pthread_mutex_unlock(&p->mu);
                return c;
            }
            PQfinish(c); /* broken while idle: open another below */
            p->open--;
        }
        if (p->open < p->size)
            break;
        if (pthread_cond_timedwait(&p->freed, &p->mu, &until) != 0 && p->nidle == 0 &&
            p->open >= p->size) {
            pthread_mutex_unlock(&p->mu);
            core_errf(err, errlen, "no PostgreSQL connection free within %lld ms (pool of %d)",
                      (long long)wait_ms, p->size);
            return NULL;
        }
    }
    p->open++; /* reserved: connect without the lock held */
    pthread_mutex_unlock(&p->mu);
    PGconn *c = core_db_connect(p->dsn, p->timeout_s, err, errlen);
    if (!c) {
        pthread_mutex_lock(&p->mu);
        p->open--;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->mu);
    }
    return c;
}

void core_db_pool_put(core_db_pool *p, PGconn *c)
{
    if (!c)
        return;
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        core_db_rollback(c);
    bool keep = PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
    pthread_mutex_lock(&p->mu);
    if (keep && p->nidle < p->size) {
        p->idle[p->nidle++] = c;
    } else {
        PQfinish(c);
        p->open--;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

void core_db_pool_free(core_db_pool *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nidle; i++)
        PQfinish(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->freed);
    free(p->idle);
    free(p->dsn);
    free(p);
}
