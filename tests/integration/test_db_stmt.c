/* The connection's statement cache (core/db_stmt.c) against a real
 * PostgreSQL server: a repeated text is prepared once and gives the same
 * results as PQexecParams; errors are the statement's own; PQreset, DISCARD
 * ALL and a table whose columns change cost no wrong answer; the cache is
 * bounded; postgres.prepared_statements off prepares nothing. Needs
 * PGHOST/PGPORT (the test command sets them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/db.h"
#include "tests/lib/db_fixture.h"

static PGconn *g_c;
static char g_db[96];

static int setup(void **state)
{
    (void)state;
    g_c = t_db_create("db_stmt", g_db, sizeof g_db, NULL, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    t_db_drop(g_c, g_db);
    return 0;
}

/* The server's prepared statements on g_c whose text is sql. */
static int server_has(const char *sql)
{
    const char *v[] = {sql};
    PGresult *r = PQexecParams(g_c, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
                               1, NULL, v, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

static const char *sqlstate(const PGresult *r)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s ? s : "";
}

/* One text, many calls: prepared once, every answer its parameters'. */
static void test_prepared_once(void **state)
{
    (void)state;
    static const char sql[] = "SELECT $1::int * 2, $2::text IS NULL";
    int before = core_db_stmt_count(g_c);
    for (int i = 0; i < 50; i++) {
        char a[16];
        snprintf(a, sizeof a, "%d", i);
        const char *v[] = {a, i % 2 ? NULL : "x"};
        PGresult *r = core_db_exec_stmt(g_c, sql, 2, v, NULL, NULL);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_int_equal(atoi(PQgetvalue(r, 0, 0)), 2 * i);
        assert_string_equal(PQgetvalue(r, 0, 1), i % 2 ? "t" : "f");
        PQclear(r);
    }
    assert_int_equal(core_db_stmt_count(g_c), before + 1);
    assert_int_equal(server_has(sql), 1);
    /* core_db_query goes through it too */
    char err[256];
    const char *v[] = {"21", "y"};
    PGresult *r = core_db_query(g_c, sql, 2, v, "doubling", err, sizeof err);
    assert_non_null(r);
    assert_string_equal(PQgetvalue(r, 0, 0), "42");
    PQclear(r);
    assert_int_equal(core_db_stmt_count(g_c), before + 1);
}

/* A statement that fails to prepare reports its own error and is not kept;
 * in a transaction it aborts it as PQexecParams would, and a cached
 * statement then fails with the aborted transaction's error. */
static void test_errors(void **state)
{
    (void)state;
    int before = core_db_stmt_count(g_c);
    PGresult *r = core_db_exec_stmt(g_c, "SELEC $1::int", 1, (const char *[]){"1"}, NULL, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(sqlstate(r), "42601");
    PQclear(r);
    r = core_db_exec_stmt(g_c, "SELECT * FROM no_such_table WHERE a = $1", 1,
                          (const char *[]){"1"}, NULL, NULL);
    assert_string_equal(sqlstate(r), "42P01");
    PQclear(r);
    assert_int_equal(core_db_stmt_count(g_c), before);

    static const char ok[] = "SELECT $1::int + 1";
    PQclear(core_db_exec_stmt(g_c, ok, 1, (const char *[]){"1"}, NULL, NULL));
    char err[256];
    assert_int_equal(core_db_begin(g_c, err, sizeof err), 0);
    r = core_db_exec_stmt(g_c, "SELECT 1 / $1::int", 1, (const char *[]){"0"}, NULL, NULL);
    assert_string_equal(sqlstate(r), "22012"); /* division by zero, at execution */
    PQclear(r);
    r = core_db_exec_stmt(g_c, ok, 1, (const char *[]){"1"}, NULL, NULL);
    assert_string_equal(sqlstate(r), "25P02"); /* in failed transaction */
    PQclear(r);
    r = core_db_exec_stmt(g_c, "SELECT $1::int + 3", 1, (const char *[]){"1"}, NULL, NULL);
    assert_string_equal(sqlstate(r), "25P02"); /* not prepared: refused as well */
    PQclear(r);
    core_db_rollback(g_c);
    r = core_db_exec_stmt(g_c, ok, 1, (const char *[]){"41"}, NULL, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "42");
    PQclear(r);
}

/* A new session (PQreset) or one that lost its statements (DISCARD ALL, as
 * a pooler's other session would) still gets the right answer. */
static void test_reset_and_discard(void **state)
{
    (void)state;
    static const char sql[] = "SELECT $1::text || 'b'";
    PGresult *r = core_db_exec_stmt(g_c, sql, 1, (const char *[]){"a"}, NULL, NULL);
    assert_string_equal(PQgetvalue(r, 0, 0), "ab");
    PQclear(r);
    assert_true(core_db_stmt_count(g_c) > 0);
    PQreset(g_c);
    assert_int_equal(PQstatus(g_c), CONNECTION_OK);
    assert_int_equal(core_db_stmt_count(g_c), 0);
    r = core_db_exec_stmt(g_c, sql, 1, (const char *[]){"c"}, NULL, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "cb");
    PQclear(r);
    assert_int_equal(server_has(sql), 1);

    PQclear(PQexec(g_c, "DISCARD ALL"));
    assert_int_equal(server_has(sql), 0);
    r = core_db_exec_stmt(g_c, sql, 1, (const char *[]){"d"}, NULL, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK); /* prepared again, run again */
    assert_string_equal(PQgetvalue(r, 0, 0), "db");
    PQclear(r);
    assert_int_equal(server_has(sql), 1);
}

/* A table whose columns change under a prepared SELECT *: outside a
 * transaction the answer has the new columns at once. */
static void test_columns_change(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(core_db_exec(g_c, "CREATE TABLE t (a int); INSERT INTO t VALUES (1)", err,
                                  sizeof err), 0);
    static const char sql[] = "SELECT * FROM t WHERE a = $1::int";
    PGresult *r = core_db_exec_stmt(g_c, sql, 1, (const char *[]){"1"}, NULL, NULL);
    assert_int_equal(PQnfields(r), 1);
    PQclear(r);
    PGconn *other = core_db_connect(PQdb(g_c), 10, err, sizeof err); /* a migration elsewhere */
    assert_non_null(other);
    assert_int_equal(core_db_exec(other, "ALTER TABLE t ADD COLUMN b int DEFAULT 7", err, sizeof err),
                     0);
    PQfinish(other);
    r = core_db_exec_stmt(g_c, sql, 1, (const char *[]){"1"}, NULL, NULL);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQnfields(r), 2);
    assert_string_equal(PQgetvalue(r, 0, 1), "7");
    PQclear(r);
}

/* Past CORE_DB_STMT_MAX texts the rest run unprepared, right all the same. */
static void test_bounded(void **state)
{
    (void)state;
    for (int i = 0; i < CORE_DB_STMT_MAX + 40; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT $1::int + %d", i);
        PGresult *r = core_db_exec_stmt(g_c, sql, 1, (const char *[]){"1000"}, NULL, NULL);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_int_equal(atoi(PQgetvalue(r, 0, 0)), 1000 + i);
        PQclear(r);
    }
    assert_int_equal(core_db_stmt_count(g_c), CORE_DB_STMT_MAX);
}

/* postgres.prepared_statements: off */
static void test_off(void **state)
{
    (void)state;
    char err[256];
    PGconn *c = core_db_connect(PQdb(g_c), 10, err, sizeof err);
    assert_non_null(c);
    core_db_set_prepared(false);
    static const char sql[] = "SELECT $1::int - 1";
    for (int i = 0; i < 3; i++) {
        PGresult *r = core_db_exec_stmt(c, sql, 1, (const char *[]){"43"}, NULL, NULL);
        assert_string_equal(PQgetvalue(r, 0, 0), "42");
        PQclear(r);
    }
    core_db_set_prepared(true);
    assert_int_equal(core_db_stmt_count(c), 0);
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_prepared_statements");
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepared_once),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_reset_and_discard),
        cmocka_unit_test(test_columns_change),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
