/* A private, migrated database for a C integration test on the server
 * PGHOST/PGPORT name (cmocka's setup and teardown). Header-only: each test
 * that includes it gets its own copies. */
#ifndef CUSTOS_TESTS_DB_FIXTURE_H
#define CUSTOS_TESTS_DB_FIXTURE_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/db.h"

/* Creates custos_t_PREFIX_PID (its name into name, its DSN into dsn when
 * not NULL), migrates it and connects; fails the test when it cannot. */
static inline PGconn *t_db_create(const char *prefix, char *name, size_t namelen, char *dsn,
                                  size_t dsnlen)
{
    char err[1024], sql[200], own[200];
    PGconn *admin = core_db_connect("dbname=postgres", 10, err, sizeof err);
    if (!admin)
        fail_msg("needs a PostgreSQL server (PGHOST/PGPORT): %s", err);
    snprintf(name, namelen, "custos_t_%s_%d", prefix, (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (core_db_exec(admin, sql, err, sizeof err) < 0)
        fail_msg("%s", err);
    PQfinish(admin);
    if (!dsn) {
        dsn = own;
        dsnlen = sizeof own;
    }
    snprintf(dsn, dsnlen, "dbname=%s", name);
    PGconn *c = core_db_connect(dsn, 10, err, sizeof err);
    if (!c || core_db_migrate(c, err, sizeof err) < 0)
        fail_msg("%s", err);
    return c;
}

/* Closes c and drops the database name (what t_db_create made). */
static inline void t_db_drop(PGconn *c, const char *name)
{
    char err[1024], sql[200];
    PQfinish(c);
    PGconn *admin = core_db_connect("dbname=postgres", 10, err, sizeof err);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    if (admin)
        core_db_exec(admin, sql, err, sizeof err);
    PQfinish(admin);
}

/* The first column of the first row of sql, as a number; fails the test
 * when the query fails. */
static inline long long t_db_int(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

#endif
