/* core_json_print_unformatted against the real cJSON_PrintUnformatted: the
 * same bytes for numbers of every magnitude, strings with every byte, and
 * random trees. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/json_scan.h"
#include "tests/lib/rng.h"

static uint64_t g_x = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void) { return t_xorshift64(&g_x); }

static void same(const cJSON *item)
{
    char *want = cJSON_PrintUnformatted(item);
    char *got = core_json_print_unformatted(item);
    assert_non_null(want);
    assert_non_null(got);
    if (strcmp(want, got) != 0)
        fail_msg("cJSON wrote %s, core_json_print_unformatted %s", want, got);
    free(want);
    free(got);
}

/* A double of some kind: integers small and large, decimals of a few
 * digits (what detectors write), any bit pattern, and the edges. */
static double some_double(void)
{
    static const double edges[] = {0.0, -0.0, 1.0, -1.0, 0.1, 1e-4, 9.9999e-5, 1e15, 1e15 - 1,
                                   1e16, 2147483647.0, 2147483648.0, -2147483648.0,
                                   -2147483649.0, DBL_MAX, DBL_MIN, 5e-324, 1e300, 0.5,
                                   123456789012345678.0, NAN, INFINITY, -INFINITY};
    uint64_t r = rnd();
    switch (r % 6) {
    case 0: return edges[(r >> 8) % (sizeof edges / sizeof edges[0])];
    case 1: return (double)(int64_t)(rnd() % 4000000001ull) - 2000000000.0;
    case 2: return (double)(int64_t)(rnd() % 100000) / pow(10, (double)(rnd() % 8));
    case 3: return round((double)(rnd() % 2000000) / 1000.0) / 1000.0 * ((r >> 9) & 1 ? -1 : 1);
    case 4: {
        double d;
        uint64_t bits = rnd();
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    default: return (double)(rnd() % 1000000) * pow(10, (double)((int)(rnd() % 40) - 20));
    }
}

static void numbers(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        cJSON *n = cJSON_CreateNumber(some_double());
        same(n);
        cJSON_Delete(n);
    }
}

static char *some_string(void)
{
    size_t n = rnd() % 24;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned)(rnd() % 256);
        s[i] = (char)(c ? c : 'a'); /* any byte but NUL */
    }
    s[n] = '\0';
    return s;
}

static cJSON *some_tree(int depth)
{
    uint64_t r = rnd() % (depth > 3 ? 6 : 8);
    cJSON *t;
    switch (r) {
    case 0: return cJSON_CreateNull();
    case 1: return cJSON_CreateBool((int)(rnd() & 1));
    case 2: return cJSON_CreateNumber(some_double());
    case 3: {
        char *s = some_string();
        t = cJSON_CreateString(s);
        free(s);
        return t;
    }
    case 4: return cJSON_CreateRaw("[1,\"raw\"]");
    case 5: return cJSON_CreateString("");
    case 6:
        t = cJSON_CreateArray();
        for (int k = (int)(rnd() % 5); k > 0; k--)
            cJSON_AddItemToArray(t, some_tree(depth + 1));
        return t;
    default:
        t = cJSON_CreateObject();
        for (int k = (int)(rnd() % 6); k > 0; k--) {
            char *key = some_string();
            cJSON_AddItemToObject(t, key, some_tree(depth + 1));
            free(key);
        }
        return t;
    }
}

static void trees(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        cJSON *t = some_tree(0);
        same(t);
        cJSON_Delete(t);
    }
    /* every byte once in a string and in a key */
    char all[256];
    for (int c = 1; c < 256; c++)
        all[c - 1] = (char)c;
    all[255] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, all, all);
    same(o);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers),
        cmocka_unit_test(trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
