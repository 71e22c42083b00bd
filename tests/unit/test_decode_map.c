/* The foreign decoders' shared parts (collector/decode_map.c): the compact
 * JSON printer that hands each mapped object to the native decoder writes,
 * byte for byte, what cJSON_PrintUnformatted writes (so that its rows stay
 * those of the golden files), over numbers at the edges of its rules,
 * escapes, nesting and the golden messages' own trees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/decode_map.h"
#include "tests/lib/rng.h"

/* coll_map_print(v) equals cJSON_PrintUnformatted(v). */
static void same_as_cjson(const cJSON *v)
{
    char *want = cJSON_PrintUnformatted(v);
    assert_non_null(want);
    core_json_buf b;
    core_json_buf_init(&b);
    assert_int_equal(coll_map_print(&b, v), 0);
    char *w = core_json_buf_room(&b, 0);
    assert_non_null(w);
    *w = '\0';
    if (strcmp(b.p, want) != 0)
        fail_msg("printed %s\n   cJSON %s", b.p, want);
    core_json_buf_free(&b);
    free(want);
}

static void numbers(void **state)
{
    (void)state;
    const double xs[] = {0,       -0.0,         1,        -1,        855.4,      0.1,
                         1e-7,    123456789012, 1e12,     2147483647, 2147483648, -2147483648.0,
                         -2147483649.0, 9.2e18,  1e300,    DBL_MIN,   DBL_MAX,    0.30000000000000004,
                         1.0 / 3, 2.5e-300,     123.456,  1e21,      NAN,        INFINITY,
                         -INFINITY, 4.35,       0.009,    191,
                         1e-4,    0.0001234,    999999999.5, 999999999.999999, 1e9, 0.5,
                         -0.25,   123456.789012, 0.000099999, 12.3456789};
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
        cJSON *n = cJSON_CreateNumber(xs[i]);
        same_as_cjson(n);
        cJSON_Delete(n);
    }
    /* decimals of 0 to 8 places and doubles in between, around the short
     * path's edges (10^-4, 10^9, 6 places) and across it */
    uint64_t r = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        t_xorshift64(&r);
        double x;
        int places = (int)(r % 9);
        long long m = (long long)(r >> 20) % 100000000000LL;
        static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
        switch (i % 4) {
        case 0: x = (double)m / p10[places]; break;                      /* a decimal */
        case 1: x = (double)(m % 100000) / p10[places] / 10000; break;    /* small */
        case 2: x = 1e9 - (double)(m % 1000) / p10[places]; break;        /* near 10^9 */
        default: memcpy(&x, &r, sizeof x); if (isnan(x)) x = 1.5; break; /* any double */
        }
        if (r & 1)
            x = -x;
        cJSON *n = cJSON_CreateNumber(x);
        same_as_cjson(n);
        cJSON_Delete(n);
    }
}

static void strings_and_nesting(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "plain", "hello");
    cJSON_AddStringToObject(o, "escapes", "q\" b\\ /slash \b\f\n\r\t \x01\x1f end");
    cJSON_AddStringToObject(o, "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    cJSON_AddStringToObject(o, "", "empty key");
    cJSON_AddStringToObject(o, "k\"ey\n", "odd key");
    cJSON_AddStringToObject(o, "empty", "");
    cJSON_AddTrueToObject(o, "t");
    cJSON_AddFalseToObject(o, "f");
    cJSON_AddNullToObject(o, "n");
    cJSON_AddArrayToObject(o, "ea");
    cJSON_AddObjectToObject(o, "eo");
    cJSON *a = cJSON_AddArrayToObject(o, "a");
    cJSON_AddItemToArray(a, cJSON_CreateNumber(1.5));
    cJSON_AddItemToArray(a, cJSON_CreateString("x"));
    cJSON *in = cJSON_CreateObject();
    cJSON_AddItemToObject(in, "deep", cJSON_CreateArray());
    cJSON_AddItemToArray(a, in);
    cJSON_AddRawToObject(o, "raw", "{\"r\":1}");
    same_as_cjson(o);
    cJSON_Delete(o);
}

