/* Redaction at ingest: each class found with its exact span (positives and
 * near misses), mask and pseudonym tokens, the key file, an event's stored
 * copy (the decoded event left original) and dead letters, through the
 * batch as the collector builds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/batch.h"
#include "collector/collector.h"
#include "collector/redact_event.h"
#include "core/redact_scan.h"

#define ALL (CORE_RD_SECRETS | CORE_RD_PERSONAL)

/* The one finding in t: its class and value; or none. */
static void one(const char *t, core_rd_class cls, const char *value)
{
    core_rd_hit h[4];
    size_t n = core_rd_scan(t, strlen(t), ALL, h, 4);
    if (n != 1)
        fail_msg("'%s': %zu findings, wanted one %s", t, n, core_rd_class_name(cls));
    if (h[0].cls != cls)
        fail_msg("'%s': found %s, wanted %s", t, core_rd_class_name(h[0].cls),
                 core_rd_class_name(cls));
    size_t len = h[0].to - h[0].from;
    if (len != strlen(value) || memcmp(t + h[0].from, value, len) != 0)
        fail_msg("'%s': value '%.*s', wanted '%s'", t, (int)len, t + h[0].from, value);
}

static void none(const char *t)
{
    core_rd_hit h[4];
    size_t n = core_rd_scan(t, strlen(t), ALL, h, 4);
    if (n)
        fail_msg("'%s': found %s '%.*s', wanted nothing", t, core_rd_class_name(h[0].cls),
                 (int)(h[0].to - h[0].from), t + h[0].from);
}

