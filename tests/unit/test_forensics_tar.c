/* The ustar writer and reader of forensics/fo_tar.c: entries streamed in
 * pieces come back with their names, sizes, SHA-256 and lines, GNU tar
 * lists them (an independent reader), and a damaged header or a cut
 * archive is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "forensics/forensics.h"

static void write_two(FILE *f, char sha_a[65], char sha_b[65])
{
    char err[256];
    forensics_tar t = {.f = f, .hdr_at = -1};
    uint64_t size, lines;
    assert_int_equal(forensics_tar_begin(&t, "a.ndjson", 1700000000, err, sizeof err), 0);
    for (int i = 0; i < 1000; i++) {
        char row[64];
        int n = snprintf(row, sizeof row, "{\"n\":%d}\n", i);
        assert_int_equal(forensics_tar_write(&t, row, (size_t)n, err, sizeof err), 0);
    }
    assert_int_equal(forensics_tar_end(&t, sha_a, &size, &lines, err, sizeof err), 0);
    assert_int_equal(lines, 1000);
    assert_int_equal(forensics_tar_begin(&t, "b.json", 1700000000, err, sizeof err), 0);
    assert_int_equal(forensics_tar_write(&t, "[]", 2, err, sizeof err), 0);
    assert_int_equal(forensics_tar_end(&t, sha_b, &size, &lines, err, sizeof err), 0);
    assert_int_equal(size, 2);
    assert_int_equal(forensics_tar_close(&t, err, sizeof err), 0);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char path[] = "/tmp/custos-tar-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    char sha_a[65], sha_b[65], err[256], name[101];
    write_two(f, sha_a, sha_b);
    rewind(f);
    uint64_t size;
    assert_int_equal(forensics_tar_next(f, name, &size, err, sizeof err), 1);
    assert_string_equal(name, "a.ndjson");
    char *buf = malloc(size + 1);
    assert_int_equal(fread(buf, 1, size, f), size);
    char sha[65];
    audit_sha256_hex(buf, size, sha);
    assert_string_equal(sha, sha_a);
    free(buf);
    assert_int_equal(forensics_tar_skip_pad(f, size), 0);
    assert_int_equal(forensics_tar_next(f, name, &size, err, sizeof err), 1);
    assert_string_equal(name, "b.json");
    assert_int_equal(size, 2);
    audit_sha256_hex("[]", 2, sha);
    assert_string_equal(sha, sha_b);
    assert_int_equal(fseek(f, 512, SEEK_CUR), 0);
    assert_int_equal(forensics_tar_next(f, name, &size, err, sizeof err), 0);
    fclose(f);
    /* GNU tar reads it the same. */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "tar -tvf %s", path);
    FILE *p = popen(cmd, "r");
    char line[256], all[1024] = "";
    while (fgets(line, sizeof line, p))
        strncat(all, line, sizeof all - strlen(all) - 1);
    assert_int_equal(pclose(p), 0);
    assert_non_null(strstr(all, " a.ndjson\n"));
    assert_non_null(strstr(all, " b.json\n"));
    unlink(path);
}

static void test_damage(void **state)
{
    (void)state;
    char path[] = "/tmp/custos-tar-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w+");
    char sha_a[65], sha_b[65], err[256], name[101];
    uint64_t size;
    write_two(f, sha_a, sha_b);
    /* A byte of the first header's name changed: its checksum fails. */
    fseek(f, 0, SEEK_SET);
    fputc('z', f);
    rewind(f);
    assert_int_equal(forensics_tar_next(f, name, &size, err, sizeof err), -1);
    assert_non_null(strstr(err, "damaged"));
    fclose(f);
    /* Cut inside a header. */
    f = fopen(path, "w+");
    write_two(f, sha_a, sha_b);
    fflush(f);
    assert_int_equal(ftruncate(fileno(f), 100), 0);
    rewind(f);
    assert_int_equal(forensics_tar_next(f, name, &size, err, sizeof err), -1);
    assert_non_null(strstr(err, "cut short"));
    fclose(f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_damage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
