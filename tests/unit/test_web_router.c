/* web/: the router, the role table, the header parsers, tokens, the
 * password policy and the sign-in throttle's arithmetic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hostport.h"
#include "web/web_internal.h"

static web_result h_dummy(web_req *r)
{
    (void)r;
    return WEB_DONE;
}

static const web_route k_routes[] = {
    {"GET", "/healthz", h_dummy, WEB_NEED_NONE, 0},
    {"POST", "/api/v1/session", h_dummy, WEB_NEED_NONE, 0},
    {"GET", "/api/v1/session", h_dummy, WEB_NEED_SIGNED_IN, 0},
    {"DELETE", "/api/v1/session", h_dummy, WEB_NEED_SIGNED_IN, 0},
    {"GET", "/api/v1/incidents/{id}", h_dummy, WEB_NEED_READ, 0},
    {"POST", "/api/v1/actions/{id}/approve", h_dummy, WEB_NEED_RESPOND, 0},
    {"GET", "/api/v1/keys/{key}/models/{model}", h_dummy, WEB_NEED_READ, 0},
};
#define N (sizeof k_routes / sizeof k_routes[0])

static void t_router_exact_and_params(void **s)
{
    (void)s;
    web_params p;
    char allow[64];
    assert_int_equal(web_route_match(k_routes, N, "GET", "/healthz", &p, allow, sizeof allow), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(web_route_match(k_routes, N, "POST", "/api/v1/session", &p, allow, sizeof allow), 1);
    assert_int_equal(web_route_match(k_routes, N, "DELETE", "/api/v1/session", &p, allow, sizeof allow), 3);
    assert_int_equal(web_route_match(k_routes, N, "GET", "/api/v1/incidents/inc-42", &p, allow,
                                     sizeof allow), 4);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0], "inc-42");
    assert_int_equal(web_route_match(k_routes, N, "POST", "/api/v1/actions/17/approve", &p, allow,
                                     sizeof allow), 5);
    assert_string_equal(p.v[0], "17");
    assert_int_equal(web_route_match(k_routes, N, "GET", "/api/v1/keys/k1/models/m:v2", &p, allow,
                                     sizeof allow), 6);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.v[0], "k1");
    assert_string_equal(p.v[1], "m:v2");
    /* HEAD is GET without a body. */
    assert_int_equal(web_route_match(k_routes, N, "HEAD", "/healthz", &p, allow, sizeof allow), 0);
}

static void t_router_404_405(void **s)
{
    (void)s;
    web_params p;
    char allow[64];
    assert_int_equal(web_route_match(k_routes, N, "GET", "/nope", &p, allow, sizeof allow), -404);
    assert_int_equal(web_route_match(k_routes, N, "GET", "/healthz/", &p, allow, sizeof allow), -404);
    assert_int_equal(web_route_match(k_routes, N, "GET", "/api/v1/incidents/", &p, allow,
                                     sizeof allow), -404);
    assert_int_equal(web_route_match(k_routes, N, "GET", "/api/v1/incidents/a/b", &p, allow,
                                     sizeof allow), -404);
    assert_int_equal(web_route_match(k_routes, N, "GET", "", &p, allow, sizeof allow), -404);
    assert_int_equal(web_route_match(k_routes, N, "PUT", "/api/v1/session", &p, allow, sizeof allow),
                     -405);
    assert_string_equal(allow, "POST, GET, HEAD, DELETE");
    assert_int_equal(web_route_match(k_routes, N, "POST", "/healthz", &p, allow, sizeof allow), -405);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(web_route_match(k_routes, N, "GET", "/api/v1/actions/1/approve", &p, allow,
                                     sizeof allow), -405);
    assert_string_equal(allow, "POST");
}

