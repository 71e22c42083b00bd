/* The migration runner against a real PostgreSQL server: migrations are a
 * set, not a high-water mark, and a database ahead of the binary is refused.
 * Needs PGHOST/PGPORT (the test command sets them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/db.h"

static PGconn *g_admin;

static PGconn *fresh_db(const char *tag, char *name, size_t size)
{
    char err[1024], sql[200];
    snprintf(name, size, "custos_t_migrate_%s_%d", tag, (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (core_db_exec(g_admin, sql, err, sizeof err) < 0)
        fail_msg("%s", err);
    char dsn[200];
    snprintf(dsn, sizeof dsn, "dbname=%s", name);
    PGconn *c = core_db_connect(dsn, 10, err, sizeof err);
    if (!c)
        fail_msg("%s", err);
    return c;
}

static void drop_db(PGconn *c, const char *name)
{
    char err[1024], sql[200];
    PQfinish(c);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    core_db_exec(g_admin, sql, err, sizeof err);
}

static int setup(void **state)
{
    (void)state;
    char err[1024];
    g_admin = core_db_connect("dbname=postgres", 10, err, sizeof err);
    if (!g_admin)
        fail_msg("needs a PostgreSQL server (PGHOST/PGPORT): %s", err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    PQfinish(g_admin);
    return 0;
}

static void test_fresh_database(void **state)
{
    (void)state;
    char name[96], err[1024];
    PGconn *c = fresh_db("fresh", name, sizeof name);
    assert_int_equal(core_db_check_schema(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "custos migrate"));
    assert_int_equal(core_db_migrate(c, err, sizeof err), core_migrations_count);
    assert_int_equal(core_db_check_schema(c, err, sizeof err), 0);
    /* idempotent */
    assert_int_equal(core_db_migrate(c, err, sizeof err), 0);
    drop_db(c, name);
}

static void test_gap_below_the_highest_is_applied(void **state)
{
    (void)state;
    if (core_migrations_count < 2)
        skip();
    char name[96], err[1024];
    PGconn *c = fresh_db("gap", name, sizeof name);
    /* As if only the last migration had been applied (branches landing out of
     * order): the earlier ones are still missing and must be found. */
    const core_migration *last = &core_migrations[core_migrations_count - 1];
    char sql[300];
    snprintf(sql, sizeof sql,
             "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now());"
             "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')",
             last->version, last->name);
    assert_int_equal(core_db_exec(c, sql, err, sizeof err), 0);
    assert_int_equal(core_db_check_schema(c, err, sizeof err), -1);
    assert_non_null(strstr(err, core_migrations[0].name));
    assert_int_equal(core_db_migrate(c, err, sizeof err), core_migrations_count - 1);
    assert_int_equal(core_db_check_schema(c, err, sizeof err), 0);
    drop_db(c, name);
}

static void test_database_ahead_is_refused(void **state)
{
    (void)state;
    char name[96], err[1024];
    PGconn *c = fresh_db("ahead", name, sizeof name);
    assert_int_equal(core_db_migrate(c, err, sizeof err), core_migrations_count);
    assert_int_equal(core_db_exec(c, "INSERT INTO schema_migrations VALUES (9999, 'future')", err,
                                  sizeof err),
                     0);
    assert_int_equal(core_db_check_schema(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "9999"));
    assert_non_null(strstr(err, "upgrade custos"));
    assert_int_equal(core_db_migrate(c, err, sizeof err), -1);
    assert_non_null(strstr(err, "refusing"));
    drop_db(c, name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_database),
        cmocka_unit_test(test_gap_below_the_highest_is_applied),
        cmocka_unit_test(test_database_ahead_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
