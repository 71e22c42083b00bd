/* The instance's signing key (audit/audit_sign.c): a key made is the key
 * loaded, its file is 0600 and not overwritten without force, a file others
 * may read is refused, signatures verify with its public key only and not
 * after a change, the public key's text form parses back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/custos-sign-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_generate_load_sign(void **state)
{
    (void)state;
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/k1", g_dir);
    audit_key k, l, other;
    assert_int_equal(audit_key_generate(path, false, &k, err, sizeof err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(audit_key_load(path, &l, err, sizeof err), 0);
    assert_memory_equal(k.pk, l.pk, 32);
    assert_string_equal(k.id, l.id);
    /* Not overwritten without force; replaced with it (another key). */
    assert_int_equal(audit_key_generate(path, false, &other, err, sizeof err), -1);
    assert_non_null(strstr(err, "--force"));
    assert_int_equal(audit_key_load(path, &l, err, sizeof err), 0);
    assert_memory_equal(k.pk, l.pk, 32);
    assert_int_equal(audit_key_generate(path, true, &other, err, sizeof err), 0);
    assert_memory_not_equal(k.pk, other.pk, 32);

    const char msg[] = "manifest bytes";
    unsigned char sig[64];
    audit_sign(&k, msg, sizeof msg - 1, sig);
    assert_true(audit_sig_ok(k.pk, msg, sizeof msg - 1, sig));
    assert_false(audit_sig_ok(other.pk, msg, sizeof msg - 1, sig));
    assert_false(audit_sig_ok(k.pk, "manifest bytez", sizeof msg - 1, sig));
    sig[10] ^= 1;
    assert_false(audit_sig_ok(k.pk, msg, sizeof msg - 1, sig));
}

static void test_refuses_readable_key(void **state)
{
    (void)state;
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/k2", g_dir);
    audit_key k;
    assert_int_equal(audit_key_generate(path, false, &k, err, sizeof err), 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(audit_key_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "may be read by others"));
    /* Not a key at all. */
    snprintf(path, sizeof path, "%s/k3", g_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("custos-ed25519-secret-v1 notbase64!!\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(audit_key_load(path, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not a custos signing key"));
    assert_int_equal(audit_key_load("", &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "audit.signing_key"));
}

static void test_pubkey_text(void **state)
{
    (void)state;
    char path[128], err[512], text[AUDIT_PUBKEY_TEXT];
    snprintf(path, sizeof path, "%s/k4", g_dir);
    audit_key k;
    assert_int_equal(audit_key_generate(path, false, &k, err, sizeof err), 0);
    audit_pubkey_text(k.pk, text);
    assert_int_equal(strncmp(text, "custos-ed25519 ", 15), 0);
    assert_non_null(strstr(text, k.id));
    unsigned char pk[32];
    assert_int_equal(audit_pubkey_parse(text, pk), 0);
    assert_memory_equal(pk, k.pk, 32);
    /* The bare base64 too; a short or garbled one not. */
    assert_int_equal(audit_pubkey_parse(text + 15, pk), 0);
    assert_memory_equal(pk, k.pk, 32);
    assert_int_equal(audit_pubkey_parse("custos-ed25519 AAAA", pk), -1);
    assert_int_equal(audit_pubkey_parse("", pk), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_load_sign),
        cmocka_unit_test(test_refuses_readable_key),
        cmocka_unit_test(test_pubkey_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