static void t_router_bad_params(void **s)
{
    (void)s;
    web_params p;
    char allow[64], path[200], big[WEB_PARAM_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(path, sizeof path, "/api/v1/incidents/%s", big);
    assert_int_equal(web_route_match(k_routes, N, "GET", path, &p, allow, sizeof allow), -400);
    big[WEB_PARAM_MAX] = '\0'; /* exactly the limit: fine */
    snprintf(path, sizeof path, "/api/v1/incidents/%s", big);
    assert_int_equal(web_route_match(k_routes, N, "GET", path, &p, allow, sizeof allow), 4);
    const char *bad[] = {"/api/v1/incidents/a b", "/api/v1/incidents/a'b",
                         "/api/v1/incidents/<x>", "/api/v1/incidents/a%20"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(web_route_match(k_routes, N, "GET", bad[i], &p, allow, sizeof allow), -400);
}

static void t_real_table_is_well_formed(void **s)
{
    (void)s;
    /* Every route of the product table is found by its own pattern and
     * method, each (method, pattern) once, and every state-changing route
     * with a session is CSRF-checked and audited. */
    for (size_t i = 0; i < web_routes_count; i++) {
        const web_route *r = &web_routes[i];
        char path[128];
        snprintf(path, sizeof path, "%s", r->pattern);
        for (char *b; (b = strchr(path, '{')) != NULL;) {
            char *e = strchr(b, '}');
            assert_non_null(e);
            *b = '1';
            memmove(b + 1, e + 1, strlen(e + 1) + 1);
        }
        web_params p;
        char allow[64];
        assert_int_equal(web_route_match(web_routes, web_routes_count, r->method, path, &p, allow,
                                         sizeof allow), (int)i);
        bool changes = strcmp(r->method, "GET") != 0;
        if (changes && r->need != WEB_NEED_NONE) {
            assert_true(r->flags & WEB_F_CSRF);
            assert_true(r->flags & WEB_F_AUDITED);
        }
        if (changes)
            assert_true(r->flags & WEB_F_AUDITED);
    }
}

static void t_role_table(void **s)
{
    (void)s;
    /* rows: viewer analyst responder auditor admin */
    static const struct {
        web_need need;
        bool allow[WEB_ROLE_COUNT];
    } want[] = {
        {WEB_NEED_NONE, {1, 1, 1, 1, 1}},     {WEB_NEED_SIGNED_IN, {1, 1, 1, 1, 1}},
        {WEB_NEED_READ, {1, 1, 1, 1, 1}},     {WEB_NEED_TRIAGE, {0, 1, 1, 0, 1}},
        {WEB_NEED_RESPOND, {0, 0, 1, 0, 1}},  {WEB_NEED_FORENSIC, {0, 0, 0, 1, 1}},
        {WEB_NEED_REVEAL, {0, 1, 1, 1, 1}},   {WEB_NEED_ADMIN, {0, 0, 0, 0, 1}},
    };
    assert_int_equal(sizeof want / sizeof want[0], WEB_NEED_COUNT);
    for (size_t n = 0; n < WEB_NEED_COUNT; n++)
        for (int r = 0; r < WEB_ROLE_COUNT; r++)
            assert_int_equal(web_role_allows((web_role)r, want[n].need), want[n].allow[r]);
    /* Out of range is never allowed. */
    assert_false(web_role_allows((web_role)WEB_ROLE_COUNT, WEB_NEED_NONE));
    assert_false(web_role_allows(WEB_ROLE_ADMIN, (web_need)WEB_NEED_COUNT));
    assert_false(web_role_allows((web_role)-1, WEB_NEED_READ));
    /* Names round-trip; case and unknown names are refused. */
    for (int r = 0; r < WEB_ROLE_COUNT; r++)
        assert_int_equal(web_role_parse(web_role_name((web_role)r)), r);
    assert_int_equal(web_role_parse("Admin"), -1);
    assert_int_equal(web_role_parse("root"), -1);
    assert_int_equal(web_role_parse(""), -1);
    assert_int_equal(web_role_parse(NULL), -1);
}

static void t_cookie(void **s)
{
    (void)s;
    char v[64];
    assert_int_equal(web_cookie_get("custos_session=abc", "custos_session", v, sizeof v), 1);
    assert_string_equal(v, "abc");
    assert_int_equal(web_cookie_get("a=1; custos_session=xyz; b=2", "custos_session", v, sizeof v), 1);
    assert_string_equal(v, "xyz");
    assert_int_equal(web_cookie_get("a=1;custos_session=\"q\"", "custos_session", v, sizeof v), 1);
    assert_string_equal(v, "q");
    /* A longer name with the same prefix, a name as a value, absent. */
    assert_int_equal(web_cookie_get("custos_session2=x; y=custos_session", "custos_session", v,
                                     sizeof v), 0);
    assert_int_equal(web_cookie_get(NULL, "custos_session", v, sizeof v), 0);
    assert_int_equal(web_cookie_get("", "custos_session", v, sizeof v), 0);
    assert_int_equal(web_cookie_get("custos_session", "custos_session", v, sizeof v), 0);
    /* Twice: ambiguous, refused (cookie tossing). Too long: refused. */
    assert_int_equal(web_cookie_get("custos_session=a; custos_session=b", "custos_session", v,
                                     sizeof v), -1);
    char big[200] = "custos_session=";
    memset(big + strlen(big), 'x', 100);
    assert_int_equal(web_cookie_get(big, "custos_session", v, sizeof v), -1);
    assert_int_equal(web_cookie_get("__Host-custos_session=t", "__Host-custos_session", v, sizeof v), 1);
    assert_string_equal(v, "t");
}

static void t_bearer(void **s)
{
    (void)s;
    char v[64];
    assert_int_equal(web_bearer_get("Bearer cst_abc-_1", v, sizeof v), 1);
    assert_string_equal(v, "cst_abc-_1");
    assert_int_equal(web_bearer_get("bearer   tok  ", v, sizeof v), 1);
    assert_string_equal(v, "tok");
    assert_int_equal(web_bearer_get(NULL, v, sizeof v), 0);
    assert_int_equal(web_bearer_get("Basic YWxhZGRpbjpvcGVu", v, sizeof v), 0);
    assert_int_equal(web_bearer_get("Bearerx tok", v, sizeof v), 0);
    assert_int_equal(web_bearer_get("Bearer", v, sizeof v), -1);
    assert_int_equal(web_bearer_get("Bearer ", v, sizeof v), -1);
    assert_int_equal(web_bearer_get("Bearer a b", v, sizeof v), -1);
    assert_int_equal(web_bearer_get("Bearer a\"b", v, sizeof v), -1);
    char big[200] = "Bearer ";
    memset(big + 7, 'x', 100);
    assert_int_equal(web_bearer_get(big, v, sizeof v), -1);
}

static void t_origin(void **s)
{
    (void)s;
    assert_true(web_origin_ok("http://127.0.0.1:8440", "", false, "127.0.0.1:8440"));
    assert_true(web_origin_ok("HTTP://LocalHost:8440", NULL, false, "localhost:8440"));
    assert_true(web_origin_ok("https://soc.example", "", true, "soc.example"));
    assert_false(web_origin_ok("http://soc.example", "", true, "soc.example")); /* scheme */
    assert_false(web_origin_ok("http://evil.example", "", false, "127.0.0.1:8440"));
    assert_false(web_origin_ok("http://127.0.0.1:8440.evil", "", false, "127.0.0.1:8440"));
    assert_false(web_origin_ok("http://127.0.0.1", "", false, "127.0.0.1:8440"));
    assert_false(web_origin_ok(NULL, "", false, "127.0.0.1:8440"));
    assert_false(web_origin_ok("null", "", false, "127.0.0.1:8440"));
    assert_false(web_origin_ok("http://x", "", false, NULL));
    assert_false(web_origin_ok("http://a b", "", false, "a b")); /* a Host no origin can have */
    /* web.origin set: only it, whatever the Host says. */
    assert_true(web_origin_ok("https://soc.example.com", "https://soc.example.com/", false, "10.0.0.1"));
    assert_false(web_origin_ok("http://10.0.0.1", "https://soc.example.com", false, "10.0.0.1"));
}

static void t_listen(void **s)
{
    (void)s;
    char h[64];
    int port;
    assert_int_equal(core_listen_split("127.0.0.1:8440", h, sizeof h, &port), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(port, 8440);
    assert_int_equal(core_listen_split("[::1]:0", h, sizeof h, &port), 0);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(core_listen_split("localhost:65535", h, sizeof h, &port), 0);
    const char *bad[] = {"", "127.0.0.1", ":8440", "h:", "h:65536", "h:-1", "h:80x", "::1:80",
                         "[::1]80", "h:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(core_listen_split(bad[i], h, sizeof h, &port), -1);
}

static void t_tokens_and_passwords(void **s)
{
    (void)s;
    char a[WEB_TOKEN_CHARS + 1], b[WEB_TOKEN_CHARS + 1];
    web_random_token(a);
    web_random_token(b);
    assert_int_equal(strlen(a), WEB_TOKEN_CHARS);
    assert_string_not_equal(a, b);
    for (const char *p = a; *p; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    assert_non_null(web_password_problem("short"));
    assert_non_null(web_password_problem("elevenchars"));
    assert_null(web_password_problem("twelve chars"));
    /* 12 characters of 2 bytes each pass; the count is of characters. */
    assert_null(web_password_problem("éééééééééééé"));
    assert_non_null(web_password_problem("ééééééééééé"));
    char long_pw[140];
    memset(long_pw, 'p', 129);
    long_pw[129] = '\0';
    assert_non_null(web_password_problem(long_pw));
    long_pw[128] = '\0';
    assert_null(web_password_problem(long_pw));

    char h[128];
    assert_int_equal(web_password_hash("correct horse battery", h), 0);
    assert_memory_equal(h, "$argon2id$", 10);
    /* At least 19 MiB and 2 passes, as written into the hash. */
    const char *m = strstr(h, "m="), *t = strstr(h, "t=");
    assert_non_null(m);
    assert_non_null(t);
    assert_true(atol(m + 2) >= 19 * 1024);
    assert_true(atol(t + 2) >= 2);
    assert_true(web_password_verify(h, "correct horse battery"));
    assert_false(web_password_verify(h, "correct horse batterY"));
    assert_false(web_password_verify(NULL, "correct horse battery"));
    assert_false(web_password_verify("plain", "plain"));
}

static void t_throttle(void **s)
{
    (void)s;
    assert_int_equal(web_throttle_delay_ms(0), 0);
    assert_int_equal(web_throttle_delay_ms(1), 1000);
    assert_int_equal(web_throttle_delay_ms(2), 2000);
    assert_int_equal(web_throttle_delay_ms(5), 16000);
    assert_int_equal(web_throttle_delay_ms(11), 900000);
    assert_int_equal(web_throttle_delay_ms(1000), 900000);
    web_throttle *t = web_throttle_new(3, 5);
    int64_t now = 1000000;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(web_throttle_wait_ms(t, "alice", "10.0.0.1", now), 0);
        web_throttle_failure(t, "alice", "10.0.0.1", now);
    }
    assert_int_equal(web_throttle_wait_ms(t, "alice", "10.0.0.2", now), 0); /* 3 free */
    assert_int_equal(web_throttle_failure(t, "alice", "10.0.0.1", now), 1000); /* 4th: 1 s */
    assert_int_equal(web_throttle_wait_ms(t, "alice", "10.0.0.9", now), 1000);
    assert_int_equal(web_throttle_wait_ms(t, "alice", "10.0.0.9", now + 400), 600);
    assert_int_equal(web_throttle_wait_ms(t, "alice", "10.0.0.9", now + 1000), 0);
    assert_int_equal(web_throttle_failure(t, "alice", "10.0.0.1", now + 1000), 2000); /* 5th */
    assert_int_equal(web_throttle_wait_ms(t, "alice", "10.0.0.9", now + 1000), 2000);
    /* The address's own count: 5 free, the 6th waits, for any account. */
    assert_int_equal(web_throttle_wait_ms(t, "bob", "10.0.0.1", now + 1000), 0);
    web_throttle_failure(t, "bob", "10.0.0.1", now + 1000);
    assert_int_equal(web_throttle_wait_ms(t, "carol", "10.0.0.1", now + 1000), 1000);
    /* Success clears the account, not the address. */
    web_throttle_success(t, "alice", now + 3000);
    assert_int_equal(web_throttle_wait_ms(t, "alice", "10.0.0.9", now + 3000), 0);
    /* Forgotten 15 minutes after the last failure. */
    assert_int_equal(web_throttle_wait_ms(t, "carol", "10.0.0.1", now + 1000 + 15 * 60000 + 1), 0);
    /* Bounded memory: many accounts never fail, the table recycles. */
    char name[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "u%d", i);
        web_throttle_failure(t, name, "10.9.9.9", now + 5000);
    }
    web_throttle_free(t);
}

static void t_body(void **s)
{
    (void)s;
    const char *why;
    size_t at;
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"{}", true},
        {" {\"a\":1} \n", true},
        {"{\"a\":[1,{\"b\":null}]}", true},
        {"", false},
        {"[]", false},
        {"1", false},
        {"\"x\"", false},
        {"null", false},
        {"{", false},
        {"{} {}", false},
        {"{}x", false},
        {"{\"a\":}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *j = web_body_parse(cases[i].in, strlen(cases[i].in), &why, &at);
        if (cases[i].ok) {
            assert_non_null(j);
            assert_true(cJSON_IsObject(j));
        } else {
            assert_null(j);
            assert_non_null(why);
            assert_true(at <= strlen(cases[i].in));
        }
        cJSON_Delete(j);
    }
    /* A NUL inside: refused, where it is. */
    const char nul[] = "{\"a\":1}\0{}";
    assert_null(web_body_parse(nul, sizeof nul - 1, &why, &at));
    assert_int_equal(at, 7);
    /* Deep nesting past cJSON's limit is refused, not a crash. */
    size_t depth = 5000;
    char *deep = malloc(2 * depth + 8);
    size_t k = 0;
    deep[k++] = '{';
    deep[k++] = '"';
    deep[k++] = 'a';
    deep[k++] = '"';
    deep[k++] = ':';
    for (size_t i = 0; i < depth; i++)
        deep[k++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    deep[k] = '\0';
    assert_null(web_body_parse(deep, k, &why, &at));
    free(deep);
}

static void t_time(void **s)
{
    (void)s;
    assert_int_equal(web_parse_id("1"), 1);
    assert_int_equal(web_parse_id("999999999999999999"), INT64_C(999999999999999999));
    const char *bad_ids[] = {"", "0", "01", "-1", "+1", "1a", " 1", "1 ", "9999999999999999999"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
        assert_int_equal(web_parse_id(bad_ids[i]), -1);
    assert_int_equal(web_parse_time_us("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(web_parse_time_us("2026-12-01T12:00:00Z"), INT64_C(1796126400) * 1000000);
    assert_int_equal(web_parse_time_us("2026-12-01T12:00:00.5Z"),
                     INT64_C(1796126400) * 1000000 + 500000);
    assert_int_equal(web_parse_time_us("2026-12-01T12:00:00.000001Z"),
                     INT64_C(1796126400) * 1000000 + 1);
    const char *bad[] = {"", "2026-12-01", "2026-12-01T12:00:00", "2026-12-01T12:00:00+01:00",
                         "2026-12-01T12:00:00.Z", "2026-12-01T12:00:00.1234567Z",
                         "2026-12-01T12:00:00Zx", "yesterday", "2026-13-01T12:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(web_parse_time_us(bad[i]), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_router_exact_and_params),
        cmocka_unit_test(t_router_404_405),
        cmocka_unit_test(t_router_bad_params),
        cmocka_unit_test(t_real_table_is_well_formed),
        cmocka_unit_test(t_role_table),
        cmocka_unit_test(t_cookie),
        cmocka_unit_test(t_bearer),
        cmocka_unit_test(t_origin),
        cmocka_unit_test(t_listen),
        cmocka_unit_test(t_tokens_and_passwords),
        cmocka_unit_test(t_throttle),
        cmocka_unit_test(t_body),
        cmocka_unit_test(t_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