static void test_api_keys(void **state)
{
    (void)state;
    one("key: sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t done", CORE_RD_API_KEY,
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t");
    one("aws AKIAIOSFODNN7EXAMPLE.", CORE_RD_API_KEY, "AKIAIOSFODNN7EXAMPLE");
    one("token=ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5 end", CORE_RD_API_KEY,
        "ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
    one("slack xoxb-123456789012-abcdefghij ok", CORE_RD_API_KEY, "xoxb-123456789012-abcdefghij");
    /* near misses: too short, a word that only starts like one, one char off */
    none("sk-short and desk-1234567890abcdefghijklmnop");
    none("AKIAIOSFODNN7EXAMPL is 15 long, AKIAIOSFODNN7EXAMPLES is 17");
    none("ghp_tooShort123 xox-123456789012");
}

static void test_jwt_bearer(void **state)
{
    (void)state;
    const char *jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
                      "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    char t[256];
    snprintf(t, sizeof t, "id %s here", jwt);
    one(t, CORE_RD_JWT, jwt);
    one("Authorization: Bearer abc123.DEF456~ghi", CORE_RD_BEARER, "abc123.DEF456~ghi");
    none("eyJhbGciOiJIUzI1NiJ9.short.x and eyJonly");
    none("the bearer of bad news; Bearer short");
}

static void test_private_key_and_url_password(void **state)
{
    (void)state;
    const char *pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn\n"
                      "-----END RSA PRIVATE KEY-----";
    char t[256];
    snprintf(t, sizeof t, "here:\n%s\nbye", pem);
    one(t, CORE_RD_PRIVATE_KEY, pem);
    /* cut by the prompt cap: to the end */
    one("x -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0", CORE_RD_PRIVATE_KEY,
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0");
    none("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END PUBLIC KEY-----");
    one("dsn postgres://admin:s3cr3t@db.example.com:5432/app", CORE_RD_PASSWORD, "s3cr3t");
    none("see https://example.com:8080/path and https://alice@localhost/x and http://a:b/c@d");
}

static void test_email(void **state)
{
    (void)state;
    one("write to alice.smith+tag@mail.example.co.uk.", CORE_RD_EMAIL,
        "alice.smith+tag@mail.example.co.uk");
    /* e-mail-like strings in code */
    none("printf(\"%s@%s\", user, host); @Override user@localhost pkg@1.2.3 x@y.c0m");
    none("@media screen { a { color: red } } a@b");
}

static void test_phone(void **state)
{
    (void)state;
    one("call +1 415-555-0132 now", CORE_RD_PHONE, "+1 415-555-0132");
    one("or (415) 555-0132.", CORE_RD_PHONE, "(415) 555-0132");
    one("mobile +4915123456789", CORE_RD_PHONE, "+4915123456789");
    none("on 2026-12-01 version 1.2.3.4 build 4155550132 ticket 12345");
}

static void test_card(void **state)
{
    (void)state;
    one("card 4111 1111 1111 1111 exp 12/29", CORE_RD_CARD, "4111 1111 1111 1111");
    one("amex 3782-822463-10005", CORE_RD_CARD, "3782-822463-10005");
    one("plain 5555555555554444", CORE_RD_CARD, "5555555555554444");
    /* 16 digits failing Luhn; all zeros (passes Luhn, nobody's card); 20 digits */
    none("order 4111 1111 1111 1112, 0000000000000000, 41111111111111111111");
}

static void test_iban(void **state)
{
    (void)state;
    one("IBAN GB82 WEST 1234 5698 7654 32 ok", CORE_RD_IBAN, "GB82 WEST 1234 5698 7654 32");
    one("DE89370400440532013000", CORE_RD_IBAN, "DE89370400440532013000");
    /* a check digit off; a country code and digits that are not one */
    none("IBAN GB82 WEST 1234 5698 7654 33 or DE89370400440532013001, ISO 9001 2015 AB12");
}

static void test_classes_off(void **state)
{
    (void)state;
    const char *t = "alice@example.com sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t 4111111111111111";
    core_rd_hit h[4];
    assert_int_equal(core_rd_scan(t, strlen(t), CORE_RD_SECRETS, h, 4), 1);
    assert_int_equal(h[0].cls, CORE_RD_API_KEY);
    assert_int_equal(core_rd_scan(t, strlen(t), CORE_RD_PERSONAL, h, 4), 2);
    assert_int_equal(core_rd_scan(t, strlen(t), 0, h, 4), 0);
}

static const unsigned char g_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static void test_mask_and_pseudonym(void **state)
{
    (void)state;
    coll_redactor *m = coll_redactor_new(COLL_RD_MASK, COLL_RD_OFF, NULL);
    assert_non_null(m);
    size_t n;
    const char *t = "use sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t for alice@example.com";
    const char *o = coll_redact_text(m, t, strlen(t), &n);
    assert_string_equal(o, "use [redacted:api_key] for alice@example.com");
    assert_int_equal(n, strlen(o));
    /* nothing to redact: the text itself */
    const char *hello = "hello";
    assert_ptr_equal(coll_redact_text(m, hello, 5, &n), hello);
    coll_redactor_free(m);

    assert_null(coll_redactor_new(COLL_RD_MASK, COLL_RD_PSEUDONYMISE, NULL)); /* needs a key */
    coll_redactor *p = coll_redactor_new(COLL_RD_MASK, COLL_RD_PSEUDONYMISE, g_key);
    char a[256], b[256];
    o = coll_redact_text(p, "mail alice@example.com", 22, &n);
    snprintf(a, sizeof a, "%s", o);
    o = coll_redact_text(p, "again alice@example.com and bob@example.com", 43, &n);
    snprintf(b, sizeof b, "%s", o);
    char hex[65];
    core_pseudonym_hex(g_key, "alice@example.com", 17, hex);
    char want[64];
    snprintf(want, sizeof want, "mail [email:%.12s]", hex);
    assert_string_equal(a, want);
    /* the same value, the same token; another value, another */
    assert_non_null(strstr(b, want + 5));
    core_pseudonym_hex(g_key, "bob@example.com", 15, hex);
    snprintf(want, sizeof want, "[email:%.12s]", hex);
    assert_non_null(strstr(b, want));
    /* another key, another token */
    unsigned char k2[32] = {9};
    coll_redactor *q = coll_redactor_new(COLL_RD_OFF, COLL_RD_PSEUDONYMISE, k2);
    o = coll_redact_text(q, "mail alice@example.com", 22, &n);
    assert_string_not_equal(o, a);
    coll_redactor_free(q);
    coll_redactor_free(p);
}

static void test_key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_redact_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/redact.key", dir);
    unsigned char k1[32], k2[32];
    char err[256];
    assert_int_equal(core_pseudonym_key_load(path, false, k1, err, sizeof err), -1);
    assert_int_equal(core_pseudonym_key_load(path, true, k1, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 65);
    /* a second start reads the same key */
    assert_int_equal(core_pseudonym_key_load(path, true, k2, err, sizeof err), 0);
    assert_memory_equal(k1, k2, 32);
    chmod(path, 0644);
    assert_int_equal(core_pseudonym_key_load(path, true, k2, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    FILE *f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    chmod(path, 0600);
    assert_int_equal(core_pseudonym_key_load(path, true, k2, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a redaction key"));
    unlink(path);
    rmdir(dir);
}

static void test_event_view(void **state)
{
    (void)state;
    core_event ev;
    coll_limits lim = coll_limits_default();
    char err[256];
    memset(&ev, 0, sizeof ev);
    const char *json =
        "{\"event_id\":\"e1\",\"ts\":\"2026-11-21T13:04:00Z\",\"api_key_id\":\"k\",\"model\":\"m\","
        "\"model_version\":\"v\",\"prompt\":\"my key is sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t\","
        "\"response\":\"mail alice@example.com\","
        "\"attrs\":{\"note\":\"line\\nbob@example.com\",\"auth\":\"Bearer abcdefgh12345678\"}}";
    assert_int_equal(coll_decode_native(&lim, json, strlen(json), &ev, err, sizeof err), 0);
    coll_redactor *r = coll_redactor_new(COLL_RD_MASK, COLL_RD_MASK, NULL);
    const core_event *v = coll_redact_event(r, &ev);
    assert_ptr_not_equal(v, &ev);
    assert_string_equal(v->prompt, "my key is [redacted:api_key]");
    assert_int_equal(v->prompt_len, strlen(v->prompt));
    assert_string_equal(v->response, "mail [redacted:email]");
    cJSON *a = cJSON_Parse(v->attrs_json);
    assert_non_null(a);
    assert_string_equal(cJSON_GetObjectItem(a, "note")->valuestring, "line\n[redacted:email]");
    assert_string_equal(cJSON_GetObjectItem(a, "auth")->valuestring, "Bearer [redacted:bearer]");
    cJSON_Delete(a);
    /* the decoded event, which the detectors read, is as received */
    assert_non_null(strstr(ev.prompt, "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t"));
    assert_non_null(strstr(ev.attrs_json, "bob@example.com"));
    coll_redactor_free(r);
    /* personal data off (the default): the e-mail addresses are kept */
    r = coll_redactor_new(COLL_RD_MASK, COLL_RD_OFF, NULL);
    v = coll_redact_event(r, &ev);
    assert_string_equal(v->response, "mail alice@example.com");
    assert_non_null(strstr(v->attrs_json, "bob@example.com"));
    assert_null(strstr(v->attrs_json, "abcdefgh12345678"));
    coll_redactor_free(r);
    core_event_clear(&ev);
}

/* Through the batch: the COPY row holds the redacted text, the kept event
 * the original, a dead letter's raw bytes and reason are masked. */
static void test_batch_rows_and_dead_letters(void **state)
{
    (void)state;
    coll_batch *b = calloc(1, sizeof *b);
    coll_intake in = {.dec = &coll_decoder_native, .lim = coll_limits_default(),
                      .raw_max = 4096, .keep_events = true};
    in.redact = coll_redactor_new(COLL_RD_MASK, COLL_RD_MASK, NULL);
    const char *ok = "{\"event_id\":\"e1\",\"ts\":\"2026-11-21T13:04:00Z\",\"api_key_id\":\"k\","
                     "\"model\":\"m\",\"model_version\":\"v\",\"prompt\":\"card 4111 1111 1111 1111\","
                     "\"response\":\"AKIAIOSFODNN7EXAMPLE\"}";
    const char *bad = "{\"event_id\":\"e2\",\"ts\":\"yesterday\",\"api_key_id\":\"k\","
                      "\"prompt\":\"AKIAIOSFODNN7EXAMPLE to carol@example.com\"}";
    coll_msg m1 = {"t", 0, 10, -1, ok, strlen(ok), NULL, 0};
    coll_msg m2 = {"t", 0, 11, -1, bad, strlen(bad), NULL, 0};
    size_t kept;
    char err[512];
    assert_int_equal(coll_batch_add_message(b, &in, &m1, &kept, err, sizeof err), 0);
    assert_int_equal(coll_batch_add_message(b, &in, &m2, &kept, err, sizeof err), 1);
    const char *want = "card [redacted:card]\t[redacted:api_key]\t";
    assert_non_null(memmem(b->copy.data, b->copy.len, want, strlen(want)));
    assert_null(memmem(b->copy.data, b->copy.len, "4111", 4));
    assert_int_equal(b->n_evs, 1);
    assert_string_equal(b->evs[0].prompt, "card 4111 1111 1111 1111");
    assert_int_equal(b->n_rej, 1);
    assert_int_equal(b->rej[0].raw_len, strlen(bad)); /* masked in place, same length */
    assert_null(memmem(b->rej[0].raw, b->rej[0].raw_len, "AKIA", 4));
    assert_null(memmem(b->rej[0].raw, b->rej[0].raw_len, "carol@", 6));
    assert_non_null(memmem(b->rej[0].raw, b->rej[0].raw_len, "\"event_id\":\"e2\"", 15));
    assert_null(strstr(b->rej[0].reason, "AKIA"));
    coll_decoded_free(&in.out);
    coll_redactor_free(in.redact);
    coll_batch_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_jwt_bearer),
        cmocka_unit_test(test_private_key_and_url_password),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_phone),
        cmocka_unit_test(test_card),
        cmocka_unit_test(test_iban),
        cmocka_unit_test(test_classes_off),
        cmocka_unit_test(test_mask_and_pseudonym),
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_event_view),
        cmocka_unit_test(test_batch_rows_and_dead_letters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
