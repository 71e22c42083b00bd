/* custos gen: every line it writes is an event the collector accepts, ids are
 * unique, a seed gives the same output, and the traffic has the promised
 * shape (skewed key volumes, a model rollout, attacks only on request). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "collector/decode.h"
#include "tools/tools.h"

typedef struct {
    char *data;
    size_t len;
} blob;

/* Runs `custos gen ARGS...` with stdout sent to a temporary file and returns
 * what it wrote (caller frees data); asserts exit code 0. */
static blob run_gen(const char *const *args)
{
    char path[] = "/tmp/custos-test-gen.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"gen";
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    int rc = tools_cmd_gen(argc, argv);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    assert_int_equal(rc, 0);
    off_t size = lseek(fd, 0, SEEK_END);
    assert_true(size >= 0);
    blob b = {malloc((size_t)size + 1), (size_t)size};
    assert_non_null(b.data);
    assert_int_equal(pread(fd, b.data, (size_t)size, 0), size);
    b.data[size] = '\0';
    close(fd);
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    size_t lines;
    size_t distinct_ids;
    size_t top_key_events;
    size_t distinct_keys;
    size_t refusals, errors, v6, truncated_length, with_scores, with_attrs;
    size_t high_injection; /* prompt_injection score >= 0.5 */
    double bytes_per_line;
} shape;

/* Decodes every line with the collector's decoder and tallies the shape. */
static shape examine(const blob *b)
{
    shape s = {0};
    coll_limits lim = coll_limits_default();
    size_t cap = 1024, n = 0;
    char **ids = malloc(cap * sizeof *ids), **keys = malloc(cap * sizeof *keys);
    assert_non_null(ids);
    assert_non_null(keys);
    const char *p = b->data, *end = b->data + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl); /* every line ends with a newline */
        core_event ev;
        char err[256];
        memset(&ev, 0, sizeof ev);
        if (coll_decode_native(&lim, p, (size_t)(nl - p), &ev, err, sizeof err) != 0)
            fail_msg("line %zu refused: %s: %.200s", n + 1, err, p);
        if (n == cap) {
            cap *= 2;
            ids = realloc(ids, cap * sizeof *ids);
            keys = realloc(keys, cap * sizeof *keys);
            assert_non_null(ids);
            assert_non_null(keys);
        }
        ids[n] = strdup(ev.event_id);
        keys[n] = strdup(ev.api_key_id);
        /* every optional field of the schema is filled */
        assert_non_null(ev.tenant);
        assert_non_null(ev.user_id);
        assert_non_null(ev.session_id);
        assert_non_null(ev.client_ip);
        assert_non_null(ev.prompt);
        assert_true(ev.prompt_tokens > 0);
        assert_true(ev.completion_tokens >= 0);
        assert_true(ev.has_latency && ev.has_status);
        /* tokens follow the text: about four bytes a token */
        assert_true(ev.prompt_tokens >= (int64_t)(ev.prompt_size / 4) &&
                    ev.prompt_tokens <= (int64_t)(ev.prompt_size / 4) + 8);
        if (ev.response)
            assert_true(ev.completion_tokens <= (int64_t)(ev.response_size + 3) / 4);
        if (ev.status != 200) {
            s.errors++;
            assert_null(ev.response);
        }
        if (ev.refusal == 1)
            s.refusals++;
        if (strchr(ev.client_ip, ':'))
            s.v6++;
        if (ev.finish_reason && strcmp(ev.finish_reason, "length") == 0)
            s.truncated_length++;
        if (ev.n_scores == 3)
            s.with_scores++;
        for (size_t i = 0; i < ev.n_scores; i++)
            if (strcmp(ev.scores[i].name, "prompt_injection") == 0 && ev.scores[i].value >= 0.5)
                s.high_injection++;
        if (ev.attrs_json)
            s.with_attrs++;
        core_event_clear(&ev);
        n++;
        p = nl + 1;
    }
    s.lines = n;
    s.bytes_per_line = n ? (double)b->len / (double)n : 0;
    qsort(ids, n, sizeof *ids, cmp_str);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(ids[i], ids[i - 1]) != 0)
            s.distinct_ids++;
    qsort(keys, n, sizeof *keys, cmp_str);
    for (size_t i = 0, run = 0; i < n; i++) {
        run = (i > 0 && strcmp(keys[i], keys[i - 1]) == 0) ? run + 1 : 1;
        if (run == 1)
            s.distinct_keys++;
        if (run > s.top_key_events)
            s.top_key_events = run;
    }
    for (size_t i = 0; i < n; i++) {
        free(ids[i]);
        free(keys[i]);
    }
    free(ids);
    free(keys);
    return s;
}