/* coll_map_tree(text) is the tree cJSON_Parse makes of it: same members,
 * names, order, types and values (printed by cJSON, compared), and the same
 * tail links (child->prev, walked back). */
static void same_tree(const char *text)
{
    cJSON *want = cJSON_ParseWithOpts(text, NULL, 1); /* nothing after: checked before */
    cJSON *got = coll_map_tree(text, strlen(text));
    if (!want) {
        cJSON_Delete(got); /* cJSON refuses what the check before accepts: */
        return;            /* the caller falls back to cJSON, so either is right */
    }
    if (!got)
        fail_msg("coll_map_tree gave up on %.200s", text);
    char *a = cJSON_PrintUnformatted(want), *b = cJSON_PrintUnformatted(got);
    if (strcmp(a, b) != 0)
        fail_msg("tree %.300s\n cJSON %.300s", b, a);
    /* walking back from the last child of each container meets them all */
    const cJSON *stack[64];
    int top = 0;
    stack[top++] = got;
    while (top) {
        const cJSON *c = stack[--top];
        int fwd = 0, back = 0;
        for (const cJSON *x = c->child; x; x = x->next) {
            fwd++;
            if (top < 64)
                stack[top++] = x;
        }
        if (c->child)
            for (const cJSON *x = c->child->prev; x != c->child; x = x->prev)
                back++;
        assert_int_equal(fwd ? back + 1 : 0, fwd);
    }
    free(a);
    free(b);
    cJSON_Delete(want);
    cJSON_Delete(got);
}

static void tree_like_cjson(void **state)
{
    (void)state;
    const char *const texts[] = {
        "{}", "[]", "{\"a\":{}}", "[[],[[]],{}]", " { \"key\" : \"value\" , \"n\" : -0 } ",
        "{\"key\":\"k\",\"value\":{\"stringValue\":\"x\",\"intValue\":\"12\"}}",
        "{\"s\":\"q\\\" b\\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00 end\"}",
        "{\"k\\u0065y\":1,\"na\\/me\":2}",
        "{\"nums\":[0,1,-1,1.5,1e3,1E-7,-2.5e+300,123456789012345678901234567890,1e400,0.1]}",
        "{\"t\":true,\"f\":false,\"z\":null}", "\"just a string\"", "12.5", "true", "null",
        "[1,\"two\",{\"three\":[3]}]", "[ 1 , \"two\" ,\n\t{ \"three\" : [ 3 , 4 ] } ]", "{\"name\":\"caf\xc3\xa9\",\"role\":\"user\"}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        same_tree(texts[i]);
    /* what the reader does not take it gives up on (the caller parses) */
    assert_null(coll_map_tree("{\"a\":1", 6));
    assert_null(coll_map_tree("[1,]", 4));
    assert_null(coll_map_tree("{\"a\":1} x", 10));
}

/* Every golden message of tests/formats, parsed, prints as cJSON prints it,
 * and coll_map_tree parses it as cJSON does. */
static void golden_trees(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/formats", CUSTOS_SOURCE_DIR);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0 ||
            strstr(e->d_name, ".refused"))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static char buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* one JSON value, or JSON lines (NDJSON, expected events) */
        cJSON *j = cJSON_ParseWithLengthOpts(buf, len, NULL, 1);
        if (j) {
            same_tree(buf);
            same_as_cjson(j);
            cJSON_Delete(j);
            seen++;
            continue;
        }
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
            if (!(j = cJSON_ParseWithOpts(line, NULL, 1)))
                continue;
            same_tree(line);
            same_as_cjson(j);
            cJSON_Delete(j);
            seen++;
        }
    }
    closedir(d);
    assert_true(seen >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers),
        cmocka_unit_test(strings_and_nesting),
        cmocka_unit_test(tree_like_cjson),
        cmocka_unit_test(golden_trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
