/* web_hosts: the Host header allowlist (web.allowed_hosts) and its
 * defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hostport.h"
#include "web/web_internal.h"

static void t_defaults(void **st)
{
    (void)st;
    char err[256], d[512];
    web_hosts *h = web_hosts_new("", "127.0.0.1", 8440, "", err, sizeof err);
    assert_non_null(h);
    web_hosts_describe(h, d, sizeof d);
    assert_string_equal(d, "127.0.0.1:8440,localhost:8440");
    assert_true(web_hosts_allow(h, "127.0.0.1:8440"));
    assert_true(web_hosts_allow(h, "localhost:8440"));
    assert_true(web_hosts_allow(h, "LocalHost:8440"));
    assert_false(web_hosts_allow(h, "localhost"));
    assert_false(web_hosts_allow(h, "127.0.0.1"));
    assert_false(web_hosts_allow(h, "127.0.0.1:8441"));
    assert_false(web_hosts_allow(h, "127.0.0.1:84400"));
    /* RFC 3986's port is *DIGIT: a leading zero is the same port. */
    assert_true(web_hosts_allow(h, "127.0.0.1:08440"));
    assert_false(web_hosts_allow(h, "evil.example:8440"));
    assert_false(web_hosts_allow(h, "127.0.0.1:8440.evil.example"));
    assert_false(web_hosts_allow(h, "127.0.0.1:8440 "));
    assert_false(web_hosts_allow(h, ""));
    assert_false(web_hosts_allow(h, NULL));
    web_hosts_free(h);
    /* v6 listen, and web.origin behind a proxy */
    h = web_hosts_new(NULL, "::1", 9000, "https://SOC.example.com/", err, sizeof err);
    assert_non_null(h);
    web_hosts_describe(h, d, sizeof d);
    assert_string_equal(d, "[::1]:9000,localhost:9000,127.0.0.1:9000,soc.example.com");
    assert_true(web_hosts_allow(h, "[::1]:9000"));
    assert_true(web_hosts_allow(h, "soc.example.com"));
    assert_true(web_hosts_allow(h, "soc.example.com:443"));
    assert_false(web_hosts_allow(h, "[::2]:9000"));
    web_hosts_free(h);
}

static void t_configured(void **st)
{
    (void)st;
    char err[256];
    web_hosts *h = web_hosts_new("soc.example.com, 10.0.0.5:8440,[fe80::1]:8440", "127.0.0.1",
                                 8440, "", err, sizeof err);
    assert_non_null(h);
    assert_true(web_hosts_allow(h, "soc.example.com"));
    assert_true(web_hosts_allow(h, "soc.example.com:1234"));
    assert_true(web_hosts_allow(h, "10.0.0.5:8440"));
    assert_false(web_hosts_allow(h, "10.0.0.5"));
    assert_true(web_hosts_allow(h, "[FE80::1]:8440"));
    /* the defaults are replaced */
    assert_false(web_hosts_allow(h, "127.0.0.1:8440"));
    assert_false(web_hosts_allow(h, "localhost:8440"));
    web_hosts_free(h);
    static const char *const bad[] = {"a/b", "host:", "host:123456", "host:80x", "[::1",
                                      ",,  ,", "a b:c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(web_hosts_new(bad[i], "127.0.0.1", 1, "", err, sizeof err));
        assert_non_null(strstr(err, "web.allowed_hosts"));
    }
    /* at most 32 names */
    char many[40 * 8] = "";
    for (int i = 0; i < 33; i++) {
        char one[8];
        snprintf(one, sizeof one, "h%d,", i);
        strcat(many, one);
    }
    assert_null(web_hosts_new(many, "127.0.0.1", 1, "", err, sizeof err));
}

/* The load-time check (core_hostlist_check) takes what web_hosts_new takes
 * and refuses what it refuses, so a value that loads also starts. */
static void t_check_agrees(void **st)
{
    (void)st;
    const char *good[] = {"soc.example.com", "soc.example.com:443, [::1]:8440",
                          "a,b c", "[fe80::1]", "Host-1.example_x:0"};
    const char *bad[] = {"bad/host", "a:", "a:99999", "a:8x", "::1", "[::1", " , ", ":80"};
    char err[256], why[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(core_hostlist_check(good[i], why, sizeof why), 0);
        web_hosts *h = web_hosts_new(good[i], "127.0.0.1", 8440, "", err, sizeof err);
        assert_non_null(h);
        web_hosts_free(h);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(core_hostlist_check(bad[i], why, sizeof why), -1);
        assert_null(web_hosts_new(bad[i], "127.0.0.1", 8440, "", err, sizeof err));
    }
    char many[33 * 4 + 1] = "";
    for (int i = 0; i < 33; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "h%02d,", i);
    assert_int_equal(core_hostlist_check(many, why, sizeof why), -1);
    assert_non_null(strstr(why, "more than 32"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_defaults),
        cmocka_unit_test(t_configured),
        cmocka_unit_test(t_check_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