/* Counts the lines of b in [from, to) that hold needle. */
static size_t count_in_lines(const blob *b, size_t from, size_t to, const char *needle)
{
    size_t line = 0, hits = 0;
    const char *p = b->data, *end = b->data + b->len;
    while (p < end && line < to) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        if (line >= from && memmem(p, (size_t)(nl - p), needle, strlen(needle)))
            hits++;
        p = nl + 1;
        line++;
    }
    return hits;
}

static void every_line_is_a_valid_event_with_a_unique_id(void **state)
{
    (void)state;
    const char *args[] = {"--count", "20000", "--seed", "11", NULL};
    blob b = run_gen(args);
    shape s = examine(&b);
    assert_int_equal(s.lines, 20000);
    assert_int_equal(s.distinct_ids, 20000);
    assert_int_equal(s.with_scores, 20000);
    assert_int_equal(s.with_attrs, 20000);
    /* about 1 KB an event, as the benchmark expects */
    if (s.bytes_per_line < 700 || s.bytes_per_line > 1600)
        fail_msg("%.0f bytes per event", s.bytes_per_line);
    /* some of everything, not too much of any */
    assert_true(s.refusals > 20 && s.refusals < 20000 / 20);
    assert_true(s.errors > 100 && s.errors < 20000 / 10);
    assert_true(s.v6 > 200 && s.v6 < 20000 / 2);
    assert_true(s.truncated_length > 20);
    assert_int_equal(s.high_injection, 0); /* benign only by default */
    free(b.data);
}

static void same_seed_same_output_other_seed_other_output(void **state)
{
    (void)state;
    const char *a1[] = {"--count", "3000", "--seed", "5", NULL};
    const char *a2[] = {"--count", "3000", "--seed", "6", NULL};
    blob x = run_gen(a1), y = run_gen(a1), z = run_gen(a2);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    assert_true(x.len != z.len || memcmp(x.data, z.data, x.len) != 0);
    /* different seeds do not share event ids */
    char id[64];
    const char *q = strstr(x.data, "\"event_id\":\"");
    assert_non_null(q);
    snprintf(id, sizeof id, "%.*s", (int)strcspn(q + 12, "\""), q + 12);
    assert_null(strstr(z.data, id));
    free(x.data);
    free(y.data);
    free(z.data);
}

static void key_volumes_are_skewed(void **state)
{
    (void)state;
    const char *args[] = {"--count", "20000", "--keys", "1000", NULL};
    blob b = run_gen(args);
    shape s = examine(&b);
    /* Zipf: the top key sends well over 5 % of the traffic, and many keys
     * show up at all */
    if (s.top_key_events < 20000 / 20)
        fail_msg("top key sent only %zu of 20000", s.top_key_events);
    assert_true(s.distinct_keys > 400);
    free(b.data);
}

static void a_model_version_rolls_out(void **state)
{
    (void)state;
    const char *args[] = {"--count", "10000", NULL};
    blob b = run_gen(args);
    /* the rollout ramps between 30 % and 60 % of the run */
    size_t old_early = count_in_lines(&b, 0, 3000, "\"model\":\"gpt-4o\",\"model_version\":\"2024-08-06\"");
    size_t new_early = count_in_lines(&b, 0, 3000, "\"model\":\"gpt-4o\",\"model_version\":\"2024-11-20\"");
    size_t old_late = count_in_lines(&b, 6000, 10000, "\"model\":\"gpt-4o\",\"model_version\":\"2024-08-06\"");
    size_t new_late = count_in_lines(&b, 6000, 10000, "\"model\":\"gpt-4o\",\"model_version\":\"2024-11-20\"");
    assert_true(old_early > 100);
    assert_int_equal(new_early, 0);
    assert_int_equal(old_late, 0);
    assert_true(new_late > 100);
    free(b.data);
}

static void attacks_only_when_asked(void **state)
{
    (void)state;
    const char *args[] = {"--count", "10000", "--attacks", NULL};
    blob b = run_gen(args);
    shape s = examine(&b);
    /* 60 jailbreaks and 30 extraction attempts per 10 000 events */
    assert_int_equal(s.high_injection, 90);
    assert_true(count_in_lines(&b, 2000, 2180, "[INSERT PROMPT HERE]") == 0); /* filled in */
    free(b.data);
}

static void event_times_follow_start_and_rate(void **state)
{
    (void)state;
    const char *args[] = {"--count", "1000", "--eps", "100", "--start",
                          "2026-01-01T00:00:00Z", NULL};
    blob b = run_gen(args);
    coll_limits lim = coll_limits_default();
    int64_t first = -1, last = -1, prev = -1;
    const char *p = b.data;
    for (int i = 0; i < 1000; i++) {
        const char *nl = strchr(p, '\n');
        core_event ev;
        char err[256];
        memset(&ev, 0, sizeof ev);
        assert_int_equal(coll_decode_native(&lim, p, (size_t)(nl - p), &ev, err, sizeof err), 0);
        if (first < 0)
            first = ev.ts_us;
        assert_true(ev.ts_us >= prev); /* event time never goes back */
        prev = last = ev.ts_us;
        core_event_clear(&ev);
        p = nl + 1;
    }
    int64_t start;
    assert_int_equal(core_ts_parse("2026-01-01T00:00:00Z", 20, &start), 0);
    assert_int_equal(first, start);
    /* 999 gaps of 10 ms on average: about 10 s */
    double span_s = (double)(last - first) / 1e6;
    if (span_s < 8 || span_s > 12)
        fail_msg("1000 events at 100/s span %.2f s", span_s);
    free(b.data);
}

static void bad_options_are_usage_errors(void **state)
{
    (void)state;
    char *a1[] = {(char *)"gen", (char *)"--eps", (char *)"0", NULL};
    assert_int_equal(tools_cmd_gen(3, a1), 2);
    char *a2[] = {(char *)"gen", (char *)"--start", (char *)"2026-01-01T00:00:00", NULL};
    assert_int_equal(tools_cmd_gen(3, a2), 2);
    char *a3[] = {(char *)"gen", (char *)"--realtime", (char *)"--start",
                  (char *)"2026-01-01T00:00:00Z", NULL};
    assert_int_equal(tools_cmd_gen(4, a3), 2);
    char *a4[] = {(char *)"gen", (char *)"--bogus", NULL};
    assert_int_equal(tools_cmd_gen(2, a4), 2);
    char *a5[] = {(char *)"gen", (char *)"--data", (char *)"/nonexistent", (char *)"--count",
                  (char *)"1", NULL};
    assert_int_equal(tools_cmd_gen(5, a5), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_line_is_a_valid_event_with_a_unique_id),
        cmocka_unit_test(same_seed_same_output_other_seed_other_output),
        cmocka_unit_test(key_volumes_are_skewed),
        cmocka_unit_test(a_model_version_rolls_out),
        cmocka_unit_test(attacks_only_when_asked),
        cmocka_unit_test(event_times_follow_start_and_rate),
        cmocka_unit_test(bad_options_are_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
